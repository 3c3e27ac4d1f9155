// vigild's supervisor: a small process that runs the worker (the daemon that
// parses content and evaluates rules), restarts it when it dies, kills it
// when its heartbeat stops, and quarantines content that crash-loops it, so
// the worker comes back on the next content level (docs/supervisor.md). It
// never parses content: it reads a line protocol (sensor/worker_protocol.h),
// waits for its child and moves files through the content store.
//
//   int main(int argc, char** argv) {
//     Result<SignalSource> signals = SignalSource::FromProcessSignals();  // before any thread starts
//     if (!signals) { LogError("{}", signals.error().ToString()); return 1; }
//     SupervisorOptions options;
//     options.worker_argv = {"/usr/bin/vigild", "--worker", "--config", "/etc/vigil/vigild.toml"};
//     options.store_root = "/var/lib/vigil/store";
//     return RunSupervisor(options, *signals);   // returns 0 after SIGTERM/SIGINT
//   }
//
// The worker is started as worker_argv + `--heartbeat-fd 3` (+ `--skip-levels
// a,b` when the store's state, or a quarantine the store could not record,
// says so). fd 3 is the write end of the protocol pipe and the only
// descriptor it inherits besides 0, 1 and 2. It runs in its own process group,
// with all signals unblocked and at their default actions, and gets SIGKILL
// when the thread that called RunSupervisor dies (PR_SET_PDEATHSIG): a dead
// supervisor never leaves a worker behind.
//
// Ownership and threads: RunSupervisor blocks the calling thread until a
// stop; it creates no threads. It holds the store's lock (StoreLock) from
// start to return. Call it from a thread that lives as long as the worker
// should (the main thread in vigild): PDEATHSIG follows that thread. Other
// threads may only call SignalSource::Raise.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace vigil::sensor {

struct SupervisorOptions {
  // The worker's command line; [0] is a path (not looked up in PATH).
  std::vector<std::string> worker_argv;
  // The content store ("" = none: quarantines then only skip path/default
  // levels, and only for this process's lifetime).
  std::string store_root;
  int crash_threshold = 3;                           // deaths on one content that quarantine it
  std::chrono::seconds crash_window{600};            // ... within this long after it was first tried
  std::chrono::milliseconds heartbeat_timeout{3000}; // silence after the last `hb` that counts as hung
  std::chrono::milliseconds startup_grace{15000};    // before the first `hb`, and after each `trying`
  std::chrono::seconds stop_timeout{10};             // SIGTERM -> SIGKILL on stop
};

// Where the supervisor learns of SIGTERM, SIGINT (stop) and SIGHUP (forwarded
// to the worker): a descriptor yielding `struct signalfd_siginfo` records.
// Move-only; owns its descriptors.
class SignalSource {
 public:
  // Blocks SIGTERM, SIGINT and SIGHUP in the calling thread and reads them
  // from a signalfd. Call it in main before any thread starts, so every
  // thread inherits the mask and the signals reach only the signalfd. The
  // mask stays (the worker's is reset before exec).
  static Result<SignalSource> FromProcessSignals();
  // A pipe that Raise() writes: for tests, and for a caller that catches
  // signals itself.
  static Result<SignalSource> Manual();

  SignalSource(SignalSource&& other) noexcept;
  SignalSource& operator=(SignalSource&& other) noexcept;
  SignalSource(const SignalSource&) = delete;
  SignalSource& operator=(const SignalSource&) = delete;
  ~SignalSource();

  // Manual() only: queues `signo`. Async-signal-safe (one write(2)), any thread.
  void Raise(int signo) const;
  // The next queued signal number, without blocking.
  std::optional<int> Next() const;
  int fd() const { return read_fd_; }

 private:
  SignalSource(int read_fd, int write_fd) : read_fd_(read_fd), write_fd_(write_fd) {}
  int read_fd_ = -1;
  int write_fd_ = -1;  // Manual() only
};

// Runs and supervises the worker until SIGTERM or SIGINT arrives on
// `signals`: then SIGTERM to the worker, SIGKILL after stop_timeout, return
// 0. Returns 1 only when it cannot begin (options refused, the store locked
// by another vigild); once the worker has started it never gives up.
int RunSupervisor(const SupervisorOptions& options, const SignalSource& signals);

// A waitpid(2) status as the supervisor reports it: "exit 1", "signal 11 (SIGSEGV)".
std::string DescribeWaitStatus(int status);

}  // namespace vigil::sensor
