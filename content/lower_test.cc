// Lowering: golden compiled conditions for small rules, every modifier, and
// every error the lowering stage reports, by code.
#include "content/lower.h"

#include <gtest/gtest.h>

#include <string>

#include "content/pretty.h"
#include "content/sigma_reader.h"
#include "content/verifier.h"

namespace vigil::content {
namespace {

struct Lowered {
  LowerOutcome outcome = LowerOutcome::kRefused;
  Rule rule;
  Diagnostics diags;
};

std::string RuleYaml(std::string_view detection, std::string_view category) {
  return fmt::format(
      "title: Test rule\nid: 0a1b2c3d-0000-4000-8000-000000000001\nlevel: high\n"
      "logsource:\n  product: linux\n  category: {}\ndetection:{}",
      category, detection);
}

Lowered Compile(std::string_view detection, std::string_view category = "process_creation") {
  Lowered out;
  ReadResult read = ReadSigma(RuleYaml(detection, category), "test.yml", out.diags);
  if (read.rules.size() != 1) {
    ADD_FAILURE() << "the reader refused the test rule:\n" << out.diags.ToText();
    return out;
  }
  LowerResult r = LowerRule(read.rules[0], Schema::Builtin(), out.diags);
  out.outcome = r.outcome;
  out.rule = std::move(r.rule);
  return out;
}

// The compiled condition of a rule that must compile and pass the verifier.
std::string Pretty(std::string_view detection, std::string_view category = "process_creation") {
  Lowered l = Compile(detection, category);
  if (l.outcome != LowerOutcome::kCompiled) {
    ADD_FAILURE() << "not compiled:\n" << l.diags.ToText();
    return "";
  }
  Diagnostics verify;
  EXPECT_TRUE(VerifyRule(l.rule, Schema::Builtin(), verify, {})) << verify.ToText();
  EXPECT_FALSE(l.diags.has_errors()) << l.diags.ToText();
  return PrettyCondition(l.rule);
}

// Asserts the rule is refused with `code` (among possibly others).
void ExpectRefused(std::string_view detection, DiagCode code, std::string_view category = "process_creation") {
  Lowered l = Compile(detection, category);
  EXPECT_EQ(l.outcome, LowerOutcome::kRefused) << PrettyCondition(l.rule);
  EXPECT_TRUE(l.diags.HasCode(code)) << "expected " << DiagCodeString(code) << ", got:\n" << l.diags.ToText();
  for (const Diagnostic& d : l.diags.list()) {
    if (d.code != code) continue;
    EXPECT_EQ(d.severity, Severity::kError);
    EXPECT_EQ(d.where.file, "test.yml");
    EXPECT_GT(d.where.line, 0) << Diagnostics::Format(d);
    EXPECT_EQ(d.where.rule_id, "0a1b2c3d-0000-4000-8000-000000000001");
  }
}

// ---------------------------------------------------------------------------
// Golden compiled conditions.

TEST(LowerGolden, EndsWith) {
  EXPECT_EQ(Pretty(R"(
  selection:
    Image|endswith: '/bash'
  condition: selection
)"),
            R"(Image endswith "/bash")");
}

TEST(LowerGolden, ValueListIsOr) {
  EXPECT_EQ(Pretty(R"(
  selection:
    Image|endswith:
      - '/bash'
      - '/sh'
  condition: selection
)"),
            R"(Image endswith "/bash" or Image endswith "/sh")");
}

TEST(LowerGolden, AllModifierIsAnd) {
  EXPECT_EQ(Pretty(R"(
  selection:
    CommandLine|contains|all:
      - 'curl'
      - '| sh'
  condition: selection
)"),
            R"(CommandLine contains "curl" and CommandLine contains "| sh")");
}

TEST(LowerGolden, MapIsAndSelectionAndNotFilter) {
  EXPECT_EQ(Pretty(R"(
  selection:
    Image|endswith: '/bash'
    CommandLine|contains: ' -i '
  filter:
    ParentImage|endswith:
      - '/sshd'
      - '/login'
  condition: selection and not filter
)"),
            R"(Image endswith "/bash" and CommandLine contains " -i " and not (ParentImage endswith "/sshd" or ParentImage endswith "/login"))");
}

TEST(LowerGolden, ListOfMapsIsOr) {
  EXPECT_EQ(Pretty(R"(
  selection:
    - Image|endswith: '/nc'
      CommandLine|contains: ' -e '
    - Image|endswith: '/ncat'
  condition: selection
)"),
            R"(Image endswith "/nc" and CommandLine contains " -e " or Image endswith "/ncat")");
}

TEST(LowerGolden, OneOfPatternAndNotOneOfFilters) {
  EXPECT_EQ(Pretty(R"(
  selection_img:
    Image|endswith: '/crontab'
  selection_cli:
    CommandLine|contains: ' -r'
  other:
    User: 'root'
  filter_main_a:
    ParentImage: '/usr/sbin/cron'
  filter_main_b:
    ParentImage: '/usr/bin/anacron'
  condition: 1 of selection_* and not 1 of filter_main_*
)"),
            R"((Image endswith "/crontab" or CommandLine contains " -r") and not (ParentImage == "/usr/sbin/cron" or ParentImage == "/usr/bin/anacron"))");
}

TEST(LowerGolden, AllOfPatternFlattens) {
  EXPECT_EQ(Pretty(R"(
  selection_img:
    Image|endswith: '/tar'
  selection_cli:
    CommandLine|contains|all:
      - '-c'
      - '/etc/shadow'
  condition: all of selection_*
)"),
            R"(Image endswith "/tar" and CommandLine contains "-c" and CommandLine contains "/etc/shadow")");
}

TEST(LowerGolden, TwoOfThreeIsAtLeast) {
  EXPECT_EQ(Pretty(R"(
  sel_a:
    CommandLine|contains: 'nmap'
  sel_b:
    CommandLine|contains: '-sS'
  sel_c:
    User: 'www-data'
  condition: 2 of sel_*
)"),
            R"(2 of (CommandLine contains "nmap", CommandLine contains "-sS", User == "www-data"))");
}

TEST(LowerGolden, OneOfThemAndAnyOf) {
  auto with_condition = [](std::string_view condition) {
    return fmt::format(R"(
  a:
    Image|endswith: '/a'
  b:
    Image|endswith: '/b'
  _helper:
    Image|endswith: '/helper'
  condition: {}
)",
                       condition);
  };
  // `them` leaves out selections named with a leading underscore, as pySigma does.
  EXPECT_EQ(Pretty(with_condition("1 of them")), R"(Image endswith "/a" or Image endswith "/b")");
  EXPECT_EQ(Pretty(with_condition("any of them and _helper")),
            R"((Image endswith "/a" or Image endswith "/b") and Image endswith "/helper")");
  EXPECT_EQ(Pretty(with_condition("all of them")), R"(Image endswith "/a" and Image endswith "/b")");
  EXPECT_EQ(Pretty(with_condition("1 of _h*")), R"(Image endswith "/helper")");
}

TEST(LowerGolden, Keywords) {
  EXPECT_EQ(Pretty(R"(
  keywords:
    - 'wget '
    - 'curl*--output'
  condition: keywords
)"),
            R"(* contains "wget " or * glob "*curl*--output*")");
}

TEST(LowerGolden, NullAndExists) {
  EXPECT_EQ(Pretty(R"(
  selection:
    ParentUser: null
    User|exists: false
    CurrentDirectory|exists: true
  condition: selection
)"),
            R"(null(ParentUser) and not exists(User) and exists(CurrentDirectory))");
}

TEST(LowerGolden, RegexIsCaseSensitiveUnlessI) {
  EXPECT_EQ(Pretty(R"(
  selection:
    CommandLine|re: '\s-O\s'
    ParentCommandLine|re|i|m: '^curl'
  condition: selection
)"),
            R"(CommandLine re "\\s-O\\s" and ParentCommandLine re_im "^curl")");
}

TEST(LowerGolden, CidrAndPortsOnNetworkConnection) {
  EXPECT_EQ(Pretty(R"(
  selection:
    DestinationPort:
      - 4444
      - '1337'
    Initiated: 'true'
  filter:
    DestinationIp|cidr:
      - '10.0.0.0/8'
      - 'fe80::/10'
      - '192.168.1.1'
  condition: selection and not filter
)",
                   "network_connection"),
            R"((DestinationPort == 4444 or DestinationPort == 1337) and Initiated == "true" and not (DestinationIp cidr "10.0.0.0/8" or DestinationIp cidr "fe80::/10" or DestinationIp cidr "192.168.1.1/32"))");
}

