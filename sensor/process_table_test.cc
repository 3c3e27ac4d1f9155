// ProcessTable against a fake /proc tree in a temp dir: seeding, fork/exec/exit
// updates, loading on a miss, the grace period, and the bound (a fork storm of
// short-lived processes must not grow the table).
#include "sensor/process_table.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace vigil::sensor {
namespace {

using sources::RawEvent;
using sources::RawKind;
namespace fs = std::filesystem;

constexpr uint64_t kSecond = 1'000'000'000;

struct FakeProcess {
  int32_t pid = 0;
  int32_t ppid = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string exe;
  std::vector<std::string> argv;
  std::string cwd;
  std::string loginuid = "4294967295";
};

// A /proc look-alike: <pid>/{exe, cwd (symlinks), cmdline, status, loginuid}.
class FakeProc {
 public:
  FakeProc() {
    std::string tmpl = (fs::temp_directory_path() / "vigil-proc-XXXXXX").string();
    root_ = mkdtemp(tmpl.data());
  }
  ~FakeProc() { fs::remove_all(root_); }
  const std::string& root() const { return root_; }

  void Add(const FakeProcess& p) {
    fs::path dir = fs::path(root_) / std::to_string(p.pid);
    fs::create_directories(dir);
    fs::create_symlink(p.exe, dir / "exe");
    fs::create_symlink(p.cwd, dir / "cwd");
    std::string cmdline;
    for (const auto& a : p.argv) cmdline.append(a).push_back('\0');
    Write(dir / "cmdline", cmdline);
    Write(dir / "status", "Name:\tx\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t" + std::to_string(p.pid) +
                              "\nPid:\t" + std::to_string(p.pid) + "\nPPid:\t" + std::to_string(p.ppid) +
                              "\nTracerPid:\t0\nUid:\t" + std::to_string(p.uid) + "\t0\t0\t0\nGid:\t" +
                              std::to_string(p.gid) + "\t0\t0\t0\n");
    Write(dir / "loginuid", p.loginuid);
  }
  void Remove(int32_t pid) { fs::remove_all(fs::path(root_) / std::to_string(pid)); }
  void Relink(int32_t pid, const char* name, const std::string& target) {
    fs::path link = fs::path(root_) / std::to_string(pid) / name;
    fs::remove(link);
    fs::create_symlink(target, link);
  }

 private:
  static void Write(const fs::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
  }
  std::string root_;
};

RawEvent Fork(int32_t child, int32_t parent, uint64_t t) {
  RawEvent e;
  e.kind = RawKind::kFork;
  e.pid = child;
  e.ppid = parent;
  e.time_ns = t;
  return e;
}

RawEvent Exit(int32_t pid, uint64_t t) {
  RawEvent e;
  e.kind = RawKind::kExit;
  e.pid = pid;
  e.time_ns = t;
  return e;
}

RawEvent Exec(int32_t pid, int32_t ppid, std::string_view image, std::string_view cmd, std::string_view cwd,
              uint64_t t) {
  RawEvent e;
  e.kind = RawKind::kExec;
  e.pid = pid;
  e.ppid = ppid;
  e.image = image;
  e.command_line = cmd;
  e.cwd = cwd;
  e.uid = 1000;
  e.gid = 1001;
  e.loginuid = 1000;
  e.time_ns = t;
  return e;
}

FakeProcess Bash() {
  return {.pid = 100, .ppid = 1, .uid = 0, .gid = 0, .exe = "/usr/bin/bash",
          .argv = {"-bash", "--login"}, .cwd = "/root", .loginuid = "0"};
}

TEST(ProcessTable, SeedsFromProc) {
  FakeProc proc;
  proc.Add({.pid = 1, .ppid = 0, .exe = "/usr/lib/systemd/systemd", .argv = {"/sbin/init", "splash"},
            .cwd = "/"});
  proc.Add(Bash());
  fs::create_directories(fs::path(proc.root()) / "self");      // not a pid
  fs::create_directories(fs::path(proc.root()) / "4242");      // gone: no status
  ProcessTable table({.proc_root = proc.root(), .load_on_miss = false});
  ASSERT_TRUE(table.SeedFromProc().ok());

  const ProcessInfo* bash = table.Lookup(100);
  ASSERT_NE(bash, nullptr);
  EXPECT_EQ(bash->ppid, 1);
  EXPECT_EQ(bash->image, "/usr/bin/bash");
  EXPECT_EQ(bash->command_line, "-bash --login");
  EXPECT_EQ(bash->cwd, "/root");
  EXPECT_EQ(bash->uid, 0u);
  EXPECT_EQ(bash->loginuid, 0u);
  EXPECT_EQ(bash->user, "root");
  EXPECT_EQ(bash->exit_time_ns, 0u);
  const ProcessInfo* init = table.Lookup(1);
  ASSERT_NE(init, nullptr);
  EXPECT_EQ(init->command_line, "/sbin/init splash");
  EXPECT_EQ(init->loginuid, 0xffffffffu);
  EXPECT_EQ(table.Lookup(4242), nullptr);
  ProcessTableStats s = table.stats();
  EXPECT_EQ(s.entries, 2u);
  EXPECT_EQ(s.loaded, 2u);
}

TEST(ProcessTable, SeedFromMissingRootIsIoError) {
  ProcessTable table({.proc_root = "/nonexistent/vigil-proc"});
  Status s = table.SeedFromProc();
  EXPECT_EQ(s.code(), Code::kIo);
  EXPECT_NE(s.message().find("/nonexistent/vigil-proc"), std::string::npos);
}

TEST(ProcessTable, SeedsTheRealProc) {
  ProcessTable table;
  ASSERT_TRUE(table.SeedFromProc().ok());
  const ProcessInfo* self = table.Lookup(getpid());
  ASSERT_NE(self, nullptr);
  EXPECT_EQ(self->ppid, getppid());
  EXPECT_EQ(self->image, fs::read_symlink("/proc/self/exe").string());
  EXPECT_NE(self->command_line.find("process_table_test"), std::string::npos);
}

TEST(ProcessTable, ForkCopiesTheParentExecReplacesTheProgram) {
  FakeProc proc;
  proc.Add(Bash());
  ProcessTable table({.proc_root = proc.root(), .load_on_miss = false});
  ASSERT_TRUE(table.SeedFromProc().ok());

  table.Apply(Fork(200, 100, kSecond));
  const ProcessInfo* child = table.Lookup(200);
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->pid, 200);
  EXPECT_EQ(child->ppid, 100);
  EXPECT_EQ(child->image, "/usr/bin/bash");
  EXPECT_EQ(child->command_line, "-bash --login");
  EXPECT_EQ(child->cwd, "/root");
  EXPECT_EQ(child->user, "root");
  EXPECT_EQ(child->loginuid, 0u);

