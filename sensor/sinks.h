// Where alerts go: JSON lines to a file (size-based rotation), stdout, syslog.
// The alert line format is documented in docs/alerts.md.
//
//   std::vector<std::unique_ptr<Sink>> sinks;
//   sinks.push_back(std::make_unique<StdoutSink>());
//   auto f = JsonlFileSink::Open({.path = "/var/log/vigil/alerts.jsonl"});
//   for (auto& s : sinks) s->Write(alert_line);   // one JSON object + '\n'
//
// Thread-safety: a Sink is used by one thread (the sink thread).
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
};

// {"time":"2026-11-24T13:45:10.123456Z","host":..,"content_version":N,"rule_id":..,"rule_title":..,
//  "level":..,"tags":[..],"event":{"event":"process_creation",...all fields...}}\n
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
  uint64_t max_bytes = 64ull << 20;
  uint32_t keep = 5;  // path.1 .. path.keep
};

class JsonlFileSink final : public Sink {
 public:
  static Result<std::unique_ptr<JsonlFileSink>> Open(JsonlOptions options);
  ~JsonlFileSink() override;
  std::string_view name() const override { return "jsonl"; }
  void Write(std::string_view line) override;
  void Flush() override;
  SinkStats stats() const override { return stats_; }

 private:
  explicit JsonlFileSink(JsonlOptions options, int fd, uint64_t size);
  void Rotate();
  JsonlOptions options_;
  int fd_;
  uint64_t size_;
  SinkStats stats_;
};

class SyslogSink final : public Sink {
 public:
  SyslogSink();   // openlog("vigild", LOG_PID, LOG_AUTHPRIV)
  ~SyslogSink() override;
  std::string_view name() const override { return "syslog"; }
  void Write(std::string_view line) override;
  void Flush() override {}
  SinkStats stats() const override { return stats_; }

 private:
  SinkStats stats_;
};

}  // namespace vigil::sensor
