#include "content/compiler.h"

#include <gtest/gtest.h>

#include <string>

#include "content/pretty.h"
#include "content/verifier.h"

namespace vigil::content {
namespace {

std::string Rule(std::string_view id, std::string_view detection, std::string_view logsource =
                                                                      "{product: linux, category: process_creation}") {
  return fmt::format("title: Rule {}\nid: {}\nlevel: low\nlogsource: {}\ndetection:\n{}", id, id, logsource,
                     detection);
}

constexpr std::string_view kShell = "  s:\n    Image|endswith: /sh\n  condition: s\n";

void ExpectAccounted(const CompileStats& s) {
  EXPECT_EQ(s.rules_seen, s.rules_compiled + s.rules_skipped + s.rules_refused);
}

TEST(Compiler, CompilesVerifiesAndFillsInfo) {
  Compiler c(Schema::Builtin());
  c.AddFile(Rule("r-1", kShell) + "---\n" + Rule("r-2", "  k: [nc]\n  condition: k\n"), "a.yml");
  RulesetInfo info;
  info.content_version = 42;
  info.channel = "canary";
  Ruleset rs = c.Finish(info);
  ASSERT_EQ(rs.rules.size(), 2u) << c.diagnostics().ToText();
  EXPECT_FALSE(c.diagnostics().has_errors());
  EXPECT_EQ(rs.info.schema_version, Schema::Builtin().version());
  EXPECT_EQ(rs.info.schema_hash, Schema::Builtin().hash());
  EXPECT_EQ(rs.info.content_version, 42u);
  EXPECT_EQ(rs.info.channel, "canary");
  EXPECT_EQ(rs.rules[0].source, "a.yml:1");
  EXPECT_EQ(rs.rules[1].source, "a.yml:10");
  EXPECT_EQ(PrettyCondition(rs.rules[0]), R"(Image endswith "/sh")");
  EXPECT_EQ(c.stats().rules_seen, 2u);
  EXPECT_EQ(c.stats().rules_compiled, 2u);
  ExpectAccounted(c.stats());
  Diagnostics d;
  EXPECT_TRUE(Verify(rs, Schema::Builtin(), d, {})) << d.ToText();
}

TEST(Compiler, OneBadRuleDoesNotStopTheOthers) {
  Compiler c(Schema::Builtin());
  c.AddFile(Rule("bad", "  s:\n    NoSuchField: x\n  condition: s\n") + "---\n" + Rule("good", kShell), "mixed.yml");
  c.AddFile(Rule("skipped", kShell, "{product: linux, service: auditd}"), "auditd.yml");
  c.AddFile("title: [", "broken.yml");
  Ruleset rs = c.Finish({});
  ASSERT_EQ(rs.rules.size(), 1u);
  EXPECT_EQ(rs.rules[0].id, "good");
  const CompileStats& s = c.stats();
  EXPECT_EQ(s.rules_seen, 3u);  // the broken file holds no readable document
  EXPECT_EQ(s.rules_compiled, 1u);
  EXPECT_EQ(s.rules_skipped, 1u);
  EXPECT_EQ(s.rules_refused, 1u);
  ExpectAccounted(s);
  EXPECT_TRUE(c.diagnostics().HasCode(DiagCode::kUnknownField));
  EXPECT_TRUE(c.diagnostics().HasCode(DiagCode::kUnsupportedLogsource));
  EXPECT_TRUE(c.diagnostics().HasCode(DiagCode::kYamlSyntax));
}

TEST(Compiler, DuplicateIdsKeepTheFirst) {
  Compiler c(Schema::Builtin());
  c.AddFile(Rule("same", kShell), "first.yml");
  c.AddFile(Rule("same", "  s:\n    Image|endswith: /bash\n  condition: s\n"), "second.yml");
  Ruleset rs = c.Finish({});
  ASSERT_EQ(rs.rules.size(), 1u);
  EXPECT_EQ(rs.rules[0].source, "first.yml:1");
  ASSERT_TRUE(c.diagnostics().HasCode(DiagCode::kDuplicateRuleId));
  const Diagnostic& d = c.diagnostics().list().back();
  EXPECT_EQ(d.code, DiagCode::kDuplicateRuleId);
  EXPECT_EQ(d.where.file, "second.yml");
  EXPECT_EQ(d.where.line, 1);
  EXPECT_NE(d.message.find("first.yml:1"), std::string::npos) << d.message;
  EXPECT_EQ(c.stats().rules_refused, 1u);
  ExpectAccounted(c.stats());
}

TEST(Compiler, VerifierRefusalDropsTheRule) {
  // The reader and lowering never look at the file name; the verifier bounds
  // Rule::source, so an absurd path is the one thing only it refuses.
  Compiler c(Schema::Builtin());
  c.AddFile(Rule("long-path", kShell), std::string(kMaxTextBytes, 'p') + ".yml");
  c.AddFile(Rule("ok", kShell), "ok.yml");
  Ruleset rs = c.Finish({});
  ASSERT_EQ(rs.rules.size(), 1u);
  EXPECT_EQ(rs.rules[0].id, "ok");
  EXPECT_TRUE(c.diagnostics().HasCode(DiagCode::kVerifyText)) << c.diagnostics().ToText();
  EXPECT_EQ(c.stats().rules_refused, 1u);
  ExpectAccounted(c.stats());
}

TEST(Compiler, FileBoundsAndEmptyFiles) {
  Compiler c(Schema::Builtin());
  c.AddFile(std::string(kMaxRuleFileBytes + 1, ' '), "huge.yml");
  c.AddFile("# only a comment\n", "empty.yml");
  Ruleset rs = c.Finish({});
  EXPECT_TRUE(rs.rules.empty());
  EXPECT_TRUE(c.diagnostics().HasCode(DiagCode::kFileTooLarge));
  ASSERT_TRUE(c.diagnostics().HasCode(DiagCode::kNoRules));
  EXPECT_EQ(c.diagnostics().list().back().severity, Severity::kWarning);
}

// Blocking rules go through the verifier's decision-time check like any other
// verifier rule: refused ones are dropped with their diagnostic, located at
// the rule's document.
TEST(Compiler, BlockingRulesAreCheckedForDecisionTime) {
  const std::string block = "vigil: {action: block}\n";
  const std::string cmdline = "  s:\n    Image|endswith: /curl\n    CommandLine|contains: '| sh'\n  condition: s\n";
  Compiler c(Schema::Builtin());
  c.AddFile(Rule("exec-image", kShell) + block + "---\n" + Rule("exec-cmdline", cmdline) + block, "exec.yml");
  c.AddFile(Rule("created", "  s:\n    TargetFilename|startswith: /etc/\n  condition: s\n",
                 "{product: linux, category: file_event}") +
                block,
            "file_event.yml");
  c.AddFile(Rule("opened", "  s:\n    TargetFilename: /etc/shadow\n    CommandLine|contains: python\n"
                           "  condition: s\n",
                 "{product: linux, category: file_access}") +
                block,
            "file_access.yml");
  c.AddFile(Rule("alerting", cmdline), "alert.yml");
  Ruleset rs = c.Finish({});
  std::vector<std::pair<std::string, bool>> kept;
  for (const auto& r : rs.rules) kept.push_back({r.id, r.block});
  const std::vector<std::pair<std::string, bool>> want = {{"exec-image", true}, {"opened", true}, {"alerting", false}};
  EXPECT_EQ(kept, want) << c.diagnostics().ToText();
  EXPECT_EQ(c.stats().rules_refused, 2u);
  ExpectAccounted(c.stats());

  std::vector<const Diagnostic*> errors;
  for (const Diagnostic& d : c.diagnostics().list()) {
    if (d.severity == Severity::kError) errors.push_back(&d);
  }
  ASSERT_EQ(errors.size(), 2u) << c.diagnostics().ToText();
  EXPECT_EQ(errors[0]->code, DiagCode::kVerifyBlockField);
  EXPECT_EQ(errors[0]->where.file, "exec.yml");
  EXPECT_EQ(errors[0]->where.line, 11);  // the rule's document: the verifier knows rules, not lines
  EXPECT_EQ(errors[0]->where.rule_id, "exec-cmdline");
  EXPECT_NE(errors[0]->message.find("field 'CommandLine'"), std::string::npos) << errors[0]->message;
  EXPECT_EQ(errors[1]->code, DiagCode::kVerifyBlockEventType);
  EXPECT_EQ(errors[1]->where.file, "file_event.yml");
  EXPECT_EQ(errors[1]->where.rule_id, "created");
}

// The July-2024 defect in miniature: content written for a field the sensor
// does not supply. Against a schema whose process_creation lacks CommandLine,
// the same rule is a compile error, not something shipped to fail later.
TEST(Compiler, FieldMissingFromTheSchemaIsAnError) {
  std::vector<EventTypeDef> types = {{"process_creation", {{"ProcessId", FieldType::kInteger},
                                                           {"Image", FieldType::kString}}}};
  Result<Schema> narrow = Schema::Create(7, types);
  ASSERT_TRUE(narrow.has_value());
  const std::string rule = Rule("needs-cmdline", "  s:\n    Image|endswith: /sh\n    CommandLine|contains: -c\n"
                                                 "  condition: s\n");
  Compiler wide(Schema::Builtin());
  wide.AddFile(rule, "r.yml");
  EXPECT_EQ(wide.Finish({}).rules.size(), 1u);

  Compiler c(*narrow);
  c.AddFile(rule, "r.yml");
  Ruleset rs = c.Finish({});
  EXPECT_TRUE(rs.rules.empty());
  ASSERT_TRUE(c.diagnostics().HasCode(DiagCode::kUnknownField));
  const Diagnostic& d = c.diagnostics().list().at(0);
  EXPECT_EQ(d.where.line, 8);
  EXPECT_EQ(d.where.rule_id, "needs-cmdline");
  EXPECT_EQ(rs.info.schema_version, 7u);
  EXPECT_EQ(rs.info.schema_hash, narrow->hash());
}

}  // namespace
}  // namespace vigil::content