  // ppid 0 in the event (a source that does not know it) keeps the table's.
  table.Apply(Exec(200, 0, "/usr/bin/curl", "curl -s http://x/a.sh", "/tmp", 2 * kSecond));
  child = table.Lookup(200);
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->ppid, 100);
  EXPECT_EQ(child->image, "/usr/bin/curl");
  EXPECT_EQ(child->command_line, "curl -s http://x/a.sh");
  EXPECT_EQ(child->cwd, "/tmp");
  EXPECT_EQ(child->uid, 1000u);
  EXPECT_EQ(child->gid, 1001u);
  EXPECT_EQ(child->loginuid, 1000u);
  EXPECT_EQ(child->user, table.UserName(1000));

  // Reparenting (the eBPF source reports real_parent at exec time).
  table.Apply(Exec(200, 1, "/usr/bin/sh", "sh", "/tmp", 3 * kSecond));
  EXPECT_EQ(table.Lookup(200)->ppid, 1);
  // The parent is untouched.
  EXPECT_EQ(table.Lookup(100)->image, "/usr/bin/bash");
}

TEST(ProcessTable, ForkOfUnknownParentUsesTheEvent) {
  ProcessTable table({.proc_root = "/nonexistent", .load_on_miss = false});
  RawEvent e = Fork(300, 299, kSecond);
  e.uid = 0;
  e.loginuid = 7;
  table.Apply(e);
  const ProcessInfo* child = table.Lookup(300);
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->ppid, 299);
  EXPECT_EQ(child->loginuid, 7u);
  EXPECT_EQ(child->user, "root");
  EXPECT_TRUE(child->image.empty());
}

TEST(ProcessTable, ExitedEntriesLingerForTheGracePeriod) {
  ProcessTable table({.exited_grace_ns = 5 * kSecond, .proc_root = "/nonexistent", .load_on_miss = false});
  table.Apply(Exec(10, 1, "/bin/true", "true", "/", 1 * kSecond));
  table.Apply(Exit(10, 2 * kSecond));
  const ProcessInfo* p = table.Lookup(10);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->exit_time_ns, 2 * kSecond);
  EXPECT_EQ(p->image, "/bin/true");

  // Any event moves the clock; just before the end of the grace it stays.
  RawEvent file;
  file.kind = RawKind::kFileOpen;
  file.time_ns = 7 * kSecond - 1;
  table.Apply(file);
  EXPECT_NE(table.Lookup(10), nullptr);
  file.time_ns = 7 * kSecond;
  table.Apply(file);
  EXPECT_EQ(table.Lookup(10), nullptr);
  ProcessTableStats s = table.stats();
  EXPECT_EQ(s.expired, 1u);
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.evictions, 0u);
}

