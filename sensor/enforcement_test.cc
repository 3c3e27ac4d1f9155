// SelectBlockingRules: which rules of a content block, from the content's
// own marks and the configuration's policy.
#include "sensor/enforcement.h"

#include <gtest/gtest.h>

#include "content/compiler.h"

namespace vigil::sensor {
namespace {

std::string Rule(const std::string& id, const std::string& category, const std::string& selection,
                 const std::string& extra = "") {
  return "title: rule " + id + "\nid: " + id + "\nlevel: high\n" + extra + "logsource:\n  product: linux\n  category: " +
         category + "\ndetection:\n  sel:\n" + selection + "  condition: sel\n";
}

const std::string kMarked = Rule("00000000-0000-4000-8000-000000000001", "process_creation",
                                 "    Image|endswith: /evil\n", "vigil: {action: block}\n");
const std::string kById = Rule("00000000-0000-4000-8000-000000000002", "process_creation",
                               "    ParentImage|endswith: /httpd\n");
const std::string kByTag = Rule("00000000-0000-4000-8000-000000000003", "file_access",
                                "    TargetFilename|endswith: /shadow\n", "tags: [enforce.secrets]\n");
// Would need the new program's argv at exec permission time.
const std::string kCommandLine = Rule("00000000-0000-4000-8000-000000000004", "process_creation",
                                      "    CommandLine|contains: ' -e '\n", "tags: [enforce.secrets]\n");
// A file that already changed: nothing left to deny.
const std::string kFileEvent = Rule("00000000-0000-4000-8000-000000000005", "file_event",
                                    "    TargetFilename|endswith: /x\n");
const std::string kAlerting = Rule("00000000-0000-4000-8000-000000000006", "process_creation",
                                   "    Image|endswith: /curl\n");

std::shared_ptr<const engine::Engine> Content(const std::vector<std::string>& docs, uint64_t version = 9) {
  content::Compiler compiler(Schema::Builtin());
  for (size_t i = 0; i < docs.size(); ++i) compiler.AddFile(docs[i], "r" + std::to_string(i) + ".yml");
  content::Ruleset rs = compiler.Finish({.content_version = version});
  EXPECT_EQ(rs.rules.size(), docs.size()) << compiler.diagnostics().ToText();
  auto e = engine::Engine::Create(rs, Schema::Builtin());
  EXPECT_TRUE(e.has_value()) << e.error().ToString();
  return *e;
}

std::vector<std::string> Ids(const engine::Engine& e) {
  std::vector<std::string> ids;
  for (const content::Rule& r : e.rules()) {
    EXPECT_TRUE(r.block) << r.id;
    ids.push_back(r.id);
  }
  return ids;
}

TEST(SelectBlockingRules, NoBlockingRuleNoEngine) {
  auto content = Content({kById, kAlerting});
  Result<BlockingSelection> s = SelectBlockingRules(*content, {});
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->engine, nullptr);
  EXPECT_EQ(s->from_content + s->from_policy, 0u);
  EXPECT_TRUE(s->refused.empty());
}

TEST(SelectBlockingRules, ContentMarksAndPolicyIdsAndTags) {
  auto content = Content({kMarked, kById, kByTag, kAlerting}, 42);
  Result<BlockingSelection> s =
      SelectBlockingRules(*content, {.rule_ids = {"00000000-0000-4000-8000-000000000002"}, .tags = {"enforce.secrets"}});
  ASSERT_TRUE(s.has_value());
  ASSERT_NE(s->engine, nullptr);
  EXPECT_EQ(s->from_content, 1u);
  EXPECT_EQ(s->from_policy, 2u);
  EXPECT_EQ(Ids(*s->engine), (std::vector<std::string>{"00000000-0000-4000-8000-000000000001",
                                                       "00000000-0000-4000-8000-000000000002",
                                                       "00000000-0000-4000-8000-000000000003"}));
  EXPECT_EQ(s->engine->info().content_version, 42u);  // alerts of blocks name the content they came from
  EXPECT_TRUE(s->refused.empty());
  EXPECT_TRUE(s->unmatched.empty());
}

TEST(SelectBlockingRules, PolicyRulesThatCannotBeDecidedStayAlerting) {
  auto content = Content({kMarked, kCommandLine, kFileEvent});
  Result<BlockingSelection> s = SelectBlockingRules(
      *content, {.rule_ids = {"00000000-0000-4000-8000-000000000005"}, .tags = {"enforce.secrets"}});
  ASSERT_TRUE(s.has_value());
  ASSERT_NE(s->engine, nullptr);
  EXPECT_EQ(Ids(*s->engine), (std::vector<std::string>{"00000000-0000-4000-8000-000000000001"}));
  ASSERT_EQ(s->refused.size(), 2u);
  EXPECT_NE(s->refused[0].find("rule 00000000-0000-4000-8000-000000000004"), std::string::npos) << s->refused[0];
  EXPECT_NE(s->refused[0].find("policy 'enforce.secrets'"), std::string::npos) << s->refused[0];
  EXPECT_NE(s->refused[0].find("VG512 block-field-unknown"), std::string::npos) << s->refused[0];
  EXPECT_NE(s->refused[0].find("'CommandLine'"), std::string::npos) << s->refused[0];
  EXPECT_NE(s->refused[1].find("rule 00000000-0000-4000-8000-000000000005"), std::string::npos) << s->refused[1];
  EXPECT_NE(s->refused[1].find("VG511 block-event-type"), std::string::npos) << s->refused[1];
}

TEST(SelectBlockingRules, PolicyEntriesThatNameNothingAreReported) {
  auto content = Content({kAlerting});
  Result<BlockingSelection> s =
      SelectBlockingRules(*content, {.rule_ids = {"nope"}, .tags = {"attack.t1059", "enforce.none"}});
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->engine, nullptr);
  EXPECT_EQ(s->unmatched, (std::vector<std::string>{"rule id 'nope'", "tag 'attack.t1059'", "tag 'enforce.none'"}));
}

}  // namespace
}  // namespace vigil::sensor
