// Engine throughput against the reference evaluator, and the cost of getting
// content ready, on:
//   (a) SigmaHQ's Linux process_creation rules ($VIGIL_SIGMA_DIR) against a
//       realistic process_creation stream;
//   (b) 1,500 generated realistic rules (engine/testing/rule_generator.h)
//       against a realistic mix of process, file and network events;
// plus compiling (b) from YAML and loading its bundle (ReadBundle + verify +
// Engine::Create). items_per_second is events/s. See bench/README.md.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "content/bundle.h"
#include "engine/engine.h"
#include "engine/testing/corpus.h"
#include "engine/testing/reference_evaluator.h"
#include "engine/testing/rule_generator.h"

namespace vigil::engine {
namespace {

using testing::CompiledCorpus;
using testing::OwnedEvent;

constexpr size_t kGeneratedRules = 1500;
constexpr uint64_t kSeed = 42;
// Distinct events per workload. Throughput benchmarks cycle through the
// first state.range(0) of them: 512 events (~0.5 MiB) stay in cache, as an
// event does in the sensor between decoding and evaluation ("hot"); all
// 20,000 (~20 MiB) make every event a trip to memory ("cold").
constexpr size_t kEvents = 20'000;
constexpr int64_t kHotEvents = 512;

struct Workload {
  CompiledCorpus corpus;
  std::shared_ptr<const Engine> engine;
  std::unique_ptr<testing::ReferenceEvaluator> reference;
  std::vector<OwnedEvent> events;
};

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "engine_bench: %s\n", why.c_str());
  std::exit(1);
}

Workload Prepare(CompiledCorpus corpus, std::vector<OwnedEvent> events) {
  Workload w;
  w.corpus = std::move(corpus);
  auto engine = Engine::Create(w.corpus.ruleset, Schema::Builtin());
  if (!engine) Die(engine.error().ToString());
  w.engine = *engine;
  w.reference = std::make_unique<testing::ReferenceEvaluator>(w.corpus.ruleset, Schema::Builtin());
  w.events = std::move(events);
  return w;
}

const Workload& SigmaHq() {
  static const Workload* w = [] {
    setenv("VIGIL_SIGMA_DIR", VIGIL_SIGMA_DIR_DEFAULT, /*overwrite=*/0);
    auto corpus = testing::CompileSigmaHqProcessCreation();
    if (!corpus) Die(corpus.error().ToString());
    testing::EventMixOptions only_processes{.process_creation = 1.0, .file_event = 0.0};
    return new Workload(Prepare(std::move(*corpus),
                                testing::GenerateEventMix(Schema::Builtin(), kEvents, kSeed, only_processes)));
  }();
  return *w;
}

const std::vector<testing::SigmaFile>& GeneratedFiles() {
  static const auto* files = new std::vector<testing::SigmaFile>(testing::GenerateSigmaRules(kGeneratedRules, kSeed));
  return *files;
}

const Workload& Generated() {
  static const Workload* w = [] {
    return new Workload(Prepare(testing::CompileSigmaFiles(GeneratedFiles()),
                                testing::GenerateEventMix(Schema::Builtin(), kEvents, kSeed, {})));
  }();
  return *w;
}

void Describe(benchmark::State& state, const Workload& w, size_t matches) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["rules"] = static_cast<double>(w.corpus.ruleset.rules.size());
  state.counters["match/ev"] = static_cast<double>(matches) / static_cast<double>(state.iterations());
}

void EngineThroughput(benchmark::State& state, const Workload& w) {
  auto scratch = w.engine->NewScratch();
  const size_t pool = std::min<size_t>(static_cast<size_t>(state.range(0)), w.events.size());
  size_t i = 0, matches = 0;
  for (auto _ : state) {
    auto m = w.engine->Evaluate(w.events[i].view(), *scratch);
    benchmark::DoNotOptimize(m.data());
    matches += m.size();
    if (++i == pool) i = 0;
  }
  Describe(state, w, matches);
  const Engine::Stats st = w.engine->stats();
  state.counters["literals"] = static_cast<double>(st.literal_patterns);
  state.counters["always"] = static_cast<double>(st.always_evaluated);
  state.counters["scanned_fields"] = static_cast<double>(st.scanned_fields);
}

void ReferenceThroughput(benchmark::State& state, const Workload& w) {
  const size_t pool = std::min<size_t>(static_cast<size_t>(state.range(0)), w.events.size());
  size_t i = 0, matches = 0;
  for (auto _ : state) {
    auto m = w.reference->Evaluate(w.events[i].view());
    benchmark::DoNotOptimize(m.data());
    matches += m.size();
    if (++i == pool) i = 0;
  }
  Describe(state, w, matches);
}

// The floor under any evaluator: read every byte of every field once (sum
// them). The /20000 variant shows what memory alone costs per cold event.
void BM_SigmaHq_ReadEventOnly(benchmark::State& state) {
  const Workload& w = SigmaHq();
  const size_t pool = std::min<size_t>(static_cast<size_t>(state.range(0)), w.events.size());
  size_t i = 0;
  for (auto _ : state) {
    unsigned sum = 0;
    for (const FieldValue& f : w.events[i].view().fields) {
      for (char c : f.text) sum += static_cast<unsigned char>(c);
    }
    benchmark::DoNotOptimize(sum);
    if (++i == pool) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_SigmaHq_Engine(benchmark::State& state) { EngineThroughput(state, SigmaHq()); }
void BM_SigmaHq_Reference(benchmark::State& state) { ReferenceThroughput(state, SigmaHq()); }
void BM_Generated_Engine(benchmark::State& state) { EngineThroughput(state, Generated()); }
void BM_Generated_Reference(benchmark::State& state) { ReferenceThroughput(state, Generated()); }

void BM_Generated_CompileYaml(benchmark::State& state) {
  const auto& files = GeneratedFiles();
  size_t compiled = 0;
  for (auto _ : state) compiled = testing::CompileSigmaFiles(files).ruleset.rules.size();
  state.counters["rules"] = static_cast<double>(compiled);
}

void BM_Generated_LoadBundle(benchmark::State& state) {
  const std::string bytes = content::WriteBundle(Generated().corpus.ruleset);
  for (auto _ : state) {
    content::Diagnostics diags;
    auto rs = content::ReadBundle(bytes, Schema::Builtin(), diags, {"generated.vbundle"});
    if (!rs) Die(rs.error().ToString());
    auto engine = Engine::Create(*rs, Schema::Builtin());
    if (!engine) Die(engine.error().ToString());
    benchmark::DoNotOptimize(engine->get());
  }
  state.counters["bundle_bytes"] = static_cast<double>(bytes.size());
}

void BM_Generated_EngineCreate(benchmark::State& state) {
  const auto& rs = Generated().corpus.ruleset;
  for (auto _ : state) {
    auto engine = Engine::Create(rs, Schema::Builtin());
    benchmark::DoNotOptimize(engine->get());
  }
}

BENCHMARK(BM_SigmaHq_ReadEventOnly)->Arg(kHotEvents)->Arg(kEvents);
BENCHMARK(BM_SigmaHq_Engine)->Arg(kHotEvents)->Arg(kEvents);
BENCHMARK(BM_SigmaHq_Reference)->Arg(kHotEvents);
BENCHMARK(BM_Generated_Engine)->Arg(kHotEvents)->Arg(kEvents);
BENCHMARK(BM_Generated_Reference)->Arg(kHotEvents);
BENCHMARK(BM_Generated_CompileYaml)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Generated_LoadBundle)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Generated_EngineCreate)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vigil::engine

BENCHMARK_MAIN();
