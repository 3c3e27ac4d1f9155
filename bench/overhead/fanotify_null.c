// fanotify_null: a do-nothing fanotify listener with vigild's group flags and
// mark (FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_REPORT_PIDFD,
// FAN_MARK_FILESYSTEM on /, CREATE | DELETE | CLOSE_WRITE | RENAME | ONDIR).
// It reads events and closes their pidfds, nothing else: the floor of what
// fanotify file events cost the host, whatever the sensor does with them.
// Runs until SIGTERM/SIGINT; prints the number of events read on stderr.
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/fanotify.h>
#include <unistd.h>

#ifndef FAN_REPORT_PIDFD
#define FAN_REPORT_PIDFD 0x00000080
#endif
#ifndef FAN_EVENT_INFO_TYPE_PIDFD
#define FAN_EVENT_INFO_TYPE_PIDFD 4
#endif
#ifndef FAN_RENAME
#define FAN_RENAME 0x10000000
#endif

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(void) {
  struct sigaction sa = {0};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  unsigned flags = FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_CLOEXEC | FAN_NONBLOCK;
  int fd = fanotify_init(flags | FAN_REPORT_PIDFD, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
  if (fd < 0) fd = fanotify_init(flags, O_RDONLY | O_LARGEFILE | O_CLOEXEC);  // before 5.15
  if (fd < 0) { perror("fanotify_init"); return 1; }
  unsigned long long mask = FAN_CREATE | FAN_DELETE | FAN_CLOSE_WRITE | FAN_ONDIR | FAN_RENAME;
  if (fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, mask, AT_FDCWD, "/") < 0) {
    mask = (mask & ~(unsigned long long)FAN_RENAME) | FAN_MOVED_FROM | FAN_MOVED_TO;  // before 5.17
    if (fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, mask, AT_FDCWD, "/") < 0) {
      perror("fanotify_mark /");
      return 1;
    }
  }
  static char buf[65536] __attribute__((aligned(8)));
  unsigned long events = 0;
  while (!stop) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
      for (char* q = buf; q < buf + n;) {
        struct fanotify_event_metadata* m = (struct fanotify_event_metadata*)q;
        if (m->event_len < sizeof(*m)) break;
        ++events;
        for (char* r = q + m->metadata_len; r + sizeof(struct fanotify_event_info_header) <= q + m->event_len;) {
          struct fanotify_event_info_header* h = (struct fanotify_event_info_header*)r;
          if (h->len == 0) break;
          if (h->info_type == FAN_EVENT_INFO_TYPE_PIDFD) {
            int pidfd = *(int*)(r + sizeof(*h));
            if (pidfd >= 0) close(pidfd);
          }
          r += h->len;
        }
        if (m->fd >= 0) close(m->fd);
        q += m->event_len;
      }
    }
  }
  fprintf(stderr, "fanotify_null: %lu events\n", events);
  return 0;
}
