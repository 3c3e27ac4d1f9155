#include "update/manifest.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "update/testing/test_content.h"

namespace vigil::update {
namespace {

using testing::TestKey;
using testing::TestKeys;
using testing::TestRoot;

constexpr int64_t kCreated = 1'767'225'600;         // 2026-01-01T00:00:00Z
constexpr int64_t kExpires = kCreated + 7 * 86400;  // 2026-01-08T00:00:00Z

Manifest Sample() {
  Manifest m;
  m.channel = "stable";
  m.content_version = 1'767'225'600;
  m.bundle_url = "stable-1767225600.vbundle";
  m.bundle_size = 48'213;
  m.bundle_blake2b = Blake2b256("the bundle");
  m.created_unix = kCreated;
  m.expires_unix = kExpires;
  return m;
}

std::string SignedText(const Manifest& m, std::initializer_list<uint8_t> ns) {
  std::vector<SecretKey> keys = TestKeys(ns);
  auto text = SignManifest(m, keys);
  EXPECT_TRUE(text) << text.error().ToString();
  return text.value_or("");
}

std::string Id(uint8_t n) { return TestKey(n).public_key().IdHex(); }

TEST(ManifestTest, TextIsTheDocumentedFormat) {
  std::string text = SignedText(Sample(), {1});
  std::string body =
      "vigil-manifest 1\n"
      "channel stable\n"
      "content-version 1767225600\n"
      "bundle-url stable-1767225600.vbundle\n"
      "bundle-size 48213\n"
      "bundle-blake2b " +
      DigestToHex(Blake2b256("the bundle")) +
      "\n"
      "created 1767225600\n"
      "expires 1767830400\n";
  ASSERT_EQ(text.substr(0, body.size()), body);
  EXPECT_EQ(text.substr(body.size(), 27), "signature " + Id(1) + " ");
  EXPECT_EQ(text.size(), body.size() + 10 + 16 + 1 + 128 + 1);
}

TEST(ManifestTest, SignVerifyRoundTrip) {
  std::string text = SignedText(Sample(), {1, 2});
  auto m = VerifyManifest(text, "m", TestRoot(2, {1, 2, 3}), kCreated + 60);
  ASSERT_TRUE(m) << m.error().ToString();
  Manifest want = Sample();
  want.signatures = m->signatures;
  want.body_bytes = text.find("signature ");
  EXPECT_EQ(*m, want);
  EXPECT_EQ(m->signatures.size(), 2u);
}

TEST(ManifestTest, TwoOfThree) {
  TrustRoot root = TestRoot(2, {1, 2, 3});
  auto one = VerifyManifest(SignedText(Sample(), {3}), "m", root, kCreated);
  ASSERT_FALSE(one);
  EXPECT_EQ(one.error().code(), Code::kVerifyFailed);
  EXPECT_EQ(one.error().message(), "m: below threshold: 1 valid signature of 2 required");
  // The same key given twice signs once.
  EXPECT_EQ(SignedText(Sample(), {3, 3}), SignedText(Sample(), {3}));
  // A duplicated signature line counts once.
  std::string text = SignedText(Sample(), {3});
  std::string line = text.substr(text.find("signature "));
  auto twice = VerifyManifest(text + line, "m", root, kCreated);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().message(), "m: below threshold: 1 valid signature of 2 required");
  EXPECT_TRUE(VerifyManifest(SignedText(Sample(), {3, 1}), "m", root, kCreated));
}

TEST(ManifestTest, UnknownKeyAndUnsigned) {
  TrustRoot root = TestRoot(1, {1});
  auto unknown = VerifyManifest(SignedText(Sample(), {4}), "m", root, kCreated);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message(), "m: signed only by unknown key(s) " + Id(4) + " (not in the trust root)");
  std::string body = *FormatManifestBody(Sample());
  auto unsigned_ = VerifyManifest(body, "m", root, kCreated);
  ASSERT_FALSE(unsigned_);
  EXPECT_EQ(unsigned_.error().code(), Code::kVerifyFailed);
  EXPECT_EQ(unsigned_.error().message(), "m: unsigned: the manifest carries no signature");
}

TEST(ManifestTest, TamperedBodyOrSignature) {
  TrustRoot root = TestRoot(1, {1});
  std::string text = SignedText(Sample(), {1});
  std::string bumped = text;
  bumped.replace(bumped.find("content-version 1767225600"), 26, "content-version 1767225601");
  auto b = VerifyManifest(bumped, "m", root, kCreated);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().message(), "m: bad signature from key " + Id(1) + " (manifest tampered or wrong key)");

  std::string sig = text;
  sig[sig.size() - 2] = sig[sig.size() - 2] == '0' ? '1' : '0';
  auto s = VerifyManifest(sig, "m", root, kCreated);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(), "m: bad signature from key " + Id(1) + " (manifest tampered or wrong key)");

  // Reordering the (unsigned-order) key lines changes the signed bytes.
  std::string reordered = text;
  std::string ch = "channel stable\n";
  reordered.erase(reordered.find(ch), ch.size());
  reordered.insert(reordered.find("signature "), ch);
  auto r = VerifyManifest(reordered, "m", root, kCreated);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("bad signature"), std::string::npos);
  // ... though it parses: the signed bytes, not a canonical form, are what count.
  EXPECT_TRUE(ParseManifest(reordered, "m"));
}

