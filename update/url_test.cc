#include "update/url.h"

#include <gtest/gtest.h>

namespace vigil::update {
namespace {

TEST(UrlTest, ParseHttpUrl) {
  struct Case {
    std::string url, scheme, authority, path;
  };
  std::vector<Case> ok = {
      {"http://h", "http", "h", "/"},
      {"https://cdn.example:8443/a/b?c=1#frag", "https", "cdn.example:8443", "/a/b?c=1"},
      {"http://127.0.0.1:8080/m", "http", "127.0.0.1:8080", "/m"},
      {"http://[::1]:80/m", "http", "[::1]:80", "/m"},
      {"http://[::1]/m", "http", "[::1]", "/m"},
      {"http://h?q", "http", "h", "/?q"},
  };
  for (const auto& c : ok) {
    auto u = ParseHttpUrl(c.url);
    ASSERT_TRUE(u) << c.url << ": " << u.error().ToString();
    EXPECT_EQ(u->scheme, c.scheme);
    EXPECT_EQ(u->authority, c.authority);
    EXPECT_EQ(u->path, c.path);
  }
  struct Bad {
    std::string url, message;
  };
  std::vector<Bad> bad = {
      {"", "URL of 0 bytes"},
      {"ftp://h/x", "only http:// and https:// are supported"},
      {"HTTP://h/x", "only http:// and https:// are supported"},
      {"file:///etc/passwd", "only http:// and https://"},
      {"http://user:pw@h/x", "user info (user@host) is not supported"},
      {"http:///x", "no host"},
      {"http://h:0/x", "bad port"},
      {"http://h:65536/x", "bad port"},
      {"http://h:8a/x", "bad port"},
      {"http://[::1/x", "bad IPv6 host"},
      {"http://[::1]x/", "bad host"},
      {"http://h/a b", "only printable ASCII without spaces"},
      {"http://h/\x7f", "only printable ASCII"},
      {"http://h/" + std::string(kMaxUrlBytes, 'a'), "must be 1..2048"},
  };
  for (const auto& c : bad) {
    auto u = ParseHttpUrl(c.url);
    ASSERT_FALSE(u) << c.url;
    EXPECT_EQ(u.error().code(), Code::kInvalidArgument);
    EXPECT_NE(u.error().message().find(c.message), std::string::npos) << u.error().message();
  }
}

TEST(UrlTest, ResolveUrl) {
  EXPECT_EQ(*ResolveUrl("https://h/a/b/m", "x.vbundle"), "https://h/a/b/x.vbundle");
  EXPECT_EQ(*ResolveUrl("https://h/a/b/m?q=1", "x"), "https://h/a/b/x");
  EXPECT_EQ(*ResolveUrl("https://h/a/b/m", "/x"), "https://h/x");
  EXPECT_EQ(*ResolveUrl("https://h:8443", "x"), "https://h:8443/x");
  EXPECT_EQ(*ResolveUrl("https://h/m", "http://other/x"), "http://other/x");
  EXPECT_EQ(*ResolveUrl("https://h/a/", "x?y=1"), "https://h/a/x?y=1");
  for (std::string bad : {"//evil/x", "ftp://h/x", "javascript:alert(1)", "", "a b"}) {
    EXPECT_FALSE(ResolveUrl("https://h/m", bad)) << bad;
  }
  EXPECT_FALSE(ResolveUrl("ftp://h/m", "x"));
}

}  // namespace
}  // namespace vigil::update
