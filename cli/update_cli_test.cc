// End-to-end tests of `vigil keygen|trust|sign|manifest` and
// `vigil content verify --trust-root`: the real binary from $VIGIL_BIN_DIR in
// a temp dir, as a publisher would run it.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "cli/testing/run_vigil.h"
#include "cli/update_commands.h"
#include "update/bundle_signature.h"
#include "update/keys.h"
#include "update/manifest.h"
#include "update/trust_root.h"

namespace vigil::cli {
namespace {

namespace fs = std::filesystem;
using testing::RunResult;
using testing::Slurp;

const char kRule[] = R"(title: Shell from temp
id: 6f1c1d9e-0000-4000-8000-0000000000a1
status: test
level: high
logsource: {product: linux, category: process_creation}
detection:
  selection:
    Image|startswith: /tmp/
  condition: selection
)";

class UpdateCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vigil_ = testing::VigilBinary();
    ASSERT_FALSE(vigil_.empty()) << "run through ctest (sets VIGIL_BIN_DIR)";
    ASSERT_TRUE(fs::exists(vigil_)) << vigil_;
    char tmpl[] = "/tmp/vigil_update_cli_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string P(const std::string& name) const { return (dir_ / name).string(); }
  RunResult Vigil(const std::string& args) { return testing::RunVigil(vigil_, dir_, args); }
  // A bundle compiled by `vigil content build`.
  std::string Build(const std::string& name, const std::string& extra = "") {
    std::ofstream(P("rule.yml")) << kRule;
    RunResult r =
        Vigil("content build " + P("rule.yml") + " -o " + P(name) + " --content-version 42 --channel canary" + extra);
    EXPECT_EQ(r.code, 0) << r.err;
    return P(name);
  }
  std::string Keygen(const std::string& prefix) {
    RunResult r = Vigil("keygen --out " + P(prefix));
    EXPECT_EQ(r.code, 0) << r.err;
    return r.out;
  }

  std::string vigil_;
  fs::path dir_;
};

