// How the permission responder reads an event fd's path (sensor/responder.cc,
// HandleEvent): readlink of /proc/self/fd/N walks four components; readlinkat
// of N below an open /proc/self/fd walks one. Both on the same open file.
//
//   build/bench/path_bench
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>

#include <benchmark/benchmark.h>

namespace {

struct OpenFile {
  OpenFile()
      : fd(open("/proc/self/exe", O_RDONLY | O_CLOEXEC)),
        dir(open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {}
  ~OpenFile() {
    close(fd);
    close(dir);
  }
  int fd, dir;
};

void BM_ReadlinkProcSelfFd(benchmark::State& state) {
  OpenFile f;
  char link[32], path[PATH_MAX];
  std::snprintf(link, sizeof(link), "/proc/self/fd/%d", f.fd);
  for (auto _ : state) {
    ssize_t n = readlink(link, path, sizeof(path));
    if (n <= 0) state.SkipWithError("readlink failed");
    benchmark::DoNotOptimize(n);
  }
}
BENCHMARK(BM_ReadlinkProcSelfFd);

void BM_ReadlinkatFdDir(benchmark::State& state) {
  OpenFile f;
  char name[16], path[PATH_MAX];
  *std::to_chars(name, name + sizeof(name) - 1, f.fd).ptr = '\0';
  for (auto _ : state) {
    ssize_t n = readlinkat(f.dir, name, path, sizeof(path));
    if (n <= 0) state.SkipWithError("readlinkat failed");
    benchmark::DoNotOptimize(n);
  }
}
BENCHMARK(BM_ReadlinkatFdDir);

}  // namespace

BENCHMARK_MAIN();
