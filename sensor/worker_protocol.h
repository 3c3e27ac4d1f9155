// The worker -> supervisor line protocol (docs/supervisor.md, "Protocol"):
// ASCII lines of at most kMaxProtocolLine bytes (newline included) on a pipe
// the supervisor creates and the worker inherits as `--heartbeat-fd N`.
//
//   hb                          the pipeline moves (every kHeartbeatInterval)
//   trying <level> <version>    sent BEFORE loading content at that level
//   running <level> <version>   that content is loaded and the pipeline runs on it
//   degraded <0|1>              degraded mode (no eBPF, ...) entered or left
//
// Worker side:
//
//   Result<WorkerChannel> ch = WorkerChannel::Adopt(heartbeat_fd);   // owns the fd now
//   (void)ch->Send(WorkerMessage::Trying(ContentLevel::kActive, 7));
//   ... load ...
//   (void)ch->Send(WorkerMessage::Running(ContentLevel::kActive, 7));
//   for (;;) { (void)ch->Send(WorkerMessage::Heartbeat()); sleep(kHeartbeatInterval); }
//
// Supervisor side:
//
//   ProtocolParser parser;
//   for (Result<WorkerMessage>& m : parser.Feed(std::string_view(buf, n))) {
//     if (!m) { LogWarning("worker: {}", m.error().message()); continue; }   // never fatal
//     Handle(*m);
//   }
//
// The supervisor blames a worker's death on the content named by the last
// `trying` or `running` line it received, so a worker sends `running` again
// for the content it kept after a load or a shadow evaluation that did not
// change it.
//
// Thread-safety: WorkerMessage and the free functions are plain values.
// WorkerChannel::Send may be called from any thread (one write(2) per
// message, atomic on a pipe). ProtocolParser is for one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace vigil::sensor {

// The content levels, in the order a worker tries them (docs/supervisor.md).
// "path" exists only when an explicit bundle was given (--content);
// "candidate" only beside running content, while a new version is shadow-evaluated.
enum class ContentLevel : uint8_t { kPath, kCandidate, kActive, kLkg, kDefault, kBuiltin };
inline constexpr ContentLevel kAllContentLevels[] = {ContentLevel::kPath,   ContentLevel::kCandidate,
                                                     ContentLevel::kActive, ContentLevel::kLkg,
                                                     ContentLevel::kDefault, ContentLevel::kBuiltin};
std::string_view ContentLevelName(ContentLevel level);  // "path", "candidate", ...
// kInvalidArgument naming the text and the valid names.
Result<ContentLevel> ParseContentLevel(std::string_view name);
// The `--skip-levels` value: "lkg,default" (empty = none). Unknown or
// repeated names are refused.
Result<std::vector<ContentLevel>> ParseContentLevelList(std::string_view list);
std::string FormatContentLevelList(const std::vector<ContentLevel>& levels);

// Bounds and timing shared by both ends.
inline constexpr size_t kMaxProtocolLine = 256;  // bytes, the newline included
inline constexpr std::chrono::milliseconds kHeartbeatInterval{500};
inline constexpr std::string_view kHeartbeatFdFlag = "--heartbeat-fd";
inline constexpr std::string_view kSkipLevelsFlag = "--skip-levels";

struct WorkerMessage {
  enum class Kind : uint8_t { kHeartbeat, kTrying, kRunning, kDegraded };
  Kind kind = Kind::kHeartbeat;
  ContentLevel level = ContentLevel::kBuiltin;  // kTrying, kRunning
  uint64_t version = 0;                         // kTrying, kRunning
  bool degraded = false;                        // kDegraded

  static WorkerMessage Heartbeat() { return {}; }
  static WorkerMessage Trying(ContentLevel l, uint64_t v) { return {Kind::kTrying, l, v, false}; }
  static WorkerMessage Running(ContentLevel l, uint64_t v) { return {Kind::kRunning, l, v, false}; }
  static WorkerMessage Degraded(bool d) { return {Kind::kDegraded, ContentLevel::kBuiltin, 0, d}; }
  bool operator==(const WorkerMessage&) const = default;
};

// "trying active 7" (no newline). Never longer than kMaxProtocolLine - 1.
std::string FormatWorkerMessage(const WorkerMessage& message);
// One line without its newline. Refuses (kInvalidArgument, the offending text
// quoted and cut to 64 bytes) unknown messages, bad levels, versions that are
// not canonical decimal uint64 (no sign, no leading zero, no overflow),
// stray spaces and bytes outside printable ASCII; kLimitExceeded above the
// line bound. Accepts exactly what FormatWorkerMessage writes.
Result<WorkerMessage> ParseWorkerMessage(std::string_view line);

// The supervisor's incremental reader: bytes in, one result per line out.
// Memory is bounded by kMaxProtocolLine whatever arrives: a line that
// outgrows it is reported once (kLimitExceeded) and skipped up to its
// newline; the next line parses normally.
class ProtocolParser {
 public:
  std::vector<Result<WorkerMessage>> Feed(std::string_view bytes);
  // At EOF: an error for an unterminated last line, if there is one.
  std::optional<Status> Finish();
  uint64_t lines() const { return lines_; }  // lines seen, good or bad

 private:
  std::string partial_;   // the current line so far, < kMaxProtocolLine bytes
  bool skipping_ = false; // inside an overlong line: drop up to its newline
  uint64_t lines_ = 0;
};

// The worker's end of the pipe. Owns the fd (closed by the destructor); sets
// it O_NONBLOCK and FD_CLOEXEC (nothing the worker runs inherits it, so the
// supervisor sees EOF exactly when the worker is gone).
//
// A send never blocks the worker: when the pipe is full (a supervisor that
// stopped reading) the message is dropped, counted, and kLimitExceeded
// returned; a heartbeat the supervisor misses is what should happen to a
// worker whose supervisor is stuck. EPIPE (no supervisor any more) is
// counted and returns Ok: the worker keeps running; it does not take SIGPIPE
// (the signal is blocked around the write and a pending one consumed).
class WorkerChannel {
 public:
  static Result<WorkerChannel> Adopt(int fd);
  WorkerChannel(WorkerChannel&& other) noexcept;
  WorkerChannel& operator=(WorkerChannel&& other) noexcept;
  WorkerChannel(const WorkerChannel&) = delete;
  WorkerChannel& operator=(const WorkerChannel&) = delete;
  ~WorkerChannel();

  Status Send(const WorkerMessage& message);
  // For a reporter that already speaks text ("trying active 7"): checked
  // with ParseWorkerMessage (kInvalidArgument if it is not a message), then sent.
  Status SendLine(std::string_view line);

  uint64_t sent() const { return sent_->load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_->load(std::memory_order_relaxed); }  // full pipe or EPIPE
  int fd() const { return fd_; }

 private:
  explicit WorkerChannel(int fd);
  Status Write(std::string line);

  int fd_ = -1;
  // Heap-held so the channel stays movable.
  std::unique_ptr<std::atomic<uint64_t>> sent_;
  std::unique_ptr<std::atomic<uint64_t>> dropped_;
};

}  // namespace vigil::sensor
