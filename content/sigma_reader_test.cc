#include "content/sigma_reader.h"

#include <gtest/gtest.h>

#include <string>

#include "content/compiler.h"

namespace vigil::content {
namespace {

constexpr std::string_view kRule = R"(title: Shell spawned by a web server
id: 6f4a3a8e-1b2c-4d5e-8f90-112233445566
status: experimental
level: high
tags:
  - attack.execution
  - attack.t1059.004
logsource:
  product: linux
  category: process_creation
detection:
  selection:
    ParentImage|endswith:
      - '/nginx'
      - '/httpd'
    Image: /bin/sh
    User: null
  alternatives:
    - CommandLine: 'a'
    - CommandLine: "b"
  keywords:
    - whoami
    - 42
  condition: selection or alternatives and not keywords
)";

TEST(SigmaReader, ReadsStructureWithLines) {
  Diagnostics diags;
  ReadResult r = ReadSigma(kRule, "web.yml", diags);
  ASSERT_EQ(r.rules.size(), 1u) << diags.ToText();
  EXPECT_EQ(r.rules_seen, 1u);
  EXPECT_EQ(r.rules_refused, 0u);
  EXPECT_TRUE(diags.list().empty()) << diags.ToText();
  const SigmaRule& rule = r.rules[0];
  EXPECT_EQ(rule.file, "web.yml");
  EXPECT_EQ(rule.line, 1);
  EXPECT_EQ(rule.id, "6f4a3a8e-1b2c-4d5e-8f90-112233445566");
  EXPECT_EQ(rule.title, "Shell spawned by a web server");
  EXPECT_EQ(rule.status, "experimental");
  ASSERT_TRUE(rule.level);
  EXPECT_EQ(rule.level->text, "high");
  EXPECT_EQ(rule.tags, (std::vector<std::string>{"attack.execution", "attack.t1059.004"}));
  ASSERT_TRUE(rule.product && rule.category);
  EXPECT_EQ(rule.product->text, "linux");
  EXPECT_EQ(rule.category->text, "process_creation");
  EXPECT_FALSE(rule.service);

  ASSERT_EQ(rule.selections.size(), 3u);
  const SigmaSelection& sel = rule.selections[0];
  EXPECT_EQ(sel.name, "selection");
  EXPECT_EQ(sel.line, 12);
  ASSERT_EQ(sel.kind, SigmaSelection::Kind::kMaps);
  ASSERT_EQ(sel.maps.size(), 1u);
  ASSERT_EQ(sel.maps[0].fields.size(), 3u);
  const SigmaFieldSpec& parent = sel.maps[0].fields[0];
  EXPECT_EQ(parent.key, "ParentImage|endswith");
  EXPECT_EQ(parent.line, 13);
  EXPECT_TRUE(parent.is_list);
  ASSERT_EQ(parent.values.size(), 2u);
  EXPECT_EQ(parent.values[0].text, "/nginx");
  EXPECT_FALSE(parent.values[0].plain);
  EXPECT_EQ(parent.values[1].line, 15);
  const SigmaFieldSpec& image = sel.maps[0].fields[1];
  EXPECT_FALSE(image.is_list);
  EXPECT_TRUE(image.values.at(0).plain);
  const SigmaFieldSpec& user = sel.maps[0].fields[2];
  ASSERT_EQ(user.values.size(), 1u);
  EXPECT_TRUE(user.values[0].is_null);

  const SigmaSelection& alt = rule.selections[1];
  EXPECT_EQ(alt.kind, SigmaSelection::Kind::kMaps);
  EXPECT_EQ(alt.maps.size(), 2u);
  const SigmaSelection& kw = rule.selections[2];
  ASSERT_EQ(kw.kind, SigmaSelection::Kind::kKeywords);
  ASSERT_EQ(kw.keywords.size(), 2u);
  EXPECT_EQ(kw.keywords[1].text, "42");

  ASSERT_EQ(rule.conditions.size(), 1u);
  EXPECT_EQ(rule.conditions[0].text, "selection or alternatives and not keywords");
  EXPECT_EQ(rule.conditions[0].line, 24);
}

TEST(SigmaReader, SeveralDocumentsAndEmptyOnes) {
  std::string text = std::string(kRule) + "---\n---\n" + std::string(kRule) + "...\n";
  Diagnostics diags;
  ReadResult r = ReadSigma(text, "two.yml", diags);
  EXPECT_EQ(r.rules.size(), 2u) << diags.ToText();
  EXPECT_EQ(r.rules_seen, 2u);
  EXPECT_EQ(r.rules.at(1).line, 27);
}

TEST(SigmaReader, QuotedNullIsText) {
  Diagnostics diags;
  ReadResult r = ReadSigma(
      "title: t\nid: i\nlogsource: {}\ndetection:\n  s:\n    A: 'null'\n    B: ~\n    C:\n  condition: s\n", "f.yml",
      diags);
  ASSERT_EQ(r.rules.size(), 1u) << diags.ToText();
  const auto& fields = r.rules[0].selections.at(0).maps.at(0).fields;
  ASSERT_EQ(fields.size(), 3u);
  EXPECT_FALSE(fields[0].values[0].is_null);
  EXPECT_EQ(fields[0].values[0].text, "null");
  EXPECT_TRUE(fields[1].values[0].is_null);
  EXPECT_TRUE(fields[2].values[0].is_null);
  EXPECT_EQ(fields[2].values[0].line, 8);  // the key's line, not the next token's
}

// Reads `text` and expects it refused with `code` (error) at `line` (0 = any).
void ExpectError(std::string_view text, DiagCode code, int line = 0) {
  Diagnostics diags;
  ReadResult r = ReadSigma(text, "bad.yml", diags);
  EXPECT_TRUE(r.rules.empty());
  ASSERT_TRUE(diags.HasCode(code)) << "expected " << DiagCodeString(code) << ", got:\n" << diags.ToText();
  for (const Diagnostic& d : diags.list()) {
    if (d.code != code) continue;
    EXPECT_EQ(d.severity, Severity::kError);
    EXPECT_EQ(d.where.file, "bad.yml");
    if (line != 0) {
      EXPECT_EQ(d.where.line, line) << Diagnostics::Format(d);
    }
  }
}

constexpr std::string_view kHead = "title: t\nid: i\nlogsource: {product: linux, category: process_creation}\n";

TEST(SigmaReaderErrors, Yaml) {
  ExpectError("title: [unclosed\n", DiagCode::kYamlSyntax);
  ExpectError("a: 1\n b: 2\n  - c\n", DiagCode::kYamlSyntax, 2);
  ExpectError("title: x\ntitle: y\nid: i\n", DiagCode::kBadValue, 2);
  ExpectError(std::string(kMaxRuleFileBytes + 1, '#'), DiagCode::kFileTooLarge);
}

TEST(SigmaReaderErrors, NotARule) {
  ExpectError("just text\n", DiagCode::kNotARule, 1);
  ExpectError("- a\n- b\n", DiagCode::kNotARule);
  ExpectError("name: value\nother: 1\n", DiagCode::kNotARule);
}

TEST(SigmaReaderErrors, MissingKeys) {
  ExpectError("id: i\nlogsource: {}\ndetection: {s: {A: 1}, condition: s}\n", DiagCode::kMissingKey);  // title
  ExpectError("title: t\nlogsource: {}\ndetection: {s: {A: 1}, condition: s}\n", DiagCode::kMissingKey);  // id
  ExpectError("title: t\nid: ''\nlogsource: {}\ndetection: {s: {A: 1}, condition: s}\n", DiagCode::kMissingKey);
  ExpectError("title: t\nid: i\ndetection: {s: {A: 1}, condition: s}\n", DiagCode::kMissingKey);  // logsource
  ExpectError(std::string(kHead), DiagCode::kMissingKey);                                       // detection
  ExpectError(std::string(kHead) + "detection: {s: {A: 1}}\n", DiagCode::kMissingKey);          // condition
  ExpectError(std::string(kHead) + "detection: {s: {A: 1}, condition: }\n", DiagCode::kMissingKey);
}

TEST(SigmaReaderErrors, BadShapes) {
  ExpectError("title: t\nid: [a, b]\nlogsource: {}\ndetection: {s: {A: 1}, condition: s}\n", DiagCode::kBadValue, 2);
  ExpectError(std::string(kHead) + "tags: attack\ndetection: {s: {A: 1}, condition: s}\n", DiagCode::kBadValue);
  ExpectError(std::string(kHead) + "detection: [a]\n", DiagCode::kBadValue);
  ExpectError(std::string(kHead) + "detection:\n  s:\n    A: {x: 1}\n  condition: s\n", DiagCode::kBadValue, 6);
  ExpectError(std::string(kHead) + "detection:\n  s:\n    A: [[1]]\n  condition: s\n", DiagCode::kBadValue);
  ExpectError(std::string(kHead) + "detection:\n  s:\n    - A: 1\n    - b\n  condition: s\n", DiagCode::kBadValue);
  ExpectError(std::string(kHead) + "detection:\n  s:\n    A: 1\n    A: 2\n  condition: s\n", DiagCode::kBadValue, 7);
  ExpectError(std::string(kHead) + "detection:\n  s: {A: 1}\n  s: {A: 2}\n  condition: s\n", DiagCode::kBadValue);
  ExpectError(std::string(kHead) + "detection:\n  s: {A: 1}\n  condition: [s, [x]]\n", DiagCode::kBadValue);
  ExpectError(std::string(kHead) + "detection:\n  ? [a]\n  : 1\n  condition: s\n", DiagCode::kBadValue);
}

TEST(SigmaReaderErrors, UnsupportedRuleKinds) {
  ExpectError("action: global\ntitle: t\nlogsource: {product: linux}\n---\nid: i\ndetection: {s: {A: 1}, "
              "condition: s}\n",
              DiagCode::kUnsupportedFeature, 1);
  ExpectError("title: t\nid: i\ncorrelation:\n  type: event_count\n  rules: [x]\n", DiagCode::kUnsupportedFeature, 3);
  ExpectError("title: t\nid: i\nlogsource: {}\nfilter:\n  rules: [x]\n  selection: {A: 1}\n  condition: selection\n",
              DiagCode::kUnsupportedFeature, 4);
}

TEST(SigmaReaderErrors, TextBounds) {
  ExpectError("title: " + std::string(kMaxTextBytes + 1, 't') + "\nid: i\nlogsource: {}\ndetection: {s: {A: 1}, "
              "condition: s}\n",
              DiagCode::kValueTooLong, 1);
  std::string tags = "tags:\n";
  for (size_t i = 0; i <= kMaxTagsPerRule; ++i) tags += "  - t" + std::to_string(i) + "\n";
  ExpectError(std::string(kHead) + tags + "detection: {s: {A: 1}, condition: s}\n", DiagCode::kTooComplex);
}

TEST(SigmaReaderErrors, AliasBombIsRefused) {
  // 10^6 leaves through aliases, in a file of a few hundred bytes.
  std::string text = std::string(kHead) + "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  std::string prev = "a";
  for (const char* name : {"b", "c", "d", "e", "f"}) {
    text += fmt::format("{}: &{} [", name, name);
    for (int i = 0; i < 10; ++i) text += fmt::format("{}*{}", i ? ", " : "", prev);
    text += "]\n";
    prev = name;
  }
  text += "detection: {s: {A: 1}, condition: s}\n";
  ExpectError(text, DiagCode::kYamlTooComplex, 1);
}

TEST(SigmaReaderErrors, CyclicAliasIsRefused) {
  Diagnostics diags;
  ReadResult r = ReadSigma(std::string(kHead) + "x: &a [*a]\ndetection: {s: {A: 1}, condition: s}\n", "bad.yml", diags);
  EXPECT_TRUE(r.rules.empty());
  // yaml-cpp either builds the cycle (refused by the walk) or rejects the alias.
  EXPECT_TRUE(diags.HasCode(DiagCode::kYamlTooComplex) || diags.HasCode(DiagCode::kYamlSyntax)) << diags.ToText();
}

TEST(SigmaReaderErrors, DeepNestingIsRefused) {
  ExpectError(std::string(kHead) + "x: " + std::string(100, '[') + std::string(100, ']') + "\n",
              DiagCode::kYamlTooComplex, 4);
  std::string block = std::string(kHead) + "x:\n";
  for (int i = 0; i < 100; ++i) block += std::string(2 * i + 2, ' ') + "-\n";
  ExpectError(block, DiagCode::kYamlTooComplex);
  // Brackets inside quotes and comments are text, not nesting.
  Diagnostics diags;
  ReadResult r = ReadSigma(std::string(kHead) + "description: '" + std::string(100, '[') + "' # " +
                               std::string(100, '{') + "\ndetection: {s: {A: \"[[[[[[\"}, condition: s}\n",
                           "ok.yml", diags);
  EXPECT_EQ(r.rules.size(), 1u) << diags.ToText();
}

// yaml-cpp 0.7's LoadAll loops forever on these (found by sigma_reader_fuzzer).
TEST(SigmaReaderErrors, InputsThatHangLoadAllTerminate) {
  for (std::string_view text : {",", ",a", ",o9\x16t ", "---\n,\n---\n,\n"}) {
    Diagnostics diags;
    ReadResult r = ReadSigma(text, "hang.yml", diags);
    EXPECT_TRUE(r.rules.empty());
  }
}

TEST(SigmaReaderErrors, SyntaxErrorLineInLaterDocument) {
  Diagnostics diags;
  ReadResult r = ReadSigma(std::string(kRule) + "---\ntitle: x\n  bad: [\n", "two.yml", diags);
  EXPECT_EQ(r.rules.size(), 1u);
  ASSERT_TRUE(diags.HasCode(DiagCode::kYamlSyntax)) << diags.ToText();
  EXPECT_GE(diags.list().at(0).where.line, 26) << diags.ToText();
}

// ---- vigil's own attributes -------------------------------------------------------

constexpr std::string_view kDetection = "detection:\n  s: {Image: /x}\n  condition: s\n";

TEST(SigmaReader, VigilActionIsReadWithItsLine) {
  Diagnostics diags;
  ReadResult r = ReadSigma(std::string(kHead) + "vigil:\n  action: block\n" + std::string(kDetection), "v.yml", diags);
  ASSERT_EQ(r.rules.size(), 1u) << diags.ToText();
  EXPECT_TRUE(diags.list().empty()) << diags.ToText();
  ASSERT_TRUE(r.rules[0].action);
  EXPECT_EQ(r.rules[0].action->text, "block");
  EXPECT_EQ(r.rules[0].action->line, 5);

  Diagnostics flow;
  r = ReadSigma(std::string(kHead) + "vigil: {action: alert}\n" + std::string(kDetection), "v.yml", flow);
  ASSERT_EQ(r.rules.size(), 1u) << flow.ToText();
  EXPECT_EQ(r.rules[0].action->text, "alert");

  Diagnostics none;
  r = ReadSigma(std::string(kHead) + "vigil: {}\n" + std::string(kDetection), "v.yml", none);
  ASSERT_EQ(r.rules.size(), 1u) << none.ToText();
  EXPECT_FALSE(r.rules[0].action);
  r = ReadSigma(std::string(kHead) + std::string(kDetection), "v.yml", none);
  ASSERT_EQ(r.rules.size(), 1u) << none.ToText();
  EXPECT_FALSE(r.rules[0].action);
}

TEST(SigmaReaderErrors, VigilAttributeShapes) {
  const std::string head(kHead), det(kDetection);
  ExpectError(head + "vigil: block\n" + det, DiagCode::kBadValue, 4);
  ExpectError(head + "vigil:\n" + det, DiagCode::kBadValue, 4);
  ExpectError(head + "vigil: [action, block]\n" + det, DiagCode::kBadValue, 4);
  ExpectError(head + "vigil:\n  action: block\n  mode: enforce\n" + det, DiagCode::kBadValue, 6);
  ExpectError(head + "vigil:\n  Action: block\n" + det, DiagCode::kBadValue, 5);
  ExpectError(head + "vigil:\n  action: [block]\n" + det, DiagCode::kBadValue, 5);
  ExpectError(head + "vigil:\n  action: {kind: block}\n" + det, DiagCode::kBadValue, 5);
  ExpectError(head + "vigil:\n  action:\n" + det, DiagCode::kBadValue, 5);
  ExpectError(head + "vigil:\n  action: block\n  action: alert\n" + det, DiagCode::kBadValue, 6);
  ExpectError(head + "vigil:\n  ? [a]\n  : block\n" + det, DiagCode::kBadValue, 5);
  ExpectError(head + "vigil: {action: block}\nvigil: {action: alert}\n" + det, DiagCode::kBadValue, 5);
  ExpectError(head + "vigil:\n  action: " + std::string(kMaxTextBytes + 1, 'b') + "\n" + det,
              DiagCode::kValueTooLong, 5);
}

TEST(SigmaReaderErrors, UnknownVigilAttributeIsNamed) {
  Diagnostics diags;
  ReadSigma(std::string(kHead) + "vigil:\n  kill: true\n" + std::string(kDetection), "v.yml", diags);
  ASSERT_EQ(diags.list().size(), 1u) << diags.ToText();
  EXPECT_EQ(Diagnostics::Format(diags.list()[0]),
            "v.yml:5: error VG106 bad-value [rule i]: unknown vigil attribute 'kill' (vigil knows: action)");
}

TEST(SigmaReaderErrors, LaterDocumentsStillRead) {
  std::string text = "title: broken\n---\n" + std::string(kRule);
  Diagnostics diags;
  ReadResult r = ReadSigma(text, "mixed.yml", diags);
  EXPECT_EQ(r.rules.size(), 1u);
  EXPECT_EQ(r.rules_seen, 2u);
  EXPECT_EQ(r.rules_refused, 1u);
  EXPECT_TRUE(diags.HasCode(DiagCode::kMissingKey));
}

}  // namespace
}  // namespace vigil::content
