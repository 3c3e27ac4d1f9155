// End-to-end tests of `vigil status` and `vigil recover`: the real binary
// from $VIGIL_BIN_DIR on temp stores holding real bundles (compiled from
// rules/default by the binary itself, at chosen content versions).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/testing/run_vigil.h"
#include "sensor/content_store.h"
#include "sensor/store_fs.h"

namespace {

namespace fs = std::filesystem;
using vigil::sensor::ContentStore;
using vigil::sensor::CrashRecord;
using vigil::sensor::PosixStoreFs;
using vigil::sensor::Slot;
using vigil::sensor::StoreState;

using vigil::cli::testing::RunResult;
using vigil::cli::testing::Slurp;

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

class StoreCommandsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* bin = std::getenv("VIGIL_BIN_DIR");
    const char* src = std::getenv("VIGIL_SOURCE_DIR");
    ASSERT_NE(bin, nullptr) << "run through ctest (sets VIGIL_BIN_DIR)";
    ASSERT_NE(src, nullptr) << "run through ctest (sets VIGIL_SOURCE_DIR)";
    vigil_ = new std::string(std::string(bin) + "/vigil");
    default_bundle_ = new std::string(Slurp(fs::path(bin) / ".." / "share" / "vigil" / "default.vbundle"));
    ASSERT_FALSE(default_bundle_->empty()) << "build the default content first";
    char tmpl[] = "/tmp/vigil_store_cli_bundles_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    bundle_dir_ = new fs::path(tmpl);
    // Three real bundles of the default rules, told apart by their version.
    for (int v : {90, 100, 101}) {
      std::string out = (*bundle_dir_ / fmt::format("v{}.vbundle", v)).string();
      std::string cmd = fmt::format("{} content build --content-version {} {}/rules/default -o {} >/dev/null 2>&1",
                                    *vigil_, v, src, out);
      ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    }
  }
  static void TearDownTestSuite() { fs::remove_all(*bundle_dir_); }

  void SetUp() override {
    char tmpl[] = "/tmp/vigil_store_cli_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string Bundle(int version) { return Slurp(*bundle_dir_ / fmt::format("v{}.vbundle", version)); }

  RunResult Vigil(const std::string& args) { return vigil::cli::testing::RunVigil(*vigil_, dir_, args); }

  ContentStore MakeStore(const std::string& root) {
    auto store = ContentStore::Open(PosixStoreFs(), root, /*create=*/true);
    if (!store) {
      ADD_FAILURE() << store.error().ToString();
      std::abort();
    }
    return std::move(*store);
  }

  // A host after a bad update: candidate v101 crashed twice, active v100 once.
  static StoreState CrashLoopState(int64_t now) {
    StoreState s;
    s.version_floor = 100;
    s.trying_level = "candidate";
    s.trying_version = 101;
    s.trying_since = now - 5;
    s.running_level = "active";
    s.running_version = 100;
    s.running_since = now - 3 * 3600 - 120;
    s.active_version = 100;
    s.lkg_version = 90;
    s.candidate_version = 101;
    s.skipped_levels = {"default"};
    s.crashes.push_back({now - 60, "candidate", 101, "signal 11 (SIGSEGV)"});
    s.crashes.push_back({now - 30, "candidate", 101, "signal 11 (SIGSEGV)"});
    s.crashes.push_back({now - 10, "active", 100, "heartbeat lost after 3000 ms"});
    s.degraded = true;
    s.last_event = "candidate v101 crashed twice";
    s.last_shadow_report = "candidate v101: 12 alerts vs 10: accepted";
    s.updated_unix = now;
    return s;
  }

  static inline std::string* vigil_ = nullptr;
  static inline std::string* default_bundle_ = nullptr;
  static inline fs::path* bundle_dir_ = nullptr;
  fs::path dir_;
};