TEST(LowerGolden, NumericComparisons) {
  EXPECT_EQ(Pretty(R"(
  selection:
    LogonId: 0
    UserId|lt: 1000
    GroupId|gte: -5
    ProcessId|gt: 1
    ParentProcessId|lte: 2
  condition: selection
)"),
            R"(LogonId == 0 and UserId < 1000 and GroupId >= -5 and ProcessId > 1 and ParentProcessId <= 2)");
}

TEST(LowerGolden, WildcardsSimplifyOrBecomeGlobs) {
  EXPECT_EQ(Pretty(R"(
  selection:
    - Image: '/usr/bin/python3'
    - Image: '/usr/bin/python*'
    - Image: '*/python3'
    - Image: '*python*'
    - Image: '/usr/*/python?'
    - Image: '*'
    - CommandLine: 'a\*b\?c'
    - CommandLine: 'C:\\*'
    - CommandLine: 'x\y*z\\\*'
  condition: selection
)"),
            R"(Image == "/usr/bin/python3" or Image startswith "/usr/bin/python" or Image endswith "/python3" or )"
            R"(Image contains "python" or Image glob "/usr/*/python?" or exists(Image) or )"
            R"(CommandLine == "a*b?c" or CommandLine startswith "C:\\" or CommandLine glob "x\\\\y*z\\\\\\*")");
}

TEST(LowerGolden, CasedAndFieldRef) {
  EXPECT_EQ(Pretty(R"(
  selection:
    CommandLine|contains|cased: 'PowerShell'
    Image|fieldref: ParentImage
    User|cased: 'Root'
  condition: selection
)"),
            R"(CommandLine contains_cased "PowerShell" and Image == field(ParentImage) and User ==_cased "Root")");
}

TEST(LowerGolden, WindashExpandsLeadingDashes) {
  EXPECT_EQ(Pretty(R"(
  selection:
    CommandLine|windash|contains: '-e x-y'
  condition: selection
)"),
            R"(CommandLine contains "-e x-y" or CommandLine contains "/e x-y" or )"
            R"(CommandLine contains "\xe2\x80\x93e x-y" or CommandLine contains "\xe2\x80\x94e x-y" or )"
            R"(CommandLine contains "\xe2\x80\x95e x-y")");
}

TEST(LowerGolden, Base64AndBase64Offset) {
  // The three base64offset fragments of "http" are the ones pySigma produces.
  EXPECT_EQ(Pretty(R"(
  selection:
    CommandLine|base64offset|contains: 'http'
  condition: selection
)"),
            R"(CommandLine contains "aHR0c" or CommandLine contains "h0dH" or CommandLine contains "odHRw")");
  EXPECT_EQ(Pretty(R"(
  selection:
    CommandLine|base64|contains: 'http'
    ParentCommandLine|base64: 'ab'
  condition: selection
)"),
            R"(CommandLine contains "aHR0cA==" and ParentCommandLine == "YWI=")");
  // Fragments only make sense as substrings: base64offset alone means contains.
  EXPECT_EQ(Pretty(R"(
  selection:
    CommandLine|base64offset: 'http'
  condition: selection
)"),
            R"(CommandLine contains "aHR0c" or CommandLine contains "h0dH" or CommandLine contains "odHRw")");
}

TEST(LowerGolden, ConditionListIsOrAndParentheses) {
  EXPECT_EQ(Pretty(R"(
  a:
    Image|endswith: '/a'
  b:
    Image|endswith: '/b'
  c:
    User: 'root'
  d:
    User: 'admin'
  condition:
    - (a or b) and not (c or d)
    - not not c
)"),
            R"((Image endswith "/a" or Image endswith "/b") and not (User == "root" or User == "admin") or )"
            R"(not not User == "root")");
}

TEST(LowerGolden, TextValuesOfOtherTypes) {
  EXPECT_EQ(Pretty(R"(
  selection:
    CommandLine: 123
    ParentCommandLine: true
    LogonId: 'abc'
    UserId: '10*'
  condition: selection
)"),
            R"(CommandLine == "123" and ParentCommandLine == "true" and LogonId == "abc" and UserId startswith "10")");
}

TEST(LowerGolden, FileEventTargetFilename) {
  EXPECT_EQ(Pretty(R"(
  selection:
    TargetFilename|startswith: '/etc/cron.d/'
  condition: selection
)",
                   "file_event"),
            R"(TargetFilename startswith "/etc/cron.d/")");
}

// ---------------------------------------------------------------------------
// Structure of the compiled rule.

TEST(Lower, AtomsAreDeduplicatedAndOrderedByFirstUse) {
  Lowered l = Compile(R"(
  a:
    Image|endswith: '/bash'
  b:
    Image|endswith: '/bash'
    User: 'root'
  unused:
    User: 'nobody'
  condition: a or b or a
)");
  ASSERT_EQ(l.outcome, LowerOutcome::kCompiled) << l.diags.ToText();
  ASSERT_EQ(l.rule.atoms.size(), 2u);  // `unused` contributes nothing
  EXPECT_EQ(PrettyAtom(l.rule.atoms[0]), R"(Image endswith "/bash")");
  EXPECT_EQ(PrettyAtom(l.rule.atoms[1]), R"(User == "root")");
  const std::vector<Instr> expected = {{OpCode::kAtom, 0, 0}, {OpCode::kAtom, 0, 0}, {OpCode::kAtom, 1, 0},
                                       {OpCode::kAnd, 2, 0},  {OpCode::kAtom, 0, 0}, {OpCode::kOr, 3, 0}};
  EXPECT_EQ(l.rule.program, expected);
}

TEST(Lower, MetadataAndSource) {
  Lowered l = Compile(R"(
  selection:
    Image: '/bin/true'
  condition: selection
)");
  ASSERT_EQ(l.outcome, LowerOutcome::kCompiled);
  EXPECT_EQ(l.rule.id, "0a1b2c3d-0000-4000-8000-000000000001");
  EXPECT_EQ(l.rule.title, "Test rule");
  EXPECT_EQ(l.rule.level, Level::kHigh);
  EXPECT_EQ(l.rule.source, "test.yml:1");
  EXPECT_EQ(l.rule.event_type_name, "process_creation");
  EXPECT_EQ(l.rule.event_type, *Schema::Builtin().FindEventType("process_creation"));
  const Atom& a = l.rule.atoms.at(0);
  EXPECT_EQ(a.field, *Schema::Builtin().FindField(l.rule.event_type, "Image"));
  EXPECT_EQ(a.field_name, "Image");
}

// A rule with `vigil_block` (a YAML `vigil:` map, or empty) after the title.
LowerResult LowerWithVigil(std::string_view vigil_block, Diagnostics& diags) {
  std::string text = fmt::format(
      "title: Test rule\nid: 0a1b2c3d-0000-4000-8000-000000000001\n{}logsource:\n  product: linux\n"
      "  category: process_creation\ndetection:\n  s:\n    Image|endswith: /evil\n  condition: s\nlevel: high\n",
      vigil_block);
  ReadResult read = ReadSigma(text, "test.yml", diags);
  if (read.rules.size() != 1) {
    ADD_FAILURE() << "the reader refused the test rule:\n" << diags.ToText();
    return {};
  }
  return LowerRule(read.rules[0], Schema::Builtin(), diags);
}

TEST(Lower, VigilActionSetsBlock) {
  for (auto [yaml, block] : {std::pair<std::string_view, bool>{"", false},
                             {"vigil: {}\n", false},
                             {"vigil: {action: alert}\n", false},
                             {"vigil: {action: block}\n", true},
                             {"vigil:\n  action: 'block'\n", true}}) {
    Diagnostics diags;
    LowerResult r = LowerWithVigil(yaml, diags);
    ASSERT_EQ(r.outcome, LowerOutcome::kCompiled) << yaml << diags.ToText();
    EXPECT_EQ(r.rule.block, block) << yaml;
    EXPECT_EQ(RuleActionName(r.rule), block ? "block" : "alert");
    EXPECT_EQ(PrettyCondition(r.rule), R"(Image endswith "/evil")");
  }
}

TEST(LowerErrors, UnknownVigilActionNamesItsLine) {
  for (std::string_view value : {"deny", "Block", "BLOCK", "true", "''"}) {
    Diagnostics diags;
    LowerResult r = LowerWithVigil(fmt::format("vigil:\n  action: {}\n", value), diags);
    EXPECT_EQ(r.outcome, LowerOutcome::kRefused) << value;
    ASSERT_EQ(diags.list().size(), 1u) << diags.ToText();
    const Diagnostic& d = diags.list()[0];
    EXPECT_EQ(d.code, DiagCode::kBadValue);
    EXPECT_EQ(d.severity, Severity::kError);
    EXPECT_EQ(d.where.file, "test.yml");
    EXPECT_EQ(d.where.line, 4);
    EXPECT_EQ(d.where.rule_id, "0a1b2c3d-0000-4000-8000-000000000001");
    EXPECT_NE(d.message.find("unknown vigil.action"), std::string::npos) << d.message;
    EXPECT_NE(d.message.find("(alert or block)"), std::string::npos) << d.message;
  }
}

TEST(Lower, KeywordAtomsUseAnyField) {
  Lowered l = Compile(R"(
  keywords: 'nc -e'
  condition: keywords
)");
  ASSERT_EQ(l.outcome, LowerOutcome::kCompiled);
  ASSERT_EQ(l.rule.atoms.size(), 1u);
  EXPECT_EQ(l.rule.atoms[0].field, kAnyField);
  EXPECT_EQ(l.rule.atoms[0].field_name, "");
  EXPECT_EQ(l.rule.atoms[0].op, AtomOp::kContains);
}

TEST(Lower, GlobEscapesLiteralBackslash) {
  Lowered l = Compile(R"(
  selection:
    CommandLine: 'a\b*c'
  condition: selection
)");
  ASSERT_EQ(l.outcome, LowerOutcome::kCompiled);
  EXPECT_EQ(l.rule.atoms[0].op, AtomOp::kGlob);
  EXPECT_EQ(l.rule.atoms[0].value, "a\\\\b*c");  // IR glob: "\\" is one literal backslash
}

TEST(Lower, WideSelectionsStayWithinTheStackBound) {
  std::string values;
  for (int i = 0; i < 1000; ++i) values += fmt::format("      - 'value{}'\n", i);
  Lowered l = Compile("\n  selection:\n    CommandLine|contains:\n" + values + "  condition: selection\n");
  ASSERT_EQ(l.outcome, LowerOutcome::kCompiled) << l.diags.ToText();
  EXPECT_EQ(l.rule.atoms.size(), 1000u);
  Diagnostics verify;
  EXPECT_TRUE(VerifyRule(l.rule, Schema::Builtin(), verify, {})) << verify.ToText();
}

TEST(Lower, LevelDefaultsToMediumWithWarning) {
  Diagnostics diags;
  std::string yaml =
      "title: T\nid: x-1\nlevel: urgent\nlogsource: {product: linux, category: process_creation}\n"
      "detection: {s: {Image: /x}, condition: s}\n";
  ReadResult read = ReadSigma(yaml, "t.yml", diags);
  ASSERT_EQ(read.rules.size(), 1u);
  LowerResult r = LowerRule(read.rules[0], Schema::Builtin(), diags);
  ASSERT_EQ(r.outcome, LowerOutcome::kCompiled);
  EXPECT_EQ(r.rule.level, Level::kMedium);
  EXPECT_TRUE(diags.HasCode(DiagCode::kBadValue));
  EXPECT_FALSE(diags.has_errors());

  Diagnostics missing;
  yaml = "title: T\nid: x-1\nlogsource: {product: linux, category: process_creation}\n"
         "detection: {s: {Image: /x}, condition: s}\n";
  read = ReadSigma(yaml, "t.yml", missing);
  r = LowerRule(read.rules.at(0), Schema::Builtin(), missing);
  EXPECT_EQ(r.rule.level, Level::kMedium);
  EXPECT_TRUE(missing.HasCode(DiagCode::kMissingKey));
  EXPECT_FALSE(missing.has_errors());
}

// ---------------------------------------------------------------------------
// Logsources vigil does not supply are skipped with a warning.

void ExpectSkipped(std::string_view logsource) {
  Diagnostics diags;
  std::string yaml = fmt::format("title: T\nid: x-1\nlogsource:\n{}detection:\n  s:\n    Image: /x\n  condition: s\n",
                                 logsource);
  ReadResult read = ReadSigma(yaml, "t.yml", diags);
  ASSERT_EQ(read.rules.size(), 1u) << diags.ToText();
  LowerResult r = LowerRule(read.rules[0], Schema::Builtin(), diags);
  EXPECT_EQ(r.outcome, LowerOutcome::kSkipped) << logsource;
  EXPECT_TRUE(diags.HasCode(DiagCode::kUnsupportedLogsource)) << diags.ToText();
  EXPECT_FALSE(diags.has_errors()) << diags.ToText();
}

TEST(Lower, UnsupportedLogsourcesAreSkipped) {
  ExpectSkipped("  product: linux\n  service: auditd\n");
  ExpectSkipped("  product: windows\n  category: process_creation\n");
  ExpectSkipped("  product: linux\n");
  ExpectSkipped("  category: process_creation\n");
  ExpectSkipped("  product: linux\n  category: dns_query\n");
}

// ---------------------------------------------------------------------------
// Errors, by code.

TEST(LowerErrors, UnknownFieldNamesRuleFieldTypeFileAndLine) {
  Lowered l = Compile(R"(
  selection:
    Image|endswith: '/bash'
    TargetFilename|endswith: '.so'
  condition: selection
)");
  EXPECT_EQ(l.outcome, LowerOutcome::kRefused);
  ASSERT_TRUE(l.diags.HasCode(DiagCode::kUnknownField)) << l.diags.ToText();
  const Diagnostic& d = l.diags.list().at(0);
  EXPECT_EQ(d.code, DiagCode::kUnknownField);
  EXPECT_EQ(d.where.file, "test.yml");
  EXPECT_EQ(d.where.line, 10);
  EXPECT_EQ(d.where.rule_id, "0a1b2c3d-0000-4000-8000-000000000001");
  EXPECT_NE(d.message.find("'TargetFilename'"), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("process_creation"), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("Test rule"), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("file_event"), std::string::npos) << "hint where the field exists: " << d.message;
}

TEST(LowerErrors, UnknownFieldSuggestsCase) {
  Lowered l = Compile("\n  s:\n    commandline: x\n  condition: s\n");
  ASSERT_TRUE(l.diags.HasCode(DiagCode::kUnknownField));
  EXPECT_NE(l.diags.list()[0].message.find("did you mean 'CommandLine'"), std::string::npos);
}

TEST(LowerErrors, Modifiers) {
  ExpectRefused("\n  s:\n    Image|foo: x\n  condition: s\n", DiagCode::kUnknownModifier);
  ExpectRefused("\n  s:\n    Image|wide|base64: x\n  condition: s\n", DiagCode::kUnsupportedFeature);
  ExpectRefused("\n  s:\n    Image|expand: '%x%'\n  condition: s\n", DiagCode::kUnsupportedFeature);
  ExpectRefused("\n  s:\n    Image|contains|startswith: x\n  condition: s\n", DiagCode::kModifierConflict);
  ExpectRefused("\n  s:\n    Image|re|contains: x\n  condition: s\n", DiagCode::kModifierConflict);
  ExpectRefused("\n  s:\n    Image|contains|i: x\n  condition: s\n", DiagCode::kModifierConflict);
  ExpectRefused("\n  s:\n    Image|re|cased: x\n  condition: s\n", DiagCode::kModifierConflict);
  ExpectRefused("\n  s:\n    Image|contains|contains: x\n  condition: s\n", DiagCode::kModifierConflict);
  ExpectRefused("\n  s:\n    Image|re|cidr: x\n  condition: s\n", DiagCode::kModifierConflict);
  ExpectRefused("\n  s:\n    Image|base64|base64offset: x\n  condition: s\n", DiagCode::kModifierConflict);
  ExpectRefused("\n  s:\n    Image|contains|base64: x\n  condition: s\n", DiagCode::kModifierConflict);
  ExpectRefused("\n  s:\n    Image|base64: 'x*'\n  condition: s\n", DiagCode::kBadValue);
  ExpectRefused("\n  s:\n    Image|exists: maybe\n  condition: s\n", DiagCode::kBadValue);
  ExpectRefused("\n  s:\n    Image|contains: null\n  condition: s\n", DiagCode::kBadValue);
  ExpectRefused("\n  s:\n    '|contains': x\n  condition: s\n", DiagCode::kBadValue);
}

TEST(LowerErrors, OperandsAndTypes) {
  ExpectRefused("\n  s:\n    CommandLine|re: '(?<=x)y'\n  condition: s\n", DiagCode::kBadRegex);
  ExpectRefused("\n  s:\n    DestinationIp|cidr: '10.0.0.0/33'\n  condition: s\n", DiagCode::kBadCidr,
                "network_connection");
  ExpectRefused("\n  s:\n    DestinationIp|cidr: 'example.com/8'\n  condition: s\n", DiagCode::kBadCidr,
                "network_connection");
  ExpectRefused("\n  s:\n    Image|cidr: '10.0.0.0/8'\n  condition: s\n", DiagCode::kTypeMismatch);
  ExpectRefused("\n  s:\n    Image|lt: 5\n  condition: s\n", DiagCode::kTypeMismatch);
  ExpectRefused("\n  s:\n    UserId|gt: many\n  condition: s\n", DiagCode::kBadNumber);
  ExpectRefused("\n  s:\n    UserId|gt: 99999999999999999999\n  condition: s\n", DiagCode::kBadNumber);
  ExpectRefused("\n  s:\n    Image|fieldref: UserId\n  condition: s\n", DiagCode::kTypeMismatch);
  ExpectRefused("\n  s:\n    Image|fieldref: NoSuchField\n  condition: s\n", DiagCode::kUnknownField);
  ExpectRefused("\n  s:\n    Image: '" + std::string(kMaxValueBytes + 1, 'a') + "'\n  condition: s\n",
                DiagCode::kValueTooLong);
  ExpectRefused("\n  s:\n    Image|base64: '" + std::string(kMaxValueBytes, 'a') + "'\n  condition: s\n",
                DiagCode::kValueTooLong);
}

TEST(LowerErrors, EmptySelections) {
  ExpectRefused("\n  s: []\n  condition: s\n", DiagCode::kEmptySelection);
  ExpectRefused("\n  s: {}\n  condition: s\n", DiagCode::kEmptySelection);
  ExpectRefused("\n  s:\n  condition: s\n", DiagCode::kEmptySelection);
  ExpectRefused("\n  s:\n    Image: []\n  condition: s\n", DiagCode::kEmptySelection);
  ExpectRefused("\n  s:\n    - {}\n  condition: s\n", DiagCode::kEmptySelection);
  ExpectRefused("\n  keywords:\n    - null\n  condition: keywords\n", DiagCode::kBadValue);
  ExpectRefused("\n  keywords:\n    - '*'\n  condition: keywords\n", DiagCode::kBadValue);
}

TEST(LowerErrors, Condition) {
  ExpectRefused("\n  s:\n    Image: x\n  condition: s and t\n", DiagCode::kUndefinedIdentifier);
  ExpectRefused("\n  s:\n    Image: x\n  condition: 1 of filter_*\n", DiagCode::kNoMatchingSelection);
  ExpectRefused("\n  s1:\n    Image: x\n  s2:\n    Image: y\n  condition: 3 of s*\n",
                DiagCode::kNoMatchingSelection);
  ExpectRefused("\n  s:\n    Image: x\n  condition: s and\n", DiagCode::kConditionSyntax);
  ExpectRefused("\n  s:\n    Image: x\n  condition: s | count() > 5\n", DiagCode::kUnsupportedFeature);
  ExpectRefused("\n  s:\n    Image: x\n  condition: s near t\n", DiagCode::kUnsupportedFeature);
  ExpectRefused("\n  s:\n    Image: x\n  timeframe: 5m\n  condition: s\n", DiagCode::kUnsupportedFeature);
}

TEST(LowerErrors, Bounds) {
  // Six dashes under windash expand to 5^6 = 15625 variants.
  ExpectRefused("\n  s:\n    CommandLine|windash: '-a -b -c -d -e -f'\n  condition: s\n", DiagCode::kTooComplex);
  std::string values;
  for (size_t i = 0; i <= kMaxAtomsPerRule; ++i) values += fmt::format("      - 'v{}'\n", i);
  ExpectRefused("\n  s:\n    CommandLine:\n" + values + "  condition: s\n", DiagCode::kTooComplex);
  // A condition that references a big selection many times expands past the node budget.
  std::string big;
  for (int i = 0; i < 2000; ++i) big += fmt::format("      - 'v{}'\n", i);
  std::string cond = "s";
  for (int i = 0; i < 40; ++i) cond += " and s";
  ExpectRefused("\n  s:\n    CommandLine:\n" + big + "  condition: " + cond + "\n", DiagCode::kTooComplex);
}

}  // namespace
}  // namespace vigil::content
