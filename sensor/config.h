// vigild's configuration: a TOML file (docs/config.md) whose every key has a
// default, so the daemon runs without one. Errors name the file, line and key.
//
//   Result<Config> c = LoadConfig("/etc/vigil/vigild.toml");
//   if (!c) die(c.error());   // "vigild.toml:12: sinks.jsonl.max_bytes: must be >= 4096"
//   Config d = Config();      // the defaults
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace vigil::sensor {

struct Config {
  // [sources]
  bool ebpf = true;                              // process + network events from eBPF tracepoints
  bool fanotify = true;                          // file events from fanotify
  std::vector<std::string> fanotify_paths = {"/"};  // filesystems to mark (FAN_MARK_FILESYSTEM)
  bool file_open_events = false;                 // FAN_OPEN: very noisy, off by default
  // [content]
  std::string content_path = "/var/lib/vigil/content/active.vbundle";
  std::string default_content_path = "/usr/share/vigil/default.vbundle";  // built-in fallback
  bool watch_content = true;                     // reload when content_path changes
  // [sinks]
  bool stdout_sink = true;
  std::string jsonl_path;                        // "" = off
  uint64_t jsonl_max_bytes = 64ull << 20;        // rotate at this size
  uint32_t jsonl_keep = 5;                       // rotated files kept
  bool syslog_sink = false;
  // [metrics]
  std::string metrics_listen = "127.0.0.1:9464";  // "host:port" (loopback only) or "unix:/path"; "" = off
  // [exclusions]
  std::vector<std::string> exclude_paths;        // file events under these prefixes are dropped
  std::vector<std::string> exclude_images;       // events from these executables are dropped
  // [queues]
  uint32_t source_queue = 65536;                 // per source, raw events
  uint32_t alert_queue = 16384;
  // [process_table]
  uint32_t process_table_max = 65536;
  // [daemon]
  std::string record_path;                       // "" = off; replay-format JSON lines of every event
  std::string host_name;                         // "" = gethostname()
};

// Parses `text` (named `file_name` in messages). Unknown keys are errors
// (a typo must not silently fall back to a default).
Result<Config> ParseConfig(std::string_view text, std::string_view file_name);
Result<Config> LoadConfig(const std::string& path);

}  // namespace vigil::sensor
