// The engine against the reference evaluator on many random rule/event
// cases: rules from a tiny vocabulary (so atoms hit often and anchors,
// overlaps and field boundaries are exercised), every operator and flag,
// kAnyField, NOT, at-least-k and constants; events with absent and empty
// fields. Prints how many cases ran and how many matched; on a mismatch
// prints the rule's atoms and program and the event.
#include <chrono>
#include <cstdio>
#include <random>

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "engine/testing/reference_evaluator.h"
#include "engine/testing/rule_generator.h"

namespace vigil::engine {
namespace {

TEST(EngineDifferential, MatchesReferenceOnRandomRulesAndEvents) {
  constexpr int kRulesets = 250;
  constexpr size_t kRulesPerSet = 40;
  constexpr int kEventsPerSet = 150;
  const Schema& schema = Schema::Builtin();
  std::mt19937_64 rng(20240719);
  size_t cases = 0, matches = 0, failures = 0, always = 0, rules = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int set = 0; set < kRulesets && failures < 5; ++set) {
    content::Ruleset rs = testing::RandomRuleset(rng, schema, kRulesPerSet);
    auto engine = Engine::Create(rs, schema);
    ASSERT_TRUE(engine.has_value()) << engine.error().ToString();
    always += (*engine)->stats().always_evaluated;
    rules += rs.rules.size();
    testing::ReferenceEvaluator reference(rs, schema);
    auto scratch = (*engine)->NewScratch();
    for (int e = 0; e < kEventsPerSet && failures < 5; ++e) {
      const EventTypeId type = rs.rules[e % rs.rules.size()].event_type;
      testing::OwnedEvent ev = testing::RandomEvent(rng, schema, type);
      auto got_span = (*engine)->Evaluate(ev.view(), *scratch);
      std::vector<uint32_t> got(got_span.begin(), got_span.end());
      std::vector<uint32_t> want = reference.Evaluate(ev.view());
      for (const auto& r : rs.rules) cases += r.event_type == type;
      matches += want.size();
      if (got == want) continue;
      ++failures;
      std::string detail;
      for (uint32_t i = 0; i < rs.rules.size(); ++i) {
        const bool g = std::find(got.begin(), got.end(), i) != got.end();
        const bool w = std::find(want.begin(), want.end(), i) != want.end();
        if (g != w) {
          detail += fmt::format("engine={} reference={} for\n{}", g, w, testing::DescribeRule(rs.rules[i]));
        }
      }
      ADD_FAILURE() << "ruleset " << set << " event " << e << ": " << ev.ToString(schema) << "\n" << detail;
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("differential: %zu rule/event cases, %zu matches, %zu of %zu rules without prefilter, %.1f s\n",
              cases, matches, always, rules, seconds);
  EXPECT_GE(cases, 100'000u);
  EXPECT_GT(matches, cases / 50) << "vocabulary too sparse: too few matches to mean much";
}

}  // namespace
}  // namespace vigil::engine