TEST_F(UpdateCliTest, KeygenWritesBothFilesOnceWithSafeModes) {
  std::string out = Keygen("release");
  auto sk = update::ReadSecretKeyFile(P("release.key"));
  ASSERT_TRUE(sk) << sk.error().ToString();
  auto pk = update::ReadPublicKeyFile(P("release.pub"));
  ASSERT_TRUE(pk) << pk.error().ToString();
  EXPECT_EQ(sk->public_key(), *pk);
  EXPECT_EQ(out, "key id " + pk->IdHex() + "\n");
  struct stat st {};
  ASSERT_EQ(::stat(P("release.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  RunResult again = Vigil("keygen --out " + P("release"));
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.err.find("release.key exists; refusing to overwrite it"), std::string::npos) << again.err;
  EXPECT_EQ(update::ReadSecretKeyFile(P("release.key"))->public_key(), *pk);  // untouched

  // Only the .pub existing is also refused, and no .key is left behind.
  fs::rename(P("release.pub"), P("other.pub"));
  fs::remove(P("release.key"));
  fs::copy(P("other.pub"), P("solo.pub"));
  RunResult solo = Vigil("keygen --out " + P("solo"));
  EXPECT_EQ(solo.code, 1);
  EXPECT_NE(solo.err.find("solo.pub exists"), std::string::npos) << solo.err;
  EXPECT_FALSE(fs::exists(P("solo.key")));
}

TEST_F(UpdateCliTest, SignWithAReadableKeyIsRefused) {
  Keygen("k");
  ASSERT_EQ(::chmod(P("k.key").c_str(), 0644), 0);
  std::string b = Build("b.vbundle");
  RunResult r = Vigil("sign --key " + P("k.key") + " " + b);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("is accessible by group or others (mode 0644)"), std::string::npos) << r.err;
}

TEST_F(UpdateCliTest, TrustSignVerifyTwoOfThree) {
  Keygen("a");
  Keygen("b");
  Keygen("c");
  RunResult t =
      Vigil("trust --threshold 2 " + P("a.pub") + " " + P("b.pub") + " " + P("c.pub") + " --out " + P("trust.root"));
  ASSERT_EQ(t.code, 0) << t.err;
  auto root = update::LoadTrustRoot(P("trust.root"));
  ASSERT_TRUE(root) << root.error().ToString();
  EXPECT_EQ(root->threshold, 2u);
  EXPECT_EQ(root->keys.size(), 3u);
  // stdout form is the same text.
  RunResult stdout_form = Vigil("trust --threshold 2 " + P("a.pub") + " " + P("b.pub") + " " + P("c.pub"));
  EXPECT_EQ(stdout_form.out, Slurp(P("trust.root")));

  std::string b = Build("b.vbundle");
  std::string verify = "content verify --trust-root " + P("trust.root") + " " + b;
  RunResult unsigned_ = Vigil(verify);
  EXPECT_EQ(unsigned_.code, 1);
  EXPECT_NE(unsigned_.err.find("signatures: verification failed: unsigned"), std::string::npos) << unsigned_.err;

  ASSERT_EQ(Vigil("sign --key " + P("a.key") + " " + b).code, 0);
  RunResult one = Vigil(verify);
  EXPECT_EQ(one.code, 1);
  EXPECT_NE(one.err.find("below threshold: 1 valid signature of 2 required"), std::string::npos) << one.err;

  // Signing again with the same key does not count twice.
  ASSERT_EQ(Vigil("sign --key " + P("a.key") + " " + b).code, 0);
  EXPECT_EQ(Vigil(verify).code, 1);

  RunResult second = Vigil("sign --key " + P("c.key") + " " + b + " --out " + P("b2.vbundle"));
  ASSERT_EQ(second.code, 0) << second.err;
  RunResult ok = Vigil("content verify --trust-root " + P("trust.root") + " " + P("b2.vbundle"));
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_NE(ok.out.find("ok: "), std::string::npos);
  EXPECT_NE(ok.out.find("(2 of 3 trusted keys required)"), std::string::npos) << ok.out;
  // Without --trust-root, verify is unchanged: signatures are not its concern.
  EXPECT_EQ(Vigil("content verify " + b).code, 0);

  // inspect lists the signers.
  RunResult inspect = Vigil("content inspect " + P("b2.vbundle"));
  ASSERT_EQ(inspect.code, 0) << inspect.err;
  std::string a_id = update::ReadPublicKeyFile(P("a.pub"))->IdHex();
  std::string c_id = update::ReadPublicKeyFile(P("c.pub"))->IdHex();
  EXPECT_NE(inspect.out.find("signed by       " + a_id + ", " + c_id), std::string::npos) << inspect.out;
}

TEST_F(UpdateCliTest, VerifyNamesATamperedBundle) {
  Keygen("a");
  ASSERT_EQ(Vigil("trust --threshold 1 " + P("a.pub") + " --out " + P("trust.root")).code, 0);
  std::string b = Build("b.vbundle");
  ASSERT_EQ(Vigil("sign --key " + P("a.key") + " " + b).code, 0);
  std::string bytes = Slurp(b);
  bytes[bytes.size() - 1] ^= 1;  // last byte of the signature
  std::ofstream(b, std::ios::binary | std::ios::trunc) << bytes;
  RunResult r = Vigil("content verify --trust-root " + P("trust.root") + " " + b);
  EXPECT_EQ(r.code, 1);
  std::string id = update::ReadPublicKeyFile(P("a.pub"))->IdHex();
  EXPECT_NE(r.err.find("bad signature from key " + id + " (bundle tampered or wrong key)"), std::string::npos) << r.err;

  Keygen("stranger");
  std::string c = Build("c.vbundle");
  ASSERT_EQ(Vigil("sign --key " + P("stranger.key") + " " + c).code, 0);
  RunResult u = Vigil("content verify --trust-root " + P("trust.root") + " " + c);
  EXPECT_EQ(u.code, 1);
  EXPECT_NE(u.err.find("signed only by unknown key(s)"), std::string::npos) << u.err;
}

TEST_F(UpdateCliTest, SignRefusesContentTheSensorWouldRefuse) {
  Keygen("a");
  std::ofstream(P("junk.vbundle")) << "not a bundle";
  RunResult r = Vigil("sign --key " + P("a.key") + " " + P("junk.vbundle"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("refused"), std::string::npos) << r.err;
  EXPECT_EQ(Slurp(P("junk.vbundle")), "not a bundle");
}

TEST_F(UpdateCliTest, ManifestFromASignedBundle) {
  Keygen("a");
  Keygen("m");
  ASSERT_EQ(Vigil("trust --threshold 1 " + P("a.pub") + " --out " + P("trust.root")).code, 0);
  std::string b = Build("b.vbundle");

  RunResult unsigned_ = Vigil("manifest --bundle " + b + " --url b.vbundle --expires-in 7d --key " + P("m.key") +
                              " --out " + P("manifest"));
  EXPECT_EQ(unsigned_.code, 1);
  EXPECT_NE(unsigned_.err.find("is unsigned; hosts would refuse it"), std::string::npos) << unsigned_.err;
  EXPECT_FALSE(fs::exists(P("manifest")));

  ASSERT_EQ(Vigil("sign --key " + P("a.key") + " " + b).code, 0);
  // The manifest signer's key is not in this trust root: --trust-root checks
  // the bundle's signatures, not the manifest's.
  RunResult checked = Vigil("manifest --bundle " + b + " --url b.vbundle --expires-in 7d --key " + P("m.key") +
                            " --trust-root " + P("trust.root") + " --out " + P("manifest"));
  ASSERT_EQ(checked.code, 0) << checked.err;

  int64_t before = static_cast<int64_t>(std::time(nullptr));
  RunResult r = Vigil("manifest --bundle " + b + " --url b.vbundle --expires-in 12h --key " + P("m.key") + " --key " +
                      P("a.key") + " --out " + P("manifest"));
  ASSERT_EQ(r.code, 0) << r.err;
  std::ifstream in(P("manifest"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto root =
      update::MakeTrustRoot(2, {*update::ReadPublicKeyFile(P("a.pub")), *update::ReadPublicKeyFile(P("m.pub"))});
  ASSERT_TRUE(root);
  auto m = update::VerifyManifest(text, "manifest", *root, before);
  ASSERT_TRUE(m) << m.error().ToString() << "\n" << text;
  EXPECT_EQ(m->channel, "canary");
  EXPECT_EQ(m->content_version, 42u);
  EXPECT_EQ(m->bundle_url, "b.vbundle");
  std::string bytes = Slurp(b);
  EXPECT_EQ(m->bundle_size, bytes.size());
  EXPECT_EQ(m->bundle_blake2b, update::Blake2b256(bytes));
  EXPECT_GE(m->created_unix, before);
  EXPECT_EQ(m->expires_unix - m->created_unix, 12 * 3600);
  EXPECT_EQ(m->signatures.size(), 2u);

  RunResult bad_ttl =
      Vigil("manifest --bundle " + b + " --url b --expires-in 7w --key " + P("m.key") + " --out " + P("m2"));
  EXPECT_EQ(bad_ttl.code, 2);
  EXPECT_NE(bad_ttl.err.find("--expires-in 7w: expected a duration"), std::string::npos) << bad_ttl.err;
  RunResult bad_url =
      Vigil("manifest --bundle " + b + " --url 'a b' --expires-in 7d --key " + P("m.key") + " --out " + P("m2"));
  EXPECT_EQ(bad_url.code, 1);
  EXPECT_NE(bad_url.err.find("bundle-url may hold only printable ASCII"), std::string::npos) << bad_url.err;
}

TEST_F(UpdateCliTest, TrustRefusesBadThresholds) {
  Keygen("a");
  RunResult r = Vigil("trust --threshold 2 " + P("a.pub"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("threshold 2 is outside 1..1"), std::string::npos) << r.err;
  RunResult dup = Vigil("trust --threshold 1 " + P("a.pub") + " " + P("a.pub"));
  EXPECT_EQ(dup.code, 1);
  EXPECT_NE(dup.err.find("is listed twice"), std::string::npos) << dup.err;
}

TEST(ParseDurationTest, UnitsAndBounds) {
  EXPECT_EQ(ParseDuration("7d"), 7 * 86400);
  EXPECT_EQ(ParseDuration("12h"), 12 * 3600);
  EXPECT_EQ(ParseDuration("90m"), 90 * 60);
  EXPECT_EQ(ParseDuration("3600s"), 3600);
  EXPECT_EQ(ParseDuration("3650d"), 3650 * 86400);
  for (const char* bad : {"", "d", "7", "0d", "07d", "-1d", "1.5d", "7w", "3651d", "9999999999d", " 7d"}) {
    EXPECT_FALSE(ParseDuration(bad)) << bad;
  }
}

}  // namespace
}  // namespace vigil::cli
