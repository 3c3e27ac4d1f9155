// The update agent against a real HTTP server on 127.0.0.1 serving signed
// manifests and bundles (update/testing): what is delivered, what is refused
// and why, backoff, and Stop().
#include "update/agent.h"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "update/bundle_signature.h"
#include "update/testing/http_server.h"
#include "update/testing/test_content.h"

namespace vigil::update {
namespace {

using std::chrono::milliseconds;
using testing::FieldCountDefectBundle;
using testing::SampleBundle;
using testing::TestHttpServer;
using testing::TestKeys;
using testing::TestRoot;
using Clock = std::chrono::steady_clock;

constexpr int64_t kNow = 1'767'225'600;

std::string SignedBy(const std::string& bundle, std::initializer_list<uint8_t> ns) {
  std::vector<SecretKey> keys = TestKeys(ns);
  auto r = SignBundle(bundle, keys);
  if (!r) ADD_FAILURE() << r.error().ToString();
  return r.value_or("");
}

struct Publication {
  uint64_t version = 7;
  std::string channel = "stable";
  std::string bundle;            // bytes served at /bundles/v<version>.vbundle
  std::optional<uint64_t> size;  // manifest's bundle-size (default: the real size)
  std::optional<Digest> hash;    // manifest's hash (default: the real hash)
  int64_t expires = kNow + 7 * 86400;
  std::initializer_list<uint8_t> manifest_keys = {1};
};

class AgentTest : public ::testing::Test {
 protected:
  // Serves `p`'s bundle and a manifest describing it at /vigil/manifest.
  void Publish(const Publication& p) {
    std::string path = "/vigil/bundles/v" + std::to_string(p.version) + ".vbundle";
    server_.Put(path, p.bundle);
    Manifest m;
    m.channel = p.channel;
    m.content_version = p.version;
    m.bundle_url = "bundles/v" + std::to_string(p.version) + ".vbundle";
    m.bundle_size = p.size.value_or(p.bundle.size());
    m.bundle_blake2b = p.hash.value_or(Blake2b256(p.bundle));
    m.created_unix = kNow - 60;
    m.expires_unix = p.expires;
    std::vector<SecretKey> keys = TestKeys(p.manifest_keys);
    auto text = SignManifest(m, keys);
    ASSERT_TRUE(text) << text.error().ToString();
    server_.Put("/vigil/manifest", *text);
  }
  std::string BundlePath(uint64_t version) { return "/vigil/bundles/v" + std::to_string(version) + ".vbundle"; }

