#include "content/compiler.h"

#include <charconv>
#include <map>
#include <string>

#include <fmt/format.h>

#include "content/lower.h"
#include "content/sigma_reader.h"
#include "content/verifier.h"

namespace vigil::content {
namespace {

// Rule::source is "file:line" (written by LowerRule); diagnostics from the
// verifier are located there too.
Location WhereOf(const Rule& rule) {
  Location where{rule.source, 0, rule.id};
  size_t colon = rule.source.rfind(':');
  int line = 0;
  if (colon != std::string::npos) {
    const char* begin = rule.source.data() + colon + 1;
    const char* end = rule.source.data() + rule.source.size();
    auto [ptr, ec] = std::from_chars(begin, end, line);
    if (ec == std::errc() && ptr == end) {
      where.file = rule.source.substr(0, colon);
      where.line = line;
    }
  }
  return where;
}

}  // namespace

Compiler::Compiler(const Schema& schema) : schema_(schema) {}

void Compiler::AddFile(std::string_view text, std::string_view filename) {
  const size_t errors_before = diags_.error_count();
  ReadResult read = ReadSigma(text, filename, diags_);
  stats_.rules_seen += read.rules_seen;
  stats_.rules_refused += read.rules_refused;
  if (read.rules_seen == 0 && diags_.error_count() == errors_before) {
    diags_.Warning(DiagCode::kNoRules, {std::string(filename), 0, ""}, "the file holds no rule");
  }
  for (const SigmaRule& sigma : read.rules) {
    if (rules_.size() >= kMaxRules) {
      diags_.Error(DiagCode::kTooComplex, {sigma.file, sigma.line, sigma.id},
                   fmt::format("more than {} rules in one ruleset", kMaxRules));
      ++stats_.rules_refused;
      continue;
    }
    LowerResult lowered = LowerRule(sigma, schema_, diags_);
    switch (lowered.outcome) {
      case LowerOutcome::kCompiled: rules_.push_back(std::move(lowered.rule)); break;
      case LowerOutcome::kSkipped: ++stats_.rules_skipped; break;
      case LowerOutcome::kRefused: ++stats_.rules_refused; break;
    }
  }
}

Ruleset Compiler::Finish(RulesetInfo info) {
  info.schema_version = schema_.version();
  info.schema_hash = schema_.hash();
  Ruleset rs;
  rs.info = std::move(info);
  std::map<std::string, std::string> first_source;  // id -> where it was first defined
  for (Rule& rule : rules_) {
    const Location where = WhereOf(rule);
    if (!VerifyRule(rule, schema_, diags_, where)) {
      ++stats_.rules_refused;
      continue;
    }
    auto [it, inserted] = first_source.emplace(rule.id, rule.source);
    if (!inserted) {
      diags_.Error(DiagCode::kDuplicateRuleId, where,
                   fmt::format("id '{}' is already used by the rule at {}; this rule is dropped", rule.id, it->second));
      ++stats_.rules_refused;
      continue;
    }
    rs.rules.push_back(std::move(rule));
  }
  rules_.clear();
  // The whole-ruleset check must pass after the per-rule checks above; if it
  // does not, that is a compiler bug, and nothing is shipped.
  Diagnostics whole;
  if (!Verify(rs, schema_, whole, {})) {
    for (const Diagnostic& d : whole.list()) diags_.Add(d.severity, d.code, d.where, d.message);
    stats_.rules_refused += rs.rules.size();
    rs.rules.clear();
  }
  stats_.rules_compiled = rs.rules.size();
  return rs;
}

}  // namespace vigil::content
