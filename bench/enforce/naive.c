// naive DIR: the floor of a user-space permission round trip on this machine,
// for bench/enforce/run.sh (the "naive" condition). The textbook fanotify
// responder: one thread, blocking read(), ALLOW, close(), with no path, no
// rules, no cache, no deadline. For an exec it adds the ignore mark for the
// open check that follows before it answers (as vigild does), so an exec is
// one round trip for both. What a first decision costs beyond this is the
// sensor's own work; this much is the kernel's and the machine's (waking the
// responder, then the caller).
//
// Marks DIR's filesystem (FAN_MARK_FILESYSTEM): the benchmark's own tmpfs.
// Dies with its parent (PDEATHSIG KILL); the kernel allows whatever is
// pending when the group closes. Prints "ready" once marked, and on SIGTERM
// "events N" before it exits. Linux, root.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/prctl.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_term(int sig) {
  (void)sig;
  stop = 1;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: naive DIR\n");
    return 2;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_term;  // no SA_RESTART: read() returns EINTR
  sigaction(SIGTERM, &sa, NULL);
  int fan = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
  if (fan < 0) {
    perror("naive: fanotify_init");
    return 1;
  }
  if (fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_OPEN_PERM | FAN_OPEN_EXEC_PERM, AT_FDCWD, argv[1]) !=
      0) {
    perror("naive: fanotify_mark");
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  char buf[4096] __attribute__((aligned(8)));
  unsigned long long events = 0;
  while (!stop) {
    ssize_t n = read(fan, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("naive: read");
      return 1;
    }
    struct fanotify_event_metadata* m = (struct fanotify_event_metadata*)buf;
    for (; FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n)) {
      if (m->fd < 0) continue;
      if (m->mask & FAN_OPEN_EXEC_PERM) {
        fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK, FAN_OPEN_PERM, m->fd, NULL);
      }
      if (m->mask & (FAN_OPEN_PERM | FAN_OPEN_EXEC_PERM)) {
        struct fanotify_response r = {.fd = m->fd, .response = FAN_ALLOW};
        if (write(fan, &r, sizeof(r)) != (ssize_t)sizeof(r)) perror("naive: write");
        ++events;
      }
      close(m->fd);
    }
  }
  printf("events %llu\n", events);
  return 0;
}