TEST(ProcessTable, ExitWithoutClockStillExits) {
  ProcessTable table({.proc_root = "/nonexistent", .load_on_miss = false});
  table.Apply(Exec(10, 1, "/bin/true", "true", "/", 0));
  table.Apply(Exit(10, 0));
  ASSERT_NE(table.Lookup(10), nullptr);
  EXPECT_NE(table.Lookup(10)->exit_time_ns, 0u);
}

TEST(ProcessTable, MissLoadsFromProc) {
  FakeProc proc;
  proc.Add(Bash());
  ProcessTable table({.proc_root = proc.root()});
  const ProcessInfo* p = table.Lookup(100);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->command_line, "-bash --login");
  EXPECT_EQ(table.Lookup(100), p);  // a hit now
  EXPECT_EQ(table.Lookup(555), nullptr);
  EXPECT_EQ(table.Lookup(0), nullptr);
  EXPECT_EQ(table.Lookup(-3), nullptr);
  ProcessTableStats s = table.stats();
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.loaded, 1u);

  ProcessTable no_load({.proc_root = proc.root(), .load_on_miss = false});
  EXPECT_EQ(no_load.Lookup(100), nullptr);
  EXPECT_EQ(no_load.stats().misses, 1u);
  EXPECT_EQ(no_load.stats().loaded, 0u);
}

TEST(ProcessTable, ExecOfUnknownPidLoadsItsParentFromProc) {
  FakeProc proc;
  proc.Add({.pid = 77, .ppid = 100, .uid = 1000, .exe = "/usr/bin/old", .argv = {"old"}, .cwd = "/srv"});
  ProcessTable table({.proc_root = proc.root()});
  table.Apply(Exec(77, 0, "/usr/bin/new", "new --x", "/srv", kSecond));
  const ProcessInfo* p = table.Lookup(77);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->ppid, 100);
  EXPECT_EQ(p->image, "/usr/bin/new");
  EXPECT_EQ(p->command_line, "new --x");
}

TEST(ProcessTable, DegradedExecReadsArgvOnceExeIsTheNewImage) {
  FakeProc proc;
  proc.Add({.pid = 50, .ppid = 1, .exe = "/usr/bin/python3", .argv = {"python3", "x.py"}, .cwd = "/opt"});
  ProcessTable table({.proc_root = proc.root()});
  table.Apply(Fork(50, 1, kSecond));  // parent 1 unknown: child has no cwd yet
  RawEvent e;                         // fanotify FAN_OPEN_EXEC: the image only
  e.kind = RawKind::kExec;
  e.pid = 50;
  e.image = "/usr/bin/python3";
  table.Apply(e);
  const ProcessInfo* p = table.Lookup(50);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->command_line, "python3 x.py");
  EXPECT_EQ(p->cwd, "/opt");

  // /proc still shows the old program: no argv rather than the wrong one.
  proc.Relink(50, "exe", "/usr/bin/old");
  e.image = "/usr/bin/other";
  table.Apply(e);
  p = table.Lookup(50);
  EXPECT_EQ(p->image, "/usr/bin/other");
  EXPECT_EQ(p->command_line, "");
  EXPECT_EQ(p->cwd, "/opt");  // cwd survives exec
}

TEST(ProcessTable, PidReuseReplacesTheExitedEntry) {
  ProcessTable table({.proc_root = "/nonexistent", .load_on_miss = false});
  table.Apply(Exec(1, 0, "/sbin/init", "init", "/", kSecond));
  table.Apply(Exec(20, 1, "/bin/a", "a", "/", kSecond));
  table.Apply(Exit(20, kSecond));
  table.Apply(Fork(20, 1, kSecond + 1));
  const ProcessInfo* p = table.Lookup(20);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->exit_time_ns, 0u);
  EXPECT_EQ(p->image, "/sbin/init");
  EXPECT_EQ(table.stats().entries, 2u);
}

TEST(ProcessTable, FullTableEvictsExitedFirstThenLeastRecentlyUsed) {
  ProcessTable table({.max_entries = 4, .proc_root = "/nonexistent", .load_on_miss = false});
  for (int32_t pid = 1; pid <= 4; ++pid) table.Apply(Exec(pid, 0, "/bin/x", "x", "/", kSecond));
  table.Apply(Exit(3, kSecond));
  table.Apply(Exec(5, 0, "/bin/x", "x", "/", kSecond));  // evicts exited 3
  EXPECT_EQ(table.Lookup(3), nullptr);
  ProcessTableStats s = table.stats();
  EXPECT_EQ(s.exited_evicted, 1u);
  EXPECT_EQ(s.evictions, 0u);

  ASSERT_NE(table.Lookup(1), nullptr);  // 1 is now recently used; 2 is the oldest
  table.Apply(Exec(6, 0, "/bin/x", "x", "/", kSecond));
  EXPECT_EQ(table.Lookup(2), nullptr);
  EXPECT_NE(table.Lookup(1), nullptr);
  EXPECT_NE(table.Lookup(4), nullptr);
  EXPECT_NE(table.Lookup(5), nullptr);
  EXPECT_NE(table.Lookup(6), nullptr);
  s = table.stats();
  EXPECT_EQ(s.evictions, 1u);
  EXPECT_EQ(s.entries, 4u);
}

