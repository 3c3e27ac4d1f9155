#include "sensor/crash_policy.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace vigil::sensor {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = CrashPolicy::Clock;

constexpr ContentLevel kCandidate = ContentLevel::kCandidate;
constexpr ContentLevel kActive = ContentLevel::kActive;
constexpr ContentLevel kLkg = ContentLevel::kLkg;
constexpr ContentLevel kPath = ContentLevel::kPath;
constexpr ContentLevel kDefault = ContentLevel::kDefault;
constexpr ContentLevel kBuiltin = ContentLevel::kBuiltin;

// A supervisor's view of its worker with a clock the test moves by hand.
class Sim {
 public:
  explicit Sim(CrashPolicyOptions options = {}) : policy(options) {}

  void Advance(Clock::duration d) { now += d; }
  void Spawn() { policy.OnSpawn(now); }
  void Trying(ContentLevel l, uint64_t v) { policy.OnMessage(now, WorkerMessage::Trying(l, v)); }
  void Running(ContentLevel l, uint64_t v) { policy.OnMessage(now, WorkerMessage::Running(l, v)); }
  CrashDecision Die(std::string reason = "signal 11 (SIGSEGV)", bool requested = false) {
    return policy.OnDeath({now, std::move(reason), requested, policy.Suspect()});
  }
  // One worker run: spawn, load `l v` (load_time), run for `lifetime`, die.
  CrashDecision Run(ContentLevel l, uint64_t v, Clock::duration lifetime, Clock::duration load_time = milliseconds(50)) {
    Spawn();
    Trying(l, v);
    Advance(load_time);
    Running(l, v);
    Advance(lifetime);
    return Die();
  }

  CrashPolicy policy;
  Clock::time_point now{std::chrono::hours(1000)};
};

TEST(CrashPolicyTest, CandidateIsQuarantinedOnItsFirstCrash) {
  Sim s;
  s.Spawn();
  s.Trying(kActive, 7);
  s.Running(kActive, 7);
  s.Advance(seconds(5));
  s.Trying(kCandidate, 8);  // shadow evaluation beside active v7
  s.Advance(seconds(2));
  CrashDecision d = s.Die();
  EXPECT_TRUE(d.counted);
  ASSERT_TRUE(d.quarantine);
  EXPECT_EQ(*d.quarantine, (ContentRef{kCandidate, 8}));
  EXPECT_EQ(d.crashes, 1);
  EXPECT_FALSE(d.not_content_problem);
  EXPECT_EQ(d.quarantine_reason, "worker died while shadow-evaluating candidate v8: signal 11 (SIGSEGV)");
  EXPECT_EQ(d.summary, "quarantined candidate v8: died during shadow evaluation (signal 11 (SIGSEGV)); restart in 100 ms");
}

TEST(CrashPolicyTest, CandidateThatStoppedBeingEvaluatedIsNotBlamed) {
  Sim s;
  s.Spawn();
  s.Running(kActive, 7);
  s.Trying(kCandidate, 8);
  s.Running(kActive, 7);  // rejected by the shadow verdict: back to what runs
  CrashDecision d = s.Die();
  EXPECT_FALSE(d.quarantine);
  ASSERT_TRUE(d.content);
  EXPECT_EQ(*d.content, (ContentRef{kActive, 7}));
}

TEST(CrashPolicyTest, ThreeCrashesOnActiveWithinTheWindowQuarantineIt) {
  Sim s;
  CrashDecision d1 = s.Run(kActive, 7, seconds(1));
  EXPECT_FALSE(d1.quarantine);
  EXPECT_EQ(d1.crashes, 1);
  EXPECT_EQ(d1.summary, "worker died on active v7: signal 11 (SIGSEGV) (crash 1 of 3 within 600 s); restart in 100 ms");
  s.Advance(d1.restart_delay);
  CrashDecision d2 = s.Run(kActive, 7, seconds(1));
  EXPECT_FALSE(d2.quarantine);
  EXPECT_EQ(d2.crashes, 2);
  s.Advance(d2.restart_delay);
  s.Spawn();
  s.Trying(kActive, 7);
  s.Advance(milliseconds(10));
  CrashDecision d3 = s.Die("heartbeat lost after 3000 ms");  // a hang counts like a crash
  ASSERT_TRUE(d3.quarantine);
  EXPECT_EQ(*d3.quarantine, (ContentRef{kActive, 7}));
  EXPECT_EQ(d3.crashes, 3);
  // First try at t=0; deaths at 1.05 s, 2.2 s (+100 ms delay) and 2.41 s (+200 ms delay).
  EXPECT_EQ(d3.since_first_try, milliseconds(2410));
  EXPECT_EQ(d3.summary, "quarantined active v7: 3 crashes in 2.4 s (last: heartbeat lost after 3000 ms); restart in 400 ms");
  EXPECT_EQ(d3.quarantine_reason,
            "3 worker deaths in 2.4 s after active v7 was first tried (threshold 3 within 600 s); last: heartbeat "
            "lost after 3000 ms");
}

