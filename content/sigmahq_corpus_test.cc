// Compiles every SigmaHQ Linux rule ($VIGIL_SIGMA_DIR/rules/linux, read in
// place, never copied) against the builtin schema. The corpus is what users
// bring: it must compile unchanged, and whatever is refused must say why with
// a specific code. The refused rules are printed for the release notes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "base/file.h"
#include "content/compiler.h"
#include "content/pretty.h"

namespace vigil::content {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> CorpusFiles() {
  const char* dir = std::getenv("VIGIL_SIGMA_DIR");
  std::vector<std::string> files;
  if (dir == nullptr) return files;
  fs::path root = fs::path(dir) / "rules" / "linux";
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file() && it->path().extension() == ".yml") files.push_back(it->path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(SigmaHqCorpus, CompilesAtLeast95Percent) {
  std::vector<std::string> files = CorpusFiles();
  if (files.empty()) GTEST_SKIP() << "VIGIL_SIGMA_DIR is not set or holds no rules/linux/**/*.yml";
  ASSERT_GE(files.size(), 100u) << "the corpus looks truncated";

  Compiler compiler(Schema::Builtin());
  std::set<std::string> refused_files;
  for (const std::string& file : files) {
    Result<std::string> text = ReadFileBounded(file, kMaxRuleFileBytes);
    ASSERT_TRUE(text.has_value()) << file << ": " << text.error().ToString();
    const size_t errors_before = compiler.diagnostics().error_count();
    compiler.AddFile(*text, file);
    if (compiler.diagnostics().error_count() != errors_before) refused_files.insert(file);
  }
  Ruleset rs = compiler.Finish({});
  const CompileStats& stats = compiler.stats();
  const Diagnostics& diags = compiler.diagnostics();

  // Every document accounted for exactly once.
  EXPECT_EQ(stats.rules_seen, files.size());
  EXPECT_EQ(stats.rules_seen, stats.rules_compiled + stats.rules_skipped + stats.rules_refused);
  EXPECT_EQ(rs.rules.size(), stats.rules_compiled);

  // Every rule that did not compile says why, with a specific code.
  std::set<std::string> compiled_sources;
  for (const Rule& r : rs.rules) compiled_sources.insert(r.source.substr(0, r.source.rfind(':')));
  std::string report;
  size_t not_compiled = 0;
  for (const std::string& file : files) {
    if (compiled_sources.count(file)) continue;
    ++not_compiled;
    report += "  " + file.substr(file.rfind('/') + 1) + "\n";
    bool explained = false;
    for (const Diagnostic& d : diags.list()) {
      if (d.where.file != file) continue;
      report += "    " + Diagnostics::Format(d) + "\n";
      explained |= d.severity == Severity::kError || d.code == DiagCode::kUnsupportedLogsource;
      EXPECT_NE(d.code, DiagCode::kYamlSyntax) << Diagnostics::Format(d);  // SigmaHQ YAML is valid
    }
    EXPECT_TRUE(explained) << file << " was not compiled and no error says why";
  }
  EXPECT_EQ(refused_files.size() + stats.rules_skipped, not_compiled);

  std::printf("SigmaHQ linux corpus: %zu of %zu rules compiled (%zu skipped, %zu refused)\n", stats.rules_compiled,
              files.size(), stats.rules_skipped, stats.rules_refused);
  if (!report.empty()) std::printf("not compiled:\n%s", report.c_str());

  EXPECT_GE(stats.rules_compiled * 100, files.size() * 95)
      << stats.rules_compiled << " of " << files.size() << " compiled, below 95%";

  // Every compiled rule prints (a cheap check that programs are well formed).
  for (const Rule& r : rs.rules) EXPECT_NE(PrettyCondition(r), "<invalid program>") << r.source;
}

}  // namespace
}  // namespace vigil::content
