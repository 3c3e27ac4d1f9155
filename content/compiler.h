// The Sigma compiler: rule YAML -> IR -> verifier -> Ruleset.
//
// Pipeline, one file per stage:
//   sigma_reader.cc     YAML text -> SigmaRule (structure, lines, no semantics)
//   condition_parser.cc condition string -> condition AST (grammar at its top)
//   lower.cc            SigmaRule + schema -> content::Rule (atoms + program)
//   verifier.cc         the same checks the sensor runs before loading
//
//   Compiler c(Schema::Builtin());
//   c.AddFile(yaml_text, "rules/foo.yml");  // any number of files
//   Ruleset rs = c.Finish(info);             // only rules that passed the verifier
//   c.diagnostics().ToText();  c.stats().compiled;
//
// Thread-safety: not thread-safe; one Compiler per build.
#pragma once

#include <string_view>

#include "content/diagnostic.h"
#include "content/ir.h"

namespace vigil::content {

struct CompileStats {
  size_t rules_seen = 0;      // YAML documents that looked like rules
  size_t rules_compiled = 0;  // rules in the final ruleset
  size_t rules_skipped = 0;   // refused for an unsupported logsource (a warning, not an error)
  size_t rules_refused = 0;   // refused for an error
};

// Rule files larger than this are refused unread.
inline constexpr size_t kMaxRuleFileBytes = 1 << 20;

class Compiler {
 public:
  explicit Compiler(const Schema& schema);

  // Compiles every rule in `text` (one or more YAML documents). Never throws;
  // problems become diagnostics located in `filename`.
  void AddFile(std::string_view text, std::string_view filename);

  // Runs the verifier on every compiled rule (dropping refused ones with
  // their diagnostics), checks ids are unique, and returns the ruleset with
  // `info` (schema version and hash are filled in from the schema).
  Ruleset Finish(RulesetInfo info);

  const CompileStats& stats() const { return stats_; }
  Diagnostics& diagnostics() { return diags_; }

 private:
  const Schema& schema_;
  Diagnostics diags_;
  CompileStats stats_;
  std::vector<Rule> rules_;
};

}  // namespace vigil::content