TEST(CrashPolicyTest, ThresholdIsConfigurable) {
  Sim one(CrashPolicyOptions{.crash_threshold = 1});
  EXPECT_TRUE(one.Run(kLkg, 6, seconds(1)).quarantine);

  Sim five(CrashPolicyOptions{.crash_threshold = 5});
  for (int i = 1; i <= 4; ++i) EXPECT_FALSE(five.Run(kActive, 7, seconds(1)).quarantine) << i;
  EXPECT_TRUE(five.Run(kActive, 7, seconds(1)).quarantine);
}

TEST(CrashPolicyTest, CrashesOfAnotherVersionDoNotCount) {
  Sim s;
  EXPECT_EQ(s.Run(kActive, 7, seconds(1)).crashes, 1);
  EXPECT_EQ(s.Run(kActive, 8, seconds(1)).crashes, 1);
  EXPECT_EQ(s.Run(kActive, 7, seconds(1)).crashes, 1);
  EXPECT_EQ(s.Run(kLkg, 7, seconds(1)).crashes, 1);  // same version, other level: other content
  EXPECT_EQ(s.Run(kLkg, 7, seconds(1)).crashes, 2);
}

TEST(CrashPolicyTest, RunningOtherContentResetsTheCount) {
  Sim s;
  s.Run(kActive, 7, seconds(1));
  s.Run(kActive, 7, seconds(1));
  // The next run updates to v8, which runs for a while, then goes back to v7.
  s.Spawn();
  s.Running(kActive, 7);
  s.Running(kActive, 8);
  s.Advance(seconds(10));
  s.Trying(kActive, 7);
  s.Running(kActive, 7);
  CrashDecision d = s.Die();
  EXPECT_EQ(d.crashes, 1);
  EXPECT_FALSE(d.quarantine);
}

TEST(CrashPolicyTest, FallingBackWithinARunDoesNotResetTheCount) {
  // Each run: active v7 fails to load (refused, not a crash), lkg v6 runs and crashes.
  Sim s;
  for (int i = 1; i <= 3; ++i) {
    s.Spawn();
    s.Trying(kActive, 7);
    s.Trying(kLkg, 6);
    s.Running(kLkg, 6);
    s.Advance(seconds(1));
    CrashDecision d = s.Die();
    EXPECT_EQ(d.crashes, i);
    ASSERT_TRUE(d.content);
    EXPECT_EQ(*d.content, (ContentRef{kLkg, 6}));
    EXPECT_EQ(d.quarantine.has_value(), i == 3);
  }
}

TEST(CrashPolicyTest, CrashesAfterTheWindowStartANewCount) {
  Sim s;
  s.Run(kActive, 7, seconds(1));  // first tried at t=0
  s.Advance(seconds(300));
  EXPECT_EQ(s.Run(kActive, 7, seconds(1)).crashes, 2);  // t=302
  s.Advance(seconds(298) + milliseconds(500));          // tried at t=600.5, dies after 601 s
  CrashDecision d = s.Run(kActive, 7, milliseconds(400));
  EXPECT_EQ(d.crashes, 1) << "the window counts from the first try";
  EXPECT_FALSE(d.quarantine);
  EXPECT_EQ(s.Run(kActive, 7, seconds(1)).crashes, 2);
  EXPECT_TRUE(s.Run(kActive, 7, seconds(1)).quarantine);
}

TEST(CrashPolicyTest, WindowBoundaryIsInclusive) {
  Sim s(CrashPolicyOptions{.crash_threshold = 2, .crash_window = seconds(10)});
  s.Spawn();
  s.Trying(kActive, 7);
  s.Advance(seconds(1));
  s.Die();
  s.Advance(seconds(9));  // exactly 10 s after the first try
  s.Spawn();
  CrashDecision d = s.Die();  // died before naming content: not counted on v7
  EXPECT_FALSE(d.content);
  s.Spawn();
  s.Trying(kActive, 7);
  EXPECT_TRUE(s.Die().quarantine);
}

