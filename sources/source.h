// The one narrow interface every event source implements (eBPF tracepoints,
// fanotify, /proc fallback, replay). A source turns kernel notifications into
// RawEvents; it knows nothing about rules, the process table or sinks.
//
//   std::unique_ptr<EventSource> src = ...;
//   if (Status s = src->Start(); !s.ok()) die(s);        // says which privilege/feature is missing
//   while (running) src->Poll(100, [&](const RawEvent& e) { queue.TryPush(e); });
//   src->Stop();                                          // detaches everything it attached
//
// Thread-safety: Start/Poll/Stop from one thread (the source's own); counters()
// from any thread.
#pragma once

#include <time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <functional>
#include <string_view>

#include "base/status.h"

namespace vigil::sources {

enum class RawKind : uint8_t {
  kExec,             // a successful execve: image, argv, cwd of the new program
  kFork,             // a new process (pid) created by ppid
  kExit,             // a process (thread group leader) exited with exit_code
  kConnect,          // connect() on an inet socket: destination, result
  kFileCreate,       // a file was created: path
  kFileCloseWrite,   // a file opened for writing was closed: path
  kFileRename,       // path (old) -> path2 (new)
  kFileDelete,       // path was unlinked
  kFileOpen,         // path was opened
};

// Strings are views into the source's buffers, valid only during the handler
// call; a consumer that queues the event copies them.
struct RawEvent {
  RawKind kind = RawKind::kExec;
  uint64_t time_ns = 0;  // CLOCK_REALTIME nanoseconds
  int32_t pid = 0;       // thread group id
  int32_t ppid = 0;      // parent tgid where the source knows it, else 0
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t loginuid = 0xffffffff;
  int64_t exit_code = 0;             // kExit: the wait status exit code, or -signal
  std::string_view image;            // kExec: executable path; others: the actor's, when known
  std::string_view command_line;     // kExec: argv joined by single spaces (bounded)
  bool command_line_truncated = false;
  std::string_view cwd;              // kExec
  std::string_view path;             // file events: the full path; kFileRename: the old path
  std::string_view path2;            // kFileRename: the new path
  // kConnect
  uint8_t family = 0;                // AF_INET or AF_INET6
  uint8_t protocol = 0;              // IPPROTO_TCP / IPPROTO_UDP
  std::array<uint8_t, 16> dst_addr{};
  std::array<uint8_t, 16> src_addr{};
  uint16_t dst_port = 0;
  uint16_t src_port = 0;
  int32_t result = 0;                // 0 or -errno (EINPROGRESS counts as initiated)
};

struct SourceCounters {
  uint64_t received = 0;  // events delivered to the handler
  uint64_t lost = 0;      // events the kernel side dropped (ring full, overflow), exactly as reported
  uint64_t errors = 0;    // records the user side could not decode
};

using RawEventHandler = std::function<void(const RawEvent&)>;

class EventSource {
 public:
  virtual ~EventSource() = default;
  virtual std::string_view name() const = 0;
  // Attaches to the kernel. Fails with a Status naming the missing privilege
  // or kernel feature; a failed Start leaves nothing attached.
  virtual Status Start() = 0;
  // Waits up to timeout_ms for events and hands each to `handler`; returns how
  // many were delivered.
  virtual Result<size_t> Poll(int timeout_ms, const RawEventHandler& handler) = 0;
  // Detaches everything Start attached. Idempotent; also run by the destructor.
  virtual void Stop() = 0;
  virtual SourceCounters counters() const = 0;
};

// A source's batch delay (its options' batch_delay_us): once the kernel says
// events are ready, sleep this long before reading them, so a storm is read in
// batches and queueing further events wakes nobody. Capped at
// kMaxBatchDelayUs; 0 returns at once.
inline constexpr uint32_t kMaxBatchDelayUs = 100'000;
inline void SleepBatchDelay(uint32_t delay_us) {
  if (delay_us == 0) return;
  timespec delay{0, static_cast<long>(std::min(delay_us, kMaxBatchDelayUs)) * 1000};
  while (nanosleep(&delay, &delay) != 0 && errno == EINTR) {
  }
}

}  // namespace vigil::sources
