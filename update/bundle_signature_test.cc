#include "update/bundle_signature.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "content/bundle_file.h"
#include "content/bundle_format.h"
#include "update/testing/test_content.h"

namespace vigil::update {
namespace {

namespace bf = content::bundle_format;
using testing::SampleBundle;
using testing::TestKey;
using testing::TestKeys;
using testing::TestRoot;

uint32_t BodySize(const std::string& b) { return bf::LoadU32(b.data() + bf::header::kBodySize); }

std::string Signed(const std::string& bundle, std::initializer_list<uint8_t> ns) {
  std::vector<SecretKey> keys = TestKeys(ns);
  auto r = SignBundle(bundle, keys);
  if (!r) {
    ADD_FAILURE() << r.error().ToString();
    return bundle;
  }
  return *r;
}

// `bundle` with its signature area replaced by `payload`.
std::string WithPayload(const std::string& bundle, const std::string& payload) {
  std::string b = bundle.substr(0, BodySize(bundle) + bf::signature::kHeaderSize);
  bf::StoreU32(b.data() + BodySize(bundle) + bf::signature::kLength, static_cast<uint32_t>(payload.size()));
  return b + payload;
}

std::string Id(uint8_t n) { return TestKey(n).public_key().IdHex(); }

TEST(BundleSignatureTest, SignVerifyRoundTrip) {
  std::string plain = SampleBundle(7, "stable");
  std::string b = Signed(plain, {1});
  EXPECT_TRUE(VerifyBundleSignatures(b, TestRoot(1, {1})).ok());
  // Signing changes no checksummed byte: the body is identical and the
  // content still loads, with the same checksum.
  ASSERT_EQ(BodySize(b), BodySize(plain));
  EXPECT_EQ(b.substr(0, BodySize(b)), plain.substr(0, BodySize(plain)));
  EXPECT_EQ(b.size(), plain.size() + kSignaturePayloadHeaderBytes + kSignatureEntryBytes);
  content::Diagnostics d;
  auto rs = content::LoadBundleBytes(b, "signed", Schema::Builtin(), d);
  ASSERT_TRUE(rs) << rs.error().ToString();
  EXPECT_EQ(*rs, testing::SampleRuleset(7, "stable"));

  auto sigs = ListBundleSignatures(b);
  ASSERT_TRUE(sigs);
  ASSERT_EQ(sigs->size(), 1u);
  EXPECT_EQ((*sigs)[0].key_id, TestKey(1).public_key().id());
  // The signature is over the domain string and the checksum.
  Digest checksum = bf::ComputeChecksum(b, BodySize(b));
  EXPECT_TRUE(TestKey(1).public_key().Verify(BundleSignedMessage(checksum), (*sigs)[0]));
  EXPECT_EQ(BundleSignedMessage(checksum).substr(0, kBundleSignatureDomain.size()), "vigil bundle signature v1\n");
}

TEST(BundleSignatureTest, ResigningReplacesAndAddingKeeps) {
  std::string b = Signed(SampleBundle(7, "stable"), {1});
  EXPECT_EQ(Signed(b, {1}), b);  // idempotent
  std::string two = Signed(b, {2});
  auto sigs = ListBundleSignatures(two);
  ASSERT_TRUE(sigs);
  ASSERT_EQ(sigs->size(), 2u);
  EXPECT_EQ((*sigs)[0].key_id, TestKey(1).public_key().id());
  EXPECT_EQ((*sigs)[1].key_id, TestKey(2).public_key().id());
  EXPECT_EQ(Signed(two, {2, 1}), two);
}

TEST(BundleSignatureTest, TwoOfThree) {
  TrustRoot root = TestRoot(2, {1, 2, 3});
  std::string plain = SampleBundle(7, "stable");
  Status one = VerifyBundleSignatures(Signed(plain, {1}), root);
  EXPECT_EQ(one.code(), Code::kVerifyFailed);
  EXPECT_EQ(one.message(), "below threshold: 1 valid signature of 2 required");
  EXPECT_TRUE(VerifyBundleSignatures(Signed(plain, {1, 3}), root).ok());
  EXPECT_TRUE(VerifyBundleSignatures(Signed(Signed(plain, {2}), {3}), root).ok());

  // Two entries by the same key (SignBundle never writes that; a hand-made
  // payload can) count once.
  std::string message = BundleSignedMessage(bf::ComputeChecksum(plain, BodySize(plain)));
  Signature s1 = TestKey(1).Sign(message);
  std::vector<Signature> twice = {s1, s1};
  Status dup = VerifyBundleSignatures(WithPayload(plain, EncodeSignaturePayload(twice)), root);
  EXPECT_EQ(dup.code(), Code::kVerifyFailed);
  EXPECT_EQ(dup.message(), "below threshold: 1 valid signature of 2 required");
}

TEST(BundleSignatureTest, Unsigned) {
  Status s = VerifyBundleSignatures(SampleBundle(7, "stable"), TestRoot(1, {1}));
  EXPECT_EQ(s.code(), Code::kVerifyFailed);
  EXPECT_EQ(s.message(), "unsigned: the bundle carries no signature");
}

TEST(BundleSignatureTest, UnknownKey) {
  Status s = VerifyBundleSignatures(Signed(SampleBundle(7, "stable"), {5}), TestRoot(1, {1, 2}));
  EXPECT_EQ(s.code(), Code::kVerifyFailed);
  EXPECT_EQ(s.message(), "signed only by unknown key(s) " + Id(5) + " (not in the trust root)");
}

TEST(BundleSignatureTest, TamperedBodyByte) {
  std::string b = Signed(SampleBundle(7, "stable"), {1});
  TrustRoot root = TestRoot(1, {1});
  size_t pos = BodySize(b) - 3;  // in the string pool / tags
  b[pos] ^= 0x01;
  // Left as is, the stored checksum no longer matches.
  Status s = VerifyBundleSignatures(b, root);
  EXPECT_EQ(s.code(), Code::kCorrupt);
  EXPECT_NE(s.message().find("checksum mismatch"), std::string::npos) << s.message();
  // An attacker who also fixes the checksum meets the signature.
  ASSERT_TRUE(bf::RewriteChecksum(b));
  Status t = VerifyBundleSignatures(b, root);
  EXPECT_EQ(t.code(), Code::kVerifyFailed);
  EXPECT_EQ(t.message(), "bad signature from key " + Id(1) + " (bundle tampered or wrong key)");
}

TEST(BundleSignatureTest, TamperedSignatureByte) {
  std::string b = Signed(SampleBundle(7, "stable"), {1});
  b[b.size() - 5] ^= 0x20;
  Status s = VerifyBundleSignatures(b, TestRoot(1, {1}));
  EXPECT_EQ(s.code(), Code::kVerifyFailed);
  EXPECT_EQ(s.message(), "bad signature from key " + Id(1) + " (bundle tampered or wrong key)");
}

TEST(BundleSignatureTest, EveryBitFlipIsRefused) {
  std::string good = Signed(SampleBundle(7, "stable"), {1, 2});
  TrustRoot root = TestRoot(2, {1, 2});
  ASSERT_TRUE(VerifyBundleSignatures(good, root).ok());
  std::map<Code, size_t> codes;
  for (size_t i = 0; i < good.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string b = good;
      b[i] = static_cast<char>(b[i] ^ (1 << bit));
      Status s = VerifyBundleSignatures(b, root);
      ASSERT_FALSE(s.ok()) << "flip of bit " << bit << " at offset " << i << " accepted";
      ++codes[s.code()];
    }
  }
  EXPECT_GT(codes[Code::kCorrupt], 0u);
  EXPECT_GT(codes[Code::kVerifyFailed], 0u);
}

TEST(BundleSignatureTest, SigningRefusesDamagedOrOverfullBundles) {
  std::string b = SampleBundle(7, "stable");
  b[BodySize(b) - 1] ^= 1;
  std::vector<SecretKey> keys = TestKeys({1});
  auto damaged = SignBundle(b, keys);
  ASSERT_FALSE(damaged);
  EXPECT_EQ(damaged.error().code(), Code::kCorrupt);
  EXPECT_NE(damaged.error().message().find("checksum mismatch"), std::string::npos);

  auto none = SignBundle(SampleBundle(7, "stable"), {});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message(), "no signing key given");

