// Where alerts go: JSON lines to a file (size-based rotation), stdout, syslog.
// The alert line format is documented in docs/alerts.md.
//
//   std::vector<std::unique_ptr<Sink>> sinks;
//   sinks.push_back(std::make_unique<StdoutSink>());
//   auto f = JsonlFileSink::Open({.path = "/var/log/vigil/alerts.jsonl"});
//   for (auto& s : sinks) s->Write(alert_line);   // one JSON object + '\n'
//
// Failure policy: a sink never throws and never stops; a line it cannot
// deliver is counted in stats().failed and the next line is tried afresh.
//
// Thread-safety: a Sink is used by one thread (the sink thread).
// AppendAlertLine is stateless.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "content/ir.h"
#include "sensor/event_builder.h"

namespace vigil::sensor {

struct AlertContext {
  std::string_view host;
  uint64_t content_version = 0;
  // What vigild did, for an alert raised at a permission check ("denied");
  // empty (no key) for an alert of an event that already happened.
  std::string_view decision;
};

// {"time":"2026-11-24T13:45:10.123456Z","host":..,"content_version":N,"rule_id":..,"rule_title":..,
//  "level":..,"tags":[..][,"action":"block"][,"decision":"denied"],"event":{"event":"process_creation",...all fields...}}\n
// `time` is the event's time_ns in UTC. Strings are JSON-escaped; bytes that
// are not UTF-8 become U+FFFD, so the line is always valid JSON.
void AppendAlertLine(std::string& out, const AlertContext& ctx, const content::Rule& rule,
                     const OwnedEvent& event, const Schema& schema);

struct SinkStats {
  uint64_t written = 0;
  uint64_t failed = 0;   // lines that could not be written (disk full, ...)
  uint64_t rotations = 0;
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual std::string_view name() const = 0;
  // `line` is one complete JSON line ending in '\n'. Never throws; failures
  // are counted and the sink keeps trying on later lines.
  virtual void Write(std::string_view line) = 0;
  virtual void Flush() = 0;
  virtual SinkStats stats() const = 0;
};

// fwrite + fflush per line: alerts are rare and `vigild | jq` should see
// each as it happens. The daemon must ignore SIGPIPE (a closed pipe is then
// a counted failure, not a dead sensor).
class StdoutSink final : public Sink {
 public:
  std::string_view name() const override { return "stdout"; }
  void Write(std::string_view line) override;
  void Flush() override;
  SinkStats stats() const override { return stats_; }

 private:
  SinkStats stats_;
};

struct JsonlOptions {
  std::string path;
  uint64_t max_bytes = 64ull << 20;  // >= 1 here; the config asks >= 4096
  uint32_t keep = 5;                 // path.1 .. path.keep, 1..100
};

// Appends lines to `path` (O_APPEND, mode 0640). Before a line that would
// take the file past max_bytes (and the file is not empty), rotates:
// path.(keep-1) -> path.keep (the oldest is dropped), ..., path -> path.1,
// then opens a fresh path. The old descriptor is kept until the new file is
// open, so a failed reopen only means the line lands in path.1: no line is
// lost to rotation. A line is written whole or not at all: a short write
// (disk full) is cut back off with ftruncate. Flush() does not fsync:
// lines reach the kernel in Write(). Nothing else may rotate the file
// (no external logrotate).
class JsonlFileSink final : public Sink {
 public:
  // kInvalidArgument for bad options, kIo when the file cannot be opened.
  static Result<std::unique_ptr<JsonlFileSink>> Open(JsonlOptions options);
  ~JsonlFileSink() override;
  std::string_view name() const override { return "jsonl"; }
  void Write(std::string_view line) override;
  void Flush() override;
  SinkStats stats() const override { return stats_; }

 private:
  explicit JsonlFileSink(JsonlOptions options, int fd, uint64_t size);
  void Rotate();
  bool WriteWhole(std::string_view line);
  JsonlOptions options_;
  int fd_;
  uint64_t size_;
  SinkStats stats_;
};

// Lines longer than kMaxSyslogLineBytes are cut there (and are then not
// valid JSON; the JSONL sink keeps the whole line). openlog() is
// process-wide: have at most one SyslogSink, and no other openlog() caller.
inline constexpr size_t kMaxSyslogLineBytes = 4096;

class SyslogSink final : public Sink {
 public:
  SyslogSink();   // openlog("vigild", LOG_PID, LOG_AUTHPRIV); messages at LOG_WARNING
  ~SyslogSink() override;
  std::string_view name() const override { return "syslog"; }
  void Write(std::string_view line) override;
  void Flush() override {}
  SinkStats stats() const override { return stats_; }

 private:
  SinkStats stats_;
};

}  // namespace vigil::sensor
