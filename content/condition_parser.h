// Stage 2 of the Sigma compiler: a detection `condition` string -> CondNode,
// an abstract syntax tree that still names selections (resolving names and
// patterns against the rule's detection is lower.cc's job). The grammar is
// written at the top of condition_parser.cc.
//
//   Diagnostics diags;
//   std::optional<CondNode> c = ParseCondition("selection and not 1 of filter_*", diags, where);
//   if (c) CondNodeToString(*c);  // "selection and not 1 of filter_*"
//
// Input is bounded: kMaxConditionBytes of text and kMaxConditionDepth of
// nesting (parentheses and `not`), so recursion over a CondNode is bounded.
//
// Thread-safety: stateless functions; a CondNode is a plain value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "content/diagnostic.h"

namespace vigil::content {

inline constexpr size_t kMaxConditionBytes = 64 * 1024;
inline constexpr size_t kMaxConditionDepth = 64;

struct CondNode {
  enum class Kind : uint8_t {
    kIdentifier,  // `name`: one selection
    kOf,          // `N of pattern`, `all of pattern`, `N of them`
    kNot,         // one child
    kAnd,         // two or more children
    kOr,          // two or more children
  };
  Kind kind = Kind::kIdentifier;
  std::string name;   // kIdentifier: the selection; kOf: the pattern ('*' wildcards), "" for `them`
  bool all = false;   // kOf: `all of`
  uint32_t count = 1; // kOf: N when !all (`any of` = 1)
  size_t offset = 0;  // byte offset in the condition text, for messages
  std::vector<CondNode> children;
};

// Parses `text`. On failure returns nullopt with one error in `diags`:
// kConditionSyntax, kUnsupportedFeature (aggregations `|`, `near`) or
// kTooComplex (length, depth).
std::optional<CondNode> ParseCondition(std::string_view text, Diagnostics& diags, const Location& where);

// An infix form with only the parentheses needed for ParseCondition to give
// back the same tree, e.g. "(a or b) and not all of filter_*".
std::string CondNodeToString(const CondNode& node);

}  // namespace vigil::content
