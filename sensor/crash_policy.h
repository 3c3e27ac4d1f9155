// What the supervisor does when its worker dies: the pure decision, no I/O
// and no clock of its own (every input carries its time), so every rule is
// tested with made-up times (docs/supervisor.md, "Crash-loop policy").
//
//   CrashPolicy policy(CrashPolicyOptions{.crash_threshold = 3});
//   policy.OnSpawn(now);
//   policy.OnMessage(now, WorkerMessage::Trying(ContentLevel::kActive, 7));   // from the pipe
//   ...
//   CrashDecision d = policy.OnDeath({now, "signal 11 (SIGSEGV)", false, policy.Suspect()});
//   if (d.quarantine) Quarantine(*d.quarantine, d.quarantine_reason);       // no worker runs now
//   RestartAfter(d.restart_delay);                                          // always: never give up
//
// The rules:
//  * A death is blamed on the content the worker last named (`trying` or
//    `running`); a worker that died before naming any is not a content problem.
//  * candidate: one death quarantines it (it is not active yet; nothing is lost).
//  * path, active, lkg, default: crash_threshold deaths on the same (level,
//    version) within crash_window of the first try of that content
//    quarantine it. A death on other content, or a `running` line naming other
//    content, starts the count again; so does a death after the window.
//  * builtin (and no content): never quarantined; the worker restarts with a
//    longer backoff and the decision says it is not a content problem.
//  * A requested stop is not a crash: nothing is counted.
//  * Restart delay: 0 after a run that was `running` for longer than
//    healthy_run; else first_delay doubling per consecutive unhealthy death,
//    up to max_delay while content levels remain below, max_delay_builtin when
//    the death was on builtin or before any content.
//
// Thread-safety: not thread-safe; the supervisor's one thread owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "base/status.h"
#include "sensor/worker_protocol.h"

namespace vigil::sensor {

struct ContentRef {
  ContentLevel level = ContentLevel::kBuiltin;
  uint64_t version = 0;
  bool operator==(const ContentRef&) const = default;
};
std::string DescribeContent(const ContentRef& content);  // "active v7"

struct CrashPolicyOptions {
  int crash_threshold = 3;
  std::chrono::seconds crash_window{600};
  std::chrono::milliseconds healthy_run{60'000};
  std::chrono::milliseconds first_delay{100};
  std::chrono::milliseconds max_delay{2'000};
  std::chrono::milliseconds max_delay_builtin{30'000};
};

struct WorkerDeath {
  std::chrono::steady_clock::time_point time;
  std::string reason;  // "signal 11 (SIGSEGV)", "exit 1", "heartbeat lost after 3000 ms"
  bool requested_stop = false;
  std::optional<ContentRef> content;  // what it was trying/running (CrashPolicy::Suspect())
};

struct CrashDecision {
  bool counted = false;                   // false: a requested stop
  std::optional<ContentRef> content;      // what the death is blamed on
  int crashes = 0;                        // on `content` in the current window, this one included
  std::chrono::milliseconds since_first_try{0};  // from the first try of `content` to this death
  std::optional<ContentRef> quarantine;   // quarantine this, then restart
  std::string quarantine_reason;          // for the store's .reason file
  bool not_content_problem = false;       // died on builtin, or before loading content
  std::chrono::milliseconds restart_delay{0};
  std::string summary;                    // one line for the log and the store's last_event
};

class CrashPolicy {
 public:
  using Clock = std::chrono::steady_clock;

  // kInvalidArgument naming the field: threshold 1..100, window > 0, delays
  // positive and non-decreasing (first <= max <= builtin).
  static Status Validate(const CrashPolicyOptions& options);
  // `options` must pass Validate (checked by the caller; out-of-range values are clamped).
  explicit CrashPolicy(CrashPolicyOptions options = {});

  // A new worker process started: forget what the last one said.
  void OnSpawn(Clock::time_point now);
  // A protocol line from the current worker.
  void OnMessage(Clock::time_point now, const WorkerMessage& message);
  // The content the current worker would be blamed for if it died now.
  std::optional<ContentRef> Suspect() const { return suspect_; }
  // The current worker died. Always decides a restart.
  CrashDecision OnDeath(const WorkerDeath& death);

  // Deaths in a row without a healthy run (the backoff exponent).
  int unhealthy_streak() const { return streak_; }

 private:
  struct Episode {
    ContentRef content;
    Clock::time_point first_try;
    int crashes = 0;
  };

  std::chrono::milliseconds Backoff(bool on_builtin) const;

  CrashPolicyOptions options_;
  // The current run.
  std::optional<ContentRef> suspect_;
  Clock::time_point suspect_since_{};
  std::optional<Clock::time_point> running_since_;
  // Across runs.
  std::optional<Episode> episode_;
  int streak_ = 0;
};

}  // namespace vigil::sensor