TEST(CrashPolicyTest, RequestedStopIsNotACrash) {
  Sim s;
  for (int i = 0; i < 5; ++i) {
    s.Spawn();
    s.Running(kActive, 7);
    CrashDecision d = s.Die("exit 0", /*requested=*/true);
    EXPECT_FALSE(d.counted);
    EXPECT_FALSE(d.quarantine);
    EXPECT_EQ(d.restart_delay, milliseconds(0));
    EXPECT_EQ(d.summary, "worker stopped on request (exit 0; was on active v7)");
  }
  EXPECT_EQ(s.policy.unhealthy_streak(), 0);
  EXPECT_EQ(s.Run(kActive, 7, seconds(1)).crashes, 1);
}

TEST(CrashPolicyTest, BuiltinIsNeverQuarantinedAndBacksOffTo30Seconds) {
  Sim s;
  const std::vector<int64_t> expected = {100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000};
  for (size_t i = 0; i < expected.size(); ++i) {
    CrashDecision d = s.Run(kBuiltin, 0, seconds(1));
    EXPECT_TRUE(d.counted);
    EXPECT_FALSE(d.quarantine) << i;
    EXPECT_TRUE(d.not_content_problem);
    EXPECT_EQ(d.restart_delay.count(), expected[i]) << i;
    EXPECT_NE(d.summary.find("NOT A CONTENT PROBLEM"), std::string::npos) << d.summary;
    s.Advance(d.restart_delay);
  }
}

TEST(CrashPolicyTest, DeathBeforeAnyContentIsNotAContentProblem) {
  Sim s;
  for (int64_t want : {100, 200, 400, 800, 1600, 3200}) {
    s.Spawn();
    s.Advance(milliseconds(20));
    CrashDecision d = s.Die("exit 2");
    EXPECT_FALSE(d.content);
    EXPECT_FALSE(d.quarantine);
    EXPECT_TRUE(d.not_content_problem);
    EXPECT_EQ(d.restart_delay.count(), want);
    EXPECT_EQ(d.summary, "worker died before loading any content: exit 2; not a content problem; restart in " +
                             (want < 1000 ? std::to_string(want) + " ms" : fmt::format("{:.1f} s", want / 1000.0)));
  }
}

TEST(CrashPolicyTest, BackoffStopsAtTwoSecondsWhileContentLevelsRemain) {
  Sim s(CrashPolicyOptions{.crash_threshold = 100});
  for (int64_t want : {100, 200, 400, 800, 1600, 2000, 2000, 2000}) {
    CrashDecision d = s.Run(kActive, 7, seconds(1));
    EXPECT_EQ(d.restart_delay.count(), want);
    s.Advance(d.restart_delay);
  }
}

TEST(CrashPolicyTest, HealthyRunRestartsAtOnceAndResetsTheBackoff) {
  Sim s(CrashPolicyOptions{.crash_threshold = 100});
  EXPECT_EQ(s.Run(kActive, 7, seconds(1)).restart_delay.count(), 100);
  EXPECT_EQ(s.Run(kActive, 7, seconds(1)).restart_delay.count(), 200);
  EXPECT_EQ(s.Run(kActive, 7, seconds(59)).restart_delay.count(), 400) << "59 s is not healthy";
  EXPECT_EQ(s.Run(kActive, 7, seconds(61)).restart_delay.count(), 0) << "61 s running is healthy";
  EXPECT_EQ(s.policy.unhealthy_streak(), 0);
  EXPECT_EQ(s.Run(kActive, 7, seconds(1)).restart_delay.count(), 100);
  // Alive for minutes but never `running`: not healthy.
  s.Spawn();
  s.Trying(kActive, 7);
  s.Advance(seconds(300));
  EXPECT_EQ(s.Die().restart_delay.count(), 200);
}

TEST(CrashPolicyTest, PathAndDefaultAreQuarantinedLikeActive) {
  for (ContentLevel level : {kPath, kDefault, kLkg}) {
    Sim s;
    s.Run(level, 3, seconds(1));
    s.Run(level, 3, seconds(1));
    CrashDecision d = s.Run(level, 3, seconds(1));
    ASSERT_TRUE(d.quarantine) << ContentLevelName(level);
    EXPECT_EQ(*d.quarantine, (ContentRef{level, 3}));
  }
}