TEST(ManifestTest, Expiry) {
  TrustRoot root = TestRoot(1, {1});
  std::string text = SignedText(Sample(), {1});
  EXPECT_TRUE(VerifyManifest(text, "m", root, kExpires - 1));
  for (int64_t now : {kExpires, kExpires + 86400 * 365}) {
    auto m = VerifyManifest(text, "m", root, now);
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code(), Code::kVerifyFailed);
    EXPECT_EQ(m.error().message(),
              fmt::format("m: manifest expired at 2026-01-08T00:00:00Z (unix {}; now {})", kExpires, now));
  }
  // A wrong signature is reported before expiry: an attacker's stale copy is a
  // signature problem first.
  std::string tampered = text;
  tampered.replace(tampered.find("bundle-size 48213"), 17, "bundle-size 48214");
  EXPECT_NE(VerifyManifest(tampered, "m", root, kExpires + 1).error().message().find("bad signature"),
            std::string::npos);
}

TEST(ManifestTest, ParseErrorsNameTheLine) {
  std::string good = *FormatManifestBody(Sample());
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string t = good;
    size_t at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return t.replace(at, from.size(), to);
  };
  std::string sig_line = "signature " + Id(1) + " " + std::string(128, 'a') + "\n";
  std::string too_many = good;
  for (int i = 0; i < 17; ++i) too_many += sig_line;
  struct Case {
    std::string text;
    Code code;
    std::string message;
  };
  std::vector<Case> cases = {
      {"", Code::kInvalidArgument, "m: empty"},
      {"vigil-trust-root 1\n", Code::kInvalidArgument, "m:1: expected \"vigil-manifest 1\""},
      {"vigil-manifest 2\nchannel x\n", Code::kUnsupported, "m:1: unsupported manifest version \"2\""},
      {replace("channel stable\n", ""), Code::kInvalidArgument, "m: missing \"channel\" line"},
      {replace("channel stable", "channel stable\nchannel beta"), Code::kInvalidArgument,
       "m:3: \"channel\" given twice (first on line 2)"},
      {replace("channel stable", "channel st/able"), Code::kInvalidArgument,
       "m:2: channel may hold only letters, digits"},
      {replace("channel stable", "channel " + std::string(65, 'c')), Code::kInvalidArgument,
       "m:2: channel must be 1..64 bytes"},
      {replace("channel stable", "channel"), Code::kInvalidArgument, "m:2: \"channel\" has no value"},
      {replace("channel stable", "mirror https://evil"), Code::kInvalidArgument, "m:2: unknown key \"mirror\""},
      {replace("content-version 1767225600", "content-version 0"), Code::kInvalidArgument,
       "m:3: content-version must be a decimal number >= 1"},
      {replace("content-version 1767225600", "content-version -5"), Code::kInvalidArgument, "m:3: content-version"},
      {replace("content-version 1767225600", "content-version 18446744073709551616"), Code::kInvalidArgument,
       "m:3: content-version must be"},
      {replace("bundle-url stable", "bundle-url sta ble"), Code::kInvalidArgument,
       "m:4: bundle-url may hold only printable ASCII without spaces"},
      {replace("bundle-size 48213", "bundle-size 67108865"), Code::kInvalidArgument,
       "m:5: bundle-size must be 1..67108864"},
      {replace("bundle-size 48213", "bundle-size 0x10"), Code::kInvalidArgument,
       "m:5: bundle-size must be a decimal number"},
      {replace("bundle-blake2b ", "bundle-blake2b A"), Code::kInvalidArgument,
       "m:6: bundle-blake2b must be 64 lowercase hex digits"},
      {replace("created 1767225600", "created yesterday"), Code::kInvalidArgument,
       "m:7: created must be a decimal unix time"},
      {replace("expires 1767830400", "expires 1767225600"), Code::kInvalidArgument,
       "m:8: expires must be after created"},
      {replace("created 1767225600\n", "created 1767225600\n\n"), Code::kInvalidArgument, "m:8: empty line"},
      {replace("expires 1767830400\n", "expires 1767830400\r\n"), Code::kInvalidArgument, "m:8: carriage return"},
      {good.substr(0, good.size() - 1), Code::kInvalidArgument, "m:8: last line does not end in a newline"},
      {good + "signature " + Id(1) + " xyz\n", Code::kInvalidArgument,
       "m:9: expected \"signature <16 hex digit key id> <128 hex digit signature>\""},
      {good + sig_line + "channel beta\n", Code::kInvalidArgument,
       "m:10: \"channel\" after a signature line (the signed body must come first)"},
      {too_many, Code::kLimitExceeded, "m:25: more than 24 lines"},
      {good + "# comment\n", Code::kInvalidArgument, "m:9: unknown key \"#\""},
      {std::string(kMaxManifestBytes + 1, 'x'), Code::kLimitExceeded, "m: 65537 bytes exceeds the limit of 65536"},
  };
  for (const auto& c : cases) {
    auto r = ParseManifest(c.text, "m");
    ASSERT_FALSE(r) << c.text;
    EXPECT_EQ(r.error().code(), c.code) << r.error().ToString();
    EXPECT_NE(r.error().message().find(c.message), std::string::npos) << r.error().message() << "\nwant: " << c.message;
    // And verification reports the same structural error.
    auto v = VerifyManifest(c.text, "m", TestRoot(1, {1}), kCreated);
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error().message(), r.error().message());
  }
}

