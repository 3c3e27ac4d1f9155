// The rule's JSON identity, the part of every alert line that comes from the
// rule (docs/alerts.md).
#include "content/ir.h"

#include <gtest/gtest.h>

namespace vigil::content {
namespace {

Rule Sample() {
  Rule r;
  r.id = "6a4e0d1c-0000-4000-8000-000000000001";
  r.title = "Binary run from \"tmp\"";
  r.level = Level::kHigh;
  r.tags = {"attack.execution", "attack.t1059.004"};
  return r;
}

TEST(AppendRuleJsonFields, AlertingRuleHasNoActionKey) {
  std::string out;
  AppendRuleJsonFields(out, Sample());
  EXPECT_EQ(out,
            R"("rule_id":"6a4e0d1c-0000-4000-8000-000000000001","rule_title":"Binary run from \"tmp\"",)"
            R"("level":"high","tags":["attack.execution","attack.t1059.004"])");
  EXPECT_EQ(RuleActionName(Sample()), "alert");
}

TEST(AppendRuleJsonFields, BlockingRuleSaysSo) {
  Rule r = Sample();
  r.block = true;
  r.tags.clear();
  std::string out = "{";
  AppendRuleJsonFields(out, r);
  EXPECT_EQ(out,
            R"({"rule_id":"6a4e0d1c-0000-4000-8000-000000000001","rule_title":"Binary run from \"tmp\"",)"
            R"("level":"high","tags":[],"action":"block")");
  EXPECT_EQ(RuleActionName(r), "block");
}

}  // namespace
}  // namespace vigil::content