  UpdateAgentOptions Options() {
    UpdateAgentOptions o;
    o.manifest_url = server_.Url("/vigil/manifest");
    o.channel = "stable";
    o.poll_interval = milliseconds(60'000);
    o.timeout = milliseconds(5'000);
    o.connect_timeout = milliseconds(2'000);
    o.backoff_min = milliseconds(100);
    o.backoff_max = milliseconds(10'000);
    o.rng_seed = 99;
    o.now_unix = [this] { return now_.load(); };
    return o;
  }

  std::unique_ptr<UpdateAgent> Agent(UpdateAgentOptions o, TrustRoot root = TestRoot(1, {1})) {
    UpdateAgent::Callbacks cb;
    cb.current_version = [this] { return current_.load(); };
    cb.deliver = [this](const Manifest& m, std::string bundle) {
      std::lock_guard<std::mutex> lock(mu_);
      ++deliver_calls_;
      if (!deliver_status_.ok()) return deliver_status_;
      delivered_.push_back({m.content_version, std::move(bundle)});
      current_ = m.content_version;
      return Status::Ok();
    };
    auto a = UpdateAgent::Create(std::move(o), std::move(root), Schema::Builtin(), std::move(cb));
    EXPECT_TRUE(a) << a.error().ToString();
    return a ? std::move(*a) : nullptr;
  }
  std::unique_ptr<UpdateAgent> Agent() { return Agent(Options()); }

  size_t delivered() {
    std::lock_guard<std::mutex> lock(mu_);
    return delivered_.size();
  }

  // Asserts one poll refuses for `reason` with a message containing `text`,
  // and nothing was delivered.
  void ExpectRefused(UpdateAgent& agent, Refusal reason, const std::string& text) {
    uint64_t before = agent.stats().refused(reason);
    Status s = agent.PollOnce();
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find(text), std::string::npos) << s.ToString() << "\nwant: " << text;
    UpdateAgentStats st = agent.stats();
    EXPECT_EQ(st.refused(reason), before + 1) << RefusalName(reason) << ": " << s.ToString();
    EXPECT_EQ(st.last_error, s.ToString());
    EXPECT_EQ(delivered(), 0u);
  }

  TestHttpServer server_;
  std::atomic<uint64_t> current_{5};
  std::atomic<int64_t> now_{kNow};
  std::mutex mu_;
  std::vector<std::pair<uint64_t, std::string>> delivered_;
  size_t deliver_calls_ = 0;
  Status deliver_status_;
};

TEST_F(AgentTest, GoodUpdateIsDeliveredOnce) {
  std::string bundle = SignedBy(SampleBundle(7, "stable"), {1});
  Publish({.bundle = bundle});
  auto agent = Agent();
  Status s = agent->PollOnce();
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(delivered(), 1u);
  EXPECT_EQ(delivered_[0].first, 7u);
  EXPECT_EQ(delivered_[0].second, bundle);
  // The host now runs v7: the same manifest is nothing to do.
  EXPECT_TRUE(agent->PollOnce().ok());
  EXPECT_TRUE(agent->PollOnce().ok());
  EXPECT_EQ(delivered(), 1u);
  EXPECT_EQ(server_.hits(BundlePath(7)), 1u);
  UpdateAgentStats st = agent->stats();
  EXPECT_EQ(st.polls, 3u);
  EXPECT_EQ(st.accepted, 1u);
  EXPECT_EQ(st.last_accepted_version, 7u);
  EXPECT_EQ(st.fetch_failures, 0u);
  EXPECT_EQ(st.last_success_unix, kNow);
  EXPECT_EQ(st.last_error, "");
  for (size_t r = 0; r < kRefusalKinds; ++r) EXPECT_EQ(st.refusals[r], 0u);
}

TEST_F(AgentTest, SameVersionIsANoOp) {
  current_ = 7;
  Publish({.bundle = SignedBy(SampleBundle(7, "stable"), {1})});
  auto agent = Agent();
  EXPECT_TRUE(agent->PollOnce().ok());
  EXPECT_EQ(server_.hits(BundlePath(7)), 0u);
  EXPECT_EQ(delivered(), 0u);
}

TEST_F(AgentTest, DowngradeIsRefused) {
  current_ = 9;
  Publish({.bundle = SignedBy(SampleBundle(7, "stable"), {1})});
  auto agent = Agent();
  ExpectRefused(*agent, Refusal::kDowngrade, "downgrade from v9 to v7 refused");
  EXPECT_EQ(server_.hits(BundlePath(7)), 0u);
}

TEST_F(AgentTest, ExpiredManifestIsRefused) {
  Publish({.bundle = SignedBy(SampleBundle(7, "stable"), {1}), .expires = kNow - 1});
  auto agent = Agent();
  ExpectRefused(*agent, Refusal::kExpired,
                "manifest expired at 2025-12-31T23:59:59Z (unix 1767225599; now 1767225600)");
  EXPECT_EQ(server_.hits(BundlePath(7)), 0u);
}

TEST_F(AgentTest, ManifestSignedByAnUnknownKeyIsRefused) {
  Publish({.bundle = SignedBy(SampleBundle(7, "stable"), {1}), .manifest_keys = {2}});
  auto agent = Agent();
  ExpectRefused(*agent, Refusal::kSignature, "signed only by unknown key(s)");
  EXPECT_EQ(server_.hits(BundlePath(7)), 0u);
}

TEST_F(AgentTest, WrongKeyBundleIsRefusedOnceThenANewerVersionIsTried) {
  Publish({.bundle = SignedBy(SampleBundle(7, "stable"), {2})});
  auto agent = Agent();
  ExpectRefused(*agent, Refusal::kSignature, "signed only by unknown key(s)");
  EXPECT_EQ(server_.hits(BundlePath(7)), 1u);
  // Not downloaded again while the manifest still offers it.
  Status again = agent->PollOnce();
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.message().find("v7 was refused before and is not fetched again (v7 from"), std::string::npos)
      << again.message();
  EXPECT_EQ(server_.hits(BundlePath(7)), 1u);
  EXPECT_EQ(agent->stats().skipped_known_bad, 1u);
  EXPECT_EQ(agent->stats().refused(Refusal::kSignature), 1u);
  // A newer version is tried.
  Publish({.version = 8, .bundle = SignedBy(SampleBundle(8, "stable"), {1})});
  EXPECT_TRUE(agent->PollOnce().ok());
  ASSERT_EQ(delivered(), 1u);
  EXPECT_EQ(delivered_[0].first, 8u);
}

TEST_F(AgentTest, BelowThresholdBundleIsRefused) {
  Publish({.bundle = SignedBy(SampleBundle(7, "stable"), {1}), .manifest_keys = {1, 2}});
  auto agent = Agent(Options(), TestRoot(2, {1, 2, 3}));
  ExpectRefused(*agent, Refusal::kSignature, "below threshold: 1 valid signature of 2 required");
}

TEST_F(AgentTest, TamperedBundleBytesAreRefused) {
  // The publisher's manifest describes the bytes as served, but someone
  // changed a body byte (and fixed the checksum) before publishing.
  std::string bundle = SignedBy(SampleBundle(7, "stable"), {1});
  std::string tampered = bundle;
  tampered[300] ^= 0x01;
  Publish({.bundle = tampered});
  auto agent = Agent();
  Status s = agent->PollOnce();
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(agent->stats().refused(Refusal::kSignature), 1u) << s.ToString();
  EXPECT_EQ(delivered(), 0u);
}

TEST_F(AgentTest, HashMismatchIsRefusedAndRetried) {
  std::string bundle = SignedBy(SampleBundle(7, "stable"), {1});
  Publish({.bundle = bundle, .hash = Blake2b256("other bytes")});
  auto agent = Agent();
  ExpectRefused(*agent, Refusal::kHash, "differs from the manifest's");
  // A hash mismatch describes the transfer or the mirror, not the content:
  // the next poll fetches again.
  ExpectRefused(*agent, Refusal::kHash, "differs from the manifest's");
  EXPECT_EQ(server_.hits(BundlePath(7)), 2u);
}

TEST_F(AgentTest, OversizeBundlesAreRefused) {
  std::string bundle = SignedBy(SampleBundle(7, "stable"), {1});
  // The manifest announces more than this host accepts: not fetched.
  UpdateAgentOptions small = Options();
  small.max_bundle_bytes = bundle.size() - 1;
  Publish({.bundle = bundle});
  auto agent = Agent(small);
  ExpectRefused(*agent, Refusal::kSize, "the manifest announces a bundle of");
  EXPECT_EQ(server_.hits(BundlePath(7)), 0u);

  // The server sends more than the manifest announced (the manifest lies, or
  // the file was replaced): the transfer stops at the announced size.
  Publish({.bundle = bundle, .size = bundle.size() - 10});
  auto agent2 = Agent();
  ExpectRefused(*agent2, Refusal::kSize, "larger than the");
  server_.PutSlow(BundlePath(7), bundle + std::string(1 << 20, 'x'), 4096, milliseconds(0), /*chunked=*/true);
  ExpectRefused(*agent2, Refusal::kSize, "body exceeds the limit of");

  // ... or fewer bytes.
  Publish({.bundle = bundle, .size = bundle.size() + 10});
  ExpectRefused(*agent2, Refusal::kSize, "bytes; the manifest says");
}

TEST_F(AgentTest, SlowServerHitsTheDeadline) {
  std::string bundle = SignedBy(SampleBundle(7, "stable"), {1});
  Publish({.bundle = bundle});
  server_.PutSlow(BundlePath(7), bundle, 8, milliseconds(100));  // ~6 s for the whole bundle
  UpdateAgentOptions o = Options();
  o.timeout = milliseconds(600);
  auto agent = Agent(o);
  auto start = Clock::now();
  Status s = agent->PollOnce();
  EXPECT_LT(Clock::now() - start, milliseconds(2000));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("deadline of 600 ms passed"), std::string::npos) << s.ToString();
  EXPECT_EQ(agent->stats().fetch_failures, 1u);
  EXPECT_EQ(delivered(), 0u);
}

TEST_F(AgentTest, FieldCountDefectIsRefusedByTheVerifier) {
  // The July 2024 content: signed by a trusted key, announced by a valid
  // manifest, built for a process_creation with one more field than this
  // sensor has. Everything checks out until the verifier.
  Publish({.bundle = SignedBy(FieldCountDefectBundle(7, "stable"), {1})});
  auto agent = Agent();
  Status s = agent->PollOnce();
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kVerifyFailed);
  EXPECT_EQ(agent->stats().refused(Refusal::kVerify), 1u) << s.ToString();
  EXPECT_NE(s.message().find("VG500"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("VG502"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("c0ffee00-2024-0719-0000-000000000291"), std::string::npos) << s.message();
  EXPECT_EQ(delivered(), 0u);
  // Remembered: not fetched again.
  EXPECT_FALSE(agent->PollOnce().ok());
  EXPECT_EQ(server_.hits(BundlePath(7)), 1u);
}

TEST_F(AgentTest, ExpiredBundleIsRefusedByTheLoader) {
  Publish({.bundle = SignedBy(SampleBundle(7, "stable", kNow - 10), {1})});
  auto agent = Agent();
  ExpectRefused(*agent, Refusal::kVerify, "expired at unix time");
}

TEST_F(AgentTest, ChannelMismatches) {
  // A manifest for another channel.
  Publish({.channel = "beta", .bundle = SignedBy(SampleBundle(7, "beta"), {1})});
  auto agent = Agent();
  ExpectRefused(*agent, Refusal::kChannel, "manifest is for channel \"beta\"; this host follows \"stable\"");
  EXPECT_EQ(server_.hits(BundlePath(7)), 0u);
  // A stable manifest pointing at a beta bundle.
  Publish({.bundle = SignedBy(SampleBundle(7, "beta"), {1})});
  ExpectRefused(*agent, Refusal::kMismatch,
                "the bundle header says channel \"beta\" v7; the manifest says channel \"stable\" v7");
  // A v7 manifest pointing at a v6 bundle.
  Publish({.version = 7, .bundle = SignedBy(SampleBundle(6, "stable"), {1})});
  ExpectRefused(*agent, Refusal::kMismatch, "the bundle header says channel \"stable\" v6");
}

TEST_F(AgentTest, MalformedAndMissingManifests) {
  auto agent = Agent();
  Status missing = agent->PollOnce();
  EXPECT_EQ(missing.code(), Code::kNotFound);
  EXPECT_EQ(agent->stats().fetch_failures, 1u);
  server_.Put("/vigil/manifest", "vigil-manifest 1\nchannel stable\nmirror x\n");
  ExpectRefused(*agent, Refusal::kMalformed, "manifest:3: unknown key \"mirror\"");
  server_.Put("/vigil/manifest", std::string(kMaxManifestBytes + 1, 'x'));
  ExpectRefused(*agent, Refusal::kMalformed, "exceeds the limit of 65536 bytes");
}

TEST_F(AgentTest, DeliverFailureIsRetried) {
  Publish({.bundle = SignedBy(SampleBundle(7, "stable"), {1})});
  deliver_status_ = Status(Code::kIo, "disk full");
  auto agent = Agent();
  Status s = agent->PollOnce();
  EXPECT_NE(s.message().find("v7: delivery failed: disk full"), std::string::npos) << s.ToString();
  EXPECT_EQ(agent->stats().deliver_failures, 1u);
  deliver_status_ = Status::Ok();
  EXPECT_TRUE(agent->PollOnce().ok());
  EXPECT_EQ(delivered(), 1u);
  EXPECT_EQ(deliver_calls_, 2u);
}

TEST_F(AgentTest, BackoffGrowsAndResets) {
  UpdateAgentOptions o = Options();
  auto agent = Agent(o);  // no manifest yet: every poll fails (HTTP 404)
  Backoff expect({o.backoff_min, o.backoff_max, o.backoff_factor}, o.rng_seed);
  for (uint32_t i = 1; i <= 8; ++i) {
    int64_t ceiling = expect.Ceiling().count();
    EXPECT_FALSE(agent->PollOnce().ok());
    UpdateAgentStats st = agent->stats();
    EXPECT_EQ(st.consecutive_failures, i);
    EXPECT_EQ(st.next_wait_ms, expect.Next().count());
    EXPECT_GE(st.next_wait_ms, 100);
    EXPECT_LE(st.next_wait_ms, ceiling);
  }
  EXPECT_EQ(expect.Ceiling().count(), 10'000);  // grew to the cap
  Publish({.bundle = SignedBy(SampleBundle(7, "stable"), {1})});
  EXPECT_TRUE(agent->PollOnce().ok());
  UpdateAgentStats st = agent->stats();
  EXPECT_EQ(st.consecutive_failures, 0u);
  // Back to the poll interval, spread by +-20% (poll_jitter).
  EXPECT_GE(st.next_wait_ms, 48'000);
  EXPECT_LE(st.next_wait_ms, 72'000);
  expect.Reset();
  EXPECT_EQ(st.next_wait_ms, expect.Spread(o.poll_interval, o.poll_jitter).count());
  EXPECT_EQ(st.last_error.find("not found"), 0u) << st.last_error;  // kept for the operator
  server_.Remove("/vigil/manifest");
  EXPECT_FALSE(agent->PollOnce().ok());
  EXPECT_EQ(agent->stats().next_wait_ms, 100);  // the first failure after a success waits the floor
}

TEST_F(AgentTest, ThreadPollsDeliversAndStopsPromptly) {
  Publish({.bundle = SignedBy(SampleBundle(7, "stable"), {1})});
  auto agent = Agent();  // poll_interval 60 s
  agent->Start();
  auto until = Clock::now() + std::chrono::seconds(10);
  while (delivered() == 0 && Clock::now() < until) std::this_thread::sleep_for(milliseconds(5));
  ASSERT_EQ(delivered(), 1u);
  // The thread now sleeps for the poll interval; Stop wakes it.
  auto start = Clock::now();
  agent->Stop();
  auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  EXPECT_LT(took, milliseconds(100)) << took.count() << " ms";
  EXPECT_EQ(agent->stats().polls, 1u);
  agent->Stop();  // idempotent
}

TEST_F(AgentTest, StopDuringASlowTransferIsPrompt) {
  std::string bundle = SignedBy(SampleBundle(7, "stable"), {1});
  Publish({.bundle = bundle});
  server_.PutSlow(BundlePath(7), bundle, 1, milliseconds(200));  // minutes for the whole bundle
  UpdateAgentOptions o = Options();
  o.timeout = milliseconds(120'000);
  auto agent = Agent(o);
  agent->Start();
  auto until = Clock::now() + std::chrono::seconds(10);
  while (server_.slow_started() == 0 && Clock::now() < until) std::this_thread::sleep_for(milliseconds(5));
  ASSERT_GT(server_.slow_started(), 0u);
  auto start = Clock::now();
  agent->Stop();
  auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  EXPECT_LT(took, milliseconds(150)) << took.count() << " ms";  // the watchdog ticks every 20 ms
  EXPECT_EQ(delivered(), 0u);
  // The aborted poll is not a failure of the server.
  EXPECT_EQ(agent->stats().fetch_failures, 0u);
  // The agent can run again after a Stop.
  server_.Put(BundlePath(7), bundle);
  EXPECT_TRUE(agent->PollOnce().ok());
  EXPECT_EQ(delivered(), 1u);
}

TEST_F(AgentTest, CreateRefusesBadOptions) {
  UpdateAgent::Callbacks cb;
  cb.current_version = [] { return uint64_t{0}; };
  cb.deliver = [](const Manifest&, std::string) { return Status::Ok(); };
  auto make = [&](UpdateAgentOptions o, TrustRoot root = TestRoot(1, {1}), UpdateAgent::Callbacks c = {}) {
    if (!c.deliver) c = cb;
    return UpdateAgent::Create(std::move(o), std::move(root), Schema::Builtin(), std::move(c));
  };
  EXPECT_TRUE(make(Options()));
  struct Case {
    std::function<void(UpdateAgentOptions&)> edit;
    std::string message;
  };
  std::vector<Case> cases = {
      {[](auto& o) { o.manifest_url = "file:///etc/vigil/manifest"; }, "manifest_url: URL file:///etc/vigil/manifest"},
      {[](auto& o) { o.manifest_url = ""; }, "manifest_url"},
      {[](auto& o) { o.channel = "a b"; }, "channel \"a b\" is not a valid channel name"},
      {[](auto& o) { o.max_manifest_bytes = kMaxManifestBytes + 1; }, "max_manifest_bytes must be 1..65536"},
      {[](auto& o) { o.max_bundle_bytes = 0; }, "max_bundle_bytes must be 1..67108864"},
      {[](auto& o) { o.poll_interval = milliseconds(0); }, "must be positive"},
      {[](auto& o) { o.backoff_max = milliseconds(1); }, "backoff_max >= backoff_min"},
  };
  for (const auto& c : cases) {
    UpdateAgentOptions o = Options();
    c.edit(o);
    auto a = make(o);
    ASSERT_FALSE(a) << c.message;
    EXPECT_EQ(a.error().code(), Code::kInvalidArgument);
    EXPECT_NE(a.error().message().find(c.message), std::string::npos) << a.error().message();
  }
  TrustRoot bad = TestRoot(3, {1, 2});
  EXPECT_NE(make(Options(), bad).error().message().find("trust root: threshold 3 is outside 1..2"), std::string::npos);
  UpdateAgent::Callbacks none;
  none.deliver = cb.deliver;
  EXPECT_NE(make(Options(), TestRoot(1, {1}), none).error().message().find("callbacks are required"),
            std::string::npos);
}

}  // namespace
}  // namespace vigil::update
