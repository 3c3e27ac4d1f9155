#include "sensor/shadow.h"

#include <gtest/gtest.h>

namespace vigil::sensor {
namespace {

ShadowTally Tally(uint64_t events, uint64_t active_alerts, uint64_t candidate_alerts, uint64_t active_ns,
                  uint64_t candidate_ns) {
  ShadowTally t;
  for (uint64_t i = 0; i < events; ++i) {
    t.Add(i < active_alerts ? 1 : 0, i < candidate_alerts ? 1 : 0, active_ns, candidate_ns);
  }
  return t;
}

TEST(Shadow, ComparableCandidateIsAccepted) {
  ShadowVerdict v = JudgeShadow(Tally(1000, 12, 14, 1000, 1200), {}, {8, 7, 300});
  EXPECT_TRUE(v.accept) << v.report;
  EXPECT_NE(v.report.find("candidate v8 vs active v7, 300 s, 1000 events: alerts 14 vs 12"), std::string::npos)
      << v.report;
  EXPECT_NE(v.report.find("mean eval 1.20 us vs 1.00 us"), std::string::npos) << v.report;
  EXPECT_TRUE(v.report.ends_with(": accepted")) << v.report;
}

TEST(Shadow, AlertFloodIsRejectedOnlyAboveBothLimits) {
  ShadowLimits limits{.max_alert_ratio = 3.0, .min_alerts = 20, .max_mean_eval_ns = 50'000};
  // 10 vs 0: over the ratio but under the floor: no signal, accepted.
  EXPECT_TRUE(JudgeShadow(Tally(100, 0, 10, 1000, 1000), limits, {}).accept);
  // 30 vs 10: exactly 3x is allowed.
  EXPECT_TRUE(JudgeShadow(Tally(100, 10, 30, 1000, 1000), limits, {}).accept);
  // 31 vs 10: over 3x and over 20.
  ShadowVerdict v = JudgeShadow(Tally(100, 10, 31, 1000, 1000), limits, {});
  EXPECT_FALSE(v.accept);
  EXPECT_NE(v.report.find("REJECTED: 31 alerts against the active content's 10, over 3x"), std::string::npos)
      << v.report;
  // 21 vs 0: the active content raised nothing at all.
  EXPECT_FALSE(JudgeShadow(Tally(100, 0, 21, 1000, 1000), limits, {}).accept);
}

TEST(Shadow, SlowCandidateIsRejected) {
  ShadowLimits limits{.max_alert_ratio = 3.0, .min_alerts = 20, .max_mean_eval_ns = 50'000};
  EXPECT_TRUE(JudgeShadow(Tally(100, 0, 0, 1000, 50'000), limits, {}).accept);
  ShadowVerdict v = JudgeShadow(Tally(100, 0, 0, 1000, 50'001), limits, {});
  EXPECT_FALSE(v.accept);
  EXPECT_NE(v.report.find("mean evaluation time 50.0 us over the budget of 50.0 us"), std::string::npos)
      << v.report;
}

TEST(Shadow, FaultIsRejectedAndTopRulesAreReported) {
  ShadowTally t = Tally(10, 0, 0, 1000, 1000);
  t.candidate_rule_ids = {"quiet", "loud", "medium"};
  t.candidate_rule_alerts = {0, 9, 4};
  t.faults = 1;
  t.first_fault = "std::bad_alloc";
  ShadowVerdict v = JudgeShadow(t, {}, {});
  EXPECT_FALSE(v.accept);
  EXPECT_NE(v.report.find("top candidate rules: loud 9, medium 4:"), std::string::npos) << v.report;
  EXPECT_NE(v.report.find("REJECTED: 1 evaluation fault(s): std::bad_alloc"), std::string::npos) << v.report;
}

TEST(Shadow, NoEventsIsAcceptedWithZeroMeans) {
  ShadowVerdict v = JudgeShadow(ShadowTally{}, {}, {3, 2, 1});
  EXPECT_TRUE(v.accept) << v.report;
  EXPECT_NE(v.report.find("0 events"), std::string::npos);
}

}  // namespace
}  // namespace vigil::sensor
