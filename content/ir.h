// The compiled form of detection content: what the Sigma compiler produces,
// what a bundle stores, what the verifier checks and what the engine runs.
//
// A Rule is self-contained: its atoms are the leaf tests (one field, one
// operator, one value) and its program is a straight-line postfix boolean
// program over those atoms. Nothing in here is trusted until
// content::Verify() has accepted it against a Schema.
//
//   Ruleset rs = ...;                      // from the compiler or ReadBundle()
//   Diagnostics d;
//   if (!Verify(rs, Schema::Builtin(), d)) { ... refuse ... }
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "schema/schema.h"

namespace vigil::content {

// How an atom tests its field. Text comparisons are ASCII case-insensitive
// unless the atom has kCased; regexes are case-sensitive unless kRegexI.
enum class AtomOp : uint8_t {
  kEquals = 0,      // the whole field equals `value`
  kContains = 1,    // `value` occurs in the field
  kStartsWith = 2,
  kEndsWith = 3,
  kGlob = 4,        // `value` is a glob: '*' any run, '?' one byte, '\' escapes the next byte
  kRegex = 5,       // `value` is an RE2 regex, unanchored search
  kCidr = 6,        // field (kIp) lies in the network `value` ("10.0.0.0/8", "fe80::/10")
  kNumEq = 7,       // field (kInteger) compared with `number`
  kNumLt = 8,
  kNumLte = 9,
  kNumGt = 10,
  kNumGte = 11,
  kExists = 12,     // the field is present (any value, even empty)
  kFieldRef = 13,   // the field equals field `ref_field` (same event type)
  kNull = 14,       // the field is absent or empty
};
inline constexpr uint8_t kAtomOpCount = 15;

enum AtomFlags : uint8_t {
  kCased = 1 << 0,          // text ops: compare bytes exactly
  kRegexI = 1 << 1,         // regex: case-insensitive
  kRegexM = 1 << 2,         // regex: ^ and $ match at line breaks
  kRegexS = 1 << 3,         // regex: . matches \n
  kAtomFlagsMask = 0x0f,
};

// `field` value meaning "any string field of the event" (Sigma keywords).
inline constexpr FieldIndex kAnyField = 0xffff;

struct Atom {
  AtomOp op = AtomOp::kEquals;
  uint8_t flags = 0;
  FieldIndex field = 0;        // index in the rule's event type, or kAnyField
  std::string field_name;      // the schema name at that index ("" for kAnyField)
  std::string value;           // text operand (literal, glob, regex, cidr)
  int64_t number = 0;          // numeric operand for kNum*
  FieldIndex ref_field = 0;    // kFieldRef: the other field
  std::string ref_field_name;  // kFieldRef: its schema name

  bool operator==(const Atom&) const = default;
};

// Postfix program. The machine has a stack of booleans; a verified program
// never underflows, never exceeds kMaxStackDepth and leaves exactly one value.
// There are no jumps: every program is straight-line and so terminates.
enum class OpCode : uint8_t {
  kAtom = 0,     // push atoms[a]
  kNot = 1,      // pop x, push !x
  kAnd = 2,      // pop a values (a >= 2), push their conjunction
  kOr = 3,       // pop a values (a >= 2), push their disjunction
  kAtLeast = 4,  // pop a values, push (number true >= b), 1 <= b <= a
  kTrue = 5,     // push true
  kFalse = 6,    // push false
};
inline constexpr uint8_t kOpCodeCount = 7;

struct Instr {
  OpCode op = OpCode::kAtom;
  uint32_t a = 0;
  uint32_t b = 0;

  bool operator==(const Instr&) const = default;
};

enum class Level : uint8_t { kInformational = 0, kLow = 1, kMedium = 2, kHigh = 3, kCritical = 4 };
std::string_view LevelName(Level level);

struct Rule {
  std::string id;       // Sigma id (a UUID), unique in a ruleset
  std::string title;
  Level level = Level::kMedium;
  std::string status;   // Sigma status: stable, test, experimental, ...
  std::vector<std::string> tags;
  std::string source;   // "path/to/rule.yml:12" where the rule was read
  EventTypeId event_type = 0;
  std::string event_type_name;  // the schema name of event_type
  std::vector<Atom> atoms;
  std::vector<Instr> program;
  // A blocking rule: where vigild enforces, a match at a permission check
  // denies the operation (Sigma `vigil: {action: block}`, docs/sigma.md). The
  // verifier accepts it only if the rule can be decided at that check
  // (CheckBlockingRule, docs/verifier.md).
  bool block = false;

  bool operator==(const Rule&) const = default;
};

// "block" for a blocking rule, else "alert".
std::string_view RuleActionName(const Rule& rule);

// Appends the rule's identity as JSON object members, no braces:
// "rule_id":"...","rule_title":"...","level":"high","tags":[...]
// and, for a blocking rule only, ,"action":"block" (the part every alert
// line shares; docs/alerts.md).
void AppendRuleJsonFields(std::string& out, const Rule& rule);

// Metadata a bundle header carries (see docs/bundle-format.md).
struct RulesetInfo {
  uint32_t schema_version = 0;
  SchemaHash schema_hash{};
  uint64_t content_version = 0;
  int64_t created_unix = 0;
  int64_t expires_unix = 0;  // 0 = never
  std::string channel = "stable";

  bool operator==(const RulesetInfo&) const = default;
};

struct Ruleset {
  RulesetInfo info;
  std::vector<Rule> rules;

  bool operator==(const Ruleset&) const = default;
};

// Bounds on everything in a ruleset. The verifier enforces them; the bundle
// reader enforces them before it allocates. Documented in docs/verifier.md.
inline constexpr size_t kMaxRules = 100'000;
inline constexpr size_t kMaxAtomsPerRule = 4'096;
inline constexpr size_t kMaxProgramLength = 16'384;
inline constexpr size_t kMaxStackDepth = 256;
inline constexpr size_t kMaxValueBytes = 4'096;      // one literal, glob, regex or cidr
inline constexpr size_t kMaxRegexProgramBytes = 1 << 20;  // RE2 max_mem per regex
inline constexpr size_t kMaxTextBytes = 1'024;       // id, title, status, tag, source, name
inline constexpr size_t kMaxTagsPerRule = 64;

}  // namespace vigil::content
