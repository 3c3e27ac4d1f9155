// The content store: state file round trips, bounds and errors; slots,
// quarantine, lock, permission and layout checks; and the power-cut test,
// which cuts power (MemStoreFs::Crash) after every single file system step
// of every mutation and checks that what is left is consistent and usable.
#include "sensor/content_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sensor/store_fs.h"
#include "sensor/testing/mem_store_fs.h"

namespace vigil::sensor {
namespace {

namespace stdfs = std::filesystem;
using testing::FaultyStoreFs;
using testing::MemStoreFs;

constexpr char kRoot[] = "/var/lib/vigil/store";
constexpr int64_t kClock = 1'732'460'710;

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

ContentStore OpenOrDie(StoreFs& fs, const std::string& root, bool create) {
  Result<ContentStore> store = ContentStore::Open(fs, root, create);
  if (!store) {
    ADD_FAILURE() << store.error().ToString();
    std::abort();
  }
  store->set_clock([] { return kClock; });
  return std::move(*store);
}

StoreState FullState() {
  StoreState s;
  s.version_floor = 41;
  s.trying_level = "candidate";
  s.trying_version = 42;
  s.trying_since = 1'732'460'000;
  s.running_level = "active";
  s.running_version = 41;
  s.running_since = 1'732'450'000;
  s.active_version = 41;
  s.lkg_version = 40;
  s.candidate_version = 42;
  s.skipped_levels = {"default", "path"};
  s.crashes.push_back({1'732'460'100, "candidate", 42, "signal 11 (SIGSEGV)"});
  s.crashes.push_back({1'732'460'200, "lkg", 40, ""});
  s.crashes.push_back({1'732'460'300, "builtin", 0, "heartbeat lost after 3000 ms"});
  s.degraded = true;
  s.last_event = "quarantined active v7: 3 crashes in 12 s";
  s.last_shadow_report = "candidate v42: 12 alerts vs 10, mean 3.1 us/event: accepted";
  s.updated_unix = 1'732'460'400;
  return s;
}

// ---------------------------------------------------------------- state text

TEST(StoreStateText, RoundTripsEveryField) {
  StoreState s = FullState();
  Result<std::string> text = FormatStoreState(s);
  ASSERT_TRUE(text) << text.error().ToString();
  Result<StoreState> back = ParseStoreState(*text, "state");
  ASSERT_TRUE(back) << back.error().ToString() << "\n" << *text;
  EXPECT_EQ(*back, s);
}

TEST(StoreStateText, DefaultsRoundTripAndEmptyStringsAreOmitted) {
  Result<std::string> text = FormatStoreState(StoreState{});
  ASSERT_TRUE(text);
  EXPECT_FALSE(Contains(*text, "trying_level")) << *text;
  EXPECT_FALSE(Contains(*text, "last_event")) << *text;
  EXPECT_TRUE(Contains(*text, "version_floor 0\n")) << *text;
  Result<StoreState> back = ParseStoreState(*text, "state");
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(*back, StoreState{});
  // Only the header: every field at its default.
  Result<StoreState> bare = ParseStoreState("vigil store state 1\n", "state");
  ASSERT_TRUE(bare) << bare.error().ToString();
  EXPECT_EQ(*bare, StoreState{});
}

TEST(StoreStateText, ReadsAHandWrittenFile) {
  Result<StoreState> s = ParseStoreState(
      "vigil store state 1\n"
      "# comment\n"
      "\n"
      "version_floor 7\n"
      "running_level lkg\n"
      "crash 100 active 7 exit 1\n"
      "crash 101 active 7\n"
      "skipped_level default\n"
      "degraded false\n"
      "last_event  two  spaces kept ",  // no final newline
      "state");
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_EQ(s->version_floor, 7u);
  EXPECT_EQ(s->running_level, "lkg");
  ASSERT_EQ(s->crashes.size(), 2u);
  EXPECT_EQ(s->crashes[0], (CrashRecord{100, "active", 7, "exit 1"}));
  EXPECT_EQ(s->crashes[1], (CrashRecord{101, "active", 7, ""}));
  EXPECT_EQ(s->skipped_levels, std::vector<std::string>{"default"});
  EXPECT_EQ(s->last_event, " two  spaces kept ");
}

std::string Header() { return "vigil store state 1\n"; }

TEST(StoreStateText, EnforcesItsBounds) {
  // 16 crash records and 32 skipped levels are fine; one more of either is not.
  std::string text = Header();
  for (int i = 0; i < 16; ++i) text += fmt::format("crash {} active 3 exit {}\n", 100 + i, i);
  for (int i = 0; i < 32; ++i) text += "skipped_level path\n";
  Result<StoreState> ok = ParseStoreState(text, "state");
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_EQ(ok->crashes.size(), 16u);
  EXPECT_EQ(ok->skipped_levels.size(), 32u);

  Result<StoreState> crashes = ParseStoreState(text + "crash 200 active 3 exit 9\n", "state");
  ASSERT_FALSE(crashes);
  EXPECT_EQ(crashes.error().code(), Code::kLimitExceeded);
  EXPECT_TRUE(Contains(crashes.error().message(), "state:50: crash: more than 16 crash records"))
      << crashes.error().message();

  Result<StoreState> skipped = ParseStoreState(text + "skipped_level default\n", "state");
  ASSERT_FALSE(skipped);
  EXPECT_EQ(skipped.error().code(), Code::kLimitExceeded);
  EXPECT_TRUE(Contains(skipped.error().message(), "state:50: skipped_level: more than 32"))
      << skipped.error().message();

  // 512-byte strings are fine, 513 are not.
  Result<StoreState> s512 = ParseStoreState(Header() + "last_event " + std::string(512, 'x') + "\n", "state");
  ASSERT_TRUE(s512) << s512.error().ToString();
  EXPECT_EQ(s512->last_event.size(), 512u);
  Result<StoreState> s513 = ParseStoreState(Header() + "last_event " + std::string(513, 'x') + "\n", "state");
  ASSERT_FALSE(s513);
  EXPECT_EQ(s513.error().code(), Code::kLimitExceeded);
  EXPECT_TRUE(Contains(s513.error().message(), "state:2: last_event: 513 bytes exceeds the limit of 512"))
      << s513.error().message();
  Result<StoreState> reason = ParseStoreState(Header() + "crash 1 lkg 2 " + std::string(513, 'r') + "\n", "state");
  ASSERT_FALSE(reason);
  EXPECT_TRUE(Contains(reason.error().message(), "state:2: crash: reason: 513 bytes")) << reason.error().message();

  // The whole file: 64 KiB.
  std::string big = Header();
  while (big.size() <= kMaxStateFileBytes) big += "# padding padding padding padding padding padding padding\n";
  Result<StoreState> too_big = ParseStoreState(big, "state");
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error().code(), Code::kLimitExceeded);
  EXPECT_TRUE(Contains(too_big.error().message(), "exceeds the limit of 65536 bytes")) << too_big.error().message();
}

TEST(StoreStateText, WriterKeepsTheNewestCrashesAndCleansText) {
  StoreState s;
  for (int i = 0; i < 20; ++i) s.crashes.push_back({100 + i, "active", 5, fmt::format("exit {}", i)});
  s.last_event = "line one\nline two\ttabbed";
  s.last_shadow_report = std::string(600, 'y');
  Result<std::string> text = FormatStoreState(s);
  ASSERT_TRUE(text) << text.error().ToString();
  Result<StoreState> back = ParseStoreState(*text, "state");
  ASSERT_TRUE(back) << back.error().ToString();
  ASSERT_EQ(back->crashes.size(), kMaxCrashRecords);
  EXPECT_EQ(back->crashes.front().reason, "exit 4");  // the 4 oldest dropped
  EXPECT_EQ(back->crashes.back().reason, "exit 19");
  EXPECT_EQ(back->last_event, "line one line two tabbed");
  EXPECT_EQ(back->last_shadow_report.size(), kMaxStateStringBytes);
  // Cut on a UTF-8 boundary: 511 'a' and a 2-byte character do not fit in 512.
  EXPECT_EQ(SanitizeStateText(std::string(511, 'a') + "\xc3\xa9"), std::string(511, 'a'));
  EXPECT_EQ(SanitizeStateText(std::string(510, 'a') + "\xc3\xa9"), std::string(510, 'a') + "\xc3\xa9");
}

TEST(StoreStateText, WriterRefusesCallerBugs) {
  StoreState bad_level;
  bad_level.running_level = "newest";
  Result<std::string> a = FormatStoreState(bad_level);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code(), Code::kInvalidArgument);
  EXPECT_TRUE(Contains(a.error().message(), "running_level: 'newest' is not a content level")) << a.error().message();

  StoreState bad_crash;
  bad_crash.crashes.push_back({5, "", 1, "x"});
  EXPECT_FALSE(FormatStoreState(bad_crash));

  StoreState negative;
  negative.running_since = -1;
  Result<std::string> n = FormatStoreState(negative);
  ASSERT_FALSE(n);
  EXPECT_TRUE(Contains(n.error().message(), "running_since: negative time -1")) << n.error().message();

  StoreState many;
  many.skipped_levels.assign(33, "path");
  Result<std::string> m = FormatStoreState(many);
  ASSERT_FALSE(m);
  EXPECT_TRUE(Contains(m.error().message(), "33 skipped levels exceeds the limit of 32")) << m.error().message();
}

struct BadCase {
  std::string text;
  Code code;
  std::string expect;  // a substring of the message, "<name>:<line>: ..."
};

TEST(StoreStateText, EveryErrorNamesItsLine) {
  const BadCase cases[] = {
      {"", Code::kCorrupt, "state:1: empty file"},
      {"version_floor 1\n", Code::kCorrupt, "state:1: expected 'vigil store state 1', found 'version_floor 1'"},
      {"vigil store state 2\nfuture_key 1\n", Code::kUnsupported, "state:1: unsupported state format"},
      {Header() + "colour blue\n", Code::kCorrupt, "state:2: unknown key 'colour'"},
      {Header() + "# c\nversion_floor 1\nversion_floor 2\n", Code::kCorrupt,
       "state:4: version_floor: duplicate key (first on line 3)"},
      {Header() + "version_floor 12x\n", Code::kCorrupt, "state:2: version_floor: '12x' is not an unsigned 64-bit"},
      {Header() + "version_floor -1\n", Code::kCorrupt, "state:2: version_floor: '-1' is not"},
      {Header() + "version_floor 18446744073709551616\n", Code::kCorrupt, "state:2: version_floor: '1844"},
      {Header() + "version_floor\n", Code::kCorrupt, "state:2: version_floor: '' is not"},
      {Header() + "lkg_version  1\n", Code::kCorrupt, "state:2: lkg_version: ' 1' is not"},
      {Header() + "running_since 9223372036854775808\n", Code::kCorrupt,
       "state:2: running_since: '9223372036854775808' is not a unix time"},
      {Header() + "trying_level newest\n", Code::kCorrupt, "state:2: trying_level: 'newest' is not a content level"},
      {Header() + "degraded yes\n", Code::kCorrupt, "state:2: degraded: 'yes' is not true or false"},
      {Header() + "last_event a\rb\n", Code::kCorrupt, "state:2: last_event: control character 0x0d at byte 1"},
      {Header() + "skipped_level\n", Code::kCorrupt, "state:2: skipped_level: '' is not a content level"},
      {Header() + "crash\n", Code::kCorrupt, "state:2: crash: time '' is not a unix time"},
      {Header() + "crash 5 active\n", Code::kCorrupt, "state:2: crash: version '' is not"},
      {Header() + "crash 5 nowhere 3 x\n", Code::kCorrupt, "state:2: crash: level 'nowhere' is not a content level"},
      {Header() + "crash 5 active 3 a\x01z\n", Code::kCorrupt, "state:2: crash: reason: control character 0x01"},
      {Header() + std::string("version_floor 1\0\n", 17), Code::kCorrupt, "state:2: version_floor: '1 ' is not"},
  };
  for (const BadCase& c : cases) {
    Result<StoreState> s = ParseStoreState(c.text, "state");
    ASSERT_FALSE(s) << c.text;
    EXPECT_EQ(s.error().code(), c.code) << s.error().ToString();
    EXPECT_TRUE(Contains(s.error().message(), c.expect)) << "want: " << c.expect << "\ngot:  " << s.error().message();
  }
}

TEST(StoreStateText, ReportsEveryProblemNotJustTheFirst) {
  Result<StoreState> s = ParseStoreState(Header() + "a 1\nversion_floor x\ndegraded 2\nlkg_version 3\n", "st");
  ASSERT_FALSE(s);
  EXPECT_TRUE(Contains(s.error().message(), "st:2: unknown key 'a'; st:3: version_floor: 'x' is not"))
      << s.error().message();
  EXPECT_TRUE(Contains(s.error().message(), "; st:4: degraded: '2' is not true or false")) << s.error().message();
  // Bounded: at most 10 reported.
  std::string many = Header();
  for (int i = 0; i < 50; ++i) many += "junk\n";
  Result<StoreState> m = ParseStoreState(many, "st");
  ASSERT_FALSE(m);
  EXPECT_TRUE(Contains(m.error().message(), "st:11: unknown key")) << m.error().message();
  EXPECT_FALSE(Contains(m.error().message(), "st:12:")) << m.error().message();
}

// ---------------------------------------------------------------- the store

TEST(ContentStore, SlotNames) {
  EXPECT_EQ(SlotName(Slot::kActive), "active");
  EXPECT_EQ(SlotName(Slot::kLkg), "lkg");
  EXPECT_EQ(SlotName(Slot::kCandidate), "candidate");
  EXPECT_EQ(*ParseSlot("lkg"), Slot::kLkg);
  EXPECT_FALSE(ParseSlot("bad"));
}

TEST(ContentStore, CreatesItsLayoutWithPrivateModes) {
  MemStoreFs fs;
  ContentStore store = OpenOrDie(fs, kRoot, /*create=*/true);
  EXPECT_EQ(store.root(), kRoot);
  EXPECT_EQ(store.SlotPath(Slot::kLkg), std::string(kRoot) + "/slots/lkg.vbundle");
  EXPECT_EQ(*fs.ReadFile(std::string(kRoot) + "/VIGIL_STORE", 100), "vigil content store 1\n");
  EXPECT_EQ(fs.Stat(kRoot)->mode, 0700u);
  EXPECT_EQ(fs.Stat(std::string(kRoot) + "/slots")->mode, 0700u);
  EXPECT_EQ(fs.Stat(std::string(kRoot) + "/bad")->mode, 0700u);
  EXPECT_EQ(fs.Stat("/var/lib/vigil")->mode, 0755u);
  ASSERT_TRUE(store.WriteSlot(Slot::kActive, "bundle").ok());
  ASSERT_TRUE(store.WriteState(FullState()).ok());
  EXPECT_EQ(fs.Stat(store.SlotPath(Slot::kActive))->mode, 0600u);
  EXPECT_EQ(fs.Stat(store.StatePath())->mode, 0600u);
  EXPECT_EQ(fs.Stat(std::string(kRoot) + "/VIGIL_STORE")->mode, 0600u);
  // Everything is durable once Open and each write returned.
  fs.Crash();
  ContentStore again = OpenOrDie(fs, kRoot, false);
  EXPECT_EQ(*again.ReadSlot(Slot::kActive), "bundle");
  EXPECT_EQ(*again.ReadState(), FullState());
}

TEST(ContentStore, SlotsReadWritePromoteCopy) {
  MemStoreFs fs;
  ContentStore store = OpenOrDie(fs, kRoot, true);
  for (Slot slot : kAllSlots) {
    EXPECT_FALSE(store.HasSlot(slot));
    Result<std::string> r = store.ReadSlot(slot);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Code::kNotFound);
    EXPECT_TRUE(Contains(r.error().message(), fmt::format("slot {} is empty", SlotName(slot))));
  }
  EXPECT_EQ(store.PromoteCandidate().code(), Code::kNotFound);
  EXPECT_EQ(store.CopyActiveToLkg().code(), Code::kNotFound);

  ASSERT_TRUE(store.WriteSlot(Slot::kCandidate, "v2").ok());
  ASSERT_TRUE(store.WriteSlot(Slot::kActive, "v1").ok());
  ASSERT_TRUE(store.CopyActiveToLkg().ok());
  ASSERT_TRUE(store.PromoteCandidate().ok());
  EXPECT_EQ(*store.ReadSlot(Slot::kActive), "v2");
  EXPECT_EQ(*store.ReadSlot(Slot::kLkg), "v1");
  EXPECT_FALSE(store.HasSlot(Slot::kCandidate));
  ASSERT_TRUE(store.WriteSlot(Slot::kActive, "").ok());  // empty is a value, not absence
  EXPECT_TRUE(store.HasSlot(Slot::kActive));
  EXPECT_EQ(*store.ReadSlot(Slot::kActive), "");
}

TEST(ContentStore, ReadStateDefaultsWhenMissingAndNamesFileAndLineWhenCorrupt) {
  MemStoreFs fs;
  ContentStore store = OpenOrDie(fs, kRoot, true);
  Result<StoreState> missing = store.ReadState();
  ASSERT_TRUE(missing) << missing.error().ToString();
  EXPECT_EQ(*missing, StoreState{});

  ASSERT_TRUE(fs.WriteFile(store.StatePath(), "vigil store state 1\nversion_floor 3\nbogus 1\n", 0600).ok());
  Result<StoreState> corrupt = store.ReadState();
  ASSERT_FALSE(corrupt);
  EXPECT_EQ(corrupt.error().code(), Code::kCorrupt);
  EXPECT_TRUE(Contains(corrupt.error().message(), std::string(kRoot) + "/state:3: unknown key 'bogus'"))
      << corrupt.error().message();
  // The caller's fallback: carry on with defaults and overwrite the bad file.
  ASSERT_TRUE(store.WriteState(StoreState{}).ok());
  EXPECT_TRUE(store.ReadState());

  ASSERT_TRUE(fs.WriteFile(store.StatePath(), std::string(kMaxStateFileBytes + 1, '#'), 0600).ok());
  Result<StoreState> big = store.ReadState();
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code(), Code::kLimitExceeded);
  EXPECT_TRUE(Contains(big.error().message(), store.StatePath())) << big.error().message();
}

TEST(ContentStore, QuarantineKeepsTheNewestTenWithReasons) {
  MemStoreFs fs;
  ContentStore store = OpenOrDie(fs, kRoot, true);
  int64_t now = 1000;
  store.set_clock([&now] { return now; });
  EXPECT_EQ(store.Quarantine(Slot::kActive, 1, "x").error().code(), Code::kNotFound);
  for (int i = 1; i <= 13; ++i) {
    ASSERT_TRUE(store.WriteSlot(Slot::kActive, fmt::format("bundle {}", i)).ok());
    Result<std::string> path =
        store.Quarantine(Slot::kActive, static_cast<uint64_t>(i), fmt::format("crash\nloop {}", i));
    ASSERT_TRUE(path) << path.error().ToString();
    EXPECT_EQ(*path, fmt::format("{}/bad/{}-active-v{}.vbundle", kRoot, now, i));
    EXPECT_FALSE(store.HasSlot(Slot::kActive));
    EXPECT_EQ(*fs.ReadFile(*path, 100), fmt::format("bundle {}", i));
    ++now;
  }
  Result<std::vector<BadEntry>> bad = store.ListBadEntries();
  ASSERT_TRUE(bad) << bad.error().ToString();
  ASSERT_EQ(bad->size(), kMaxBadEntries);
  for (size_t i = 0; i < bad->size(); ++i) {
    int n = static_cast<int>(i) + 4;  // 1..3 were removed, oldest first
    EXPECT_EQ((*bad)[i].name, fmt::format("{}-active-v{}.vbundle", 1000 + n - 1, n));
    EXPECT_EQ((*bad)[i].unix_time, 1000 + n - 1);
    EXPECT_EQ((*bad)[i].reason, fmt::format("crash loop {}", n));  // one line
  }
  // No orphans: ten bundles, ten reasons.
  Result<std::vector<std::string>> names = fs.ListDir(store.BadDir());
  ASSERT_TRUE(names);
  EXPECT_EQ(names->size(), 2 * kMaxBadEntries);
  std::string reason = *fs.ReadFile(store.BadDir() + "/1012-active-v13.reason", 1000);
  EXPECT_EQ(reason, "slot active\nversion 13\ntime 1012\nreason crash loop 13\n");
}

TEST(ContentStore, QuarantineInOneSecondGetsDistinctNamesInOrder) {
  MemStoreFs fs;
  ContentStore store = OpenOrDie(fs, kRoot, true);
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(store.WriteSlot(Slot::kCandidate, fmt::format("c{}", i)).ok());
    ASSERT_TRUE(store.Quarantine(Slot::kCandidate, 9, "shadow rejected"));
  }
  Result<std::vector<std::string>> bad = store.ListBad();
  ASSERT_TRUE(bad);
  ASSERT_EQ(bad->size(), kMaxBadEntries);
  // The first two (unsuffixed and -2) went first; -3 .. -12 remain in order.
  for (size_t i = 0; i < bad->size(); ++i) {
    EXPECT_EQ((*bad)[i], fmt::format("{}-candidate-v9-{}.vbundle", kClock, i + 3));
    EXPECT_EQ(*fs.ReadFile(store.BadDir() + "/" + (*bad)[i], 100), fmt::format("c{}", i + 2));
  }
}

TEST(ContentStore, OpenRemovesLeftoverTempFiles) {
  MemStoreFs fs;
  { OpenOrDie(fs, kRoot, true); }
  ASSERT_TRUE(fs.WriteFile(std::string(kRoot) + "/tmp-77-1-active.vbundle", "half a bun", 0600).ok());
  ASSERT_TRUE(fs.WriteFile(std::string(kRoot) + "/tmp-77-2-state", "vigil st", 0600).ok());
  // A reader leaves them (a writer may be using them) ...
  ASSERT_TRUE(ContentStore::OpenReadOnly(fs, kRoot));
  EXPECT_TRUE(fs.Exists(std::string(kRoot) + "/tmp-77-2-state"));
  // ... a writer's Open removes them, durably.
  OpenOrDie(fs, kRoot, false);
  fs.Crash();
  for (const std::string& path : fs.AllPaths()) EXPECT_FALSE(Contains(path, "/tmp-")) << path;
}

TEST(ContentStore, ReadOnlyStoreChangesNothing) {
  MemStoreFs fs;
  {
    ContentStore store = OpenOrDie(fs, kRoot, true);
    ASSERT_TRUE(store.WriteSlot(Slot::kActive, "a").ok());
  }
  Result<ContentStore> ro = ContentStore::OpenReadOnly(fs, kRoot);
  ASSERT_TRUE(ro) << ro.error().ToString();
  EXPECT_TRUE(ro->read_only());
  uint64_t before = fs.mutations();
  EXPECT_EQ(*ro->ReadSlot(Slot::kActive), "a");
  EXPECT_EQ(ro->WriteSlot(Slot::kLkg, "b").code(), Code::kInvalidArgument);
  EXPECT_EQ(ro->PromoteCandidate().code(), Code::kInvalidArgument);
  EXPECT_EQ(ro->CopyActiveToLkg().code(), Code::kInvalidArgument);
  EXPECT_EQ(ro->Quarantine(Slot::kActive, 1, "r").error().code(), Code::kInvalidArgument);
  Status s = ro->WriteState(StoreState{});
  EXPECT_TRUE(Contains(s.message(), "is open read-only")) << s.ToString();
  EXPECT_EQ(fs.mutations(), before);
  // Not created by a read-only open.
  EXPECT_EQ(ContentStore::OpenReadOnly(fs, "/elsewhere").error().code(), Code::kNotFound);
  EXPECT_FALSE(fs.Exists("/elsewhere"));
}

TEST(ContentStore, RefusesADirectoryThatIsNotAStore) {
  MemStoreFs fs;
  ASSERT_TRUE(fs.MakeDir("/data", 0700).ok());
  ASSERT_TRUE(fs.WriteFile("/data/precious.db", "x", 0600).ok());

  Result<ContentStore> missing = ContentStore::Open(fs, "/nowhere", false);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
  EXPECT_TRUE(Contains(missing.error().message(), "store /nowhere: no such directory")) << missing.error().message();
  EXPECT_FALSE(fs.Exists("/nowhere"));

  Result<ContentStore> no_marker = ContentStore::Open(fs, "/data", false);
  ASSERT_FALSE(no_marker);
  EXPECT_EQ(no_marker.error().code(), Code::kInvalidArgument);
  EXPECT_TRUE(Contains(no_marker.error().message(), "/data is not a vigil content store (no VIGIL_STORE marker)"))
      << no_marker.error().message();

  // Even with create, a non-empty foreign directory is left alone.
  Result<ContentStore> foreign = ContentStore::Open(fs, "/data/", true);
  ASSERT_FALSE(foreign);
  EXPECT_EQ(foreign.error().code(), Code::kInvalidArgument);
  EXPECT_TRUE(Contains(foreign.error().message(),
                       "/data is not empty and not a vigil content store (it holds "
                       "'precious.db')"))
      << foreign.error().message();
  EXPECT_FALSE(fs.Exists("/data/VIGIL_STORE"));
  EXPECT_FALSE(fs.Exists("/data/slots"));

  // An empty directory (or one holding only the lock) becomes a store.
  ASSERT_TRUE(fs.MakeDir("/empty", 0700).ok());
  ASSERT_TRUE(fs.WriteFile("/empty/lock", "", 0600).ok());
  EXPECT_TRUE(ContentStore::Open(fs, "/empty", true));

  // A marker from another format version.
  ASSERT_TRUE(fs.WriteFile("/empty/VIGIL_STORE", "vigil content store 2\n", 0600).ok());
  Result<ContentStore> newer = ContentStore::Open(fs, "/empty", false);
  ASSERT_FALSE(newer);
  EXPECT_EQ(newer.error().code(), Code::kUnsupported);
  EXPECT_TRUE(Contains(newer.error().message(), "/empty/VIGIL_STORE")) << newer.error().message();

  EXPECT_FALSE(ContentStore::Open(fs, "/", true));
  EXPECT_FALSE(ContentStore::Open(fs, "", true));
}

TEST(ContentStore, RefusesARootOthersCanWriteOrDoNotOwn) {
  MemStoreFs fs;
  { OpenOrDie(fs, kRoot, true); }
  ASSERT_TRUE(fs.SetMode(kRoot, 0770).ok());
  Result<ContentStore> group = ContentStore::Open(fs, kRoot, false);
  ASSERT_FALSE(group);
  EXPECT_EQ(group.error().code(), Code::kInvalidArgument);
  EXPECT_TRUE(Contains(
      group.error().message(),
      fmt::format("store {}: mode 0770 is group or world writable; refusing it (chmod 0700 {})", kRoot, kRoot)))
      << group.error().message();
  ASSERT_TRUE(fs.SetMode(kRoot, 0702).ok());
  EXPECT_FALSE(ContentStore::Open(fs, kRoot, false));
  EXPECT_FALSE(ContentStore::OpenReadOnly(fs, kRoot));
  ASSERT_TRUE(fs.SetMode(kRoot, 0755).ok());  // readable is fine; writable is not
  EXPECT_TRUE(ContentStore::Open(fs, kRoot, false));

  ASSERT_TRUE(fs.SetOwner(kRoot, ::geteuid() + 1).ok());
  Result<ContentStore> owner = ContentStore::Open(fs, kRoot, false);
  ASSERT_FALSE(owner);
  EXPECT_TRUE(Contains(owner.error().message(),
                       fmt::format("store {}: owned by uid {}, not by uid {}", kRoot, ::geteuid() + 1, ::geteuid())))
      << owner.error().message();
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/vigil_store_test_XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() { stdfs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ContentStorePosix, ModesSymlinksAndPermissionRefusal) {
  TempDir tmp;
  std::string root = tmp.path() + "/store";
  {
    ContentStore store = OpenOrDie(PosixStoreFs(), root, true);
    ASSERT_TRUE(store.WriteSlot(Slot::kActive, "abc").ok());
    ASSERT_TRUE(store.WriteState(FullState()).ok());
    EXPECT_EQ(*store.ReadState(), FullState());
    struct stat st {};
    ASSERT_EQ(::stat(root.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    ASSERT_EQ(::stat(store.SlotPath(Slot::kActive).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    ASSERT_EQ(::stat(store.StatePath().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
  }
  // A symlinked slot is not followed.
  std::string target = tmp.path() + "/elsewhere";
  ASSERT_TRUE(PosixStoreFs().WriteFile(target, "planted", 0644).ok());
  std::string lkg = root + "/slots/lkg.vbundle";
  ASSERT_EQ(::symlink(target.c_str(), lkg.c_str()), 0);
  {
    ContentStore store = OpenOrDie(PosixStoreFs(), root, false);
    Result<std::string> r = store.ReadSlot(Slot::kLkg);
    ASSERT_FALSE(r);
    EXPECT_TRUE(Contains(r.error().message(), "symbolic link")) << r.error().message();
  }
  // A symlink as the root is refused.
  std::string link = tmp.path() + "/link";
  ASSERT_EQ(::symlink(root.c_str(), link.c_str()), 0);
  Result<ContentStore> via_link = ContentStore::Open(PosixStoreFs(), link, false);
  ASSERT_FALSE(via_link);
  EXPECT_TRUE(Contains(via_link.error().message(), "is a symbolic link")) << via_link.error().message();
  // World-writable.
  ASSERT_EQ(::chmod(root.c_str(), 0777), 0);
  Result<ContentStore> open = ContentStore::Open(PosixStoreFs(), root, false);
  ASSERT_FALSE(open);
  EXPECT_TRUE(Contains(open.error().message(), "mode 0777 is group or world writable")) << open.error().message();
}

TEST(ContentStorePosix, SecondLockFailsWithTheMessage) {
  TempDir tmp;
  std::string root = tmp.path() + "/store";
  OpenOrDie(PosixStoreFs(), root, true);
  EXPECT_FALSE(*ContentStore::IsLocked(root));
  {
    Result<StoreLock> first = ContentStore::Lock(root);
    ASSERT_TRUE(first) << first.error().ToString();
    EXPECT_EQ(first->path(), root + "/lock");
    Result<StoreLock> second = ContentStore::Lock(root);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code(), Code::kIo);
    EXPECT_EQ(second.error().message(), fmt::format("store {} is in use (locked by another vigild)", root));
    EXPECT_TRUE(*ContentStore::IsLocked(root));
    // Moving keeps it held.
    StoreLock moved = std::move(*first);
    EXPECT_FALSE(ContentStore::Lock(root));
  }
  EXPECT_FALSE(*ContentStore::IsLocked(root));
  EXPECT_TRUE(ContentStore::Lock(root));
  // In another process too (flock is per open file description, per process here).
  Result<StoreLock> held = ContentStore::Lock(root);
  ASSERT_TRUE(held);
  pid_t pid = ::fork();
  if (pid == 0) {
    // Another process's Lock fails while this one holds it.
    _exit(ContentStore::Lock(root) ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  Result<StoreLock> none = ContentStore::Lock(tmp.path() + "/missing");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), Code::kNotFound);
}

// ---------------------------------------------------------------- power cuts

// What a store holds, as far as consistency goes.
struct Snapshot {
  std::map<Slot, std::optional<std::string>> slots;
  std::optional<StoreState> state;  // nullopt: the state file did not parse
  std::string state_error;
  std::set<std::string> bad;  // the bytes of every quarantined bundle

  bool operator==(const Snapshot& o) const { return slots == o.slots && state == o.state && bad == o.bad; }
};

std::string Describe(const Snapshot& s) {
  std::string out;
  for (const auto& [slot, bytes] : s.slots) {
    out +=
        fmt::format("{}={} ", SlotName(slot), bytes ? fmt::format("{}B:{}", bytes->size(), bytes->substr(0, 12)) : "-");
  }
  if (s.state) {
    out += fmt::format("state(floor={} active_v={} cand_v={}) ", s.state->version_floor, s.state->active_version,
                       s.state->candidate_version);
  } else {
    out += "state ERROR " + s.state_error + " ";
  }
  out += fmt::format("bad={}", s.bad.size());
  return out;
}

Snapshot Take(StoreFs& fs, const ContentStore& store) {
  Snapshot snap;
  for (Slot slot : kAllSlots) {
    Result<std::string> bytes = store.ReadSlot(slot);
    if (bytes) {
      snap.slots[slot] = *bytes;
    } else {
      EXPECT_EQ(bytes.error().code(), Code::kNotFound) << bytes.error().ToString();
      snap.slots[slot] = std::nullopt;
    }
  }
  Result<StoreState> state = store.ReadState();
  if (state) {
    snap.state = *state;
  } else {
    snap.state_error = state.error().ToString();
  }
  Result<std::vector<std::string>> bad = store.ListBad();
  EXPECT_TRUE(bad) << bad.error().ToString();
  for (const std::string& name : bad.value_or(std::vector<std::string>{})) {
    Result<std::string> bytes = fs.ReadFile(store.BadDir() + "/" + name, kMaxSlotBytes);
    EXPECT_TRUE(bytes) << name;
    // Every quarantined bundle has its reason beside it.
    std::string reason = store.BadDir() + "/" + name.substr(0, name.size() - 8) + ".reason";
    Result<std::string> reason_text = fs.ReadFile(reason, 4096);
    EXPECT_TRUE(reason_text && reason_text->rfind("slot ", 0) == 0 && Contains(*reason_text, "\nreason ") &&
                reason_text->back() == '\n')
        << reason << ": " << reason_text.value_or("(missing)");
    if (bytes) snap.bad.insert(*bytes);
  }
  return snap;
}

using Step = std::function<Status(ContentStore&)>;

struct Scenario {
  std::string name;
  std::function<void(ContentStore&)> setup;  // the old state
  std::vector<Step> steps;                   // the mutation, as a caller runs it
  uint64_t expected_fs_steps;                // mutating file system calls of one clean run
  bool redo_when_done = true;                // whether running it again from the final state must succeed
  // Consistent states other than the checkpoints between steps (from
  // [before, after]): quarantine may leave the bundle in both places.
  std::function<std::vector<Snapshot>(const Snapshot& before, const Snapshot& after)> also_allowed;
  // Whether a retry ended where a clean run ends (default: exactly).
  std::function<bool(const Snapshot& got, const Snapshot& want)> retry_done;
};

const std::string kOld = std::string(3000, 'o') + "old bundle";
const std::string kNew = std::string(5000, 'n') + "new bundle";
const std::string kOther = std::string(4000, 'l') + "lkg bundle";

StoreState OldState() {
  StoreState s;
  s.version_floor = 1;
  s.active_version = 1;
  s.running_level = "active";
  s.running_version = 1;
  s.crashes.push_back({100, "candidate", 3, "signal 11 (SIGSEGV)"});
  return s;
}
StoreState MidState() {
  StoreState s = OldState();
  s.candidate_version = 2;
  s.last_event = "candidate v2 written";
  return s;
}
StoreState NewState() {
  StoreState s = MidState();
  s.version_floor = 2;
  s.active_version = 2;
  s.candidate_version = 0;
  s.last_event = "activated v2";
  return s;
}

Status QuarantineActive(ContentStore& s) {
  Result<std::string> r = s.Quarantine(Slot::kActive, 1, "3 crashes in 12 s");
  return r ? Status::Ok() : r.error();
}

std::vector<Snapshot> QuarantineIntermediates(const Snapshot& before, const Snapshot& after) {
  // The bundle in bad/ and still in its slot; and bad/ pruned to make room
  // before anything moved.
  Snapshot both = before;
  both.bad = after.bad;
  Snapshot pruned = before;
  pruned.bad = after.bad;
  pruned.bad.erase(*before.slots.at(Slot::kActive));
  return {both, pruned};
}

// A retry from "in bad/ and still in its slot" quarantines a second copy,
// and in a full bad/ that prunes one more old entry than a clean run does.
bool QuarantineDone(const Snapshot& got, const Snapshot& want) {
  return got.slots == want.slots && got.state == want.state && got.bad.count(kOld) == 1 &&
         got.bad.size() <= kMaxBadEntries && got.bad.size() + 1 >= want.bad.size();
}

std::vector<Scenario> Scenarios() {
  std::vector<Scenario> out;
  auto base = [](ContentStore& s) { ASSERT_TRUE(s.WriteState(OldState()).ok()); };
  out.push_back(
      {"WriteSlot on an empty slot", base, {[](ContentStore& s) { return s.WriteSlot(Slot::kCandidate, kNew); }}, 4});
  out.push_back({"WriteSlot on an occupied slot",
                 [&](ContentStore& s) {
                   base(s);
                   ASSERT_TRUE(s.WriteSlot(Slot::kActive, kOld).ok());
                 },
                 {[](ContentStore& s) { return s.WriteSlot(Slot::kActive, kNew); }},
                 4});
  out.push_back({"PromoteCandidate",
                 [&](ContentStore& s) {
                   base(s);
                   ASSERT_TRUE(s.WriteSlot(Slot::kActive, kOld).ok());
                   ASSERT_TRUE(s.WriteSlot(Slot::kCandidate, kNew).ok());
                 },
                 {[](ContentStore& s) { return s.PromoteCandidate(); }},
                 2,
                 /*redo_when_done=*/false});
  out.push_back({"CopyActiveToLkg",
                 [&](ContentStore& s) {
                   base(s);
                   ASSERT_TRUE(s.WriteSlot(Slot::kActive, kNew).ok());
                   ASSERT_TRUE(s.WriteSlot(Slot::kLkg, kOther).ok());
                 },
                 {[](ContentStore& s) { return s.CopyActiveToLkg(); }},
                 4});
  out.push_back({"Quarantine",
                 [&](ContentStore& s) {
                   base(s);
                   ASSERT_TRUE(s.WriteSlot(Slot::kActive, kOld).ok());
                 },
                 {QuarantineActive},
                 6,
                 false,
                 QuarantineIntermediates,
                 QuarantineDone});
  out.push_back({"Quarantine into a full bad/",
                 [&](ContentStore& s) {
                   base(s);
                   for (int i = 0; i < 10; ++i) {
                     ASSERT_TRUE(s.WriteSlot(Slot::kActive, fmt::format("earlier {}", i)).ok());
                     ASSERT_TRUE(s.Quarantine(Slot::kActive, static_cast<uint64_t>(i), "earlier"));
                   }
                   ASSERT_TRUE(s.WriteSlot(Slot::kActive, kOld).ok());
                 },
                 // prune: remove the oldest bundle and its reason; then the 6 steps
                 {QuarantineActive},
                 8,
                 false,
                 QuarantineIntermediates,
                 QuarantineDone});
  out.push_back({"WriteState", base, {[](ContentStore& s) { return s.WriteState(NewState()); }}, 4});
  out.push_back(
      {"install update: WriteSlot(candidate), WriteState, PromoteCandidate, WriteState",
       [&](ContentStore& s) {
         base(s);
         ASSERT_TRUE(s.WriteSlot(Slot::kActive, kOld).ok());
       },
       {[](ContentStore& s) { return s.WriteSlot(Slot::kCandidate, kNew); },
        [](ContentStore& s) { return s.WriteState(MidState()); }, [](ContentStore& s) { return s.PromoteCandidate(); },
        [](ContentStore& s) { return s.WriteState(NewState()); }},
       4 + 4 + 2 + 4});
  return out;
}

// Runs the steps in order; the first failure stops them.
Status RunSteps(const Scenario& sc, ContentStore& store) {
  for (const Step& step : sc.steps) {
    if (Status s = step(store); !s.ok()) return s;
  }
  return Status::Ok();
}

// One file system per trial: a fresh in-memory one, or a fresh temp dir.
class Harness {
 public:
  virtual ~Harness() = default;
  virtual void Fresh() = 0;
  virtual StoreFs& fs() = 0;
  virtual std::string root() = 0;
  virtual void FailAfter(uint64_t n) = 0;
  virtual void Heal() = 0;
  virtual uint64_t mutations() = 0;
  virtual uint64_t faults() = 0;
  virtual void Crash() = 0;  // power cut where the model has one; else the process "dies" (nothing to do)
  virtual void Durable() = 0;
  virtual std::vector<std::string> RootEntries() = 0;
};

class MemHarness final : public Harness {
 public:
  void Fresh() override { fs_ = std::make_unique<MemStoreFs>(); }
  StoreFs& fs() override { return *fs_; }
  std::string root() override { return kRoot; }
  void FailAfter(uint64_t n) override { fs_->FailAfter(n); }
  void Heal() override { fs_->Heal(); }
  uint64_t mutations() override { return fs_->mutations(); }
  uint64_t faults() override { return fs_->faults(); }
  void Crash() override { fs_->Crash(); }
  void Durable() override { fs_->SyncAll(); }
  std::vector<std::string> RootEntries() override { return fs_->ListDir(kRoot).value_or(std::vector<std::string>{}); }

 private:
  std::unique_ptr<MemStoreFs> fs_;
};

class PosixHarness final : public Harness {
 public:
  void Fresh() override {
    tmp_ = std::make_unique<TempDir>();
    fs_ = std::make_unique<FaultyStoreFs>(PosixStoreFs());
  }
  StoreFs& fs() override { return *fs_; }
  std::string root() override { return tmp_->path() + "/store"; }
  void FailAfter(uint64_t n) override { fs_->FailAfter(n); }
  void Heal() override { fs_->Heal(); }
  uint64_t mutations() override { return fs_->mutations(); }
  uint64_t faults() override { return fs_->faults(); }
  void Crash() override {}
  void Durable() override {}
  std::vector<std::string> RootEntries() override {
    return PosixStoreFs().ListDir(root()).value_or(std::vector<std::string>{});
  }

 private:
  std::unique_ptr<TempDir> tmp_;
  std::unique_ptr<FaultyStoreFs> fs_;
};

struct Outcome {
  uint64_t steps = 0;            // N: mutating calls of a clean run
  uint64_t faults_visited = 0;   // trials n < N in which the injected fault was hit and the mutation failed
  std::map<size_t, int> landed;  // allowed state index -> trials that ended there
};

// For n = 0..N: FailAfter(n), run, crash (or not), reopen, check, retry.
Outcome Exercise(Harness& h, const Scenario& sc, bool crash) {
  Outcome out;
  // The checkpoints: before, and after each step of a clean run.
  std::vector<Snapshot> allowed;
  h.Fresh();
  {
    ContentStore store = OpenOrDie(h.fs(), h.root(), true);
    sc.setup(store);
    h.Durable();
    allowed.push_back(Take(h.fs(), store));
    uint64_t start = h.mutations();
    for (const Step& step : sc.steps) {
      Status s = step(store);
      EXPECT_TRUE(s.ok()) << sc.name << ": clean run: " << s.ToString();
      allowed.push_back(Take(h.fs(), store));
    }
    out.steps = h.mutations() - start;
  }
  const Snapshot final_state = allowed.back();
  auto done = [&sc, &final_state](const Snapshot& got) {
    return sc.retry_done ? sc.retry_done(got, final_state) : got == final_state;
  };
  if (sc.also_allowed) {
    for (Snapshot& extra : sc.also_allowed(allowed.front(), final_state)) allowed.push_back(std::move(extra));
  }
  EXPECT_EQ(out.steps, sc.expected_fs_steps) << sc.name;

  for (uint64_t n = 0; n <= out.steps; ++n) {
    SCOPED_TRACE(fmt::format("{}: fault at step {} of {}{}", sc.name, n, out.steps, crash ? ", then power cut" : ""));
    h.Fresh();
    {
      ContentStore store = OpenOrDie(h.fs(), h.root(), true);
      sc.setup(store);
      h.Durable();
      uint64_t faults_before = h.faults();
      h.FailAfter(n);
      Status s = RunSteps(sc, store);
      if (n < out.steps) {
        EXPECT_FALSE(s.ok()) << "the mutation succeeded although its step " << n << " failed";
        EXPECT_GT(h.faults(), faults_before) << "no fault was injected";
        EXPECT_TRUE(s.ok() || Contains(s.message(), "injected fault")) << s.ToString();
        if (!s.ok() && h.faults() > faults_before) ++out.faults_visited;
      } else {
        EXPECT_TRUE(s.ok()) << s.ToString();
        EXPECT_EQ(h.faults(), faults_before);
      }
      if (crash) {
        h.Crash();
      } else {
        h.Heal();
      }
    }
    // Reopen: consistent, no temp files, and a retry succeeds.
    ContentStore store = OpenOrDie(h.fs(), h.root(), false);
    for (const std::string& name : h.RootEntries()) EXPECT_NE(name.substr(0, 4), "tmp-") << name;
    Snapshot now = Take(h.fs(), store);
    size_t index = allowed.size();
    for (size_t i = 0; i < allowed.size(); ++i) {
      if (now == allowed[i]) {
        index = i;
        break;
      }
    }
    if (index == allowed.size()) {
      std::string want;
      for (const Snapshot& a : allowed) want += "\n  " + Describe(a);
      ADD_FAILURE() << "inconsistent store: " << Describe(now) << "\nallowed:" << want;
      continue;
    }
    ++out.landed[index];
    if (sc.redo_when_done || !(now == final_state)) {
      Status s = RunSteps(sc, store);
      EXPECT_TRUE(s.ok()) << "retry: " << s.ToString();
      Snapshot retried = Take(h.fs(), store);
      EXPECT_TRUE(done(retried)) << Describe(retried) << "\nwant: " << Describe(final_state);
    }
    if (crash) {
      // And what the retry wrote survives the next power cut.
      h.Crash();
      ContentStore after = OpenOrDie(h.fs(), h.root(), false);
      Snapshot survived = Take(h.fs(), after);
      EXPECT_TRUE(done(survived)) << Describe(survived) << "\nwant: " << Describe(final_state);
    }
  }
  return out;
}

void ExerciseAll(Harness& h, bool crash) {
  for (const Scenario& sc : Scenarios()) {
    Outcome out = Exercise(h, sc, crash);
    // Not vacuous: every step's fault was hit and made the mutation fail,
    // and both the old and the new state were reached.
    EXPECT_EQ(out.faults_visited, out.steps) << sc.name;
    EXPECT_GT(out.landed[0], 0) << sc.name << ": never left the old state";
    EXPECT_GT(out.landed[sc.steps.size()], 0) << sc.name << ": never reached the new state";
    std::string landed;
    for (const auto& [index, count] : out.landed) landed += fmt::format(" {}:{}", index, count);
    std::printf("[ power-cut ] %-85s %2llu fs steps, %2llu faults visited, landed (state:trials)%s\n", sc.name.c_str(),
                static_cast<unsigned long long>(out.steps), static_cast<unsigned long long>(out.faults_visited),
                landed.c_str());
  }
}

TEST(ContentStorePowerCut, EveryStepOfEveryMutationOnMemFsWithPowerCut) {
  MemHarness h;
  ExerciseAll(h, /*crash=*/true);
}

TEST(ContentStorePowerCut, EveryStepOfEveryMutationOnMemFsFailureWithoutCrash) {
  MemHarness h;
  ExerciseAll(h, /*crash=*/false);
}

TEST(ContentStorePowerCut, EveryStepOfEveryMutationOnPosixFs) {
  PosixHarness h;
  ExerciseAll(h, /*crash=*/false);
}

// The model itself: an unsynced rename is undone, an unsynced file is torn,
// a synced one survives.
TEST(MemStoreFs, CrashKeepsOnlyWhatWasMadeDurable) {
  MemStoreFs fs;
  ASSERT_TRUE(fs.MakeDir("/d", 0700).ok());
  ASSERT_TRUE(fs.WriteFile("/d/a", "synced", 0600).ok());
  ASSERT_TRUE(fs.SyncFile("/d/a").ok());
  ASSERT_TRUE(fs.SyncDir("/d").ok());
  ASSERT_TRUE(fs.SyncDir("/").ok());
  ASSERT_TRUE(fs.WriteFile("/d/b", "never synced", 0600).ok());
  ASSERT_TRUE(fs.WriteFile("/d/c", "data synced, name not", 0600).ok());
  ASSERT_TRUE(fs.SyncFile("/d/c").ok());
  ASSERT_TRUE(fs.Rename("/d/a", "/d/a2").ok());
  fs.Crash();
  EXPECT_EQ(*fs.ReadFile("/d/a", 100), "synced");
  EXPECT_FALSE(fs.Exists("/d/a2"));
  EXPECT_FALSE(fs.Exists("/d/b"));
  EXPECT_FALSE(fs.Exists("/d/c"));

  ASSERT_TRUE(fs.WriteFile("/d/a", "rewritten, not synced", 0600).ok());
  ASSERT_TRUE(fs.SyncDir("/d").ok());
  fs.Crash();
  EXPECT_EQ(*fs.ReadFile("/d/a", 100), "rewritten,");  // torn: the first half

  fs.FailAfter(1);
  EXPECT_TRUE(fs.WriteFile("/d/e", "0123456789", 0600).ok());
  Status failed = fs.WriteFile("/d/f", "0123456789", 0600);
  EXPECT_EQ(failed.code(), Code::kIo);
  EXPECT_TRUE(Contains(failed.message(), "injected fault: write /d/f")) << failed.ToString();
  EXPECT_EQ(*fs.ReadFile("/d/f", 100), "01234");  // a failed write leaves a torn file
  EXPECT_EQ(fs.SyncDir("/d").code(), Code::kIo);  // and everything after fails
  EXPECT_EQ(fs.faults(), 2u);
  fs.Crash();
  EXPECT_TRUE(fs.SyncDir("/d").ok());  // Crash clears the fault
  EXPECT_FALSE(fs.Exists("/d/e"));
}

}  // namespace
}  // namespace vigil::sensor