TEST(ProcessTable, ForkNeverEvictsTheParentItCopies) {
  ProcessTable table({.max_entries = 2, .proc_root = "/nonexistent", .load_on_miss = false});
  table.Apply(Exec(1, 0, "/bin/p", "p", "/", kSecond));
  table.Apply(Exec(2, 0, "/bin/q", "q", "/", kSecond));
  table.Apply(Fork(3, 1, kSecond));
  ASSERT_NE(table.Lookup(3), nullptr);
  EXPECT_EQ(table.Lookup(3)->image, "/bin/p");
  EXPECT_NE(table.Lookup(1), nullptr);
  EXPECT_EQ(table.Lookup(2), nullptr);
}

// 1,000,000 short-lived children of one shell: the table holds at most
// max_entries, whether exits expire by time or must be evicted early, and
// every removal is counted exactly once.
void ForkStorm(uint64_t step_ns) {
  constexpr size_t kMax = 1000;
  constexpr int kChildren = 1'000'000;
  ProcessTable table({.max_entries = kMax, .exited_grace_ns = 5 * kSecond, .proc_root = "/nonexistent",
                      .load_on_miss = false});
  table.Apply(Exec(100, 1, "/usr/bin/bash", "bash", "/", kSecond));
  uint64_t t = kSecond;
  size_t max_seen = 0;
  for (int i = 0; i < kChildren; ++i) {
    int32_t pid = 1000 + i % 4'000'000;
    t += step_ns;
    table.Apply(Fork(pid, 100, t));
    table.Apply(Exit(pid, t));
    size_t n = table.stats().entries;
    if (n > max_seen) max_seen = n;
  }
  ProcessTableStats s = table.stats();
  EXPECT_LE(max_seen, kMax);
  EXPECT_EQ(s.evictions, 0u);  // only exited processes had to go
  if (step_ns == 0) {
    EXPECT_EQ(s.expired, 0u);
  } else {
    EXPECT_EQ(s.exited_evicted, 0u);
    EXPECT_EQ(s.expired, kChildren - 500u);  // the last 5 s of exits are still in their grace
  }
  EXPECT_EQ(s.entries + s.expired + s.exited_evicted, kChildren + 1u);
  ASSERT_NE(table.Lookup(100), nullptr);
  EXPECT_EQ(table.Lookup(100)->image, "/usr/bin/bash");
}

TEST(ProcessTable, ForkStormWithExitsInsideTheGracePeriod) { ForkStorm(0); }
// 10 ms apart: 500 exits within the 5 s grace, so they expire before the bound.
TEST(ProcessTable, ForkStormWithExpiringExits) { ForkStorm(10'000'000); }

TEST(ProcessTable, ForkStormWithoutExitsEvictsLeastRecentlyUsed) {
  ProcessTable table({.max_entries = 1000, .proc_root = "/nonexistent", .load_on_miss = false});
  table.Apply(Exec(100, 1, "/usr/bin/bash", "bash", "/", kSecond));
  for (int i = 0; i < 100'000; ++i) table.Apply(Fork(1000 + i, 100, kSecond));
  ProcessTableStats s = table.stats();
  EXPECT_EQ(s.entries, 1000u);
  EXPECT_EQ(s.evictions, 100'001u - 1000u);
  EXPECT_NE(table.Lookup(100), nullptr);  // the parent is used by every fork
  EXPECT_NE(table.Lookup(1000 + 99'999), nullptr);
  EXPECT_EQ(table.Lookup(1000), nullptr);
}

TEST(ProcessTable, UserNamesAreResolvedAndCached) {
  ProcessTable table({.proc_root = "/nonexistent"});
  EXPECT_EQ(table.UserName(0), "root");
  const std::string& unknown = table.UserName(3'999'999'999u);
  EXPECT_EQ(unknown, "");
  EXPECT_EQ(table.stats().user_cache_entries, 2u);
  EXPECT_EQ(&table.UserName(0), &table.UserName(0));
}

TEST(ProcessTable, UserCacheIsBounded) {
  ProcessTable table({.proc_root = "/nonexistent"});
  for (uint32_t uid = 2'000'000'000u; uid < 2'000'000'000u + ProcessTable::kMaxCachedUsers + 10; ++uid) {
    (void)table.UserName(uid);
    ASSERT_LE(table.stats().user_cache_entries, ProcessTable::kMaxCachedUsers);
  }
}

}  // namespace
}  // namespace vigil::sensor
