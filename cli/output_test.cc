#include "cli/output.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace vigil::cli {
namespace {

TEST(OutputTest, JsonStringEscapesEverythingJsonRequires) {
  std::string out;
  const std::string input("a\"b\\c\n\t\x01\x1f\0", 10);
  AppendJsonString(out, input);
  EXPECT_EQ(out, R"("a\"b\\c\n\t\u0001\u001f\u0000")");
  EXPECT_EQ(nlohmann::json::parse(out).get<std::string>(), input);
}

TEST(OutputTest, AlertLineIsOneValidJsonObject) {
  content::Rule rule;
  rule.id = "11111111-2222-3333-4444-555555555555";
  rule.title = "Quote \" and backslash \\";
  rule.level = content::Level::kHigh;
  rule.tags = {"attack.execution", "attack.t1059"};
  std::string out;
  AppendAlertJson(out, rule, 42, R"({"event":"process_creation","Image":"/bin/sh"})");
  ASSERT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1);
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["rule_id"], rule.id);
  EXPECT_EQ(j["rule_title"], rule.title);
  EXPECT_EQ(j["level"], "high");
  EXPECT_EQ(j["tags"][1], "attack.t1059");
  EXPECT_EQ(j["content_version"], 42);
  EXPECT_EQ(j["event"]["Image"], "/bin/sh");
}

}  // namespace
}  // namespace vigil::cli