TEST(CrashPolicyTest, AfterAQuarantineTheSameContentStartsFromZero) {
  Sim s;
  for (int i = 0; i < 3; ++i) s.Run(kActive, 7, seconds(1));
  EXPECT_EQ(s.Run(kActive, 7, seconds(1)).crashes, 1);  // e.g. an operator put v7 back
}

TEST(CrashPolicyTest, CandidateCrashDoesNotDisturbTheCountOfWhatRuns) {
  Sim s;
  s.Run(kActive, 7, seconds(1));
  s.Run(kActive, 7, seconds(1));
  s.Spawn();
  s.Running(kActive, 7);
  s.Trying(kCandidate, 8);
  EXPECT_TRUE(s.Die().quarantine);
  CrashDecision d = s.Run(kActive, 7, seconds(1));
  EXPECT_EQ(d.crashes, 3);
  EXPECT_TRUE(d.quarantine);
}

TEST(CrashPolicyTest, CrashLoopingUpdateEndsOnLkgWithinThreeCrashesAndTenSeconds) {
  // An update v8 passed shadow evaluation and became active; from then on
  // every worker dies half a second after starting to load it.
  Sim s;
  s.Spawn();
  s.Running(kActive, 7);
  s.Trying(kCandidate, 8);
  s.Advance(seconds(300));
  s.Running(kActive, 8);  // activated
  s.Advance(seconds(1));
  const Clock::time_point loop_start = s.now;
  CrashDecision d = s.Die();
  int crashes = 1;
  while (!d.quarantine) {
    s.Advance(d.restart_delay);
    s.Spawn();
    s.Advance(milliseconds(300));  // process start, config, store
    s.Trying(kActive, 8);
    s.Advance(milliseconds(500));
    d = s.Die();
    ++crashes;
    ASSERT_LE(crashes, 3);
  }
  EXPECT_EQ(*d.quarantine, (ContentRef{kActive, 8}));
  s.Advance(d.restart_delay);
  s.Spawn();
  s.Advance(milliseconds(300));
  s.Trying(kLkg, 7);
  s.Running(kLkg, 7);
  EXPECT_LE(s.now - loop_start, seconds(10));
  EXPECT_EQ(*s.policy.Suspect(), (ContentRef{kLkg, 7}));
}

TEST(CrashPolicyTest, SuspectIsTheLastContentNamedInThisRun) {
  Sim s;
  s.Spawn();
  EXPECT_FALSE(s.policy.Suspect());
  s.Trying(kActive, 7);
  EXPECT_EQ(*s.policy.Suspect(), (ContentRef{kActive, 7}));
  s.policy.OnMessage(s.now, WorkerMessage::Heartbeat());
  s.policy.OnMessage(s.now, WorkerMessage::Degraded(true));
  EXPECT_EQ(*s.policy.Suspect(), (ContentRef{kActive, 7}));
  s.Trying(kLkg, 6);
  EXPECT_EQ(*s.policy.Suspect(), (ContentRef{kLkg, 6}));
  s.Spawn();
  EXPECT_FALSE(s.policy.Suspect()) << "a new process has said nothing yet";
}

TEST(CrashPolicyTest, ValidateNamesTheBadOption) {
  EXPECT_TRUE(CrashPolicy::Validate({}).ok());
  EXPECT_EQ(CrashPolicy::Validate({.crash_threshold = 0}).message(), "crash_threshold 0: must be 1 to 100");
  EXPECT_EQ(CrashPolicy::Validate({.crash_threshold = 101}).code(), Code::kInvalidArgument);
  EXPECT_EQ(CrashPolicy::Validate({.crash_window = seconds(0)}).message(), "crash_window: must be positive");
  EXPECT_FALSE(CrashPolicy::Validate({.first_delay = milliseconds(0)}).ok());
  EXPECT_FALSE(CrashPolicy::Validate({.first_delay = milliseconds(500), .max_delay = milliseconds(100)}).ok());
  EXPECT_FALSE(CrashPolicy::Validate({.max_delay_builtin = milliseconds(1000)}).ok());
}

}  // namespace
}  // namespace vigil::sensor
