// enforce_driver: the permission responder alone (sensor/responder.h), with
// no vigild around it: for profiling the responder and for comparing its
// figures with vigild's in bench/enforce/run.sh.
//
//   enforce_driver --path /tmp/bench-tmpfs --exec --open rules/block.yml ...
//
// Marks --path (FAN_MARK_FILESYSTEM: give it a filesystem of its own, such as
// a tmpfs), blocks with the rules of the given Sigma files that carry
// `vigil: {action: block}` (every rule when --all-rules), prints "ready" on
// stdout once it enforces, and on SIGTERM/SIGINT stops (every pending event
// is allowed) and prints the responder's stats as "key value" lines on
// stdout. Exit 0, or 1 when it cannot start (the reason on stderr).
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "content/compiler.h"
#include "engine/engine.h"
#include "sensor/responder.h"

namespace {

using vigil::sensor::MarkScope;
using vigil::sensor::Responder;
using vigil::sensor::ResponderOptions;
using vigil::sensor::ResponderStats;

int Usage() {
  std::fprintf(stderr,
               "usage: enforce_driver --path DIR [--exec] [--open] [--no-cache] [--deadline-ms N] [--all-rules] "
               "RULE.yml...\n");
  return 2;
}

void PrintStats(const ResponderStats& s) {
  const std::pair<const char*, uint64_t> rows[] = {
      {"events", s.events},
      {"allowed", s.allowed},
      {"denied", s.denied},
      {"allowed_own", s.allowed_own},
      {"allowed_excluded", s.allowed_excluded},
      {"allowed_unevaluated", s.allowed_unevaluated},
      {"deadline_missed", s.deadline_missed},
      {"queue_full", s.queue_full},
      {"late_verdicts", s.late_verdicts},
      {"skipped_late", s.skipped_late},
      {"cache_marks_total", s.cache_marks_total},
      {"cache_flushes", s.cache_flushes},
      {"kernel_overflows", s.kernel_overflows},
      {"errors", s.errors},
      {"decisions", s.decisions},
      {"open_prefetched", s.open_prefetched},
      {"decision_p50_us", s.decision_p50_us},
      {"decision_p99_us", s.decision_p99_us},
      {"max_response_latency_us", s.max_response_latency_us},
      {"loops", s.loops},
  };
  for (const auto& [key, value] : rows) std::printf("%s %llu\n", key, static_cast<unsigned long long>(value));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  ResponderOptions opt;
  opt.exec = false;
  opt.open = false;
  std::string path;
  bool all_rules = false;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--path" && i + 1 < argc) {
      path = argv[++i];
    } else if (a == "--exec") {
      opt.exec = true;
    } else if (a == "--open") {
      opt.open = true;
    } else if (a == "--no-cache") {
      opt.verdict_cache = false;
    } else if (a == "--all-rules") {
      all_rules = true;
    } else if (a == "--deadline-ms" && i + 1 < argc) {
      opt.deadline = std::chrono::milliseconds(std::atoi(argv[++i]));
    } else if (!a.empty() && a[0] != '-') {
      files.push_back(a);
    } else {
      return Usage();
    }
  }
  if (path.empty() || files.empty() || (!opt.exec && !opt.open)) return Usage();
  opt.marks = {{path, MarkScope::kFilesystem}};

  vigil::content::Compiler compiler(vigil::Schema::Builtin());
  for (const std::string& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "enforce_driver: cannot read %s\n", f.c_str());
      return 1;
    }
    std::stringstream text;
    text << in.rdbuf();
    compiler.AddFile(text.str(), f);
  }
  vigil::content::Ruleset rules = compiler.Finish({});
  if (compiler.diagnostics().has_errors()) std::fprintf(stderr, "%s", compiler.diagnostics().ToText().c_str());
  if (!all_rules) std::erase_if(rules.rules, [](const vigil::content::Rule& r) { return !r.block; });
  if (rules.rules.empty()) {
    std::fprintf(stderr, "enforce_driver: no blocking rule in the given files\n");
    return 1;
  }
  auto engine = vigil::engine::Engine::Create(rules, vigil::Schema::Builtin());
  if (!engine) {
    std::fprintf(stderr, "enforce_driver: %s\n", engine.error().ToString().c_str());
    return 1;
  }

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // before the responder's threads exist

  Responder responder(std::move(opt));
  responder.SetEngine(*engine);
  if (vigil::Status s = responder.Start(); !s.ok()) {
    std::fprintf(stderr, "enforce_driver: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  responder.Stop();
  PrintStats(responder.stats());
  return 0;
}
