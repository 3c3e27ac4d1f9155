// Live tests of content safety on the host (docs/supervisor.md,
// docs/content-store.md, docs/manifest.md): a real supervisor and worker,
// signed bundles delivered by the update agent from a real local HTTP server,
// crash loops and hangs made by the test-only vigild-faults binary, and
// slots corrupted on disk.
//
// Safety: see sensor/testing/live_daemon.h. Every process the test makes is
// stopped in TearDown (a killed supervisor takes its worker with it through
// PR_SET_PDEATHSIG); every wait has a deadline.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <optional>
#include <thread>

#include "content/bundle.h"
#include "sensor/content_store.h"
#include "sensor/testing/live_daemon.h"
#include "update/bundle_signature.h"
#include "update/keys.h"
#include "update/manifest.h"

namespace {

namespace fs = std::filesystem;
using namespace vigil::testing;
using vigil::Result;
using vigil::sensor::ContentStore;
using vigil::sensor::PosixStoreFs;
using vigil::sensor::Slot;
using vigil::sensor::StoreState;

constexpr char kWriteRule[] = "7e57d000-0000-4000-8000-000000000001";

// A rule that carries a fault-injection marker (sensor/fault_injection.h).
std::string MarkerRule(const std::string& marker) {
  return "---\n"
         "title: fault marker\n"
         "id: 7e57d000-0000-4000-8000-0000000000ff\n"
         "level: low\n"
         "tags: [" + marker + "]\n"
         "logsource: {product: linux, category: process_creation}\n"
         "detection:\n"
         "  selection:\n"
         "    Image: /nonexistent/marker\n"
         "  condition: selection\n";
}

class SafetyTest : public LiveDaemonTest {
 protected:
  void SetUp() override {
    LiveDaemonTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_EQ(Sh(bin_ + "/vigil keygen --out " + dir_ + "/k1 2>/dev/null"), 0);
    ASSERT_EQ(Sh(bin_ + "/vigil keygen --out " + dir_ + "/wrong 2>/dev/null"), 0);
    ASSERT_EQ(Sh(bin_ + "/vigil trust --threshold 1 " + dir_ + "/k1.pub --out " + dir_ + "/trust.root"), 0);
    fs::create_directories(dir_ + "/www");
    server_.set_mount_point("/", dir_ + "/www");
    http_port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(http_port_, 0);
    http_ = std::thread([this] { server_.listen_after_bind(); });
  }

  void TearDown() override {
    LiveDaemonTest::TearDown();
    server_.stop();
    if (http_.joinable()) http_.join();
  }

  // A signed bundle of the test rules (+ `extra` rules) at `version`.
  std::string SignedBundle(int version, const std::string& extra = "", const std::string& key = "k1") {
    std::string out = dir_ + "/v" + std::to_string(version) + "-" + key + ".vbundle";
    Build(out, TestRules(root_, port_) + extra, /*with_default=*/false, version, "--channel stable");
    EXPECT_EQ(Sh(bin_ + "/vigil sign --key " + dir_ + "/" + key + ".key " + out), 0);
    return out;
  }

  // Serves `bundle` and a manifest for it signed by k1.
  void Publish(const std::string& bundle, const std::string& expires_in = "1d") {
    std::string name = fs::path(bundle).filename();
    fs::copy_file(bundle, dir_ + "/www/" + name, fs::copy_options::overwrite_existing);
    ASSERT_EQ(Sh(bin_ + "/vigil manifest --bundle " + bundle + " --url " + name + " --expires-in " + expires_in +
                 " --key " + dir_ + "/k1.key --out " + dir_ + "/www/manifest.tmp 2>" + dir_ + "/manifest.log"),
              0)
        << Slurp(dir_ + "/manifest.log");
    fs::rename(dir_ + "/www/manifest.tmp", dir_ + "/www/manifest");
  }

  // The store's config: no content.path, the agent polling every second,
  // a 2 s shadow window and a 3 s health window.
  std::string StoreConfig(const std::string& extra = "") {
    std::string c = Config(/*ebpf=*/true, 65536, /*with_path=*/false);
    c.replace(c.find("[content]\n"), 10, "[content]\nhealth_window_seconds = 3\n");
    return c + "[update]\nmanifest_url = \"http://127.0.0.1:" + std::to_string(http_port_) + "/manifest\"\n" +
           "poll_seconds = 1\n[shadow]\nseconds = 2\n" + extra;
  }

