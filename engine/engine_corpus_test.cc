// The engine against the reference evaluator on real content: SigmaHQ's
// process_creation rules and the 1,500 generated rules the benchmark uses,
// both compiled from YAML by the real compiler, over the benchmark's
// realistic event stream. Also checks the generated rules all compile and
// that the stream exercises them (some events match, most do not).
#include <cstdio>

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "engine/testing/corpus.h"
#include "engine/testing/reference_evaluator.h"
#include "engine/testing/rule_generator.h"

namespace vigil::engine {
namespace {

struct Agreement {
  size_t events = 0, matched_events = 0, matches = 0;
};

Agreement Compare(const content::Ruleset& rs, const std::vector<testing::OwnedEvent>& events) {
  Agreement a;
  auto engine = Engine::Create(rs, Schema::Builtin());
  EXPECT_TRUE(engine.has_value()) << engine.error().ToString();
  if (!engine) return a;
  testing::ReferenceEvaluator reference(rs, Schema::Builtin());
  auto scratch = (*engine)->NewScratch();
  size_t failures = 0;
  for (const auto& ev : events) {
    auto span = (*engine)->Evaluate(ev.view(), *scratch);
    std::vector<uint32_t> got(span.begin(), span.end());
    std::vector<uint32_t> want = reference.Evaluate(ev.view());
    ++a.events;
    a.matches += want.size();
    a.matched_events += !want.empty();
    if (got != want && ++failures <= 5) {
      std::string rules;
      for (uint32_t r : want) rules += " " + rs.rules[r].id;
      ADD_FAILURE() << ev.ToString(Schema::Builtin()) << "\nreference matched:" << rules
                    << "\nengine matched " << got.size();
    }
  }
  return a;
}

TEST(EngineCorpus, SigmaHqProcessCreationAgreesWithReference) {
  auto corpus = testing::CompileSigmaHqProcessCreation();
  if (!corpus) GTEST_SKIP() << corpus.error().ToString();
  ASSERT_GE(corpus->ruleset.rules.size(), 100u) << corpus->diagnostics;
  testing::EventMixOptions only_processes{.process_creation = 1.0, .file_event = 0.0};
  auto events = testing::GenerateEventMix(Schema::Builtin(), 5000, 42, only_processes);
  Agreement a = Compare(corpus->ruleset, events);
  std::printf("sigmahq process_creation: %zu rules, %zu events, %zu matched, %zu matches\n",
              corpus->ruleset.rules.size(), a.events, a.matched_events, a.matches);
}

TEST(EngineCorpus, GeneratedRulesCompileAndAgreeWithReference) {
  testing::CompiledCorpus corpus = testing::CompileSigmaFiles(testing::GenerateSigmaRules(1500, 42));
  EXPECT_EQ(corpus.refused, 0u) << corpus.diagnostics.substr(0, 4000);
  ASSERT_EQ(corpus.ruleset.rules.size(), 1500u);
  auto events = testing::GenerateEventMix(Schema::Builtin(), 5000, 42, {});
  Agreement a = Compare(corpus.ruleset, events);
  std::printf("generated: %zu rules, %zu events, %zu matched, %zu matches\n",
              corpus.ruleset.rules.size(), a.events, a.matched_events, a.matches);
  // The stream is mostly benign with ~3% attacks built from the rules'
  // vocabulary: some events must match, most must not.
  EXPECT_GT(a.matched_events, a.events / 200);
  EXPECT_LT(a.matched_events, a.events / 5);
}

}  // namespace
}  // namespace vigil::engine
