// Human-readable forms of compiled content, for `vigil content inspect` and
// golden tests.
//
//   PrettyAtom(atom)        -> CommandLine contains "curl"   (cased: contains_cased)
//   PrettyCondition(rule)   -> (Image endswith "/bash" or Image endswith "/sh") and not CommandLine contains "-c"
//
// Thread-safety: stateless functions.
#pragma once

#include <string>

#include "content/ir.h"

namespace vigil::content {

std::string PrettyAtom(const Atom& atom);
// Reconstructs an infix expression from the postfix program. Assumes a
// verified rule; on a malformed program it returns "<invalid program>".
std::string PrettyCondition(const Rule& rule);

}  // namespace vigil::content
