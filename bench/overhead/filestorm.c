// filestorm DIR N: N iterations of create + write 512 bytes + close + rename +
// unlink, each iteration with its own names (t<i> -> f<i>) in DIR, one
// process, one core. DIR should be on the root filesystem (vigild marks "/").
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: filestorm DIR N\n");
    return 2;
  }
  if (chdir(argv[1]) != 0) {
    perror(argv[1]);
    return 1;
  }
  long n = strtol(argv[2], NULL, 10);
  char buf[512];
  memset(buf, 'x', sizeof(buf));
  char tmp[64], fin[64];
  for (long i = 0; i < n; ++i) {
    snprintf(tmp, sizeof(tmp), "t%ld", i);
    snprintf(fin, sizeof(fin), "f%ld", i);
    int fd = open(tmp, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) { perror("open"); return 1; }
    if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) { perror("write"); return 1; }
    if (close(fd) != 0) { perror("close"); return 1; }
    if (rename(tmp, fin) != 0) { perror("rename"); return 1; }
    if (unlink(fin) != 0) { perror("unlink"); return 1; }
  }
  return 0;
}