TEST_F(StoreCommandsTest, StatusShowsSlotsStateCrashesAndQuarantine) {
  std::string root = (dir_ / "store").string();
  int64_t now = std::time(nullptr);
  {
    ContentStore store = MakeStore(root);
    ASSERT_TRUE(store.WriteSlot(Slot::kLkg, Bundle(90)).ok());
    ASSERT_TRUE(store.WriteSlot(Slot::kActive, "not a bundle").ok());
    ASSERT_TRUE(store.Quarantine(Slot::kActive, 7, "3 crashes in 12 s"));
    ASSERT_TRUE(store.WriteSlot(Slot::kActive, Bundle(100)).ok());
    ASSERT_TRUE(store.WriteSlot(Slot::kCandidate, "garbage bytes").ok());
    ASSERT_TRUE(store.WriteState(CrashLoopState(now)).ok());
  }
  RunResult r = Vigil("status --store " + root);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "store           " + root)) << r.out;
  EXPECT_TRUE(Contains(r.out, "lock            free")) << r.out;
  EXPECT_TRUE(Contains(r.out, "  active     present  " + std::to_string(Bundle(100).size()) + " bytes  content v100,"))
      << r.out;
  EXPECT_TRUE(Contains(r.out, "  lkg        present  ")) << r.out;
  EXPECT_TRUE(Contains(r.out, "content v90, channel stable")) << r.out;
  EXPECT_TRUE(Contains(r.out, "  candidate  present  13 bytes  invalid: ")) << r.out;
  EXPECT_TRUE(Contains(r.out, "version floor   100\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "running         active v100 since ")) << r.out;
  EXPECT_TRUE(Contains(r.out, "health          3h 02m on this content")) << r.out;
  EXPECT_TRUE(Contains(r.out, "trying          candidate v101 since ")) << r.out;
  EXPECT_TRUE(Contains(r.out, "crashes         3 recorded, newest last")) << r.out;
  EXPECT_TRUE(Contains(r.out, "  candidate v101  signal 11 (SIGSEGV)")) << r.out;
  EXPECT_TRUE(Contains(r.out, "  active v100  heartbeat lost after 3000 ms")) << r.out;
  EXPECT_TRUE(Contains(r.out, "skipped levels  default\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "degraded        yes")) << r.out;
  EXPECT_TRUE(Contains(r.out, "last event      candidate v101 crashed twice")) << r.out;
  EXPECT_TRUE(Contains(r.out, "last shadow     candidate v101: 12 alerts vs 10: accepted")) << r.out;
  EXPECT_TRUE(Contains(r.out, "quarantined     1, oldest first")) << r.out;
  EXPECT_TRUE(Contains(r.out, "-active-v7.vbundle")) << r.out;
  EXPECT_TRUE(Contains(r.out, "3 crashes in 12 s")) << r.out;

  // While a vigild holds the lock.
  auto lock = ContentStore::Lock(root);
  ASSERT_TRUE(lock);
  RunResult locked = Vigil("status --store " + root);
  EXPECT_EQ(locked.code, 0);
  EXPECT_TRUE(Contains(locked.out, "lock            held (a vigild is running)")) << locked.out;
}

TEST_F(StoreCommandsTest, StatusJson) {
  std::string root = (dir_ / "store").string();
  int64_t now = std::time(nullptr);
  {
    ContentStore store = MakeStore(root);
    ASSERT_TRUE(store.WriteSlot(Slot::kActive, Bundle(100)).ok());
    ASSERT_TRUE(store.WriteSlot(Slot::kCandidate, "garbage").ok());
    ASSERT_TRUE(store.Quarantine(Slot::kCandidate, 101, "shadow rejected"));
    ASSERT_TRUE(store.WriteState(CrashLoopState(now)).ok());
  }
  RunResult r = Vigil("status --json --store " + root);
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["store"], root);
  EXPECT_EQ(j["locked"], false);
  EXPECT_EQ(j["slots"]["active"]["present"], true);
  EXPECT_EQ(j["slots"]["active"]["valid"], true);
  EXPECT_EQ(j["slots"]["active"]["content_version"], 100);
  EXPECT_EQ(j["slots"]["active"]["bytes"], Bundle(100).size());
  EXPECT_EQ(j["slots"]["lkg"]["present"], false);
  EXPECT_EQ(j["slots"]["candidate"]["present"], false);
  EXPECT_EQ(j["state"]["version_floor"], 100);
  EXPECT_EQ(j["state"]["running"]["level"], "active");
  EXPECT_GE(j["state"]["health_seconds"].get<int64_t>(), 3 * 3600 + 120);
  ASSERT_EQ(j["state"]["crashes"].size(), 3u);
  EXPECT_EQ(j["state"]["crashes"][0]["content_version"], 101);
  EXPECT_EQ(j["state"]["crashes"][0]["reason"], "signal 11 (SIGSEGV)");
  EXPECT_EQ(j["state"]["skipped_levels"], nlohmann::json::array({"default"}));
  EXPECT_EQ(j["state"]["degraded"], true);
  ASSERT_EQ(j["quarantined"].size(), 1u);
  EXPECT_EQ(j["quarantined"][0]["reason"], "shadow rejected");
  EXPECT_TRUE(Contains(j["quarantined"][0]["name"].get<std::string>(), "-candidate-v101.vbundle"));
}

TEST_F(StoreCommandsTest, StatusShowsACorruptStateAndExitsZero) {
  std::string root = (dir_ / "store").string();
  MakeStore(root);
  std::ofstream(root + "/state") << "vigil store state 1\nversion_floor twelve\n";
  RunResult r = Vigil("status --store " + root);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "state           unreadable: corrupt: " + root +
                                  "/state:2: version_floor: 'twelve' is not an unsigned 64-bit integer"))
      << r.out;
  EXPECT_TRUE(Contains(r.out, "(vigild carries on with defaults)")) << r.out;
  EXPECT_TRUE(Contains(r.out, "  active     empty")) << r.out;
  RunResult j = Vigil("status --json --store " + root);
  EXPECT_EQ(j.code, 0);
  EXPECT_TRUE(Contains(nlohmann::json::parse(j.out)["state_error"].get<std::string>(), "/state:2:")) << j.out;
}