  std::string StoreRoot() { return dir_ + "/store"; }

  StoreState State() {
    Result<ContentStore> store = ContentStore::OpenReadOnly(PosixStoreFs(), StoreRoot());
    if (!store) return StoreState{};
    Result<StoreState> st = store->ReadState();
    return st ? *st : StoreState{};
  }

  void SeedSlot(Slot slot, const std::string& bundle_path) {
    Result<ContentStore> store = ContentStore::Open(PosixStoreFs(), StoreRoot(), /*create=*/true);
    ASSERT_TRUE(store) << store.error().ToString();
    ASSERT_TRUE(store->WriteSlot(slot, Slurp(bundle_path)).ok());
  }

  bool BadHas(const std::string& needle) {
    if (!fs::exists(StoreRoot() + "/bad")) return false;
    for (const auto& e : fs::directory_iterator(StoreRoot() + "/bad")) {
      if (e.path().filename().string().find(needle) != std::string::npos) return true;
    }
    return false;
  }

  // A write in the watched tree raises the write rule's alert from the
  // running content: proof the sensor still works, and which content it runs.
  ::testing::AssertionResult AlertsFromVersion(int version) {
    // A probe a second, so one written while a restarted worker is still
    // placing its marks does not decide the outcome.
    static int n = 0;
    std::vector<std::string> probes;
    json found;
    WaitFor(
        [&] {
          if (probes.size() < 15 && (probes.empty() || n % 20 == 0)) {
            probes.push_back(root_ + "/watched/probe" + std::to_string(n));
            WriteText(probes.back(), "x");
          }
          ++n;
          for (auto& a : Alerts()) {
            if (a.value("rule_id", "") != kWriteRule) continue;
            const std::string target = a["event"].value("TargetFilename", "");
            if (std::find(probes.begin(), probes.end(), target) != probes.end()) {
              found = a;
              return true;
            }
          }
          return false;
        },
        std::chrono::seconds(15));
    if (found.is_null()) {
      return ::testing::AssertionFailure() << "no alert for " << probes.size() << " probes\nalerts:\n"
                                           << Slurp(dir_ + "/alerts.jsonl") << "\nmetrics:\n" << Metrics()
                                           << "\nlog:\n" << Log();
    }
    if (found.value("content_version", 0) != version) {
      return ::testing::AssertionFailure() << "alert from content v" << found.value("content_version", 0)
                                           << ", not v" << version;
    }
    return ::testing::AssertionSuccess();
  }

