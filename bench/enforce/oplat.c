// oplat MODE N FILE_PREFIX COUNT [WARMUP [GAP_US]]: the latency of one
// operation as the process doing it sees it, N times, one at a time.
//
//   MODE open: open(O_RDONLY) + close of FILE_PREFIX<i % COUNT>
//   MODE exec: fork + execve(FILE_PREFIX<i % COUNT>) + waitpid (the program
//              must exit 0; a static one, so the exec is one permission
//              check for the program and none for a loader)
//
// COUNT 1 means the same file every time (a sensor's cache can hold it);
// COUNT >= N + WARMUP means a file never used before in every iteration.
// Each iteration is timed alone with CLOCK_MONOTONIC, from just before
// open()/fork() to just after close()/waitpid(). The first WARMUP iterations
// (default 20, on their own files when COUNT > 1) are not recorded. GAP_US
// (default 0) sleeps that long between iterations, untimed: isolated
// operations, each finding every other thread of the machine asleep.
// Prints one line: "n p50_us p99_us mean_us min_us max_us failures".
// Exit 1 if any operation failed (counted), 2 on bad usage.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_ll(const void* a, const void* b) {
  long long x = *(const long long*)a, y = *(const long long*)b;
  return x < y ? -1 : x > y;
}

// The q-quantile of sorted v[0..n) (nearest rank).
static long long quantile(const long long* v, long n, double q) {
  long rank = (long)(q * (double)n + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return v[rank - 1];
}

int main(int argc, char** argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: oplat open|exec N FILE_PREFIX COUNT [WARMUP [GAP_US]]\n");
    return 2;
  }
  const int exec_mode = strcmp(argv[1], "exec") == 0;
  if (!exec_mode && strcmp(argv[1], "open") != 0) {
    fprintf(stderr, "oplat: MODE must be open or exec\n");
    return 2;
  }
  const long n = strtol(argv[2], NULL, 10);
  const char* prefix = argv[3];
  const long count = strtol(argv[4], NULL, 10);
  const long warmup = argc > 5 ? strtol(argv[5], NULL, 10) : 20;
  const long gap_us = argc > 6 ? strtol(argv[6], NULL, 10) : 0;
  if (n <= 0 || count <= 0 || warmup < 0 || gap_us < 0) {
    fprintf(stderr, "oplat: N and COUNT must be positive\n");
    return 2;
  }
  long long* lat = malloc(sizeof(long long) * (size_t)n);
  if (lat == NULL) return 1;
  char path[4096];
  char* child_env[] = {"PATH=/usr/bin:/bin", NULL};
  long failures = 0;
  for (long i = 0; i < warmup + n; ++i) {
    if (gap_us > 0) {
      struct timespec gap = {gap_us / 1000000, (gap_us % 1000000) * 1000};
      while (nanosleep(&gap, &gap) != 0 && errno == EINTR) {
      }
    }
    snprintf(path, sizeof(path), "%s%ld", prefix, count == 1 ? 0 : i % count);
    long long t0 = now_ns();
    if (exec_mode) {
      pid_t pid = fork();
      if (pid < 0) {
        perror("fork");
        return 1;
      }
      if (pid == 0) {
        char* child_argv[] = {path, NULL};
        execve(path, child_argv, child_env);
        _exit(127);
      }
      int status = 0;
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failures;
    } else {
      int fd = open(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        ++failures;
      } else {
        close(fd);
      }
    }
    long long t1 = now_ns();
    if (i >= warmup) lat[i - warmup] = t1 - t0;
  }
  double sum = 0;
  for (long i = 0; i < n; ++i) sum += (double)lat[i];
  qsort(lat, (size_t)n, sizeof(long long), cmp_ll);
  printf("%ld %.2f %.2f %.2f %.2f %.2f %ld\n", n, quantile(lat, n, 0.50) / 1e3, quantile(lat, n, 0.99) / 1e3,
         sum / (double)n / 1e3, lat[0] / 1e3, lat[n - 1] / 1e3, failures);
  if (failures) fprintf(stderr, "oplat: %ld of %ld operations failed\n", failures, n + warmup);
  free(lat);
  return failures ? 1 : 0;
}
