#include "engine/testing/corpus.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "base/file.h"
#include "content/compiler.h"

namespace vigil::engine::testing {

CompiledCorpus CompileSigmaFiles(const std::vector<SigmaFile>& files) {
  content::Compiler compiler(Schema::Builtin());
  for (const SigmaFile& f : files) compiler.AddFile(f.text, f.name);
  CompiledCorpus c;
  c.ruleset = compiler.Finish({});
  c.files = files.size();
  c.refused = compiler.stats().rules_refused + compiler.stats().rules_skipped;
  c.diagnostics = compiler.diagnostics().ToText();
  return c;
}

Result<CompiledCorpus> CompileSigmaHqProcessCreation() {
  const char* dir = std::getenv("VIGIL_SIGMA_DIR");
  if (dir == nullptr) return Error(Code::kNotFound, "VIGIL_SIGMA_DIR is not set");
  namespace fs = std::filesystem;
  const fs::path root = fs::path(dir) / "rules" / "linux" / "process_creation";
  std::vector<std::string> paths;
  std::error_code ec;
  for (auto it = fs::directory_iterator(root, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file() && it->path().extension() == ".yml") paths.push_back(it->path().string());
  }
  if (paths.empty()) return Error(Code::kNotFound, "no rules in {}", root.string());
  std::sort(paths.begin(), paths.end());
  std::vector<SigmaFile> files;
  for (const std::string& p : paths) {
    Result<std::string> text = ReadFileBounded(p, 1 << 20);
    if (!text) return Error(text.error());
    files.push_back({p, std::move(*text)});
  }
  return CompileSigmaFiles(files);
}

}  // namespace vigil::engine::testing
