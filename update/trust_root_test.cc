#include "update/trust_root.h"

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

std::string Hex(const PublicKey& k) { return DigestToHex(k.bytes()); }

std::string KeyLine(uint8_t n) {
  PublicKey k = TestKey(n).public_key();
  return "key " + k.IdHex() + " " + Hex(k) + "\n";
}

TEST(TrustRootTest, FormatParseRoundTrip) {
  TrustRoot root = TestRoot(2, {1, 2, 3});
  auto parsed = ParseTrustRoot(FormatTrustRoot(root), "trust.root");
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_EQ(parsed->threshold, 2u);
  EXPECT_EQ(parsed->keys, root.keys);
  EXPECT_EQ(parsed->Find(TestKey(2).public_key().id()), &parsed->keys[1]);
  EXPECT_EQ(parsed->Find(TestKey(4).public_key().id()), nullptr);
}

TEST(TrustRootTest, CommentsAndBlankLinesAreAllowed) {
  std::string text =
      "# fleet root, 2024 \xc3\xa9"
      "dition\n\nvigil-trust-root 1\n  # release keys\nthreshold 1\n" +
      KeyLine(1) + "\n";
  auto r = ParseTrustRoot(text, "t");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->keys.size(), 1u);
}

TEST(TrustRootTest, ParseErrorsNameTheLine) {
  std::string head = "vigil-trust-root 1\n";
  PublicKey k1 = TestKey(1).public_key(), k2 = TestKey(2).public_key();
  std::string many = head + "threshold 1\n";
  for (uint8_t n = 1; n <= kMaxTrustedKeys + 1; ++n) many += KeyLine(n);
  struct Case {
    std::string text;
    Code code;
    std::string message;
  };
  std::vector<Case> cases = {
      {"", Code::kInvalidArgument, "t: empty"},
      {"vigil-manifest 1\n", Code::kInvalidArgument, "t:1: expected \"vigil-trust-root 1\""},
      {"vigil-trust-root 9\n", Code::kUnsupported, "t:1: unsupported version \"9\""},
      {head + KeyLine(1), Code::kInvalidArgument, "t: missing \"threshold\" line"},
      {head + "threshold 1\n", Code::kInvalidArgument, "t: no \"key\" lines"},
      {head + "threshold 0\n" + KeyLine(1), Code::kInvalidArgument, "t:2: threshold must be a number in 1..16"},
      {head + "threshold 17\n" + KeyLine(1), Code::kInvalidArgument, "t:2: threshold must be a number in 1..16"},
      {head + "threshold 01\n" + KeyLine(1), Code::kInvalidArgument, "t:2: threshold must be a number in 1..16"},
      {head + "threshold 1\nthreshold 1\n", Code::kInvalidArgument, "t:3: threshold given twice (first on line 2)"},
      {head + "threshold 3\n" + KeyLine(1) + KeyLine(2), Code::kInvalidArgument,
       "t:2: threshold 3 is more than the 2 key(s) listed"},
      {head + "threshold 1\n" + KeyLine(1) + KeyLine(2) + KeyLine(1), Code::kInvalidArgument,
       "t:5: key " + k1.IdHex() + " is listed twice (first on line 3)"},
      {head + "threshold 1\nkey " + k2.IdHex() + " " + Hex(k1) + "\n", Code::kInvalidArgument,
       "t:3: key id " + k2.IdHex() + " does not match its public key (whose id is " + k1.IdHex() + ")"},
      {head + "threshold 1\nkey " + k1.IdHex() + "\n", Code::kInvalidArgument,
       "t:3: expected \"key <16 hex digit key id> <64 hex digit public key>\""},
      {head + "threshold 1\nkey " + k1.IdHex() + " " + Hex(k1) + " extra\n", Code::kInvalidArgument,
       "t:3: expected \"key <16 hex digit key id>"},
      {head + "threshold 1\nowner ops\n", Code::kInvalidArgument, "t:3: unknown keyword \"owner\""},
      {many, Code::kLimitExceeded, "t:19: more than 16 keys"},
      {head + "threshold 1\n" + KeyLine(1) + "\xff\n", Code::kInvalidArgument, "t:4: non-ASCII byte 0xff"},
      {head + "threshold 1\n" + KeyLine(1) + std::string(kMaxTrustRootBytes, '#') + "\n", Code::kLimitExceeded,
       "bytes exceeds the limit of 16384 bytes"},
  };
  for (const auto& c : cases) {
    auto r = ParseTrustRoot(c.text, "t");
    ASSERT_FALSE(r) << c.text;
    EXPECT_EQ(r.error().code(), c.code) << r.error().ToString();
    EXPECT_NE(r.error().message().find(c.message), std::string::npos) << r.error().message() << "\nwant: " << c.message;
  }
}

