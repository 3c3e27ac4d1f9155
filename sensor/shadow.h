// Shadow evaluation: a candidate bundle runs beside the active one on the live
// event stream before it is trusted. The evaluation thread adds every event's
// outcome to a ShadowTally; when the window ends, JudgeShadow() decides.
//
//   ShadowTally t;                     // evaluation thread only
//   t.Add(active_alerts, candidate_alerts, active_ns, candidate_ns);
//   ShadowVerdict v = JudgeShadow(t, limits, {.candidate = 8, .active = 7, .seconds = 300});
//   if (!v.accept) quarantine(v.report);
//
// A candidate is rejected if it faulted, if its mean evaluation time per event
// is over budget, or if it raised more than max_alert_ratio times the active
// content's alerts once it has raised more than min_alerts (a handful of
// alerts is no signal either way). A candidate that crashes the worker never
// reaches a verdict: the supervisor quarantines it (docs/supervisor.md).
//
// Thread-safety: plain values and a pure function.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vigil::sensor {

struct ShadowLimits {
  double max_alert_ratio = 3.0;
  uint64_t min_alerts = 20;
  uint64_t max_mean_eval_ns = 50'000;
};

struct ShadowTally {
  uint64_t events = 0;
  uint64_t active_alerts = 0;
  uint64_t candidate_alerts = 0;
  uint64_t active_eval_ns = 0;
  uint64_t candidate_eval_ns = 0;
  uint64_t candidate_max_eval_ns = 0;
  uint64_t faults = 0;           // evaluations of the candidate that threw
  std::string first_fault;       // what the first one said
  std::vector<uint64_t> candidate_rule_alerts;  // by candidate rule index
  std::vector<std::string> candidate_rule_ids;  // same index

  void Add(uint64_t active_alert_count, uint64_t candidate_alert_count, uint64_t active_ns, uint64_t candidate_ns) {
    ++events;
    active_alerts += active_alert_count;
    candidate_alerts += candidate_alert_count;
    active_eval_ns += active_ns;
    candidate_eval_ns += candidate_ns;
    if (candidate_ns > candidate_max_eval_ns) candidate_max_eval_ns = candidate_ns;
  }
};

struct ShadowRun {
  uint64_t candidate_version = 0;
  uint64_t active_version = 0;
  double seconds = 0;  // how long the window actually ran
};

struct ShadowVerdict {
  bool accept = false;
  // One line for logs, `vigil status` and the store's state, e.g.
  // "candidate v8 vs active v7, 300 s, 120345 events: alerts 14 vs 12 (limit 3x once over 20), mean eval
  //  1.2 us vs 1.0 us (limit 50 us), max 41.0 us, faults 0; top candidate rules: r1 9, r2 5: accepted"
  std::string report;
};

ShadowVerdict JudgeShadow(const ShadowTally& tally, const ShadowLimits& limits, const ShadowRun& run);

}  // namespace vigil::sensor
