// Rulesets the engine's benchmark and corpus tests share, compiled from YAML
// through the real compiler:
//   - SigmaHQ's Linux process_creation rules, read in place from
//     $VIGIL_SIGMA_DIR/rules/linux/process_creation (never copied);
//   - the generated realistic rules of rule_generator.h.
//
//   Result<CompiledCorpus> c = CompileSigmaHqProcessCreation();
//   CompiledCorpus g = CompileGenerated(1500, 42);
//
// Thread-safety: plain functions and values.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "content/ir.h"
#include "engine/testing/rule_generator.h"

namespace vigil::engine::testing {

struct CompiledCorpus {
  content::Ruleset ruleset;
  size_t files = 0;
  size_t refused = 0;       // rules the compiler refused (with diagnostics)
  std::string diagnostics;  // the compiler's text diagnostics
};

// kNotFound when VIGIL_SIGMA_DIR is unset or the folder holds no rules.
Result<CompiledCorpus> CompileSigmaHqProcessCreation();
CompiledCorpus CompileSigmaFiles(const std::vector<SigmaFile>& files);

}  // namespace vigil::engine::testing
