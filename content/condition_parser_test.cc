#include "content/condition_parser.h"

#include <gtest/gtest.h>

#include <string>

namespace vigil::content {
namespace {

const Location kWhere{"c.yml", 7, "rule-1"};

CondNode Parse(std::string_view text) {
  Diagnostics diags;
  std::optional<CondNode> node = ParseCondition(text, diags, kWhere);
  EXPECT_TRUE(node.has_value()) << text << ": " << diags.ToText();
  EXPECT_TRUE(diags.list().empty());
  return node ? std::move(*node) : CondNode();
}

std::string Canon(std::string_view text) { return CondNodeToString(Parse(text)); }

// Expects `text` refused with exactly one error, `code`; returns its message.
std::string Refused(std::string_view text, DiagCode code) {
  Diagnostics diags;
  std::optional<CondNode> node = ParseCondition(text, diags, kWhere);
  EXPECT_FALSE(node.has_value()) << text << " -> " << (node ? CondNodeToString(*node) : "");
  EXPECT_EQ(diags.list().size(), 1u) << diags.ToText();
  if (diags.list().empty()) return "";
  const Diagnostic& d = diags.list()[0];
  EXPECT_EQ(d.code, code) << text << ": " << Diagnostics::Format(d);
  EXPECT_EQ(d.severity, Severity::kError);
  EXPECT_EQ(d.where.file, "c.yml");
  EXPECT_EQ(d.where.line, 7);
  EXPECT_EQ(d.where.rule_id, "rule-1");
  return d.message;
}

TEST(ConditionParser, Identifier) {
  CondNode n = Parse("selection");
  EXPECT_EQ(n.kind, CondNode::Kind::kIdentifier);
  EXPECT_EQ(n.name, "selection");
}

TEST(ConditionParser, PrecedenceNotAndOr) {
  CondNode n = Parse("a or b and not c");
  ASSERT_EQ(n.kind, CondNode::Kind::kOr);
  ASSERT_EQ(n.children.size(), 2u);
  EXPECT_EQ(n.children[0].name, "a");
  const CondNode& and_node = n.children[1];
  ASSERT_EQ(and_node.kind, CondNode::Kind::kAnd);
  ASSERT_EQ(and_node.children.size(), 2u);
  EXPECT_EQ(and_node.children[1].kind, CondNode::Kind::kNot);
  EXPECT_EQ(and_node.children[1].children.at(0).name, "c");
  EXPECT_EQ(and_node.children[1].offset, 11u);
}

TEST(ConditionParser, ChainsAreOneNode) {
  CondNode n = Parse("a and b and c and d");
  EXPECT_EQ(n.kind, CondNode::Kind::kAnd);
  EXPECT_EQ(n.children.size(), 4u);
}

TEST(ConditionParser, Parentheses) {
  EXPECT_EQ(Canon("(a or b) and c"), "(a or b) and c");
  EXPECT_EQ(Canon("((a))"), "a");
  EXPECT_EQ(Canon("not (a and b)"), "not (a and b)");
  EXPECT_EQ(Canon("(a and b) and c"), "(a and b) and c");  // the tree keeps its shape
  EXPECT_EQ(Canon("a or (b and c)"), "a or b and c");
  EXPECT_EQ(Canon("not not a"), "not not a");
  EXPECT_EQ(Canon("\ta\n and\r\n(b)  "), "a and b");
}

TEST(ConditionParser, Quantifiers) {
  CondNode n = Parse("1 of selection_*");
  ASSERT_EQ(n.kind, CondNode::Kind::kOf);
  EXPECT_FALSE(n.all);
  EXPECT_EQ(n.count, 1u);
  EXPECT_EQ(n.name, "selection_*");

  n = Parse("all of them");
  ASSERT_EQ(n.kind, CondNode::Kind::kOf);
  EXPECT_TRUE(n.all);
  EXPECT_EQ(n.name, "");

  n = Parse("any of sel");
  EXPECT_EQ(n.count, 1u);
  EXPECT_FALSE(n.all);

  n = Parse("12 of x*");
  EXPECT_EQ(n.count, 12u);

  EXPECT_EQ(Canon("selection and not 1 of filter_main_*"), "selection and not 1 of filter_main_*");
  EXPECT_EQ(Canon("any of them or all of x*"), "1 of them or all of x*");
}

TEST(ConditionParser, QuantifierWordsAreNamesWithoutOf) {
  EXPECT_EQ(Canon("all and 1 or them or any"), "all and 1 or them or any");
  CondNode n = Parse("1");
  EXPECT_EQ(n.kind, CondNode::Kind::kIdentifier);
}

TEST(ConditionParser, IdentifierCharacters) {
  EXPECT_EQ(Parse("filter_main_mdadm.conf").name, "filter_main_mdadm.conf");
  EXPECT_EQ(Parse("sel-1").name, "sel-1");
  EXPECT_EQ(Parse("1 of filter_main_*.conf").name, "filter_main_*.conf");
}

TEST(ConditionParser, SyntaxErrors) {
  Refused("", DiagCode::kConditionSyntax);
  Refused("   ", DiagCode::kConditionSyntax);
  std::string msg = Refused("a and", DiagCode::kConditionSyntax);
  EXPECT_NE(msg.find("offset 5"), std::string::npos) << msg;
  Refused("(a", DiagCode::kConditionSyntax);
  Refused("a)", DiagCode::kConditionSyntax);
  Refused("a b", DiagCode::kConditionSyntax);
  Refused("and a", DiagCode::kConditionSyntax);
  Refused("not", DiagCode::kConditionSyntax);
  Refused("1 of", DiagCode::kConditionSyntax);
  Refused("1 of (a)", DiagCode::kConditionSyntax);
  Refused("0 of x*", DiagCode::kConditionSyntax);
  Refused("99999999999 of x*", DiagCode::kConditionSyntax);
  Refused("x of y", DiagCode::kConditionSyntax);
  Refused("sel*", DiagCode::kConditionSyntax);
  Refused("of", DiagCode::kConditionSyntax);
  Refused("1 of and", DiagCode::kConditionSyntax);
  msg = Refused("a && b", DiagCode::kConditionSyntax);
  EXPECT_NE(msg.find("character '&'"), std::string::npos) << msg;
  msg = Refused("a \x01 b", DiagCode::kConditionSyntax);
  EXPECT_NE(msg.find("byte 0x01"), std::string::npos) << msg;
  Refused("A AND B", DiagCode::kConditionSyntax);  // keywords are lowercase, as in Sigma
}

TEST(ConditionParser, UnsupportedFeatures) {
  Refused("selection | count() by User > 5", DiagCode::kUnsupportedFeature);
  Refused("selection | near other", DiagCode::kUnsupportedFeature);
  Refused("selection near other", DiagCode::kUnsupportedFeature);
}

TEST(ConditionParser, Bounds) {
  std::string deep = std::string(kMaxConditionDepth, '(') + "a" + std::string(kMaxConditionDepth, ')');
  EXPECT_EQ(Canon(deep), "a");
  Refused("(" + deep + ")", DiagCode::kTooComplex);
  std::string nots;
  for (size_t i = 0; i <= kMaxConditionDepth; ++i) nots += "not ";
  Refused(nots + "a", DiagCode::kTooComplex);
  Refused(std::string(kMaxConditionBytes + 1, 'a'), DiagCode::kTooComplex);
  // Long flat chains are not deep.
  std::string wide = "a";
  for (int i = 0; i < 5000; ++i) wide += " or a";
  EXPECT_EQ(Parse(wide).children.size(), 5001u);
}

TEST(ConditionParser, PrintedFormParsesBackToTheSameTree) {
  for (std::string_view text :
       {"a", "not a", "a and (b or c)", "(a and b) and (c or d) or not (e and f)", "2 of x* and not all of them",
        "not not (a or b)", "((a or b) or c) and d"}) {
    std::string once = Canon(text);
    EXPECT_EQ(Canon(once), once) << text;
  }
}

}  // namespace
}  // namespace vigil::content
