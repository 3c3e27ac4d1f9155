// The verifier: the single place that decides whether compiled content is
// safe to run against a given schema. The compiler calls it after lowering;
// the bundle reader calls it before any bundle is used. It trusts nothing in
// the Ruleset. Rules it checks are listed in docs/verifier.md.
//
//   Diagnostics d;
//   bool ok = Verify(ruleset, Schema::Builtin(), d);
//
// Thread-safety: stateless; safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "content/diagnostic.h"
#include "content/ir.h"

namespace vigil::content {

// Checks one rule against `schema` (every field reference by index, name and
// type; operand types; regex compiles in RE2 within kMaxRegexProgramBytes;
// bounds; program well-formed). Appends a diagnostic per problem naming the
// rule, the atom or instruction, the field and the reason. `where.file` is
// used for locations. Returns true when the rule is acceptable.
bool VerifyRule(const Rule& rule, const Schema& schema, Diagnostics& diags, const Location& where);

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