TEST_F(StoreCommandsTest, StatusRefusesWhatIsNotAStore) {
  fs::create_directories(dir_ / "plain");
  std::ofstream(dir_ / "plain" / "file") << "x";
  RunResult plain = Vigil("status --store " + (dir_ / "plain").string());
  EXPECT_EQ(plain.code, 1);
  EXPECT_TRUE(Contains(plain.err, "is not a vigil content store (no VIGIL_STORE marker)")) << plain.err;
  RunResult missing = Vigil("status --store " + (dir_ / "missing").string());
  EXPECT_EQ(missing.code, 1);
  EXPECT_TRUE(Contains(missing.err, "no such directory")) << missing.err;
  EXPECT_FALSE(fs::exists(dir_ / "missing"));
}

// The USB-stick case: the host's disk is mounted at <dir>/img.
TEST_F(StoreCommandsTest, RecoverRestoresLkgAndResetsTheCrashBookkeeping) {
  fs::path img = dir_ / "img";
  std::string root = (img / "var/lib/vigil/store").string();
  int64_t now = std::time(nullptr);
  {
    ContentStore store = MakeStore(root);
    ASSERT_TRUE(store.WriteSlot(Slot::kActive, Bundle(100)).ok());
    ASSERT_TRUE(store.WriteSlot(Slot::kLkg, Bundle(90)).ok());
    ASSERT_TRUE(store.WriteSlot(Slot::kCandidate, Bundle(101)).ok());
    ASSERT_TRUE(store.WriteState(CrashLoopState(now)).ok());
  }
  std::ofstream(root + "/tmp-123-4-state") << "left by a power cut";

  // --dry-run: the plan, and nothing changes.
  RunResult dry = Vigil("recover --dry-run --root " + img.string());
  ASSERT_EQ(dry.code, 0) << dry.err;
  EXPECT_TRUE(Contains(dry.out, "(dry run: nothing will change)")) << dry.out;
  EXPECT_TRUE(Contains(dry.out, "  active     present  ")) << dry.out;
  EXPECT_TRUE(
      Contains(dry.out, "  1. would quarantine candidate (v101) into " + root + "/bad/ (reason \"vigil recover\")"))
      << dry.out;
  EXPECT_TRUE(Contains(dry.out, "  2. would quarantine active (v100)")) << dry.out;
  EXPECT_TRUE(Contains(dry.out, "  3. would write lkg (content v90) into active")) << dry.out;
  EXPECT_TRUE(Contains(dry.out,
                       "  4. would reset the state: clear the trying marker, the running fields, 3 crash "
                       "record(s) and 1 skipped level(s); keep the version floor 100"))
      << dry.out;
  EXPECT_TRUE(Contains(dry.out, "dry run: nothing changed")) << dry.out;
  EXPECT_EQ(Slurp(root + "/slots/active.vbundle"), Bundle(100));
  EXPECT_EQ(Slurp(root + "/slots/candidate.vbundle"), Bundle(101));
  EXPECT_TRUE(fs::is_empty(root + "/bad"));
  EXPECT_TRUE(fs::exists(root + "/tmp-123-4-state"));
  EXPECT_FALSE(fs::exists(root + "/lock"));

  RunResult r = Vigil("recover --root " + img.string());
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out, "  1. quarantine candidate (v101)")) << r.out;
  EXPECT_TRUE(Contains(r.out, "     done: " + root + "/bad/")) << r.out;
  EXPECT_TRUE(Contains(r.out, "recovered: active is now lkg (content v90)")) << r.out;

  auto store = ContentStore::Open(PosixStoreFs(), root, false);
  ASSERT_TRUE(store) << store.error().ToString();
  EXPECT_EQ(*store->ReadSlot(Slot::kActive), Bundle(90));
  EXPECT_EQ(*store->ReadSlot(Slot::kLkg), Bundle(90));
  EXPECT_FALSE(store->HasSlot(Slot::kCandidate));
  EXPECT_FALSE(fs::exists(root + "/tmp-123-4-state"));
  auto bad = store->ListBadEntries();
  ASSERT_TRUE(bad);
  ASSERT_EQ(bad->size(), 2u);
  EXPECT_TRUE(Contains((*bad)[0].name, "-candidate-v101")) << (*bad)[0].name;
  EXPECT_TRUE(Contains((*bad)[1].name, "-active-v100")) << (*bad)[1].name;
  EXPECT_EQ((*bad)[0].reason, "vigil recover");
  EXPECT_EQ(Slurp((*bad)[0].path), Bundle(101));
  EXPECT_EQ(Slurp((*bad)[1].path), Bundle(100));

  auto state = store->ReadState();
  ASSERT_TRUE(state) << state.error().ToString();
  EXPECT_EQ(state->version_floor, 100u);  // kept
  EXPECT_EQ(state->trying_level, "");
  EXPECT_EQ(state->trying_version, 0u);
  EXPECT_EQ(state->running_level, "");
  EXPECT_EQ(state->running_since, 0);
  EXPECT_TRUE(state->crashes.empty());
  EXPECT_TRUE(state->skipped_levels.empty());
  EXPECT_EQ(state->active_version, 90u);
  EXPECT_EQ(state->lkg_version, 90u);
  EXPECT_EQ(state->candidate_version, 0u);
  EXPECT_EQ(state->last_event, "vigil recover: active := lkg (content v90)");
  EXPECT_EQ(state->last_shadow_report, "candidate v101: 12 alerts vs 10: accepted");
}