TEST(TrustRootTest, MakeTrustRootChecksBounds) {
  EXPECT_TRUE(MakeTrustRoot(2, {TestKey(1).public_key(), TestKey(2).public_key()}));
  EXPECT_EQ(MakeTrustRoot(3, {TestKey(1).public_key(), TestKey(2).public_key()}).error().message(),
            "threshold 3 is outside 1..2 (the number of keys)");
  EXPECT_EQ(MakeTrustRoot(0, {TestKey(1).public_key()}).error().code(), Code::kInvalidArgument);
  EXPECT_EQ(MakeTrustRoot(1, {}).error().code(), Code::kInvalidArgument);
  EXPECT_EQ(MakeTrustRoot(1, {TestKey(1).public_key(), TestKey(1).public_key()}).error().message(),
            "key " + TestKey(1).public_key().IdHex() + " is listed twice");
  std::vector<PublicKey> seventeen;
  for (uint8_t n = 1; n <= 17; ++n) seventeen.push_back(TestKey(n).public_key());
  EXPECT_EQ(MakeTrustRoot(1, seventeen).error().code(), Code::kLimitExceeded);
}

// ---- the k-of-n rule ------------------------------------------------------------

std::vector<Signature> Sigs(std::string_view message, std::initializer_list<uint8_t> ns) {
  std::vector<Signature> out;
  for (uint8_t n : ns) out.push_back(TestKey(n).Sign(message));
  return out;
}

TEST(TrustRootTest, TwoOfThree) {
  TrustRoot root = TestRoot(2, {1, 2, 3});
  EXPECT_TRUE(VerifyThreshold(root, "m", Sigs("m", {1, 2}), "bundle").ok());
  EXPECT_TRUE(VerifyThreshold(root, "m", Sigs("m", {3, 1}), "bundle").ok());
  EXPECT_TRUE(VerifyThreshold(root, "m", Sigs("m", {1, 2, 3}), "bundle").ok());

  Status one = VerifyThreshold(root, "m", Sigs("m", {2}), "bundle");
  EXPECT_EQ(one.code(), Code::kVerifyFailed);
  EXPECT_EQ(one.message(), "below threshold: 1 valid signature of 2 required");

  // The same key twice is one signer.
  Status same = VerifyThreshold(root, "m", Sigs("m", {2, 2}), "bundle");
  EXPECT_EQ(same.message(), "below threshold: 1 valid signature of 2 required");

  // An unknown key does not make up the difference, and is named.
  Status unknown = VerifyThreshold(root, "m", Sigs("m", {2, 7}), "bundle");
  EXPECT_EQ(unknown.message(), "below threshold: 1 valid signature of 2 required (ignored unknown key(s) " +
                                   TestKey(7).public_key().IdHex() + ")");
}

TEST(TrustRootTest, RefusalsSayWhich) {
  TrustRoot root = TestRoot(1, {1});
  EXPECT_EQ(VerifyThreshold(root, "m", {}, "bundle").message(), "unsigned: the bundle carries no signature");
  Status unknown = VerifyThreshold(root, "m", Sigs("m", {7, 8, 7}), "bundle");
  EXPECT_EQ(unknown.code(), Code::kVerifyFailed);
  EXPECT_EQ(unknown.message(), "signed only by unknown key(s) " + TestKey(7).public_key().IdHex() + ", " +
                                   TestKey(8).public_key().IdHex() + " (not in the trust root)");
  Status bad = VerifyThreshold(root, "m2", Sigs("m", {1}), "manifest");
  EXPECT_EQ(bad.code(), Code::kVerifyFailed);
  EXPECT_EQ(bad.message(),
            "bad signature from key " + TestKey(1).public_key().IdHex() + " (manifest tampered or wrong key)");
  // A bad signature from a trusted key refuses even when the threshold is met
  // by others: the signed bytes or the signature were changed.
  TrustRoot two = TestRoot(1, {1, 2});
  std::vector<Signature> mixed = Sigs("m", {1, 2});
  mixed[1].bytes[0] ^= 0x80;
  EXPECT_EQ(VerifyThreshold(two, "m", mixed, "bundle").message(),
            "bad signature from key " + TestKey(2).public_key().IdHex() + " (bundle tampered or wrong key)");
}

// Seeds for update/fuzz/trust_root_fuzzer: VIGIL_REGEN_CORPUS=1.
TEST(TrustRootTest, RegenerateFuzzCorpus) {
  const char* regen = std::getenv("VIGIL_REGEN_CORPUS");
  const char* src = std::getenv("VIGIL_SOURCE_DIR");
  if (regen == nullptr || src == nullptr) GTEST_SKIP() << "set VIGIL_REGEN_CORPUS=1 to rewrite the seed corpus";
  std::filesystem::path dir = std::filesystem::path(src) / "update/fuzz/trust_root_corpus";
  std::filesystem::create_directories(dir);
  std::map<std::string, std::string> seeds = {
      {"one_of_one", FormatTrustRoot(TestRoot(1, {1}))},
      {"two_of_three", FormatTrustRoot(TestRoot(2, {1, 2, 3}))},
      {"comments", "# ops\n\nvigil-trust-root 1\n# k\nthreshold 1\n" + KeyLine(4)},
      {"dup_key", "vigil-trust-root 1\nthreshold 1\n" + KeyLine(1) + KeyLine(1)},
  };
  for (const auto& [name, bytes] : seeds) std::ofstream(dir / name, std::ios::binary) << bytes;
}

}  // namespace
}  // namespace vigil::update
