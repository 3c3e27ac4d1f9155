// execstorm N [PROGRAM]: fork + execve PROGRAM (default /bin/true) N times,
// one child at a time (fork, execve, waitpid). Exits 1 if any child failed.
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: execstorm N [PROGRAM]\n");
    return 2;
  }
  long n = strtol(argv[1], NULL, 10);
  char* prog = argc > 2 ? argv[2] : "/bin/true";
  char* child_argv[] = {prog, NULL};
  char* child_env[] = {"PATH=/usr/bin:/bin", NULL};
  long failed = 0;
  for (long i = 0; i < n; ++i) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      return 1;
    }
    if (pid == 0) {
      execve(prog, child_argv, child_env);
      _exit(127);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
  }
  if (failed) fprintf(stderr, "execstorm: %ld of %ld children failed\n", failed, n);
  return failed ? 1 : 0;
}
