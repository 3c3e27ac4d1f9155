// vigild's configuration: a TOML file (docs/config.md) whose every key has a
// default, so the daemon runs without one. Errors name the file, line and key.
//
//   Result<Config> c = LoadConfig("/etc/vigil/vigild.toml");
//   if (!c) die(c.error());   // "vigild.toml:12: sinks.jsonl.max_bytes: must be >= 4096"
//   Config d = Config();      // the defaults
//
// Every problem is reported, not just the first: the Status message holds one
// "<file>:<line>: <key>: <reason>" line per problem, sorted by line. Syntax
// errors stop the parse and read "<file>:<line>:<column>: syntax: <reason>".
//
// Thread-safety: plain values and stateless functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace vigil::sensor {

// Bounds on what a config file may hold (docs/config.md).
inline constexpr size_t kMaxConfigBytes = 1 << 20;
inline constexpr uint32_t kMaxQueueSize = 16u << 20;   // queues and the process table (which needs >= 2)
inline constexpr uint64_t kMinJsonlMaxBytes = 4096;
inline constexpr uint32_t kMaxJsonlKeep = 100;
inline constexpr size_t kMaxConfigListEntries = 4096;  // per array (paths, images)
inline constexpr size_t kMaxConfigStringBytes = 4096;  // per string (PATH_MAX)
inline constexpr uint32_t kMaxConfigSeconds = 30 * 24 * 3600;  // any duration key

struct Config {
  // [sources]
  bool ebpf = true;                              // process + network events from eBPF tracepoints
  bool fanotify = true;                          // file events from fanotify
  std::vector<std::string> fanotify_paths = {"/"};  // filesystems to mark (FAN_MARK_FILESYSTEM)
  bool file_open_events = false;                 // FAN_OPEN: very noisy, off by default
  // [content]
  std::string content_path;                      // "" = the store's slots; else run exactly this bundle
  std::string default_content_path = "/usr/share/vigil/default.vbundle";  // built-in fallback
  bool watch_content = true;                     // reload when content_path changes
  std::string store_path = "/var/lib/vigil/store";  // content store (docs/content-store.md); "" = none
  std::string trust_root_path = "/etc/vigil/trust.root";  // keys that sign content (docs/signing.md)
  uint32_t health_window_seconds = 600;          // crash-free time before active becomes last-known-good
  // [update]
  std::string update_manifest_url;               // "" = no update agent
  std::string update_channel = "stable";
  uint32_t update_poll_seconds = 300;
  uint32_t update_timeout_seconds = 60;          // per download, total
  uint64_t update_max_bundle_bytes = 64ull << 20;
  std::string update_ca_file;                    // "" = the system's CA store
  // [shadow]
  uint32_t shadow_seconds = 300;                 // how long a candidate runs beside the active content
  double shadow_max_alert_ratio = 3.0;           // reject above this multiple of the active content's alerts
  uint32_t shadow_min_alerts = 20;               // ... once the candidate has raised more than this many
  uint32_t shadow_max_mean_eval_us = 50;         // reject above this mean evaluation time per event
  // [enforce]: blocking with fanotify permission events (docs/enforce.md)
  bool enforce = false;                          // off by default: vigild only watches
  std::vector<std::string> enforce_paths = {"/"};  // filesystems whose exec/open may be blocked
  bool enforce_exec = true;                      // FAN_OPEN_EXEC_PERM: process_creation rules
  bool enforce_open = false;                     // FAN_OPEN_PERM: file_access rules (every open waits)
  uint32_t enforce_deadline_ms = 20;             // answer by then, else ALLOW (counted)
  uint32_t enforce_queue = 1024;                 // decisions waiting; more are allowed at once
  bool enforce_verdict_cache = true;             // ignore marks on allowed, unmodified files
  std::vector<std::string> enforce_rule_ids;     // alerting rules made blocking by policy
  std::vector<std::string> enforce_tags;         // ... and every rule with one of these tags
  std::vector<std::string> enforce_never_block;  // extra path prefixes never blocked
  // [supervisor]
  bool supervisor = true;                        // run the worker under a supervisor process
  uint32_t crash_threshold = 3;                  // worker deaths on one content that quarantine it
  uint32_t crash_window_seconds = 600;           // ... within this time after it was first tried
  uint32_t heartbeat_timeout_ms = 3000;          // a worker silent this long is killed as hung
  // [sinks]
  bool stdout_sink = true;
  bool syslog_sink = false;
  // [sinks.jsonl]
  std::string jsonl_path;                        // "" = off
  uint64_t jsonl_max_bytes = 64ull << 20;        // rotate at this size
  uint32_t jsonl_keep = 5;                       // rotated files kept
  // [metrics]
  std::string metrics_listen = "127.0.0.1:9464";  // "host:port" (loopback only) or "unix:/path"; "" = off
  // [exclusions]
  std::vector<std::string> exclude_paths;        // file events under these prefixes are dropped
  std::vector<std::string> exclude_images;       // events from these executables are dropped
  // [queues]
  uint32_t source_queue = 8192;                  // raw events between the sources and evaluation
  uint32_t alert_queue = 16384;
  // [process_table]
  uint32_t process_table_max = 65536;
  // [daemon]
  std::string record_path;                       // "" = off; replay-format JSON lines of every event
  std::string host_name;                         // "" = gethostname()
};

// Parses `text` (named `file_name` in messages). Unknown keys are errors
// (a typo must not silently fall back to a default). Text longer than
// kMaxConfigBytes is refused (kLimitExceeded) without parsing; every other
// problem is kInvalidArgument.
Result<Config> ParseConfig(std::string_view text, std::string_view file_name);
// Reads `path` (at most kMaxConfigBytes, a regular file) and parses it.
Result<Config> LoadConfig(const std::string& path);

// A metrics listen address, checked: TCP on a loopback host only, or a unix
// socket. Shared by the config check and MetricsServer so both refuse the
// same addresses.
struct ListenAddress {
  bool is_unix = false;
  std::string host;   // TCP: "127.0.0.1" (any 127/8), "::1" (brackets removed) or "localhost"
  uint16_t port = 0;  // TCP: 0 = pick a free port
  std::string path;   // unix: absolute socket path, shorter than sun_path
};
// "127.0.0.1:9464", "[::1]:9464", "localhost:0", "unix:/run/vigil/metrics.sock".
// The error message is the reason only ("not a loopback address: 0.0.0.0"),
// for the caller to put context around.
Result<ListenAddress> ParseListenAddress(std::string_view listen);

}  // namespace vigil::sensor