TEST_F(StoreCommandsTest, RecoverWritesTheBuiltInContentWhenLkgIsMissingOrBroken) {
  fs::path img = dir_ / "img";
  std::string root = (img / "srv/store").string();
  {
    ContentStore store = MakeStore(root);
    ASSERT_TRUE(store.WriteSlot(Slot::kActive, Bundle(100)).ok());
    ASSERT_TRUE(store.WriteSlot(Slot::kLkg, Bundle(90).substr(0, 200)).ok());  // truncated: does not load
    ASSERT_TRUE(store.WriteState(CrashLoopState(std::time(nullptr))).ok());
  }
  RunResult r = Vigil("recover --root " + img.string() + " --store-path /srv/store");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out, "  lkg        present  200 bytes  invalid: ")) << r.out;
  EXPECT_TRUE(Contains(r.out, "  1. quarantine active (v100)")) << r.out;
  EXPECT_TRUE(Contains(r.out, "  2. write the built-in default content (content v")) << r.out;
  EXPECT_TRUE(Contains(r.out, ") into active (lkg does not load)\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "recovered: active is now the built-in default content (content v")) << r.out;
  auto store = ContentStore::Open(PosixStoreFs(), root, false);
  ASSERT_TRUE(store);
  EXPECT_EQ(*store->ReadSlot(Slot::kActive), *default_bundle_);  // the embedded copy of default.vbundle
  EXPECT_EQ(store->ReadState()->lkg_version, 0u);

  // And with no lkg at all (nothing to quarantine either: active was replaced).
  ASSERT_TRUE(PosixStoreFs().Remove(store->SlotPath(Slot::kLkg)).ok());
  RunResult again = Vigil("recover --root " + img.string() + " --store-path srv/store");
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_TRUE(Contains(again.out, ") into active (there is no lkg)\n")) << again.out;
}

TEST_F(StoreCommandsTest, RecoverRefusesANonStoreDirectoryAndChangesNothing) {
  fs::path img = dir_ / "img";
  fs::create_directories(img / "var/lib/vigil/store");
  std::ofstream(img / "var/lib/vigil/store/notes.txt") << "mine";
  RunResult r = Vigil("recover --root " + img.string());
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "vigil recover: invalid argument: " + (img / "var/lib/vigil/store").string() +
                                  " is not a vigil content store (no VIGIL_STORE marker)"))
      << r.err;
  EXPECT_FALSE(fs::exists(img / "var/lib/vigil/store/VIGIL_STORE"));
  EXPECT_FALSE(fs::exists(img / "var/lib/vigil/store/lock"));

  RunResult missing = Vigil("recover --root " + (dir_ / "nothing").string());
  EXPECT_EQ(missing.code, 1);
  EXPECT_TRUE(Contains(missing.err, "no such directory")) << missing.err;
  EXPECT_FALSE(fs::exists(dir_ / "nothing"));

  RunResult usage = Vigil("recover");
  EXPECT_EQ(usage.code, 2);
}

