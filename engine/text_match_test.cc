#include "engine/text_match.h"

#include <gtest/gtest.h>

namespace vigil::engine {
namespace {

TEST(TextMatch, FoldIsAsciiOnly) {
  EXPECT_EQ(FoldAscii("AbC-\xc3\x89"), "abc-\xc3\x89");
  EXPECT_TRUE(EqualsIgnoringCase("ROOT", "root"));
  EXPECT_FALSE(EqualsIgnoringCase("\xc3\x89", "\xc3\xa9"));
}

TEST(TextMatch, Literals) {
  EXPECT_TRUE(ContainsFold("xx/USR/Bin/", "/usr/bin/"));
  EXPECT_FALSE(ContainsFold("/usr/bi", "/usr/bin/"));
  EXPECT_TRUE(ContainsFold("aab", "ab"));
  EXPECT_TRUE(ContainsFold("", ""));
  // Needles with a non-letter byte take the memchr path; its edges:
  EXPECT_TRUE(ContainsFold("-x", "-x"));
  EXPECT_TRUE(ContainsFold("ab-X", "b-x"));
  EXPECT_TRUE(ContainsFold("a-b-c-D", "c-d"));
  EXPECT_FALSE(ContainsFold("a-b-c-", "c-d"));
  EXPECT_FALSE(ContainsFold("-ab", "x-ab"));  // the '-' is too early for a match
  EXPECT_TRUE(ContainsFold("xx--", "--"));
  EXPECT_FALSE(ContainsFold("x-", "x-y"));
  EXPECT_TRUE(StartsWithFold("ABC", "ab"));
  EXPECT_TRUE(EndsWithFold("ABC", "bc"));
  EXPECT_FALSE(EndsWithFold("c", "bc"));
  EXPECT_TRUE(EqualsFold("ABC", "abc"));
  EXPECT_FALSE(EqualsFold("ABCD", "abc"));
}

TEST(TextMatch, GlobLongestLiteral) {
  EXPECT_EQ(Glob::Compile("*/BIN/?ash", false).longest_literal(), "/bin/");
  EXPECT_EQ(Glob::Compile("*/BIN/?ash", true).longest_literal(), "/BIN/");
  EXPECT_EQ(Glob::Compile("a\\*bc*d", false).longest_literal(), "a*bc");
  EXPECT_EQ(Glob::Compile("*?*", false).longest_literal(), "");
}

TEST(TextMatch, GlobMatches) {
  EXPECT_TRUE(Glob::Compile("*/bin/?ash", false).Matches("/USR/BIN/bash"));
  EXPECT_FALSE(Glob::Compile("*/bin/?ash", false).Matches("/usr/bin/ash"));
  EXPECT_TRUE(Glob::Compile("***", false).Matches(""));
  EXPECT_TRUE(Glob::Compile("a*b*c", false).Matches("abbbbc"));
  EXPECT_FALSE(Glob::Compile("a*b*c", false).Matches("abbbb"));
}

TEST(TextMatch, CidrParse) {
  EXPECT_TRUE(Cidr::Parse("10.0.0.0/8"));
  EXPECT_TRUE(Cidr::Parse("::/0"));
  EXPECT_TRUE(Cidr::Parse("10.0.0.1"));
  EXPECT_FALSE(Cidr::Parse("10.0.0.0/33"));
  EXPECT_FALSE(Cidr::Parse("::/129"));
  EXPECT_FALSE(Cidr::Parse("10.0.0.0/"));
  EXPECT_FALSE(Cidr::Parse("10.0.0/8"));
  EXPECT_FALSE(Cidr::Parse("/8"));
  EXPECT_FALSE(Cidr::Parse("10.0.0.0/-1"));
  EXPECT_FALSE(Cidr::Parse(""));
  EXPECT_TRUE(Cidr::Parse("fe80::/10")->Contains("FE80::1"));
}

}  // namespace
}  // namespace vigil::engine
