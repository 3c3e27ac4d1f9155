// The verifier. Every check is listed, with its code and bound, in
// docs/verifier.md; keep the two in step.
//
// Policy: the verifier trusts nothing in a Ruleset (it may come from a
// hostile bundle), so every index is compared against the schema before it
// is used to look anything up, and every string it echoes into a message is
// shortened and escaped first. It collects every problem instead of stopping
// at the first, except inside one rule's program, where the stack depth is
// meaningless after the first fault.
#include "content/verifier.h"

#include <arpa/inet.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <re2/re2.h>

#include "content/decision_fields.h"

namespace vigil::content {
namespace {

// Strings from a Ruleset can be long or binary; messages show a bounded,
// printable form so a hostile id cannot flood a log or a terminal.
std::string Shown(std::string_view s) {
  static constexpr size_t kMaxShown = 96;
  std::string out;
  for (size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (s.size() > kMaxShown) out += fmt::format("...({} bytes)", s.size());
  return out;
}

std::string_view AtomOpName(uint8_t op) {
  static constexpr std::string_view kNames[kAtomOpCount] = {
      "equals", "contains", "startswith", "endswith", "glob",   "regex", "cidr",   "num_eq",
      "num_lt", "num_lte",  "num_gt",     "num_gte",  "exists", "fieldref", "null"};
  return op < kAtomOpCount ? kNames[op] : std::string_view("unknown");
}

bool IsTextOp(AtomOp op) { return op >= AtomOp::kEquals && op <= AtomOp::kRegex; }
bool IsNumOp(AtomOp op) { return op >= AtomOp::kNumEq && op <= AtomOp::kNumGte; }


// '\' escapes the next byte, so a glob may not end inside an escape.
bool GlobWellFormed(std::string_view glob) {
  for (size_t i = 0; i < glob.size(); ++i) {
    if (glob[i] == '\\') {
      if (i + 1 == glob.size()) return false;
      ++i;
    }
  }
  return true;
}

// Compiling a regex costs time in proportion to its program, up to
// kMaxRegexProgramBytes each, so per-regex bounds alone would let a large
// bundle of regex atoms keep the verifier (and the engine's memory) busy for
// hours. One budget, in RE2 program instructions, therefore covers all the
// regexes of a ruleset (or of one rule for VerifyRule): each regex is charged
// its program size, at least kMinRegexCharge (so many tiny regexes add up),
// and a regex RE2 refuses is charged as if it had filled max_mem (failing at
// the limit takes about as long as succeeding near it). Once the budget is
// spent, the remaining regexes are refused unseen. About 64 MiB of compiled
// programs and about a second of compile time; real rule sets use well under
// 1% of it (the SigmaHQ Linux rules: a few thousand instructions).
constexpr int64_t kRegexBudget = int64_t{1} << 22;
constexpr int64_t kMinRegexCharge = 64;
constexpr int64_t kFailedRegexCharge = static_cast<int64_t>(kMaxRegexProgramBytes) / 16;

struct RegexBudget {
  int64_t left = kRegexBudget;
  bool exhausted_reported = false;
};

// Checks and reports one rule; `Err` adds an error located at the rule.
class RuleChecker {
 public:
  RuleChecker(const Rule& rule, const Schema& schema, Diagnostics& diags, const Location& where,
              RegexBudget& budget)
      : rule_(rule), schema_(schema), diags_(diags), where_(where), budget_(budget), shown_id_(Shown(rule.id)) {
    if (where_.rule_id.empty()) where_.rule_id = rule.id.substr(0, kMaxTextBytes);
  }

  void Run() {
    CheckText();
    CheckEventType();
    CheckAtoms();
    CheckProgram();
    // Only once the event type is known good: otherwise there is no field
    // table to judge decision time against, and VG501 already refused it.
    if (rule_.block && type_ != nullptr) CheckBlockingRule(rule_, schema_, diags_, where_);
  }

 private:
  template <typename... Args>
  void Err(DiagCode code, fmt::format_string<Args...> format, Args&&... args) {
    diags_.Error(code, where_,
                 fmt::format("rule {}: {}", shown_id_, fmt::format(format, std::forward<Args>(args)...)));
  }

  void CheckText() {
    if (rule_.id.empty()) Err(DiagCode::kVerifyText, "id is empty");
    auto bound = [&](std::string_view what, const std::string& s) {
      if (s.size() > kMaxTextBytes) {
        Err(DiagCode::kVerifyText, "{} is {} bytes (limit {})", what, s.size(), kMaxTextBytes);
      }
    };
    bound("id", rule_.id);
    bound("title", rule_.title);
    bound("status", rule_.status);
    bound("source", rule_.source);
    if (rule_.tags.size() > kMaxTagsPerRule) {
      Err(DiagCode::kVerifyLimit, "{} tags (limit {})", rule_.tags.size(), kMaxTagsPerRule);
    }
    for (size_t i = 0; i < rule_.tags.size(); ++i) {
      if (rule_.tags[i].size() > kMaxTextBytes) {
        Err(DiagCode::kVerifyText, "tag {} is {} bytes (limit {})", i, rule_.tags[i].size(),
            kMaxTextBytes);
      }
    }
    if (static_cast<uint8_t>(rule_.level) > static_cast<uint8_t>(Level::kCritical)) {
      Err(DiagCode::kVerifyValue, "level {} is not a known level (0..4)",
          static_cast<int>(rule_.level));
    }
  }

  void CheckEventType() {
    size_t n = schema_.event_types().size();
    if (rule_.event_type >= n) {
      Err(DiagCode::kVerifyEventType, "event type index {} ({}) is outside schema v{}, which has {} event types",
          rule_.event_type, Shown(rule_.event_type_name), schema_.version(), n);
      return;
    }
    const EventTypeDef& def = schema_.event_type(rule_.event_type);
    if (rule_.event_type_name != def.name) {
      Err(DiagCode::kVerifyEventType, "event type index {} is named '{}' in the rule but '{}' in schema v{}",
          rule_.event_type, Shown(rule_.event_type_name), def.name, schema_.version());
      return;
    }
    type_ = &def;
  }

  // Checks one field reference (`role` is "field" or "ref_field"). Returns the
  // field's definition when it is in range and correctly named.
  const FieldDef* CheckFieldRef(size_t atom, std::string_view role, FieldIndex index,
                                const std::string& name) {
    if (type_ == nullptr) return nullptr;  // the event type was already refused
    if (index >= type_->fields.size()) {
      Err(DiagCode::kVerifyField, "atom {}: {} index {} ({}) is outside {}, which has {} fields", atom,
          role, index, Shown(name), type_->name, type_->fields.size());
      return nullptr;
    }
    const FieldDef& f = type_->fields[index];
    if (name != f.name) {
      Err(DiagCode::kVerifyFieldName,
          "atom {}: {} index {} is named '{}' in the rule but '{}' in {} (schema v{})", atom, role,
          index, Shown(name), f.name, type_->name, schema_.version());
      return nullptr;
    }
    return &f;
  }

  void CheckAtoms() {
    if (rule_.atoms.empty()) {
      Err(DiagCode::kVerifyLimit, "has no atoms (needs 1..{})", kMaxAtomsPerRule);
    } else if (rule_.atoms.size() > kMaxAtomsPerRule) {
      Err(DiagCode::kVerifyLimit, "{} atoms (limit {})", rule_.atoms.size(), kMaxAtomsPerRule);
    }
    for (size_t i = 0; i < rule_.atoms.size(); ++i) CheckAtom(i, rule_.atoms[i]);
  }

  void CheckAtom(size_t i, const Atom& atom) {
    uint8_t op_num = static_cast<uint8_t>(atom.op);
    if (op_num >= kAtomOpCount) {
      Err(DiagCode::kVerifyValue, "atom {}: operator {} is not a known operator (0..{})", i, op_num,
          kAtomOpCount - 1);
      return;  // nothing else about the atom means anything
    }
    std::string_view op_name = AtomOpName(op_num);
    if ((atom.flags & ~kAtomFlagsMask) != 0) {
      Err(DiagCode::kVerifyValue, "atom {}: flags 0x{:02x} have bits outside 0x{:02x}", i, atom.flags,
          static_cast<int>(kAtomFlagsMask));
    }

    const FieldDef* field = nullptr;
    if (atom.field == kAnyField) {
      if (!IsTextOp(atom.op)) {
        Err(DiagCode::kVerifyField, "atom {}: operator {} needs a field, not 'any field' (0x{:04x})", i,
            op_name, kAnyField);
      }
      if (!atom.field_name.empty()) {
        Err(DiagCode::kVerifyFieldName, "atom {}: 'any field' atom has field name '{}' (must be empty)",
            i, Shown(atom.field_name));
      }
    } else {
      field = CheckFieldRef(i, "field", atom.field, atom.field_name);
    }

    if (atom.op == AtomOp::kFieldRef) {
      if (atom.ref_field == kAnyField) {
        Err(DiagCode::kVerifyField, "atom {}: fieldref needs a ref_field, not 'any field'", i);
      } else {
        CheckFieldRef(i, "ref_field", atom.ref_field, atom.ref_field_name);
      }
    }

    CheckOperandTypes(i, atom, op_name, field);
    CheckValue(i, atom, op_name);
  }

  void CheckOperandTypes(size_t i, const Atom& atom, std::string_view op_name, const FieldDef* field) {
    if (field != nullptr) {
      if (atom.op == AtomOp::kCidr && field->type != FieldType::kIp) {
        Err(DiagCode::kVerifyOperandType, "atom {}: cidr on field {} ({}), which is {}, not ip", i,
            atom.field, field->name, FieldTypeName(field->type));
      }
      if (IsNumOp(atom.op) && field->type != FieldType::kInteger) {
        Err(DiagCode::kVerifyOperandType, "atom {}: {} on field {} ({}), which is {}, not integer", i,
            op_name, atom.field, field->name, FieldTypeName(field->type));
      }
    }
    if ((atom.flags & (kRegexI | kRegexM | kRegexS)) != 0 && atom.op != AtomOp::kRegex) {
      Err(DiagCode::kVerifyOperandType, "atom {}: regex flags 0x{:02x} on operator {}", i,
          atom.flags & (kRegexI | kRegexM | kRegexS), op_name);
    }
    if ((atom.flags & kCased) != 0 && !IsTextOp(atom.op)) {
      Err(DiagCode::kVerifyOperandType, "atom {}: cased flag on operator {}, which does not compare text",
          i, op_name);
    }
  }

  void CheckValue(size_t i, const Atom& atom, std::string_view op_name) {
    if (atom.value.size() > kMaxValueBytes) {
      Err(DiagCode::kVerifyLimit, "atom {}: {} value is {} bytes (limit {})", i, op_name,
          atom.value.size(), kMaxValueBytes);
      return;  // do not hand an oversized pattern to RE2 or the parsers
    }
    switch (atom.op) {
      case AtomOp::kCidr: {
        std::string why;
        if (!CheckCidr(atom.value, why)) {
          Err(DiagCode::kVerifyValue, "atom {}: cidr '{}' {}", i, Shown(atom.value), why);
        }
        break;
      }
      case AtomOp::kGlob:
        if (!GlobWellFormed(atom.value)) {
          Err(DiagCode::kVerifyValue, "atom {}: glob '{}' ends with a lone escape '\\'", i,
              Shown(atom.value));
        }
        break;
      case AtomOp::kRegex:
        CheckRegex(i, atom);
        break;
      case AtomOp::kExists:
      case AtomOp::kNull:
        if (!atom.value.empty()) {
          Err(DiagCode::kVerifyValue, "atom {}: {} takes no value but has '{}'", i, op_name,
              Shown(atom.value));
        }
        break;
      default:
        break;
    }
  }

  // Compiles exactly as the engine must (docs/verifier.md, "Regex"): RE2,
  // UTF-8, the program bounded by kMaxRegexProgramBytes, kRegexI/kRegexS as
  // options and kRegexM as a leading (?m), since RE2's perl mode has no
  // multi-line option.
  void CheckRegex(size_t i, const Atom& atom) {
    if (budget_.left <= 0) {
      if (!budget_.exhausted_reported) {
        budget_.exhausted_reported = true;
        Err(DiagCode::kVerifyLimit,
            "atom {}: the regexes so far used the whole budget of {} RE2 instructions; this and later regexes "
            "are refused without compiling",
            i, kRegexBudget);
      } else {
        Err(DiagCode::kVerifyLimit, "atom {}: regex not compiled (regex budget spent)", i);
      }
      return;
    }
    RE2::Options options;
    options.set_log_errors(false);
    options.set_max_mem(static_cast<int64_t>(kMaxRegexProgramBytes));
    options.set_case_sensitive((atom.flags & kRegexI) == 0);
    options.set_dot_nl((atom.flags & kRegexS) != 0);
    std::string text = (atom.flags & kRegexM) != 0 ? "(?m)" + atom.value : atom.value;
    RE2 re(text, options);
    if (!re.ok()) {
      budget_.left -= kFailedRegexCharge;
      Err(DiagCode::kVerifyRegex, "atom {}: regex '{}' refused by RE2: {}", i, Shown(atom.value),
          Shown(re.error()));
      return;
    }
    budget_.left -= std::max<int64_t>(re.ProgramSize(), kMinRegexCharge);
  }

  void CheckProgram() {
    const auto& prog = rule_.program;
    if (prog.empty()) {
      Err(DiagCode::kVerifyProgram, "program is empty");
      return;
    }
    if (prog.size() > kMaxProgramLength) {
      Err(DiagCode::kVerifyLimit, "program has {} instructions (limit {})", prog.size(),
          kMaxProgramLength);
      return;
    }
    std::vector<bool> used(rule_.atoms.size(), false);
    size_t depth = 0;
    for (size_t pc = 0; pc < prog.size(); ++pc) {
      const Instr& in = prog[pc];
      size_t pops = 0;
      switch (in.op) {
        case OpCode::kAtom:
          if (in.a >= rule_.atoms.size()) {
            Err(DiagCode::kVerifyProgram, "instruction {}: atom {} does not exist (rule has {} atoms)", pc,
                in.a, rule_.atoms.size());
            return;
          }
          used[in.a] = true;
          break;
        case OpCode::kNot:
          pops = 1;
          break;
        case OpCode::kAnd:
        case OpCode::kOr:
          if (in.a < 2) {
            Err(DiagCode::kVerifyProgram, "instruction {}: {} of {} operands (needs at least 2)", pc,
                in.op == OpCode::kAnd ? "and" : "or", in.a);
            return;
          }
          pops = in.a;
          break;
        case OpCode::kAtLeast:
          if (in.b < 1 || in.b > in.a) {
            Err(DiagCode::kVerifyProgram, "instruction {}: at_least {} of {} (needs 1 <= {} <= {})", pc,
                in.b, in.a, in.b, in.a);
            return;
          }
          pops = in.a;
          break;
        case OpCode::kTrue:
        case OpCode::kFalse:
          break;
        default:
          Err(DiagCode::kVerifyProgram, "instruction {}: opcode {} is not a known opcode (0..{})", pc,
              static_cast<int>(in.op), kOpCodeCount - 1);
          return;
      }
      if (pops > depth) {
        Err(DiagCode::kVerifyProgram, "instruction {}: pops {} values but the stack holds {}", pc, pops,
            depth);
        return;
      }
      depth = depth - pops + 1;
      if (depth > kMaxStackDepth) {
        Err(DiagCode::kVerifyLimit, "instruction {}: stack depth {} exceeds {}", pc, depth,
            kMaxStackDepth);
        return;
      }
    }
    if (depth != 1) {
      Err(DiagCode::kVerifyProgram, "program leaves {} values on the stack (must leave exactly 1)", depth);
      return;
    }
    for (size_t i = 0; i < used.size(); ++i) {
      if (!used[i]) {
        diags_.Warning(DiagCode::kVerifyProgram, where_,
                       fmt::format("rule {}: atom {} is never used by the program", shown_id_, i));
      }
    }
  }

  const Rule& rule_;
  const Schema& schema_;
  Diagnostics& diags_;
  Location where_;
  RegexBudget& budget_;
  std::string shown_id_;
  const EventTypeDef* type_ = nullptr;  // set once the event type is known good
};

}  // namespace

bool VerifyRule(const Rule& rule, const Schema& schema, Diagnostics& diags, const Location& where) {
  size_t before = diags.error_count();
  RegexBudget budget;
  RuleChecker(rule, schema, diags, where, budget).Run();
  return diags.error_count() == before;
}

bool Verify(const Ruleset& rs, const Schema& schema, Diagnostics& diags, const Location& where) {
  size_t before = diags.error_count();
  // A schema mismatch is reported, and then every rule is still checked
  // against the local schema: the per-rule errors say which rule and which
  // field would have been out of bounds, which is what an operator needs.
  if (rs.info.schema_hash != schema.hash()) {
    diags.Error(DiagCode::kVerifySchemaHash, where,
                fmt::format("content was compiled for schema hash {} but this sensor's schema v{} has hash {}",
                            HashToHex(rs.info.schema_hash), schema.version(), HashToHex(schema.hash())));
  }
  if (rs.info.schema_version != schema.version()) {
    diags.Error(DiagCode::kVerifySchemaHash, where,
                fmt::format("content was compiled for schema v{} but this sensor's schema is v{}",
                            rs.info.schema_version, schema.version()));
  }
  if (rs.info.channel.size() > kMaxTextBytes) {
    diags.Error(DiagCode::kVerifyText, where,
                fmt::format("channel is {} bytes (limit {})", rs.info.channel.size(), kMaxTextBytes));
  }
  if (rs.rules.size() > kMaxRules) {
    diags.Error(DiagCode::kVerifyLimit, where,
                fmt::format("{} rules (limit {})", rs.rules.size(), kMaxRules));
  }
  RegexBudget budget;  // shared by all rules: the engine holds all their programs at once
  std::unordered_set<std::string_view> ids;
  ids.reserve(rs.rules.size());
  for (size_t i = 0; i < rs.rules.size(); ++i) {
    const Rule& rule = rs.rules[i];
    Location at = where;
    at.rule_id = rule.id.substr(0, kMaxTextBytes);
    if (!rule.id.empty() && !ids.insert(rule.id).second) {
      diags.Error(DiagCode::kVerifyDuplicateId, at,
                  fmt::format("rule {} (index {}): id is used by an earlier rule", Shown(rule.id), i));
    }
    RuleChecker(rule, schema, diags, at, budget).Run();
  }
  return diags.error_count() == before;
}

namespace {

// "process_creation (FAN_OPEN_EXEC_PERM), file_access (FAN_OPEN_PERM)"
std::string BlockableTypes() {
  std::string out;
  for (const DecisionFields& d : DecisionFieldTable()) {
    out += fmt::format("{}{} ({})", out.empty() ? "" : ", ", d.event_type, d.decided_at);
  }
  return out;
}

// "atom 2" or "atoms 0, 3 (keyword: every string field), 5"; at most kShown
// atoms listed. Each entry is (atom index, read through a keyword atom).
std::string AtomList(const std::vector<std::pair<size_t, bool>>& atoms) {
  static constexpr size_t kShown = 8;
  std::string out = atoms.size() == 1 ? "atom " : "atoms ";
  for (size_t i = 0; i < atoms.size() && i < kShown; ++i) {
    const std::string_view how = atoms[i].second ? " (keyword: every string field)" : "";
    out += fmt::format("{}{}{}", i ? ", " : "", atoms[i].first, how);
  }
  if (atoms.size() > kShown) out += fmt::format(", ... ({} atoms)", atoms.size());
  return out;
}

}  // namespace

bool CheckBlockingRule(const Rule& rule, const Schema& schema, Diagnostics& diags, const Location& where) {
  const size_t before = diags.error_count();
  Location at = where;
  if (at.rule_id.empty()) at.rule_id = rule.id.substr(0, kMaxTextBytes);
  const std::string id = Shown(rule.id);
  auto refuse = [&](DiagCode code, std::string message) {
    diags.Error(code, at, fmt::format("rule {}: blocking rule: {}", id, message));
  };

  if (rule.event_type >= schema.event_types().size()) {
    refuse(DiagCode::kVerifyBlockEventType,
           fmt::format("event type index {} is outside schema v{}; rules that can block: {}", rule.event_type,
                       schema.version(), BlockableTypes()));
    return false;
  }
  const EventTypeDef& type = schema.event_type(rule.event_type);
  const DecisionFields* decision = FindDecisionFields(type.name);
  if (decision == nullptr) {
    refuse(DiagCode::kVerifyBlockEventType,
           fmt::format("{} events are seen only after they happened, so there is nothing to deny; rules that can "
                       "block: {}",
                       type.name, BlockableTypes()));
    return false;
  }

  // For each field of the type, the atoms that read it (atom index, whether
  // through a keyword atom). A keyword atom reads every string field. Indices
  // outside the type (VG502 in the verifier) are unknown too, reported once.
  const size_t n = type.fields.size();
  std::vector<std::vector<std::pair<size_t, bool>>> readers(n);
  std::vector<std::pair<size_t, bool>> outside;
  FieldIndex first_outside = 0;
  auto read = [&](size_t atom, FieldIndex field) {
    if (field < n) {
      readers[field].push_back({atom, false});
      return;
    }
    if (outside.empty()) first_outside = field;
    outside.push_back({atom, false});
  };
  for (size_t i = 0; i < rule.atoms.size(); ++i) {
    const Atom& atom = rule.atoms[i];
    if (atom.field == kAnyField) {
      for (size_t f = 0; f < n; ++f) {
        if (type.fields[f].type == FieldType::kString) readers[f].push_back({i, true});
      }
    } else {
      read(i, atom.field);
    }
    if (atom.op == AtomOp::kFieldRef) read(i, atom.ref_field);
  }

  if (!outside.empty()) {
    refuse(DiagCode::kVerifyBlockField,
           fmt::format("fields outside {} ({} fields; index {} first) have no value at {} ({})", type.name, n,
                       first_outside, decision->moment, AtomList(outside)));
  }
  std::string known;
  for (std::string_view f : decision->known) known += fmt::format("{}{}", known.empty() ? "" : ", ", f);
  for (size_t f = 0; f < n; ++f) {
    const std::string& name = type.fields[f].name;
    if (readers[f].empty() || decision->IsKnown(name)) continue;
    refuse(DiagCode::kVerifyBlockField,
           fmt::format("field '{}' ({}) has no value at {} ({}): {}; a blocking {} rule may use only {}", name,
                       AtomList(readers[f]), decision->moment, decision->decided_at, decision->WhyUnknown(name),
                       type.name, known));
  }
  return diags.error_count() == before;
}

Status CheckBlockingRule(const Rule& rule, const Schema& schema) {
  Diagnostics diags;
  if (CheckBlockingRule(rule, schema, diags, {})) return Status::Ok();
  for (const Diagnostic& d : diags.list()) {
    if (d.severity != Severity::kError) continue;
    return Status(Code::kVerifyFailed,
                  fmt::format("{} {}: {}", DiagCodeString(d.code), DiagCodeSlug(d.code), d.message));
  }
  return Status(Code::kVerifyFailed, "blocking rule refused");
}

bool CheckCidr(std::string_view value, std::string& why) {
  size_t slash = value.find('/');
  if (slash == std::string_view::npos) {
    why = "has no '/prefix'";
    return false;
  }
  std::string addr(value.substr(0, slash));
  std::string_view prefix = value.substr(slash + 1);
  unsigned char buf[16];
  int max_prefix;
  if (inet_pton(AF_INET, addr.c_str(), buf) == 1) {
    max_prefix = 32;
  } else if (inet_pton(AF_INET6, addr.c_str(), buf) == 1) {
    max_prefix = 128;
  } else {
    why = "address is neither IPv4 nor IPv6";
    return false;
  }
  if (prefix.empty() || prefix.size() > 3) {
    why = "prefix length is not a number of 1 to 3 digits";
    return false;
  }
  int bits = 0;
  for (char c : prefix) {
    if (c < '0' || c > '9') {
      why = "prefix length is not a decimal number";
      return false;
    }
    bits = bits * 10 + (c - '0');
  }
  if (bits > max_prefix) {
    why = fmt::format("prefix length {} exceeds {}", bits, max_prefix);
    return false;
  }
  return true;
}

}  // namespace vigil::content
