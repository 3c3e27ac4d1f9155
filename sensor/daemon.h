// vigild's daemon: sources -> bounded queue -> evaluation (process table,
// engine) -> bounded alert queue -> sinks, with metrics, content reload and
// a degraded mode when eBPF is unavailable.
//
//   Result<std::unique_ptr<Daemon>> d = Daemon::Create(config);
//   if (!d) die(d.error());            // bad content is not fatal; no usable source is
//   std::thread signals([&] { ... (*d)->RequestStop(); (*d)->RequestReload(); });
//   Status s = (*d)->Run();            // blocks until RequestStop()
//
// Threads: one per source (Poll -> raw queue), one evaluation thread, one sink
// thread, and the caller's (Run: content watch, reload, metrics refresh).
// Every hop counts what it received, dropped and passed (docs/vigild.md, "Metrics").
//
// Thread-safety: RequestStop/RequestReload from any thread (async-signal-safe:
// they only store atomics); everything else from the thread that calls Run.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "sensor/config.h"

namespace vigil::sensor {

// What a supervisor tells its worker, and how the worker talks back.
struct DaemonOptions {
  // Receives the worker's protocol lines (docs/supervisor.md): "hb",
  // "trying <level> <version>", "running <level> <version>". Called from the
  // thread that runs Create/Run; must not block.
  std::function<void(const std::string& line)> report;
  // Content levels not to use ("active", "lkg", "default", "path"), decided by
  // the supervisor after crash loops.
  std::vector<std::string> skip_levels;
  // True when no supervisor runs this worker (--no-supervisor): the worker
  // then holds the content store's lock itself.
  bool standalone = true;
  // [enforce]: processes whose execs and opens are never blocked besides
  // this one (the supervisor), and vigil's own files (its binaries, its
  // configuration file); the daemon adds its content paths.
  std::vector<int32_t> enforce_allowed_pids;
  std::vector<std::string> enforce_never_block;
};

class Daemon {
 public:
  static Result<std::unique_ptr<Daemon>> Create(Config config, DaemonOptions options = {});
  ~Daemon();

  // Starts the sources and threads and runs until RequestStop(). Returns Ok
  // on a clean stop, or the reason it could not run.
  Status Run();
  void RequestStop();
  void RequestReload();

 private:
  struct Impl;
  explicit Daemon(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::sensor
