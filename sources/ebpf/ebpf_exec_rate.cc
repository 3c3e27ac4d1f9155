// vigil_ebpf_exec_rate: how many exec events per second EbpfSource delivers
// with no loss. Spawns N short programs (/bin/true) from a helper thread,
// keeping `parallel` in flight, while this thread polls the source; then
// checks that every child's exec arrived and the source lost nothing.
//
//   vigil_ebpf_exec_rate [N=5000] [parallel=2]
//
// Exit status 0 when received == N and lost == 0. A measurement tool, not a
// test: the rate depends on the machine. Needs root.
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <unordered_set>

#include "sources/ebpf/ebpf_source.h"

extern char** environ;

int main(int argc, char** argv) {
  using Clock = std::chrono::steady_clock;
  const int total = argc > 1 ? std::atoi(argv[1]) : 5000;
  const int parallel = argc > 2 ? std::atoi(argv[2]) : 2;
  if (total <= 0 || parallel <= 0) {
    std::fprintf(stderr, "usage: %s [N>0] [parallel>0]\n", argv[0]);
    return 2;
  }

  vigil::sources::EbpfSource src;
  if (vigil::Status s = src.Start(); !s.ok()) {
    std::fprintf(stderr, "start: %s\n", s.ToString().c_str());
    return 1;
  }

  std::unordered_set<pid_t> children;  // written by the spawner before `spawned` is released
  children.reserve(static_cast<size_t>(total) * 2);
  std::atomic<bool> spawned{false};
  std::atomic<int> spawn_failures{0};
  auto start = Clock::now();
  std::thread spawner([&] {
    char arg0[] = "true";
    char* child_argv[] = {arg0, nullptr};
    int in_flight = 0;
    for (int i = 0; i < total; ++i) {
      if (in_flight == parallel) {
        wait(nullptr);
        --in_flight;
      }
      pid_t pid = 0;
      if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, child_argv, environ) != 0) {
        ++spawn_failures;
        continue;
      }
      children.insert(pid);
      ++in_flight;
    }
    while (in_flight-- > 0) wait(nullptr);
    spawned.store(true, std::memory_order_release);
  });

  // Exec events of this process's children, matched against the spawned pid
  // set once spawning is over (the set is not safe to read before). A reused
  // pid is one set entry but two exec events, so each exec still counts once.
  std::vector<pid_t> exec_pids;
  exec_pids.reserve(static_cast<size_t>(total) * 2);
  const pid_t self = getpid();
  auto on_event = [&](const vigil::sources::RawEvent& e) {
    if (e.kind == vigil::sources::RawKind::kExec && e.ppid == self && e.image == "/bin/true") {
      exec_pids.push_back(e.pid);
    }
  };
  Clock::time_point spawn_end{};
  while (true) {
    auto n = src.Poll(50, on_event);
    if (!n) {
      std::fprintf(stderr, "poll: %s\n", n.error().ToString().c_str());
      return 1;
    }
    if (spawned.load(std::memory_order_acquire)) {
      if (spawn_end == Clock::time_point{}) spawn_end = Clock::now();
      // Drain: stop once nothing more arrives for a poll, bounded by 10 s.
      if (*n == 0 || Clock::now() - spawn_end > std::chrono::seconds(10)) break;
    }
  }
  // CPU the polling thread spent (ring wake-ups, decoding, the handler): the
  // source's own cost per event, independent of how fast children spawn.
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  double poll_cpu_s = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                      static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  spawner.join();
  auto elapsed = std::chrono::duration<double>(spawn_end - start).count();

  size_t matched = 0;
  for (pid_t pid : exec_pids) matched += children.count(pid);
  const int launched = total - spawn_failures.load();
  vigil::sources::SourceCounters c = src.counters();
  src.Stop();
  c = src.counters();
  std::printf("spawned %d in %.2f s (%.0f exec/s); exec events received %zu; lost %llu; decode errors %llu; "
              "all events delivered %llu; poll thread CPU %.3f s (%.1f us/event)\n",
              launched, elapsed, launched / elapsed, matched, static_cast<unsigned long long>(c.lost),
              static_cast<unsigned long long>(c.errors), static_cast<unsigned long long>(c.received), poll_cpu_s,
              c.received > 0 ? poll_cpu_s * 1e6 / static_cast<double>(c.received) : 0.0);
  return matched == static_cast<size_t>(launched) && c.lost == 0 && spawn_failures == 0 ? 0 : 1;
}