  std::vector<SecretKey> seventeen;
  for (uint8_t n = 1; n <= 17; ++n) seventeen.push_back(TestKey(n));
  auto full = SignBundle(SampleBundle(7, "stable"), seventeen);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code(), Code::kLimitExceeded);
  EXPECT_EQ(full.error().message(), "17 signatures; a bundle holds at most 16");
}

TEST(BundleSignatureTest, PayloadParseIsStrict) {
  std::string plain = SampleBundle(7, "stable");
  std::string entry(kSignatureEntryBytes, 'x');
  auto payload = [&](uint32_t version, uint32_t count, size_t entries) {
    std::string p(8, '\0');
    bf::StoreU32(p.data(), version);
    bf::StoreU32(p.data() + 4, count);
    for (size_t i = 0; i < entries; ++i) p += entry;
    return p;
  };
  struct Case {
    std::string payload;
    Code code;
    std::string message;
  };
  std::vector<Case> cases = {
      {"abc", Code::kCorrupt, "signature payload of 3 bytes is shorter than its 8-byte header"},
      {payload(2, 1, 1), Code::kUnsupported, "signature payload version 2 (this vigil reads 1)"},
      {payload(1, 0, 0), Code::kCorrupt, "signature payload holds 0 signatures (must be 1..16)"},
      {payload(1, 17, 17), Code::kCorrupt, "signature payload holds 17 signatures (must be 1..16)"},
      {payload(1, 0xffffffff, 1), Code::kCorrupt, "signature payload holds 4294967295 signatures"},
      {payload(1, 2, 1), Code::kCorrupt, "signature payload is 80 bytes; 2 signatures take 152"},
      {payload(1, 1, 1) + "z", Code::kCorrupt, "signature payload is 81 bytes; 1 signatures take 80"},
  };
  for (const auto& c : cases) {
    std::string b = WithPayload(plain, c.payload);
    Status s = VerifyBundleSignatures(b, TestRoot(1, {1}));
    EXPECT_EQ(s.code(), c.code) << s.ToString();
    EXPECT_NE(s.message().find(c.message), std::string::npos) << s.message() << "\nwant: " << c.message;
    auto listed = ListBundleSignatures(b);
    ASSERT_FALSE(listed);
    EXPECT_EQ(listed.error().code(), c.code);
  }
}

