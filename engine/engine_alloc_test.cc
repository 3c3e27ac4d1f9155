// Evaluate() must not allocate: this binary replaces the global operator new
// to count allocations, warms the engine up (RE2 builds its lazy DFA states
// on first contact with new input, see engine.h), then evaluates the same
// events again and requires zero allocations.
//
// C++ allocations (ours, RE2's, the standard library's) go through operator
// new. Hyperscan allocates only when databases and scratch are made, never in
// hs_scan (its documented contract), so counting operator new covers the path.
//
// Under AddressSanitizer the sanitizer owns operator new; the tests are
// skipped there (the release build runs them).
#include <atomic>
#include <cstdlib>
#include <new>
#include <random>

#include <gtest/gtest.h>

#include "base/testing/alloc_counter.h"

#include "engine/engine.h"
#include "engine/testing/corpus.h"
#include "engine/testing/rule_generator.h"


namespace vigil::engine {
namespace {

// Evaluates `events` twice and returns how many allocations the second pass
// made; fails the test if the passes disagree or nothing matched.
size_t AllocationsOfSecondPass(const content::Ruleset& rs, const std::vector<testing::OwnedEvent>& events) {
  auto engine = Engine::Create(rs, Schema::Builtin());
  EXPECT_TRUE(engine.has_value()) << engine.error().ToString();
  if (!engine) return 0;
  auto scratch = (*engine)->NewScratch();
  size_t matched = 0;
  for (const auto& ev : events) matched += (*engine)->Evaluate(ev.view(), *scratch).size();
  EXPECT_GT(matched, 0u);

  const size_t before = test_support::AllocationCount();
  size_t matched_again = 0;
  for (const auto& ev : events) matched_again += (*engine)->Evaluate(ev.view(), *scratch).size();
  const size_t allocations = test_support::AllocationCount() - before;
  EXPECT_EQ(matched_again, matched);
  return allocations;
}

TEST(EngineAlloc, EvaluateDoesNotAllocate) {
  if (!test_support::AllocCounterAvailable()) GTEST_SKIP() << test_support::kAllocCounterUnavailable;
  const Schema& schema = Schema::Builtin();
  std::mt19937_64 rng(7);
  content::Ruleset rs = testing::RandomRuleset(rng, schema, 400);
  std::vector<testing::OwnedEvent> events = testing::GenerateEventMix(schema, 2000, 7, {});
  for (int i = 0; i < 300; ++i) {
    events.push_back(testing::RandomEvent(rng, schema, rs.rules[i % rs.rules.size()].event_type));
  }
  EXPECT_EQ(AllocationsOfSecondPass(rs, events), 0u) << "over " << events.size() << " events";
}

TEST(EngineAlloc, CompiledContentDoesNotAllocate) {
  if (!test_support::AllocCounterAvailable()) GTEST_SKIP() << test_support::kAllocCounterUnavailable;
  const Schema& schema = Schema::Builtin();
  std::vector<testing::OwnedEvent> events = testing::GenerateEventMix(schema, 3000, 11, {});
  testing::CompiledCorpus generated = testing::CompileSigmaFiles(testing::GenerateSigmaRules(500, 11));
  EXPECT_EQ(AllocationsOfSecondPass(generated.ruleset, events), 0u);
  auto sigmahq = testing::CompileSigmaHqProcessCreation();
  if (!sigmahq) GTEST_SKIP() << sigmahq.error().ToString();
  testing::EventMixOptions only_processes{.process_creation = 1.0, .file_event = 0.0};
  EXPECT_EQ(AllocationsOfSecondPass(sigmahq->ruleset,
                                    testing::GenerateEventMix(schema, 3000, 11, only_processes)),
            0u);
}

}  // namespace
}  // namespace vigil::engine
