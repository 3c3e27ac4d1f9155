// One test (at least) per verifier check, each asserting the specific code.
// Rules are built by hand here: the verifier must refuse content no compiler
// would produce, so the tests do not go through one.
#include "content/verifier.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace vigil::content {
namespace {

const Schema& S() { return Schema::Builtin(); }

EventTypeId TypeId(const char* name) { return *S().FindEventType(name); }

FieldIndex FieldId(const char* type, const char* field) { return *S().FindField(TypeId(type), field); }

Atom FieldAtom(AtomOp op, const char* type, const char* field, std::string value) {
  Atom a;
  a.op = op;
  a.field = FieldId(type, field);
  a.field_name = field;
  a.value = std::move(value);
  return a;
}

// process_creation: CommandLine contains "curl"; program: atom 0.
Rule ValidRule(std::string id = "r-1") {
  Rule r;
  r.id = std::move(id);
  r.title = "curl";
  r.status = "test";
  r.tags = {"attack.t1105"};
  r.source = "rules/curl.yml:1";
  r.event_type = TypeId("process_creation");
  r.event_type_name = "process_creation";
  r.atoms.push_back(FieldAtom(AtomOp::kContains, "process_creation", "CommandLine", "curl"));
  r.program = {{OpCode::kAtom, 0, 0}};
  return r;
}

Rule OneAtomRule(Atom atom, const char* type = "process_creation") {
  Rule r = ValidRule();
  r.event_type = TypeId(type);
  r.event_type_name = type;
  r.atoms = {std::move(atom)};
  return r;
}

Ruleset ValidRuleset() {
  Ruleset rs;
  rs.info.schema_version = S().version();
  rs.info.schema_hash = S().hash();
  rs.rules.push_back(ValidRule("r-1"));
  rs.rules.push_back(ValidRule("r-2"));
  return rs;
}

std::vector<DiagCode> ErrorCodes(const Diagnostics& d) {
  std::vector<DiagCode> out;
  for (const auto& x : d.list()) {
    if (x.severity == Severity::kError) out.push_back(x.code);
  }
  return out;
}

// Verifies `rule` alone and expects exactly one error, with `code`.
::testing::AssertionResult RefusedWith(const Rule& rule, DiagCode code, Diagnostics* out = nullptr) {
  Diagnostics d;
  bool ok = VerifyRule(rule, S(), d, {"test.yml", 0, ""});
  if (out) *out = d;
  if (ok) return ::testing::AssertionFailure() << "accepted; diagnostics:\n" << d.ToText();
  if (ErrorCodes(d) != std::vector<DiagCode>{code}) {
    return ::testing::AssertionFailure() << "expected exactly one " << DiagCodeString(code) << ", got:\n"
                                         << d.ToText();
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult Accepted(const Rule& rule) {
  Diagnostics d;
  if (!VerifyRule(rule, S(), d, {"test.yml", 0, ""}) || !d.list().empty()) {
    return ::testing::AssertionFailure() << d.ToText();
  }
  return ::testing::AssertionSuccess();
}

std::string OnlyMessage(const Diagnostics& d) { return d.list().empty() ? "" : d.list()[0].message; }

// ---- accepted content ---------------------------------------------------------

TEST(VerifierTest, AcceptsValidRuleset) {
  Diagnostics d;
  EXPECT_TRUE(Verify(ValidRuleset(), S(), d, {"b", 0, ""}));
  EXPECT_TRUE(d.list().empty()) << d.ToText();
}

TEST(VerifierTest, AcceptsEveryOperatorOnItsFieldType) {
  const char* net = "network_connection";
  Atom any;
  any.op = AtomOp::kRegex;
  any.field = kAnyField;
  any.value = "(?:wget|curl)\\s+http";
  any.flags = kRegexI | kRegexM | kRegexS;
  Atom num = FieldAtom(AtomOp::kNumGte, net, "DestinationPort", "");
  num.number = 1024;
  Atom ref = FieldAtom(AtomOp::kFieldRef, net, "SourceHostname", "");
  ref.ref_field = FieldId(net, "DestinationHostname");
  ref.ref_field_name = "DestinationHostname";
  Atom cased = FieldAtom(AtomOp::kEndsWith, net, "Image", "/nc");
  cased.flags = kCased;
  std::vector<Atom> atoms = {
      FieldAtom(AtomOp::kEquals, net, "Image", "/usr/bin/nc"),
      FieldAtom(AtomOp::kStartsWith, net, "CommandLine", "nc "),
      cased,
      FieldAtom(AtomOp::kGlob, net, "CommandLine", "*\\*literal star*"),
      FieldAtom(AtomOp::kCidr, net, "DestinationIp", "10.0.0.0/8"),
      FieldAtom(AtomOp::kCidr, net, "SourceIp", "fe80::/10"),
      FieldAtom(AtomOp::kCidr, net, "SourceIp", "::/0"),
      num,
      FieldAtom(AtomOp::kExists, net, "DestinationHostname", ""),
      FieldAtom(AtomOp::kNull, net, "SourceHostname", ""),
      ref,
      any,
  };
  Rule r = OneAtomRule(atoms[0], net);
  r.atoms = atoms;
  r.program.clear();
  for (uint32_t i = 0; i < atoms.size(); ++i) r.program.push_back({OpCode::kAtom, i, 0});
  r.program.push_back({OpCode::kAtLeast, 6, 2});
  r.program.push_back({OpCode::kOr, 7, 0});
  r.program.push_back({OpCode::kNot, 0, 0});
  r.program.push_back({OpCode::kTrue, 0, 0});
  r.program.push_back({OpCode::kFalse, 0, 0});
  r.program.push_back({OpCode::kAnd, 3, 0});
  EXPECT_TRUE(Accepted(r));
}

// ---- ruleset ------------------------------------------------------------------

TEST(VerifierTest, SchemaHashMismatchShowsBothHashesAndStillChecksRules) {
  Ruleset rs = ValidRuleset();
  rs.info.schema_hash[0] ^= 1;
  rs.rules[1].atoms[0].field = 200;  // a per-rule problem must be reported too
  Diagnostics d;
  EXPECT_FALSE(Verify(rs, S(), d, {"b", 0, ""}));
  EXPECT_EQ(ErrorCodes(d), (std::vector<DiagCode>{DiagCode::kVerifySchemaHash, DiagCode::kVerifyField}));
  const std::string& msg = d.list()[0].message;
  EXPECT_NE(msg.find(HashToHex(rs.info.schema_hash)), std::string::npos) << msg;
  EXPECT_NE(msg.find(HashToHex(S().hash())), std::string::npos) << msg;
  EXPECT_EQ(d.list()[1].where.rule_id, "r-2");
}

TEST(VerifierTest, SchemaVersionMismatch) {
  Ruleset rs = ValidRuleset();
  rs.info.schema_version = S().version() + 1;
  Diagnostics d;
  EXPECT_FALSE(Verify(rs, S(), d, {"b", 0, ""}));
  EXPECT_EQ(ErrorCodes(d), std::vector<DiagCode>{DiagCode::kVerifySchemaHash});
}

TEST(VerifierTest, TooManyRules) {
  Ruleset rs = ValidRuleset();
  rs.rules.assign(kMaxRules + 1, ValidRule());
  for (size_t i = 0; i < rs.rules.size(); ++i) rs.rules[i].id = std::to_string(i);
  Diagnostics d;
  EXPECT_FALSE(Verify(rs, S(), d, {"b", 0, ""}));
  EXPECT_EQ(ErrorCodes(d), std::vector<DiagCode>{DiagCode::kVerifyLimit});
}

TEST(VerifierTest, ChannelBounded) {
  Ruleset rs = ValidRuleset();
  rs.info.channel = std::string(kMaxTextBytes + 1, 'c');
  Diagnostics d;
  EXPECT_FALSE(Verify(rs, S(), d, {"b", 0, ""}));
  EXPECT_EQ(ErrorCodes(d), std::vector<DiagCode>{DiagCode::kVerifyText});
}

TEST(VerifierTest, DuplicateIds) {
  Ruleset rs = ValidRuleset();
  rs.rules[1].id = rs.rules[0].id;
  Diagnostics d;
  EXPECT_FALSE(Verify(rs, S(), d, {"b", 0, ""}));
  EXPECT_EQ(ErrorCodes(d), std::vector<DiagCode>{DiagCode::kVerifyDuplicateId});
  EXPECT_EQ(d.list()[0].where.rule_id, "r-1");
  EXPECT_NE(d.list()[0].message.find("index 1"), std::string::npos);
}

// ---- rule ---------------------------------------------------------------------

TEST(VerifierTest, EventTypeOutOfRange) {
  Rule r = ValidRule();
  r.event_type = static_cast<EventTypeId>(S().event_types().size());
  Diagnostics d;
  EXPECT_TRUE(RefusedWith(r, DiagCode::kVerifyEventType, &d));
  EXPECT_NE(OnlyMessage(d).find("has 8 event types"), std::string::npos) << OnlyMessage(d);
}

TEST(VerifierTest, EventTypeNameMismatch) {
  Rule r = ValidRule();
  r.event_type_name = "file_event";
  EXPECT_TRUE(RefusedWith(r, DiagCode::kVerifyEventType));
}

TEST(VerifierTest, TextBounds) {
  Rule r = ValidRule();
  r.id.clear();
  EXPECT_TRUE(RefusedWith(r, DiagCode::kVerifyText));
  for (std::string Rule::*field : {&Rule::id, &Rule::title, &Rule::status, &Rule::source}) {
    r = ValidRule();
    r.*field = std::string(kMaxTextBytes, 'x');
    EXPECT_TRUE(Accepted(r));
    r.*field += 'x';
    EXPECT_TRUE(RefusedWith(r, DiagCode::kVerifyText));
  }
  r = ValidRule();
  r.tags[0] = std::string(kMaxTextBytes + 1, 't');
  EXPECT_TRUE(RefusedWith(r, DiagCode::kVerifyText));
}

TEST(VerifierTest, TooManyTags) {
  Rule r = ValidRule();
  r.tags.assign(kMaxTagsPerRule, "t");
  EXPECT_TRUE(Accepted(r));
  r.tags.push_back("t");
  EXPECT_TRUE(RefusedWith(r, DiagCode::kVerifyLimit));
}

TEST(VerifierTest, UnknownLevel) {
  Rule r = ValidRule();
  r.level = static_cast<Level>(5);
  EXPECT_TRUE(RefusedWith(r, DiagCode::kVerifyValue));
}

TEST(VerifierTest, AtomCountBounds) {
  Rule r = ValidRule();
  r.atoms.clear();
  r.program = {{OpCode::kTrue, 0, 0}};
  EXPECT_TRUE(RefusedWith(r, DiagCode::kVerifyLimit));

  r = ValidRule();
  r.atoms.assign(kMaxAtomsPerRule + 1, r.atoms[0]);
  r.program.clear();
  for (uint32_t i = 0; i < r.atoms.size(); ++i) {
    r.program.push_back({OpCode::kAtom, i, 0});
    if (i > 0) r.program.push_back({OpCode::kOr, 2, 0});
  }
  EXPECT_TRUE(RefusedWith(r, DiagCode::kVerifyLimit));
  r.atoms.pop_back();
  r.program.resize(r.program.size() - 2);
  EXPECT_TRUE(Accepted(r));
}

// ---- atoms --------------------------------------------------------------------

TEST(VerifierTest, UnknownOperator) {
  Atom a = FieldAtom(AtomOp::kEquals, "process_creation", "Image", "x");
  a.op = static_cast<AtomOp>(kAtomOpCount);
  EXPECT_TRUE(RefusedWith(OneAtomRule(a), DiagCode::kVerifyValue));
}

TEST(VerifierTest, UnknownFlagBits) {
  Atom a = FieldAtom(AtomOp::kEquals, "process_creation", "Image", "x");
  a.flags = 0x10;
  EXPECT_TRUE(RefusedWith(OneAtomRule(a), DiagCode::kVerifyValue));
}

TEST(VerifierTest, FieldOutOfRangeNamesRuleAtomFieldAndType) {
  Rule r = ValidRule("rule-x");
  r.atoms.insert(r.atoms.begin(), 3, r.atoms[0]);
  r.program = {{OpCode::kAtom, 0, 0}, {OpCode::kAtom, 1, 0}, {OpCode::kAtom, 2, 0},
               {OpCode::kAtom, 3, 0}, {OpCode::kOr, 4, 0}};
  size_t n = S().event_type(r.event_type).fields.size();
  r.atoms[3].field = static_cast<FieldIndex>(n);
  r.atoms[3].field_name = "Foo";
  Diagnostics d;
  EXPECT_TRUE(RefusedWith(r, DiagCode::kVerifyField, &d));
  EXPECT_EQ(OnlyMessage(d), "rule rule-x: atom 3: field index " + std::to_string(n) +
                                " (Foo) is outside process_creation, which has " + std::to_string(n) +
                                " fields");
  EXPECT_EQ(d.list()[0].where.rule_id, "rule-x");
}

TEST(VerifierTest, FieldNameMismatch) {
  Atom a = FieldAtom(AtomOp::kEquals, "process_creation", "Image", "x");
  a.field_name = "CommandLine";
  Diagnostics d;
  EXPECT_TRUE(RefusedWith(OneAtomRule(a), DiagCode::kVerifyFieldName, &d));
  EXPECT_NE(OnlyMessage(d).find("'CommandLine' in the rule but 'Image'"), std::string::npos)
      << OnlyMessage(d);
}

TEST(VerifierTest, AnyFieldOnlyWithTextOperators) {
  for (uint8_t op = 0; op < kAtomOpCount; ++op) {
    Atom a;
    a.op = static_cast<AtomOp>(op);
    a.field = kAnyField;
    a.value = op == static_cast<uint8_t>(AtomOp::kExists) || op == static_cast<uint8_t>(AtomOp::kNull)
                  ? ""
                  : (op == static_cast<uint8_t>(AtomOp::kCidr) ? "10.0.0.0/8" : "x");
    Rule r = OneAtomRule(a);
    if (op <= static_cast<uint8_t>(AtomOp::kRegex)) {
      EXPECT_TRUE(Accepted(r)) << int(op);
    } else {
      Diagnostics d;
      EXPECT_FALSE(VerifyRule(r, S(), d, {}));
      EXPECT_TRUE(d.HasCode(DiagCode::kVerifyField)) << int(op) << d.ToText();
    }
  }
}

TEST(VerifierTest, AnyFieldMustHaveNoName) {
  Atom a;
  a.op = AtomOp::kContains;
  a.field = kAnyField;
  a.field_name = "Image";
  a.value = "x";
  EXPECT_TRUE(RefusedWith(OneAtomRule(a), DiagCode::kVerifyFieldName));
}

TEST(VerifierTest, RefFieldChecked) {
  Atom a = FieldAtom(AtomOp::kFieldRef, "process_creation", "User", "");
  a.ref_field = FieldId("process_creation", "ParentUser");
  a.ref_field_name = "ParentUser";
  EXPECT_TRUE(Accepted(OneAtomRule(a)));

  Atom out = a;
  out.ref_field = 64;
  Diagnostics d;
  EXPECT_TRUE(RefusedWith(OneAtomRule(out), DiagCode::kVerifyField, &d));
  EXPECT_NE(OnlyMessage(d).find("ref_field index 64 (ParentUser)"), std::string::npos) << OnlyMessage(d);

  Atom renamed = a;
  renamed.ref_field_name = "User";
  EXPECT_TRUE(RefusedWith(OneAtomRule(renamed), DiagCode::kVerifyFieldName));

  Atom any = a;
  any.ref_field = kAnyField;
  EXPECT_TRUE(RefusedWith(OneAtomRule(any), DiagCode::kVerifyField));
}

TEST(VerifierTest, CidrOnlyOnIpFields) {
  Atom a = FieldAtom(AtomOp::kCidr, "network_connection", "DestinationHostname", "10.0.0.0/8");
  EXPECT_TRUE(RefusedWith(OneAtomRule(a, "network_connection"), DiagCode::kVerifyOperandType));
}

TEST(VerifierTest, NumbersOnlyOnIntegerFields) {
  for (AtomOp op : {AtomOp::kNumEq, AtomOp::kNumLt, AtomOp::kNumLte, AtomOp::kNumGt, AtomOp::kNumGte}) {
    Atom ok = FieldAtom(op, "process_creation", "ProcessId", "");
    EXPECT_TRUE(Accepted(OneAtomRule(ok)));
    Atom bad = FieldAtom(op, "process_creation", "Image", "");
    EXPECT_TRUE(RefusedWith(OneAtomRule(bad), DiagCode::kVerifyOperandType));
  }
}

TEST(VerifierTest, RegexFlagsOnlyOnRegex) {
  for (uint8_t flag : {kRegexI, kRegexM, kRegexS}) {
    Atom a = FieldAtom(AtomOp::kContains, "process_creation", "Image", "x");
    a.flags = flag;
    EXPECT_TRUE(RefusedWith(OneAtomRule(a), DiagCode::kVerifyOperandType));
  }
}

TEST(VerifierTest, CasedOnlyOnTextOperators) {
  Atom a = FieldAtom(AtomOp::kExists, "process_creation", "Image", "");
  a.flags = kCased;
  EXPECT_TRUE(RefusedWith(OneAtomRule(a), DiagCode::kVerifyOperandType));
  Atom n = FieldAtom(AtomOp::kNumEq, "process_creation", "ProcessId", "");
  n.flags = kCased;
  EXPECT_TRUE(RefusedWith(OneAtomRule(n), DiagCode::kVerifyOperandType));
}

TEST(VerifierTest, ValueLength) {
  Atom a = FieldAtom(AtomOp::kContains, "process_creation", "Image", std::string(kMaxValueBytes, 'a'));
  EXPECT_TRUE(Accepted(OneAtomRule(a)));
  a.value += 'a';
  EXPECT_TRUE(RefusedWith(OneAtomRule(a), DiagCode::kVerifyLimit));
}

TEST(VerifierTest, CidrMustParse) {
  for (const char* good : {"0.0.0.0/0", "192.168.1.0/24", "10.1.2.3/32", "::1/128", "2001:db8::/32"}) {
    EXPECT_TRUE(Accepted(OneAtomRule(FieldAtom(AtomOp::kCidr, "network_connection", "DestinationIp", good),
                                     "network_connection")))
        << good;
  }
  for (const char* bad : {"10.0.0.0", "10.0.0.0/33", "::/129", "10.0.0/8", "10.0.0.0/", "10.0.0.0/8x",
                          "10.0.0.0/-1", "10.0.0.0/0008", "host/8", "", "/8", "1.2.3.4 /8"}) {
    EXPECT_TRUE(RefusedWith(
        OneAtomRule(FieldAtom(AtomOp::kCidr, "network_connection", "DestinationIp", bad), "network_connection"),
        DiagCode::kVerifyValue))
        << bad;
  }
}

TEST(VerifierTest, GlobMustNotEndInsideAnEscape) {
  EXPECT_TRUE(Accepted(OneAtomRule(FieldAtom(AtomOp::kGlob, "process_creation", "Image", "a\\\\"))));
  EXPECT_TRUE(Accepted(OneAtomRule(FieldAtom(AtomOp::kGlob, "process_creation", "Image", "\\*"))));
  EXPECT_TRUE(RefusedWith(OneAtomRule(FieldAtom(AtomOp::kGlob, "process_creation", "Image", "a\\")),
                          DiagCode::kVerifyValue));
  EXPECT_TRUE(RefusedWith(OneAtomRule(FieldAtom(AtomOp::kGlob, "process_creation", "Image", "\\\\\\")),
                          DiagCode::kVerifyValue));
}

TEST(VerifierTest, RegexMustCompileAndIncludesRe2Error) {
  Diagnostics d;
  EXPECT_TRUE(RefusedWith(OneAtomRule(FieldAtom(AtomOp::kRegex, "process_creation", "Image", "(abc")),
                          DiagCode::kVerifyRegex, &d));
  EXPECT_NE(OnlyMessage(d).find("missing )"), std::string::npos) << OnlyMessage(d);
  // Backreferences are not in RE2's linear-time language.
  EXPECT_TRUE(RefusedWith(OneAtomRule(FieldAtom(AtomOp::kRegex, "process_creation", "Image", "(a)\\1")),
                          DiagCode::kVerifyRegex));
}

TEST(VerifierTest, RegexProgramSizeIsBounded) {
  // \pL (every Unicode letter) compiles to a large UTF-8 automaton: a few
  // copies fit in kMaxRegexProgramBytes, two hundred do not.
  EXPECT_TRUE(Accepted(OneAtomRule(FieldAtom(AtomOp::kRegex, "process_creation", "Image", "\\pL{2}"))));
  Diagnostics d;
  EXPECT_TRUE(RefusedWith(OneAtomRule(FieldAtom(AtomOp::kRegex, "process_creation", "Image", "\\pL{200}")),
                          DiagCode::kVerifyRegex, &d));
  EXPECT_NE(OnlyMessage(d).find("pattern too large"), std::string::npos) << OnlyMessage(d);
}

// The flags change what RE2 compiles, so each shows up in the program size
// (or, for kRegexM, in the compiled text).
TEST(VerifierTest, RegexFlagsAreApplied) {
  Atom a = FieldAtom(AtomOp::kRegex, "process_creation", "Image", "");
  // Case folding turns every 'k' into [kK\x{212a}]: fits without kRegexI, not with it.
  for (int i = 0; i < 20; ++i) a.value += "k{1000}";
  EXPECT_TRUE(Accepted(OneAtomRule(a)));
  a.flags = kRegexI;
  EXPECT_TRUE(RefusedWith(OneAtomRule(a), DiagCode::kVerifyRegex));
  // With kRegexS '.' is any byte sequence, which is smaller than [^\n].
  a.value.clear();
  for (int i = 0; i < 8; ++i) a.value += ".{1000}";
  a.flags = 0;
  EXPECT_TRUE(RefusedWith(OneAtomRule(a), DiagCode::kVerifyRegex));
  a.flags = kRegexS;
  EXPECT_TRUE(Accepted(OneAtomRule(a)));
  // kRegexM is a leading (?m), visible in RE2's error text.
  a.value = "(abc";
  a.flags = kRegexM;
  Diagnostics d;
  EXPECT_TRUE(RefusedWith(OneAtomRule(a), DiagCode::kVerifyRegex, &d));
  EXPECT_NE(OnlyMessage(d).find("(?m)(abc"), std::string::npos) << OnlyMessage(d);
}

// A ruleset's regexes share one compile budget (docs/verifier.md, "Regex
// budget"), so a bundle of thousands of expensive regexes is refused in about
// a second instead of keeping the verifier busy for hours.
Ruleset RegexRuleset(size_t rules, size_t atoms_per_rule, const std::string& pattern) {
  Ruleset rs = ValidRuleset();
  rs.rules.clear();
  for (size_t i = 0; i < rules; ++i) {
    Rule r = ValidRule("r-" + std::to_string(i));
    r.atoms.assign(atoms_per_rule, FieldAtom(AtomOp::kRegex, "process_creation", "Image", pattern));
    r.program.clear();
    for (uint32_t a = 0; a < atoms_per_rule; ++a) {
      r.program.push_back({OpCode::kAtom, a, 0});
      if (a > 0) r.program.push_back({OpCode::kOr, 2, 0});
    }
    rs.rules.push_back(std::move(r));
  }
  return rs;
}

size_t CountCode(const Diagnostics& d, DiagCode code) {
  size_t n = 0;
  for (const auto& x : d.list()) n += x.code == code ? 1 : 0;
  return n;
}

TEST(VerifierTest, RegexBudgetCoversTheRuleset) {
  // ~40k instructions each: ~100 fit in the budget, 150 do not, though every
  // rule alone is fine.
  Ruleset rs = RegexRuleset(150, 1, ".{1000}.{1000}.{1000}.{1000}.{1000}");
  EXPECT_TRUE(Accepted(rs.rules[0]));
  Diagnostics d;
  EXPECT_FALSE(Verify(rs, S(), d, {}));
  size_t refused = CountCode(d, DiagCode::kVerifyLimit);
  EXPECT_GT(refused, 20u) << d.ToText();
  EXPECT_LT(refused, 70u) << d.ToText();
  EXPECT_EQ(d.error_count(), refused);
  EXPECT_NE(d.list()[0].message.find("budget"), std::string::npos);
  EXPECT_EQ(CountCode(d, DiagCode::kVerifyRegex), 0u);
  Diagnostics fits;
  EXPECT_TRUE(Verify(RegexRuleset(90, 1, ".{1000}.{1000}.{1000}.{1000}.{1000}"), S(), fits, {})) << fits.ToText();
}

TEST(VerifierTest, RegexBudgetChargesTinyAndFailedRegexes) {
  // 65 536 one-letter regexes spend the budget at the minimum charge.
  Diagnostics d;
  EXPECT_FALSE(Verify(RegexRuleset(17, kMaxAtomsPerRule, "a"), S(), d, {}));
  EXPECT_TRUE(d.HasCode(DiagCode::kVerifyLimit));
  // A regex RE2 refuses at max_mem is charged as if it had filled it.
  Diagnostics f;
  EXPECT_FALSE(Verify(RegexRuleset(80, 1, "\\pL{200}"), S(), f, {}));
  EXPECT_EQ(CountCode(f, DiagCode::kVerifyRegex), 64u) << f.ToText();
  EXPECT_EQ(CountCode(f, DiagCode::kVerifyLimit), 16u);
}

TEST(VerifierTest, ExistsAndNullTakeNoValue) {
  for (AtomOp op : {AtomOp::kExists, AtomOp::kNull}) {
    EXPECT_TRUE(RefusedWith(OneAtomRule(FieldAtom(op, "process_creation", "Image", "x")),
                            DiagCode::kVerifyValue));
  }
}

// ---- program ------------------------------------------------------------------

Rule WithProgram(std::vector<Instr> program, size_t atoms = 1) {
  Rule r = ValidRule();
  r.atoms.assign(atoms, r.atoms[0]);
  r.program = std::move(program);
  return r;
}

TEST(VerifierTest, ProgramEmpty) { EXPECT_TRUE(RefusedWith(WithProgram({}), DiagCode::kVerifyProgram)); }

TEST(VerifierTest, ProgramTooLong) {
  std::vector<Instr> p = {{OpCode::kAtom, 0, 0}};
  while (p.size() < kMaxProgramLength) p.push_back({OpCode::kNot, 0, 0});
  EXPECT_TRUE(Accepted(WithProgram(p)));
  p.push_back({OpCode::kNot, 0, 0});
  EXPECT_TRUE(RefusedWith(WithProgram(p), DiagCode::kVerifyLimit));
}

TEST(VerifierTest, ProgramUnknownOpcode) {
  EXPECT_TRUE(RefusedWith(WithProgram({{OpCode::kAtom, 0, 0}, {static_cast<OpCode>(kOpCodeCount), 0, 0}}),
                          DiagCode::kVerifyProgram));
}

TEST(VerifierTest, ProgramAtomIndexOutOfRange) {
  Diagnostics d;
  EXPECT_TRUE(RefusedWith(WithProgram({{OpCode::kAtom, 1, 0}}), DiagCode::kVerifyProgram, &d));
  EXPECT_NE(OnlyMessage(d).find("instruction 0: atom 1 does not exist"), std::string::npos) << OnlyMessage(d);
}

TEST(VerifierTest, ProgramAndOrArity) {
  for (OpCode op : {OpCode::kAnd, OpCode::kOr}) {
    // Fewer than two operands.
    EXPECT_TRUE(RefusedWith(WithProgram({{OpCode::kAtom, 0, 0}, {op, 1, 0}}), DiagCode::kVerifyProgram));
    // More operands than the stack holds.
    EXPECT_TRUE(RefusedWith(WithProgram({{OpCode::kAtom, 0, 0}, {OpCode::kAtom, 0, 0}, {op, 3, 0}}),
                            DiagCode::kVerifyProgram));
    // A huge count must not wrap anything.
    EXPECT_TRUE(RefusedWith(WithProgram({{OpCode::kAtom, 0, 0}, {OpCode::kAtom, 0, 0}, {op, 0xffffffffu, 0}}),
                            DiagCode::kVerifyProgram));
  }
}

TEST(VerifierTest, ProgramNotNeedsAValue) {
  EXPECT_TRUE(RefusedWith(WithProgram({{OpCode::kNot, 0, 0}, {OpCode::kAtom, 0, 0}}), DiagCode::kVerifyProgram));
}

TEST(VerifierTest, ProgramAtLeastBounds) {
  std::vector<Instr> two = {{OpCode::kAtom, 0, 0}, {OpCode::kAtom, 0, 0}};
  auto with = [&](uint32_t a, uint32_t b) {
    std::vector<Instr> p = two;
    p.push_back({OpCode::kAtLeast, a, b});
    return WithProgram(p);
  };
  EXPECT_TRUE(Accepted(with(2, 1)));
  EXPECT_TRUE(Accepted(with(2, 2)));
  EXPECT_TRUE(RefusedWith(with(2, 0), DiagCode::kVerifyProgram));  // b < 1
  EXPECT_TRUE(RefusedWith(with(2, 3), DiagCode::kVerifyProgram));  // b > a
  EXPECT_TRUE(RefusedWith(with(3, 1), DiagCode::kVerifyProgram));  // a > depth
  EXPECT_TRUE(RefusedWith(with(0, 0), DiagCode::kVerifyProgram));
}

TEST(VerifierTest, ProgramStackDepthBounded) {
  std::vector<Instr> p(kMaxStackDepth, Instr{OpCode::kAtom, 0, 0});
  p.push_back({OpCode::kOr, static_cast<uint32_t>(kMaxStackDepth), 0});
  EXPECT_TRUE(Accepted(WithProgram(p)));
  p.back() = {OpCode::kAtom, 0, 0};
  p.push_back({OpCode::kOr, static_cast<uint32_t>(kMaxStackDepth + 1), 0});
  EXPECT_TRUE(RefusedWith(WithProgram(p), DiagCode::kVerifyLimit));
}

TEST(VerifierTest, ProgramMustLeaveExactlyOneValue) {
  EXPECT_TRUE(RefusedWith(WithProgram({{OpCode::kAtom, 0, 0}, {OpCode::kAtom, 0, 0}}), DiagCode::kVerifyProgram));
}

TEST(VerifierTest, UnusedAtomIsAWarning) {
  Rule r = WithProgram({{OpCode::kAtom, 0, 0}}, 2);
  Diagnostics d;
  EXPECT_TRUE(VerifyRule(r, S(), d, {}));
  ASSERT_EQ(d.list().size(), 1u);
  EXPECT_EQ(d.list()[0].severity, Severity::kWarning);
  EXPECT_EQ(d.list()[0].code, DiagCode::kVerifyProgram);
  EXPECT_NE(d.list()[0].message.find("atom 1"), std::string::npos);
}

// ---- blocking rules -------------------------------------------------------------

Rule Blocking(Rule r) {
  r.block = true;
  return r;
}

// `atoms` ORed, for event type `type`.
Rule AnyOf(const char* type, std::vector<Atom> atoms) {
  Rule r = OneAtomRule(atoms.at(0), type);
  r.atoms = std::move(atoms);
  r.program.clear();
  for (uint32_t i = 0; i < r.atoms.size(); ++i) r.program.push_back({OpCode::kAtom, i, 0});
  if (r.atoms.size() > 1) r.program.push_back({OpCode::kOr, static_cast<uint32_t>(r.atoms.size()), 0});
  return r;
}

Atom Keyword(std::string value) {
  Atom a;
  a.op = AtomOp::kContains;
  a.field = kAnyField;
  a.value = std::move(value);
  return a;
}

TEST(VerifierBlockingTest, ExecRuleWithCommandLineIsRefusedNamingRuleAndField) {
  Rule r = Blocking(ValidRule("blk-1"));  // CommandLine contains "curl"
  Diagnostics d;
  ASSERT_TRUE(RefusedWith(r, DiagCode::kVerifyBlockField, &d));
  const Diagnostic& x = d.list().at(0);
  EXPECT_EQ(x.where.rule_id, "blk-1");
  EXPECT_EQ(x.where.file, "test.yml");
  EXPECT_NE(x.message.find("rule blk-1"), std::string::npos) << x.message;
  EXPECT_NE(x.message.find("field 'CommandLine' (atom 0)"), std::string::npos) << x.message;
  EXPECT_NE(x.message.find("FAN_OPEN_EXEC_PERM"), std::string::npos) << x.message;
  EXPECT_NE(x.message.find("argv"), std::string::npos) << x.message;
  // The same rule as an alerting rule is fine.
  EXPECT_TRUE(Accepted(ValidRule("blk-1")));
}

TEST(VerifierBlockingTest, ExecRuleOnDecisionTimeFieldsIsAccepted) {
  const char* pc = "process_creation";
  Atom uid = FieldAtom(AtomOp::kNumEq, pc, "UserId", "");
  Atom gid = FieldAtom(AtomOp::kNumGte, pc, "GroupId", "");
  gid.number = 1000;
  Atom ref = FieldAtom(AtomOp::kFieldRef, pc, "Image", "");
  ref.ref_field = FieldId(pc, "ParentImage");
  ref.ref_field_name = "ParentImage";
  EXPECT_TRUE(Accepted(Blocking(AnyOf(pc, {
                                                 FieldAtom(AtomOp::kEndsWith, pc, "Image", "/evil"),
                                                 FieldAtom(AtomOp::kEndsWith, pc, "ParentImage", "/nginx"),
                                                 FieldAtom(AtomOp::kContains, pc, "ParentCommandLine", "-c"),
                                                 FieldAtom(AtomOp::kStartsWith, pc, "CurrentDirectory", "/tmp"),
                                                 FieldAtom(AtomOp::kEquals, pc, "User", "www-data"),
                                                 FieldAtom(AtomOp::kEquals, pc, "ParentUser", "root"),
                                                 FieldAtom(AtomOp::kExists, pc, "LogonId", ""),
                                                 FieldAtom(AtomOp::kNull, pc, "ParentProcessId", ""),
                                                 FieldAtom(AtomOp::kExists, pc, "ProcessId", ""),
                                                 uid,
                                                 gid,
                                                 ref,
                                             }))));
}

TEST(VerifierBlockingTest, EveryWayOfReadingCommandLineIsRefused) {
  const char* pc = "process_creation";
  // Negated, exists/null, regex, as a fieldref operand: any read of the field.
  Atom ref = FieldAtom(AtomOp::kFieldRef, pc, "ParentCommandLine", "");
  ref.ref_field = FieldId(pc, "CommandLine");
  ref.ref_field_name = "CommandLine";
  Rule negated = Blocking(OneAtomRule(FieldAtom(AtomOp::kContains, pc, "CommandLine", "x")));
  negated.program = {{OpCode::kAtom, 0, 0}, {OpCode::kNot, 0, 0}};
  for (const Rule& r : {negated, Blocking(OneAtomRule(FieldAtom(AtomOp::kNull, pc, "CommandLine", ""))),
                        Blocking(OneAtomRule(FieldAtom(AtomOp::kRegex, pc, "CommandLine", "a+"))),
                        Blocking(OneAtomRule(ref))}) {
    Diagnostics d;
    EXPECT_TRUE(RefusedWith(r, DiagCode::kVerifyBlockField, &d));
    EXPECT_NE(OnlyMessage(d).find("'CommandLine'"), std::string::npos) << d.ToText();
  }
}

TEST(VerifierBlockingTest, KeywordAtomsReadCommandLineAtExec) {
  const char* pc = "process_creation";
  Rule r = Blocking(AnyOf(pc, {FieldAtom(AtomOp::kEndsWith, pc, "Image", "/nc"), Keyword("nc -e"),
                               FieldAtom(AtomOp::kContains, pc, "CommandLine", "-e")}));
  Diagnostics d;
  ASSERT_TRUE(RefusedWith(r, DiagCode::kVerifyBlockField, &d));  // one diagnostic for the field, both atoms named
  EXPECT_NE(OnlyMessage(d).find("field 'CommandLine' (atoms 1 (keyword: every string field), 2)"), std::string::npos)
      << d.ToText();
}

TEST(VerifierBlockingTest, ManyAtomsOnTheFieldAreListedBounded) {
  const char* pc = "process_creation";
  std::vector<Atom> atoms;
  for (int i = 0; i < 20; ++i) atoms.push_back(FieldAtom(AtomOp::kContains, pc, "CommandLine", std::to_string(i)));
  Diagnostics d;
  ASSERT_TRUE(RefusedWith(Blocking(AnyOf(pc, atoms)), DiagCode::kVerifyBlockField, &d));
  EXPECT_NE(OnlyMessage(d).find("(atoms 0, 1, 2, 3, 4, 5, 6, 7, ... (20 atoms))"), std::string::npos) << d.ToText();
}

TEST(VerifierBlockingTest, OnlyExecAndOpenCanBlock) {
  for (const char* type : {"file_event", "process_termination", "file_change", "file_rename", "file_delete",
                           "network_connection"}) {
    Diagnostics d;
    EXPECT_TRUE(RefusedWith(Blocking(OneAtomRule(FieldAtom(AtomOp::kEndsWith, type, "Image", "/x"), type)),
                            DiagCode::kVerifyBlockEventType, &d))
        << type;
    EXPECT_NE(OnlyMessage(d).find(std::string(type) + " events are seen only after they happened"),
              std::string::npos)
        << d.ToText();
    EXPECT_NE(OnlyMessage(d).find("process_creation (FAN_OPEN_EXEC_PERM), file_access (FAN_OPEN_PERM)"),
              std::string::npos)
        << d.ToText();
    EXPECT_EQ(d.list().at(0).where.rule_id, "r-1");
  }
}

TEST(VerifierBlockingTest, OpenRuleMayUseEveryField) {
  const char* fa = "file_access";
  EXPECT_TRUE(Accepted(Blocking(AnyOf(fa, {
                                                 FieldAtom(AtomOp::kContains, fa, "CommandLine", "exfil"),
                                                 FieldAtom(AtomOp::kStartsWith, fa, "TargetFilename", "/etc/shadow"),
                                                 FieldAtom(AtomOp::kEndsWith, fa, "Image", "/cat"),
                                                 Keyword("secret"),
                                             }))));
}

TEST(VerifierBlockingTest, WholeRulesetIsRefused) {
  Ruleset rs = ValidRuleset();
  rs.rules[1].block = true;
  Diagnostics d;
  EXPECT_FALSE(Verify(rs, S(), d, {"b.vbundle", 0, ""}));
  EXPECT_EQ(ErrorCodes(d), std::vector<DiagCode>{DiagCode::kVerifyBlockField});
  EXPECT_EQ(d.list().at(0).where.rule_id, "r-2");
}

TEST(VerifierBlockingTest, NotCheckedWhenTheEventTypeIsAlreadyRefused) {
  Rule r = Blocking(ValidRule());
  r.event_type = 99;
  EXPECT_TRUE(RefusedWith(r, DiagCode::kVerifyEventType));
}

TEST(VerifierBlockingTest, StatusFormForPolicyBlocking) {
  // vigild checks rules its configuration makes blocking: rule.block is not consulted.
  Rule alerting = ValidRule("pol-1");
  Status s = CheckBlockingRule(alerting, S());
  EXPECT_EQ(s.code(), Code::kVerifyFailed);
  EXPECT_NE(s.message().find("VG512 block-field-unknown"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("rule pol-1"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("'CommandLine'"), std::string::npos) << s.message();

  Rule image = OneAtomRule(FieldAtom(AtomOp::kEndsWith, "process_creation", "Image", "/evil"));
  EXPECT_TRUE(CheckBlockingRule(image, S()).ok());

  Rule file_event = OneAtomRule(FieldAtom(AtomOp::kEndsWith, "file_event", "TargetFilename", "/x"), "file_event");
  Status fe = CheckBlockingRule(file_event, S());
  EXPECT_EQ(fe.code(), Code::kVerifyFailed);
  EXPECT_NE(fe.message().find("VG511 block-event-type"), std::string::npos) << fe.message();
}

TEST(VerifierBlockingTest, StandaloneCheckIsSafeOnUnverifiedRules) {
  Rule bad_type = ValidRule();
  bad_type.event_type = 4000;
  Diagnostics d1;
  EXPECT_FALSE(CheckBlockingRule(bad_type, S(), d1, {}));
  EXPECT_EQ(ErrorCodes(d1), std::vector<DiagCode>{DiagCode::kVerifyBlockEventType});

  Rule bad_field = OneAtomRule(FieldAtom(AtomOp::kEndsWith, "process_creation", "Image", "/x"));
  bad_field.atoms[0].field = 500;
  Diagnostics d2;
  EXPECT_FALSE(CheckBlockingRule(bad_field, S(), d2, {}));
  EXPECT_EQ(ErrorCodes(d2), std::vector<DiagCode>{DiagCode::kVerifyBlockField});
  EXPECT_NE(OnlyMessage(d2).find("fields outside process_creation (12 fields; index 500 first) have no value at exec "
                                 "permission time (atom 0)"),
            std::string::npos)
      << d2.ToText();

  Atom ref = FieldAtom(AtomOp::kFieldRef, "process_creation", "Image", "");
  ref.ref_field = kAnyField;
  Diagnostics d3;
  EXPECT_FALSE(CheckBlockingRule(OneAtomRule(ref), S(), d3, {}));
  EXPECT_EQ(ErrorCodes(d3), std::vector<DiagCode>{DiagCode::kVerifyBlockField});
}

// ---- reporting ----------------------------------------------------------------

TEST(VerifierTest, CollectsEveryProblem) {
  Rule r = ValidRule();
  r.title = std::string(kMaxTextBytes + 1, 't');
  r.atoms[0].field = 99;
  r.program.push_back({OpCode::kAtom, 0, 0});
  Diagnostics d;
  EXPECT_FALSE(VerifyRule(r, S(), d, {}));
  EXPECT_EQ(ErrorCodes(d),
            (std::vector<DiagCode>{DiagCode::kVerifyText, DiagCode::kVerifyField, DiagCode::kVerifyProgram}));
}

TEST(VerifierTest, HostileTextIsShownBoundedAndEscaped) {
  Rule r = ValidRule(std::string(5000, '\x1b'));
  r.atoms[0].field = 99;
  Diagnostics d;
  EXPECT_FALSE(VerifyRule(r, S(), d, {}));
  for (const auto& x : d.list()) {
    EXPECT_LT(x.message.size(), 800u);
    EXPECT_EQ(x.message.find('\x1b'), std::string::npos);
    EXPECT_LE(x.where.rule_id.size(), kMaxTextBytes);
  }
}

TEST(VerifierTest, LocationFileIsKept) {
  Rule r = ValidRule();
  r.atoms[0].field = 99;
  Diagnostics d;
  EXPECT_FALSE(VerifyRule(r, S(), d, {"rules/x.yml", 7, ""}));
  ASSERT_FALSE(d.list().empty());
  EXPECT_EQ(d.list()[0].where.file, "rules/x.yml");
  EXPECT_EQ(d.list()[0].where.line, 7);
  EXPECT_EQ(d.list()[0].where.rule_id, "r-1");
}

}  // namespace
}  // namespace vigil::content