TEST(BundleSignatureTest, FramingIsChecked) {
  std::string good = Signed(SampleBundle(7, "stable"), {1});
  TrustRoot root = TestRoot(1, {1});
  EXPECT_NE(VerifyBundleSignatures("", root).message().find("not a bundle: 0 bytes"), std::string::npos);
  EXPECT_NE(VerifyBundleSignatures(std::string(200, 'x'), root).message().find("no \"VIGILBND\" magic"),
            std::string::npos);
  // Every truncation is refused by the framing, before any crypto.
  for (size_t n = 0; n < good.size(); ++n) {
    Status s = VerifyBundleSignatures(good.substr(0, n), root);
    ASSERT_EQ(s.code(), Code::kCorrupt) << n << ": " << s.ToString();
  }
  std::string longer = good + "x";
  EXPECT_NE(VerifyBundleSignatures(longer, root).message().find("does not end at the end of the file"),
            std::string::npos);
  std::string v2 = good;
  bf::StoreU32(v2.data() + bf::header::kFormatVersion, 2);
  EXPECT_EQ(VerifyBundleSignatures(v2, root).code(), Code::kUnsupported);
  std::string huge_body = good;
  bf::StoreU32(huge_body.data() + bf::header::kBodySize, 0xffffffff);
  EXPECT_NE(VerifyBundleSignatures(huge_body, root).message().find("body size 4294967295 does not fit"),
            std::string::npos);
}

TEST(BundleSignatureTest, IdentityFromTheHeader) {
  auto id = ReadBundleIdentity(Signed(SampleBundle(42, "canary", 1'900'000'000), {1}));
  ASSERT_TRUE(id) << id.error().ToString();
  EXPECT_EQ(id->content_version, 42u);
  EXPECT_EQ(id->channel, "canary");
  EXPECT_EQ(id->created_unix, 1'700'000'000);
  EXPECT_EQ(id->expires_unix, 1'900'000'000);
  std::string b = SampleBundle(42, "canary");
  bf::StoreU32(b.data() + bf::header::kChannel + 4, 5000);  // channel length past the pool
  auto bad = ReadBundleIdentity(b);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "bundle header: the channel string is outside the string pool");
}

// Seeds for update/fuzz/bundle_signature_fuzzer: VIGIL_REGEN_CORPUS=1.
TEST(BundleSignatureTest, RegenerateFuzzCorpus) {
  const char* regen = std::getenv("VIGIL_REGEN_CORPUS");
  const char* src = std::getenv("VIGIL_SOURCE_DIR");
  if (regen == nullptr || src == nullptr) GTEST_SKIP() << "set VIGIL_REGEN_CORPUS=1 to rewrite the seed corpus";
  std::filesystem::path dir = std::filesystem::path(src) / "update/fuzz/bundle_signature_corpus";
  std::filesystem::create_directories(dir);
  std::string plain = SampleBundle(7, "stable");
  std::map<std::string, std::string> seeds = {
      {"unsigned", plain},
      {"signed_1", Signed(plain, {1})},
      {"signed_1_2", Signed(plain, {1, 2})},
      {"signed_1_2_3", Signed(plain, {1, 2, 3})},
      {"signed_unknown", Signed(plain, {9})},
      {"signed_mixed", Signed(plain, {1, 9})},
  };
  for (const auto& [name, bytes] : seeds) std::ofstream(dir / name, std::ios::binary) << bytes;
}

}  // namespace
}  // namespace vigil::update
