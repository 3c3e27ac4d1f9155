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

#include <memory>

#include "base/status.h"
#include "sensor/config.h"

namespace vigil::sensor {

class Daemon {
 public:
  static Result<std::unique_ptr<Daemon>> Create(Config config);
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