TEST(ManifestTest, SignRefusesWhatParseWouldRefuse) {
  std::vector<SecretKey> keys = TestKeys({1});
  Manifest m = Sample();
  m.channel = "bad channel";
  EXPECT_EQ(SignManifest(m, keys).error().message(),
            "manifest: channel may hold only letters, digits, '.', '_' and '-'");
  m = Sample();
  m.expires_unix = m.created_unix;
  EXPECT_EQ(SignManifest(m, keys).error().message(), "manifest: expires must be after created");
  m = Sample();
  m.bundle_size = 0;
  EXPECT_EQ(SignManifest(m, keys).error().code(), Code::kInvalidArgument);
  EXPECT_EQ(SignManifest(Sample(), {}).error().message(), "no signing key given");
}

TEST(ManifestTest, ResolveBundleUrl) {
  struct Case {
    std::string manifest, bundle, want;
  };
  std::vector<Case> ok = {
      {"https://cdn.example/vigil/stable/manifest", "b-7.vbundle", "https://cdn.example/vigil/stable/b-7.vbundle"},
      {"https://cdn.example/vigil/stable/manifest?x=1#f", "b-7.vbundle",
       "https://cdn.example/vigil/stable/b-7.vbundle"},
      {"https://cdn.example", "b.vbundle", "https://cdn.example/b.vbundle"},
      {"http://127.0.0.1:8080/m", "/bundles/b.vbundle", "http://127.0.0.1:8080/bundles/b.vbundle"},
      {"http://h/dir/m", "sub/b.vbundle", "http://h/dir/sub/b.vbundle"},
      {"http://h/m", "https://other.example/b.vbundle", "https://other.example/b.vbundle"},
  };
  for (const auto& c : ok) {
    auto r = ResolveBundleUrl(c.manifest, c.bundle);
    ASSERT_TRUE(r) << c.bundle << ": " << r.error().ToString();
    EXPECT_EQ(*r, c.want);
  }
  for (std::string bad : {"file:///etc/shadow", "ftp://h/b", "//evil.example/b", "javascript:x"}) {
    auto r = ResolveBundleUrl("https://h/m", bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message().find("only http://, https:// or a relative URL"), std::string::npos);
  }
  EXPECT_FALSE(ResolveBundleUrl("file:///m", "b"));
}

// Seeds for update/fuzz/manifest_fuzzer: VIGIL_REGEN_CORPUS=1.
TEST(ManifestTest, RegenerateFuzzCorpus) {
  const char* regen = std::getenv("VIGIL_REGEN_CORPUS");
  const char* src = std::getenv("VIGIL_SOURCE_DIR");
  if (regen == nullptr || src == nullptr) GTEST_SKIP() << "set VIGIL_REGEN_CORPUS=1 to rewrite the seed corpus";
  std::filesystem::path dir = std::filesystem::path(src) / "update/fuzz/manifest_corpus";
  std::filesystem::create_directories(dir);
  Manifest absolute = Sample();
  absolute.bundle_url = "https://cdn.example/vigil/b.vbundle";
  std::map<std::string, std::string> seeds = {
      {"signed_1", SignedText(Sample(), {1})},       {"signed_1_2", SignedText(Sample(), {1, 2})},
      {"signed_unknown", SignedText(Sample(), {9})}, {"unsigned", *FormatManifestBody(Sample())},
      {"absolute_url", SignedText(absolute, {2})},
  };
  for (const auto& [name, bytes] : seeds) std::ofstream(dir / name, std::ios::binary) << bytes;
}

}  // namespace
}  // namespace vigil::update
