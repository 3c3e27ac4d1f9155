// Stage 3 of the Sigma compiler: SigmaRule + Schema -> content::Rule.
//
// Maps the logsource to an event type, resolves every field against that
// event type's schema table, applies the value modifiers, turns values into
// atoms (deduplicated) and the condition into a postfix program. The
// semantics are written down in docs/sigma.md.
//
//   LowerResult r = LowerRule(sigma_rule, Schema::Builtin(), diags);
//   if (r.outcome == LowerOutcome::kCompiled) rules.push_back(std::move(r.rule));
//
// The result is not trusted by anyone: the verifier checks it again.
//
// Thread-safety: stateless function.
#pragma once

#include "content/diagnostic.h"
#include "content/ir.h"
#include "content/sigma_reader.h"
#include "schema/schema.h"

namespace vigil::content {

enum class LowerOutcome {
  kCompiled,  // `rule` is filled in
  kSkipped,   // the logsource is not one vigil supplies: one kUnsupportedLogsource warning
  kRefused,   // at least one error diagnostic
};

struct LowerResult {
  LowerOutcome outcome = LowerOutcome::kRefused;
  Rule rule;
};

LowerResult LowerRule(const SigmaRule& rule, const Schema& schema, Diagnostics& diags);

}  // namespace vigil::content