TEST_F(StoreCommandsTest, RecoverRefusesALockedStoreUnlessForced) {
  fs::path img = dir_ / "img";
  std::string root = (img / "var/lib/vigil/store").string();
  {
    ContentStore store = MakeStore(root);
    ASSERT_TRUE(store.WriteSlot(Slot::kActive, Bundle(100)).ok());
  }
  auto lock = ContentStore::Lock(root);
  ASSERT_TRUE(lock);
  RunResult r = Vigil("recover --root " + img.string());
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "store " + root + " is in use (locked by another vigild); stop it first")) << r.err;
  EXPECT_EQ(Slurp(root + "/slots/active.vbundle"), Bundle(100));

  RunResult dry = Vigil("recover --dry-run --root " + img.string());
  EXPECT_EQ(dry.code, 0);
  EXPECT_TRUE(Contains(dry.out, "lock: held by a running vigild; a real run would refuse without --force")) << dry.out;

  RunResult forced = Vigil("recover --force --root " + img.string());
  EXPECT_EQ(forced.code, 0) << forced.err;
  EXPECT_TRUE(Contains(forced.out, "warning: store " + root + " is in use")) << forced.out;
  EXPECT_TRUE(Contains(forced.out, "going ahead because of --force")) << forced.out;
  EXPECT_EQ(Slurp(root + "/slots/active.vbundle"), *default_bundle_);
}

}  // namespace
