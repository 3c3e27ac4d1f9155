#include "sensor/shadow.h"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

namespace vigil::sensor {
namespace {

double MeanUs(uint64_t total_ns, uint64_t events) {
  return events == 0 ? 0.0 : static_cast<double>(total_ns) / static_cast<double>(events) / 1000.0;
}

std::string TopRules(const ShadowTally& t, size_t n) {
  std::vector<size_t> order(t.candidate_rule_alerts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return t.candidate_rule_alerts[a] > t.candidate_rule_alerts[b]; });
  std::string out;
  for (size_t i = 0; i < order.size() && i < n && t.candidate_rule_alerts[order[i]] > 0; ++i) {
    const std::string& id = order[i] < t.candidate_rule_ids.size() ? t.candidate_rule_ids[order[i]] : "?";
    out += fmt::format("{}{} {}", out.empty() ? "" : ", ", id, t.candidate_rule_alerts[order[i]]);
  }
  return out.empty() ? "none" : out;
}

}  // namespace

ShadowVerdict JudgeShadow(const ShadowTally& t, const ShadowLimits& limits, const ShadowRun& run) {
  std::vector<std::string> reasons;
  if (t.faults > 0) reasons.push_back(fmt::format("{} evaluation fault(s): {}", t.faults, t.first_fault));
  const double candidate_mean_us = MeanUs(t.candidate_eval_ns, t.events);
  const double limit_us = static_cast<double>(limits.max_mean_eval_ns) / 1000.0;
  if (t.events > 0 && t.candidate_eval_ns > limits.max_mean_eval_ns * t.events) {
    reasons.push_back(fmt::format("mean evaluation time {:.1f} us over the budget of {:.1f} us", candidate_mean_us,
                                  limit_us));
  }
  const double allowed = limits.max_alert_ratio * static_cast<double>(t.active_alerts);
  if (t.candidate_alerts > limits.min_alerts && static_cast<double>(t.candidate_alerts) > allowed) {
    reasons.push_back(fmt::format("{} alerts against the active content's {}, over {}x", t.candidate_alerts,
                                  t.active_alerts, limits.max_alert_ratio));
  }
  ShadowVerdict v;
  v.accept = reasons.empty();
  std::string why;
  for (const std::string& r : reasons) why += (why.empty() ? "" : "; ") + r;
  v.report = fmt::format(
      "candidate v{} vs active v{}, {:.0f} s, {} events: alerts {} vs {} (limit {}x once over {}), mean eval "
      "{:.2f} us vs {:.2f} us (limit {:.1f} us), max {:.1f} us, faults {}; top candidate rules: {}: {}",
      run.candidate_version, run.active_version, run.seconds, t.events, t.candidate_alerts, t.active_alerts,
      limits.max_alert_ratio, limits.min_alerts, candidate_mean_us, MeanUs(t.active_eval_ns, t.events), limit_us,
      static_cast<double>(t.candidate_max_eval_ns) / 1000.0, t.faults, TopRules(t, 3),
      v.accept ? "accepted" : "REJECTED: " + why);
  return v;
}

}  // namespace vigil::sensor
