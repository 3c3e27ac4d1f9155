#include "update/keys.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "update/testing/test_content.h"

namespace vigil::update {
namespace {

namespace fs = std::filesystem;
using testing::TestKey;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/vigil_keys_test_XXXXXX";
    if (mkdtemp(tmpl) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

void WriteText(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path, std::ios::binary) << text;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

TEST(KeysTest, SignVerifyRoundTrip) {
  SecretKey k = SecretKey::Generate();
  Signature sig = k.Sign("hello");
  EXPECT_EQ(sig.key_id, k.public_key().id());
  EXPECT_TRUE(k.public_key().Verify("hello", sig));
  EXPECT_FALSE(k.public_key().Verify("hellO", sig));
  Signature flipped = sig;
  flipped.bytes[10] ^= 1;
  EXPECT_FALSE(k.public_key().Verify("hello", flipped));
  // A valid signature under another key's id does not verify: the id is part
  // of what is checked.
  Signature wrong_id = sig;
  wrong_id.key_id = TestKey(9).public_key().id();
  EXPECT_FALSE(k.public_key().Verify("hello", wrong_id));
  EXPECT_FALSE(TestKey(9).public_key().Verify("hello", sig));
}

TEST(KeysTest, KeyIdIsFirstEightBytesOfBlake2bOfThePublicKey) {
  SecretKey k = TestKey(1);
  const auto& pk = k.public_key().bytes();
  Digest d = Blake2b256(std::string_view(reinterpret_cast<const char*>(pk.data()), pk.size()));
  EXPECT_EQ(k.public_key().IdHex(), DigestToHex(d).substr(0, 16));
  EXPECT_EQ(k.public_key().IdHex().size(), 16u);
  EXPECT_EQ(ParseKeyIdHex(k.public_key().IdHex()), k.public_key().id());
  EXPECT_FALSE(ParseKeyIdHex("0123456789ABCDEF"));  // lowercase only
  EXPECT_FALSE(ParseKeyIdHex("0123456789abcde"));
}

TEST(KeysTest, SeedIsDeterministic) {
  EXPECT_EQ(TestKey(3).public_key(), TestKey(3).public_key());
  EXPECT_NE(TestKey(3).public_key(), TestKey(4).public_key());
  EXPECT_EQ(TestKey(3).Sign("m"), TestKey(3).Sign("m"));  // ed25519 is deterministic
}

TEST(KeysTest, TextFormsRoundTrip) {
  SecretKey k = TestKey(2);
  auto pub = ParsePublicKey(FormatPublicKey(k.public_key()), "k.pub");
  ASSERT_TRUE(pub) << pub.error().ToString();
  EXPECT_EQ(*pub, k.public_key());
  auto sec = ParseSecretKey(FormatSecretKey(k), "k.key");
  ASSERT_TRUE(sec) << sec.error().ToString();
  EXPECT_EQ(sec->public_key(), k.public_key());
  EXPECT_EQ(sec->Sign("x"), k.Sign("x"));
}

TEST(KeysTest, MovedFromSecretKeyIsWiped) {
  SecretKey a = TestKey(5);
  SecretKey b = std::move(a);
  EXPECT_TRUE(b.public_key().Verify("m", b.Sign("m")));
  // The moved-from key signs with zero bytes, which do not make a valid
  // signature for its (stale) public key.
  EXPECT_FALSE(b.public_key().Verify("m", a.Sign("m")));  // NOLINT(bugprone-use-after-move)
}

std::string PubText(const SecretKey& k) { return FormatPublicKey(k.public_key()); }

TEST(KeysTest, PublicKeyParseErrorsNameTheLine) {
  std::string good = PubText(TestKey(1));  // comment line 1, header 2, key-id 3, public 4
  struct Case {
    std::string text;
    Code code;
    std::string message;
  };
  std::string id = TestKey(1).public_key().IdHex();
  std::string other_id = TestKey(2).public_key().IdHex();
  std::string pk = good.substr(good.find("\npublic ") + 8, 64);
  std::vector<Case> cases = {
      {"", Code::kInvalidArgument, "k.pub: empty"},
      {"# only a comment\n", Code::kInvalidArgument, "k.pub: no \"vigil-public-key 1\" line"},
      {"vigil-secret-key 1\n", Code::kInvalidArgument, "k.pub:1: expected \"vigil-public-key 1\""},
      {"vigil-public-key 2\n", Code::kUnsupported, "k.pub:1: unsupported version \"2\""},
      {"vigil-public-key 1\nkey-id " + id + "\n", Code::kInvalidArgument, "k.pub: missing \"public\" line"},
      {"vigil-public-key 1\nkey-id " + id + "\npublic " + pk + "\nkey-id " + id + "\n", Code::kInvalidArgument,
       "k.pub:4: \"key-id\" given twice (first on line 2)"},
      {"vigil-public-key 1\n\nowner alice\n", Code::kInvalidArgument, "k.pub:3: unknown keyword \"owner\""},
      {"vigil-public-key 1\nkey-id " + id + "\npublic " + pk.substr(2) + "\n", Code::kInvalidArgument,
       "k.pub:3: public must be 64 lowercase hex digits"},
      {"vigil-public-key 1\nkey-id " + other_id + "\npublic " + pk + "\n", Code::kInvalidArgument,
       "k.pub:2: key-id " + other_id + " does not match the key (whose id is " + id + ")"},
      {"vigil-public-key 1\r\n", Code::kInvalidArgument, "k.pub:1: carriage return"},
      {"vigil-public-key 1", Code::kInvalidArgument, "k.pub:1: last line does not end in a newline"},
      {"vigil-public-key 1\nkey-id \x01\n", Code::kInvalidArgument, "k.pub:2: control character 0x01"},
      {std::string(kMaxKeyFileBytes + 1, '#'), Code::kLimitExceeded, "exceeds the limit of 4096 bytes"},
  };
  for (const auto& c : cases) {
    auto r = ParsePublicKey(c.text, "k.pub");
    ASSERT_FALSE(r) << c.text;
    EXPECT_EQ(r.error().code(), c.code) << r.error().ToString();
    EXPECT_NE(r.error().message().find(c.message), std::string::npos) << r.error().message() << "\nwant: " << c.message;
  }
}

TEST(KeysTest, SecretKeyWhosePublicHalfDisagreesIsRefused) {
  std::string text = FormatSecretKey(TestKey(1));
  std::string other = DigestToHex(Digest{});  // 64 zeros
  size_t at = text.find("\npublic ") + 8;
  text.replace(at, 64, other);
  auto r = ParseSecretKey(text, "k.key");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("k.key:6: public does not match the key derived from seed"), std::string::npos)
      << r.error().message();
}

TEST(KeysTest, FilesAreWrittenOnceWithSafeModes) {
  TempDir dir;
  SecretKey k = TestKey(1);
  ASSERT_TRUE(WriteSecretKeyFile(dir / "a.key", k).ok());
  ASSERT_TRUE(WritePublicKeyFile(dir / "a.pub", k.public_key()).ok());
  struct stat st {};
  ASSERT_EQ(::stat((dir / "a.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(::stat((dir / "a.pub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);

  auto sk = ReadSecretKeyFile(dir / "a.key");
  ASSERT_TRUE(sk) << sk.error().ToString();
  EXPECT_EQ(sk->public_key(), k.public_key());
  auto pk = ReadPublicKeyFile(dir / "a.pub");
  ASSERT_TRUE(pk) << pk.error().ToString();
  EXPECT_EQ(*pk, k.public_key());

  Status again = WriteSecretKeyFile(dir / "a.key", TestKey(2));
  EXPECT_EQ(again.code(), Code::kInvalidArgument);
  EXPECT_NE(again.message().find("exists; refusing to overwrite it"), std::string::npos) << again.message();
  EXPECT_EQ(ReadSecretKeyFile(dir / "a.key")->public_key(), k.public_key());  // unchanged
  EXPECT_EQ(WritePublicKeyFile(dir / "a.pub", TestKey(2).public_key()).code(), Code::kInvalidArgument);
}

TEST(KeysTest, GroupOrWorldAccessibleSecretKeyIsRefused) {
  TempDir dir;
  for (mode_t mode : {0640, 0604, 0660, 0602, 0610}) {
    std::string path = dir / ("k" + std::to_string(mode) + ".key");
    WriteText(path, FormatSecretKey(TestKey(1)), mode);
    auto r = ReadSecretKeyFile(path);
    ASSERT_FALSE(r) << std::oct << mode;
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
    EXPECT_NE(r.error().message().find("is accessible by group or others (mode 0" + fmt::format("{:o}", mode) + ")"),
              std::string::npos)
        << r.error().message();
    EXPECT_NE(r.error().message().find("chmod 600"), std::string::npos);
  }
  std::string ok = dir / "ok.key";
  WriteText(ok, FormatSecretKey(TestKey(1)), 0400);
  EXPECT_TRUE(ReadSecretKeyFile(ok));
  // Public key files may be world-readable.
  std::string pub = dir / "ok.pub";
  WriteText(pub, FormatPublicKey(TestKey(1).public_key()), 0644);
  EXPECT_TRUE(ReadPublicKeyFile(pub));
}

TEST(KeysTest, KeyFileReadIsBounded) {
  TempDir dir;
  std::string path = dir / "big.pub";
  WriteText(path, std::string(kMaxKeyFileBytes + 1, '#'), 0644);
  auto r = ReadPublicKeyFile(path);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kLimitExceeded);
  auto missing = ReadPublicKeyFile(dir / "nope.pub");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Code::kIo);
  EXPECT_NE(missing.error().message().find("nope.pub"), std::string::npos);
}

}  // namespace
}  // namespace vigil::update
