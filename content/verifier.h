// The verifier: the single place that decides whether compiled content is
// safe to run against a given schema. The compiler calls it after lowering;
// the bundle reader calls it before any bundle is used. It trusts nothing in
// the Ruleset. Rules it checks are listed in docs/verifier.md.
//
//   Diagnostics d;
//   bool ok = Verify(ruleset, Schema::Builtin(), d, {"x.vbundle"});
//
//   // vigild, making an alerting rule blocking by configuration:
//   if (Status s = CheckBlockingRule(rule, Schema::Builtin()); !s.ok()) ... refuse the policy ...
//
// Thread-safety: stateless; safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "content/diagnostic.h"
#include "content/ir.h"

namespace vigil::content {

// Checks one rule against `schema` (every field reference by index, name and
// type; operand types; regex compiles in RE2 within kMaxRegexProgramBytes;
// bounds; program well-formed; a blocking rule as CheckBlockingRule does).
// Appends a diagnostic per problem naming the rule, the atom or instruction,
// the field and the reason. `where.file` is used for locations. Returns true
// when the rule is acceptable.
bool VerifyRule(const Rule& rule, const Schema& schema, Diagnostics& diags, const Location& where);

// Whether `rule` can be decided when vigil blocks (content/decision_fields.h):
// its event type has a permission check (else VG511 block-event-type) and
// every field any atom reads, a keyword atom reading every string field, has
// a value at that check (else VG512 block-field-unknown, one per field, naming
// the rule, the field and the atoms). It looks only at the event type and the
// fields, never at `rule.block`: the verifier applies it to rules marked
// blocking, and vigild to rules its configuration makes blocking. Indices
// outside `schema` count as unknown, so it is safe on unverified rules.
bool CheckBlockingRule(const Rule& rule, const Schema& schema, Diagnostics& diags, const Location& where);

// The same check for callers without a Diagnostics: OK, or kVerifyFailed
// whose message is the first refusal ("VG512 block-field-unknown: rule ...").
Status CheckBlockingRule(const Rule& rule, const Schema& schema);

// Checks the whole ruleset: the schema hash and version in `rs.info` match
// `schema`, rule count within bounds, ids unique, then every rule as above.
// Returns true only when everything is acceptable.
bool Verify(const Ruleset& rs, const Schema& schema, Diagnostics& diags, const Location& where);

// The cidr operand syntax atoms accept: "10.0.0.0/8", "fe80::/10" (an address
// inet_pton accepts, '/', a decimal prefix no longer than the address). The
// compiler checks user values with it too, so the two cannot disagree. On
// refusal `why` says what is wrong.
bool CheckCidr(std::string_view value, std::string& why);

}  // namespace vigil::content