  httplib::Server server_;
  std::thread http_;
  int http_port_ = 0;
};

TEST_F(SafetyTest, UpdateIsShadowEvaluatedActivatedAndBecomesLastKnownGood) {
  StartVigild(StoreConfig());
  EXPECT_EQ(State().running_level, "default") << Log();  // an empty store: the package's content
  Publish(SignedBundle(10));
  ASSERT_TRUE(WaitFor([&] { return State().active_version == 10; }, std::chrono::seconds(30))) << Log();
  EXPECT_NE(Log().find("shadow: candidate v10 vs active v"), std::string::npos) << Log();
  EXPECT_NE(State().last_shadow_report.find("accepted"), std::string::npos) << State().last_shadow_report;
  EXPECT_TRUE(AlertsFromVersion(10));
  // Three crash-free seconds later it is last-known-good.
  ASSERT_TRUE(WaitFor([&] { return State().lkg_version == 10; }, std::chrono::seconds(15))) << Log();
  EXPECT_TRUE(fs::exists(StoreRoot() + "/slots/lkg.vbundle"));
  EXPECT_NE(Metrics().find("vigil_content_level{level=\"active\"} 1"), std::string::npos) << Metrics();
  EXPECT_EQ(StopVigild(), 0) << Log();
}

TEST_F(SafetyTest, ShadowRejectsACandidateThatFloodsAlerts) {
  SeedSlot(Slot::kActive, SignedBundle(10));
  // The candidate adds a rule that matches every exec on the host.
  const std::string flood = "---\n"
                            "title: noisy candidate rule\n"
                            "id: 7e57d000-0000-4000-8000-0000000000aa\n"
                            "level: low\n"
                            "logsource: {product: linux, category: process_creation}\n"
                            "detection:\n"
                            "  selection:\n"
                            "    Image|startswith: '/'\n"
                            "  condition: selection\n";
  std::string config = StoreConfig();
  const std::string window = "[shadow]\nseconds = 2\n";
  config.replace(config.find(window), window.size(),
                 "[shadow]\nseconds = 3\nmax_alert_ratio = 3.0\nmin_alerts = 5\n");
  StartVigild(config);
  Publish(SignedBundle(11, flood));
  // Execs during the window: the active content's rules match none of
  // /bin/true's, the candidate's noisy rule all of them.
  std::atomic<bool> running{true};
  std::thread execs([&] {
    while (running) {
      Sh("/bin/true");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  bool rejected = WaitFor([&] { return BadHas("-candidate-v11"); }, std::chrono::seconds(30));
  running = false;
  execs.join();
  ASSERT_TRUE(rejected) << Log();
  StoreState st = State();
  std::printf("%s\n", st.last_shadow_report.c_str());
  EXPECT_NE(st.last_shadow_report.find("REJECTED"), std::string::npos) << st.last_shadow_report;
  EXPECT_NE(st.last_shadow_report.find("7e57d000-0000-4000-8000-0000000000aa"), std::string::npos)
      << st.last_shadow_report;
  EXPECT_EQ(st.active_version, 10u);
  EXPECT_EQ(st.running_version, 10u);
  EXPECT_TRUE(AlertsFromVersion(10));
  // Nothing from the candidate reached the sinks.
  for (const auto& a : Alerts()) EXPECT_NE(a.value("rule_id", ""), "7e57d000-0000-4000-8000-0000000000aa");
  EXPECT_NE(Metrics().find("vigil_shadow_verdicts_total{verdict=\"rejected\"} 1"), std::string::npos) << Metrics();
  EXPECT_EQ(StopVigild(), 0) << Log();
}

TEST_F(SafetyTest, BadUpdatesAreRefusedAndAlertsContinue) {
  SeedSlot(Slot::kActive, SignedBundle(10));
  StartVigild(StoreConfig());
  ASSERT_EQ(State().running_level, "active") << Log();
  ASSERT_TRUE(AlertsFromVersion(10));

  // 1. The July 2024 defect: content built for a process_creation with one
  // more field than this sensor supplies, properly signed.
  {
    const vigil::Schema& builtin = vigil::Schema::Builtin();
    std::vector<vigil::EventTypeDef> types(builtin.event_types().begin(), builtin.event_types().end());
    auto pc = *builtin.FindEventType("process_creation");
    types[pc].fields.push_back({"Field" + std::to_string(types[pc].fields.size() + 1), vigil::FieldType::kString});
    Result<vigil::Schema> wider = vigil::Schema::Create(builtin.version(), types);
    ASSERT_TRUE(wider) << wider.error().ToString();
    vigil::content::Ruleset rs;
    rs.info.schema_version = wider->version();
    rs.info.schema_hash = wider->hash();
    rs.info.content_version = 11;
    rs.info.channel = "stable";
    vigil::content::Rule r;
    r.id = "c0ffee00-2024-0719-0000-000000000291";
    r.title = "field 21";
    r.event_type = pc;
    r.event_type_name = "process_creation";
    vigil::content::Atom a;
    a.op = vigil::content::AtomOp::kStartsWith;
    a.field = static_cast<uint16_t>(types[pc].fields.size() - 1);
    a.field_name = types[pc].fields.back().name;
    a.value = "\\\\.\\pipe\\";
    r.atoms = {a};
    r.program = {{vigil::content::OpCode::kAtom, 0, 0}};
    rs.rules = {r};
    // `vigil sign` refuses to sign what its verifier refuses; a publisher
    // whose pipeline is broken would not have that check, so sign directly.
    Result<vigil::update::SecretKey> key = vigil::update::ReadSecretKeyFile(dir_ + "/k1.key");
    ASSERT_TRUE(key) << key.error().ToString();
    Result<std::string> signed_bundle =
        vigil::update::SignBundle(vigil::content::WriteBundle(rs), std::span<const vigil::update::SecretKey>(&*key, 1));
    ASSERT_TRUE(signed_bundle) << signed_bundle.error().ToString();
    WriteText(dir_ + "/www/v11-defect.vbundle", *signed_bundle);
    // `vigil manifest` refuses it too, for the same reason: sign one directly.
    vigil::update::Manifest m;
    m.channel = "stable";
    m.content_version = 11;
    m.bundle_url = "v11-defect.vbundle";
    m.bundle_size = signed_bundle->size();
    m.bundle_blake2b = vigil::update::Blake2b256(*signed_bundle);
    m.created_unix = ::time(nullptr);
    m.expires_unix = m.created_unix + 86400;
    Result<std::string> manifest = vigil::update::SignManifest(m, std::span<const vigil::update::SecretKey>(&*key, 1));
    ASSERT_TRUE(manifest) << manifest.error().ToString();
    WriteText(dir_ + "/www/manifest.tmp", *manifest);
    fs::rename(dir_ + "/www/manifest.tmp", dir_ + "/www/manifest");
    ASSERT_TRUE(WaitFor([&] { return Log().find("v11") != std::string::npos && Log().find("VG50") != std::string::npos; },
                        std::chrono::seconds(20)))
        << Log();
  }
  // 2. A bundle signed by a key the trust root does not hold.
  Publish(SignedBundle(12, "", "wrong"));
  ASSERT_TRUE(WaitFor([&] { return Log().find("unknown key") != std::string::npos; }, std::chrono::seconds(20)))
      << Log();
  // 3. A downgrade, properly signed.
  Publish(SignedBundle(9));
  ASSERT_TRUE(WaitFor([&] { return Log().find("downgrade") != std::string::npos; }, std::chrono::seconds(20)))
      << Log();
  // 4. An expired manifest (it expires one second after signing).
  {
    std::string v13 = SignedBundle(13);
    Publish(v13, "1s");
    ASSERT_TRUE(WaitFor([&] { return Log().find("expired") != std::string::npos; }, std::chrono::seconds(20)))
        << Log();
  }
  StoreState st = State();
  EXPECT_EQ(st.active_version, 10u);
  EXPECT_EQ(st.candidate_version, 0u);
  EXPECT_EQ(st.running_level, "active");
  EXPECT_EQ(st.running_version, 10u);
  EXPECT_FALSE(fs::exists(StoreRoot() + "/slots/candidate.vbundle"));
  EXPECT_TRUE(AlertsFromVersion(10));
  for (const auto& a : Alerts()) EXPECT_EQ(a.value("content_version", 0), 10) << a.dump();
  std::string m = Metrics();
  for (const char* reason : {"verify", "signature", "downgrade", "expired"}) {
    EXPECT_NE(m.find("vigil_update_refused_total{reason=\"" + std::string(reason) + "\"} "), std::string::npos) << m;
    EXPECT_EQ(m.find("vigil_update_refused_total{reason=\"" + std::string(reason) + "\"} 0\n"), std::string::npos)
        << reason << " never counted\n" << m;
  }
  EXPECT_NE(m.find("vigil_update_accepted_total 0"), std::string::npos) << m;
  // The refusals as the operator sees them.
  std::istringstream log(Log());
  for (std::string line; std::getline(log, line);) {
    if (line.find("ERROR: update: ") != std::string::npos) std::printf("%s\n", line.substr(line.find("update: ")).c_str());
  }
  EXPECT_EQ(StopVigild(), 0) << Log();
}

TEST_F(SafetyTest, CrashLoopingContentIsQuarantinedAndTheWorkerRunsOnLkg) {
  ASSERT_TRUE(fs::exists(bin_ + "/vigild-faults"));
  SeedSlot(Slot::kLkg, SignedBundle(5));
  SeedSlot(Slot::kActive, SignedBundle(6, MarkerRule("vigil.test.crash")));
  auto t0 = LiveClock::now();
  StartVigild(StoreConfig(), "vigild-faults");
  ASSERT_TRUE(WaitFor([&] { return State().running_level == "lkg"; }, std::chrono::seconds(30))) << Log();
  double seconds = std::chrono::duration<double>(LiveClock::now() - t0).count();
  StoreState st = State();
  size_t crashes = 0;
  for (const auto& c : st.crashes) crashes += c.level == "active" && c.content_version == 6;
  std::printf("crash loop: active v6 quarantined, worker on lkg v%llu after %zu crashes in %.2f s\n",
              static_cast<unsigned long long>(st.running_version), crashes, seconds);
  EXPECT_EQ(crashes, 3u) << Log();
  EXPECT_LT(seconds, 10.0) << Log();
  EXPECT_EQ(st.running_version, 5u);
  EXPECT_TRUE(BadHas("-active-v6")) << Log();
  EXPECT_FALSE(fs::exists(StoreRoot() + "/slots/active.vbundle"));
  EXPECT_TRUE(AlertsFromVersion(5));
  EXPECT_EQ(StopVigild(), 0) << Log();
}

TEST_F(SafetyTest, LkgThatCrashesFallsBackToBuiltInContent) {
  SeedSlot(Slot::kLkg, SignedBundle(5, MarkerRule("vigil.test.crash")));
  SeedSlot(Slot::kActive, SignedBundle(6, MarkerRule("vigil.test.crash")));
  StartVigild(StoreConfig() + "[supervisor]\ncrash_threshold = 2\n", "vigild-faults");
  // With active and lkg gone the worker runs the package's default content.
  ASSERT_TRUE(WaitFor([&] { return State().running_level == "default" || State().running_level == "builtin"; },
                      std::chrono::seconds(30)))
      << Log();
  EXPECT_TRUE(BadHas("-active-v6")) << Log();
  EXPECT_TRUE(BadHas("-lkg-v5")) << Log();
  EXPECT_EQ(StopVigild(), 0) << Log();
}

TEST_F(SafetyTest, CandidateThatCrashesIsQuarantinedAtOnce) {
  SeedSlot(Slot::kActive, SignedBundle(10));
  StartVigild(StoreConfig(), "vigild-faults");
  Publish(SignedBundle(11, MarkerRule("vigil.test.crash")));
  ASSERT_TRUE(WaitFor([&] { return BadHas("-candidate-v11"); }, std::chrono::seconds(30))) << Log();
  ASSERT_TRUE(WaitFor([&] { return State().running_level == "active"; }, std::chrono::seconds(30))) << Log();
  StoreState st = State();
  ASSERT_FALSE(st.crashes.empty());
  EXPECT_EQ(st.crashes.back().level, "candidate");
  EXPECT_EQ(st.crashes.back().content_version, 11u);
  EXPECT_EQ(st.running_version, 10u);
  EXPECT_TRUE(AlertsFromVersion(10));
  // The agent does not fetch v11 again: it stays below the floor.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(State().crashes.size(), st.crashes.size()) << Log();
  EXPECT_EQ(StopVigild(), 0) << Log();
}

TEST_F(SafetyTest, HungWorkerIsKilledAndRestartedWithinTheHeartbeatTimeout) {
  SeedSlot(Slot::kActive, SignedBundle(10));
  StartVigild(StoreConfig("[supervisor]\nheartbeat_timeout_ms = 2000\n"), "vigild-faults");
  ASSERT_TRUE(WaitFor([&] { return Log().find("running: ") != std::string::npos; }, std::chrono::seconds(20)));
  // Let the first worker's heartbeats start, then freeze it.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  pid_t worker = WorkerPid();
  ASSERT_GT(worker, 0);
  auto t0 = LiveClock::now();
  ASSERT_EQ(::kill(worker, SIGSTOP), 0);
  ASSERT_TRUE(WaitFor([&] { return ::kill(worker, 0) != 0; }, std::chrono::seconds(10)))
      << "a stopped worker was not killed\n" << Log();
  double killed = std::chrono::duration<double>(LiveClock::now() - t0).count();
  ASSERT_TRUE(WaitFor([&] { pid_t w = WorkerPid(); return w > 0 && w != worker && State().running_level == "active"; },
                      std::chrono::seconds(20)))
      << Log();
  double restarted = std::chrono::duration<double>(LiveClock::now() - t0).count();
  std::printf("hung worker (SIGSTOP): killed after %.2f s, new worker running after %.2f s (timeout 2.0 s)\n", killed,
              restarted);
  EXPECT_LT(killed, 2.0 + 1.0) << Log();
  EXPECT_NE(Log().find("heartbeat lost"), std::string::npos) << Log();
  EXPECT_TRUE(AlertsFromVersion(10));

  // A candidate that hangs the worker while it loads: killed, quarantined.
  Publish(SignedBundle(11, MarkerRule("vigil.test.hang")));
  ASSERT_TRUE(WaitFor([&] { return BadHas("-candidate-v11"); }, std::chrono::seconds(30))) << Log();
  ASSERT_TRUE(WaitFor([&] { return State().running_level == "active"; }, std::chrono::seconds(20))) << Log();
  EXPECT_TRUE(AlertsFromVersion(10));
  EXPECT_EQ(StopVigild(), 0) << Log();
}

TEST_F(SafetyTest, CorruptingEachSlotNeverStopsTheSensorFromStarting) {
  const std::string v5 = SignedBundle(5), v6 = SignedBundle(6), v7 = SignedBundle(7);
  auto flip = [&](const std::string& path, size_t at) {
    std::string bytes = Slurp(path);
    ASSERT_LT(at, bytes.size());
    bytes[at] = static_cast<char>(bytes[at] ^ 0x40);
    WriteText(path, bytes);
  };
  SeedSlot(Slot::kLkg, v5);
  SeedSlot(Slot::kActive, v6);
  SeedSlot(Slot::kCandidate, v7);
  // 1. A damaged candidate: quarantined, active keeps running.
  flip(StoreRoot() + "/slots/candidate.vbundle", 300);
  StartVigild(StoreConfig());
  ASSERT_TRUE(WaitFor([&] { return BadHas("-candidate-v7"); }, std::chrono::seconds(20))) << Log();
  EXPECT_EQ(State().running_level, "active");
  EXPECT_TRUE(AlertsFromVersion(6));
  EXPECT_EQ(StopVigild(), 0) << Log();
  // 2. A damaged active: quarantined at start, lkg runs.
  flip(StoreRoot() + "/slots/active.vbundle", 200);
  StartVigild(StoreConfig());
  EXPECT_EQ(State().running_level, "lkg") << Log();
  EXPECT_TRUE(BadHas("-active-v6")) << Log();
  EXPECT_TRUE(AlertsFromVersion(5));
  EXPECT_EQ(StopVigild(), 0) << Log();
  // 3. A tampered signature on lkg: quarantined, the package's content runs.
  {
    std::string bytes = Slurp(StoreRoot() + "/slots/lkg.vbundle");
    bytes[bytes.size() - 1] = static_cast<char>(bytes.back() ^ 0x01);
    WriteText(StoreRoot() + "/slots/lkg.vbundle", bytes);
  }
  StartVigild(StoreConfig());
  EXPECT_EQ(State().running_level, "default") << Log();
  EXPECT_TRUE(BadHas("-lkg-v5")) << Log();
  EXPECT_EQ(StopVigild(), 0) << Log();
  // 4. A garbage state file: reported, replaced, the sensor starts.
  WriteText(StoreRoot() + "/state", "vigil store state 1\nversion_floor banana\n\x01\x02");
  StartVigild(StoreConfig());
  EXPECT_NE(Log().find("continuing with a fresh state"), std::string::npos) << Log();
  EXPECT_EQ(State().running_level, "default") << Log();
  EXPECT_EQ(StopVigild(), 0) << Log();
}

TEST(FaultInjection, ReleaseBinaryDoesNotContainTheHooks) {
  const char* bin = std::getenv("VIGIL_BIN_DIR");
  ASSERT_NE(bin, nullptr);
  auto contains = [](const std::string& file, const std::string& needle) {
    std::string bytes = Slurp(file);
    EXPECT_FALSE(bytes.empty()) << file;
    return bytes.find(needle) != std::string::npos;
  };
  EXPECT_FALSE(contains(std::string(bin) + "/vigild", "vigil.test.crash"));
  EXPECT_FALSE(contains(std::string(bin) + "/vigild", "vigil.test.hang"));
  // The check can fail: the test binary does contain them.
  EXPECT_TRUE(contains(std::string(bin) + "/vigild-faults", "vigil.test.crash"));
}

}  // namespace
