// The permission responder: unit tests of its parts (ResponderUnit.*), and
// live tests (ResponderLive.*, root) against a real fanotify permission
// group marked ONLY on a tmpfs each test mounts in its own temp dir. Every
// operation that could wait on a permission decision runs in a forked child
// (our own pid is always allowed), and every live test has a watchdog that,
// past its bound, kills the children, detaches the mount and _exits: the
// kernel then allows everything the group held, so a bug here can never hang
// the machine.
#include "sensor/responder.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "content/compiler.h"
#include "engine/engine.h"

extern char** environ;

namespace vigil::sensor {
namespace {

using std::chrono::milliseconds;

#if defined(__SANITIZE_ADDRESS__)
constexpr int64_t kMarginMs = 40;  // sanitizer builds fork and exec slowly
#else
constexpr int64_t kMarginMs = 15;
#endif

int64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// ---------------------------------------------------------------- rules

std::string RuleYaml(const std::string& id, const std::string& category, const std::string& selection,
                     const std::string& tags = "") {
  return "title: test rule " + id + "\n"
         "id: " + id + "\n"
         "status: test\n"
         "level: high\n" +
         (tags.empty() ? "" : "tags: [" + tags + "]\n") +
         "logsource:\n  product: linux\n  category: " + category + "\n"
         "detection:\n  sel:\n" + selection + "  condition: sel\n";
}

content::Ruleset Compile(const std::vector<std::string>& docs) {
  content::Compiler compiler(Schema::Builtin());
  for (size_t i = 0; i < docs.size(); ++i) compiler.AddFile(docs[i], "rule" + std::to_string(i) + ".yml");
  content::Ruleset rs = compiler.Finish({});
  EXPECT_EQ(rs.rules.size(), docs.size()) << compiler.diagnostics().ToText();
  return rs;
}

std::shared_ptr<const engine::Engine> MakeEngine(const std::vector<std::string>& docs) {
  auto engine = engine::Engine::Create(Compile(docs), Schema::Builtin());
  EXPECT_TRUE(engine.has_value()) << engine.error().ToString();
  return engine ? *engine : nullptr;
}

const std::string kExecEvil =
    RuleYaml("00000000-0000-4000-8000-000000000001", "process_creation", "    Image|endswith: /evil\n");
const std::string kExecOther =
    RuleYaml("00000000-0000-4000-8000-000000000002", "process_creation", "    Image|endswith: /other\n");
const std::string kOpenSecret =
    RuleYaml("00000000-0000-4000-8000-000000000003", "file_access", "    TargetFilename|endswith: /secret\n");
const std::string kOpenSecretByRoot = RuleYaml("00000000-0000-4000-8000-000000000004", "file_access",
                                               "    TargetFilename|endswith: /secret\n    User: root\n");

// ---------------------------------------------------------------- unit: PendingPermissions

PendingPermissions::Entry Pending(int64_t deadline, int fd = -1) {
  PendingPermissions::Entry e;
  e.fd = fd;
  e.read_ns = deadline - 20;
  e.deadline_ns = deadline;
  return e;
}

TEST(ResponderUnit, PendingKeepsDeadlineOrderAndAnswersOnce) {
  PendingPermissions p(4);
  const uint64_t a = p.Add(Pending(100, 1));
  const uint64_t b = p.Add(Pending(200, 2));
  const uint64_t c = p.Add(Pending(300, 3));
  EXPECT_EQ(p.size(), 3u);
  int64_t next = 0;
  ASSERT_TRUE(p.NextDeadline(&next));
  EXPECT_EQ(next, 100);

  // A verdict for b arrives first: it is taken once, never again.
  const PendingPermissions::Entry* eb = p.Take(b);
  ASSERT_NE(eb, nullptr);
  EXPECT_EQ(eb->fd, 2);
  EXPECT_EQ(p.Take(b), nullptr);

  // At t=250, a expires (b is already answered); c waits.
  std::vector<uint64_t> expired;
  p.TakeExpired(250, [&](uint64_t id, const PendingPermissions::Entry&) { expired.push_back(id); });
  EXPECT_EQ(expired, std::vector<uint64_t>{a});
  EXPECT_EQ(p.Take(a), nullptr);  // a late verdict finds nothing to answer
  ASSERT_TRUE(p.NextDeadline(&next));
  EXPECT_EQ(next, 300);
  EXPECT_EQ(p.size(), 1u);  // a and b popped from the front

  p.TakeExpired(INT64_MAX, [&](uint64_t id, const PendingPermissions::Entry&) { expired.push_back(id); });
  EXPECT_EQ(expired, (std::vector<uint64_t>{a, c}));
  EXPECT_FALSE(p.NextDeadline(&next));
  EXPECT_EQ(p.size(), 0u);
  EXPECT_EQ(p.Take(12345), nullptr);
}

TEST(ResponderUnit, PendingRingWrapsAndEveryIdIsTakenExactlyOnce) {
  PendingPermissions p(8);
  std::mt19937 rng(7);
  std::map<uint64_t, int> taken;  // id -> times handed out
  std::vector<uint64_t> live;
  int64_t clock = 0;
  uint64_t added = 0;
  for (int step = 0; step < 20000; ++step) {
    clock += 1;
    const int action = static_cast<int>(rng() % 3);
    if (action == 0 && !p.full()) {
      const uint64_t id = p.Add(Pending(clock + 5 + static_cast<int64_t>(rng() % 3)));
      ++added;
      live.push_back(id);
    } else if (action == 1 && !live.empty()) {
      const uint64_t id = live[rng() % live.size()];
      if (p.Take(id) != nullptr) ++taken[id];
    } else {
      // Deadlines are not monotonic here (rng jitter): expiry still goes
      // strictly front to back, which is the responder's arrival order.
      int64_t last = INT64_MIN;
      p.TakeExpired(clock, [&](uint64_t id, const PendingPermissions::Entry& e) {
        ++taken[id];
        EXPECT_GE(static_cast<int64_t>(id), last);
        last = static_cast<int64_t>(id);
        EXPECT_LE(e.deadline_ns, clock);
      });
    }
    EXPECT_LE(p.size(), p.capacity());
  }
  p.TakeExpired(INT64_MAX, [&](uint64_t id, const PendingPermissions::Entry&) { ++taken[id]; });
  EXPECT_EQ(taken.size(), added);
  for (const auto& [id, n] : taken) EXPECT_EQ(n, 1) << "id " << id;
}

// ---------------------------------------------------------------- unit: histogram

TEST(ResponderUnit, LatencyHistogramQuantiles) {
  LatencyHistogram h;
  EXPECT_EQ(h.Quantile(0.5), 0u);
  for (uint64_t us = 1; us <= 1000; ++us) h.Record(us);
  EXPECT_EQ(h.count(), 1000u);
  const double p50 = static_cast<double>(h.Quantile(0.50));
  const double p99 = static_cast<double>(h.Quantile(0.99));
  EXPECT_NEAR(p50, 500, 500 * 0.07);
  EXPECT_NEAR(p99, 990, 990 * 0.07);
  h.Record(uint64_t{1} << 40);  // beyond the last octave: the overflow bucket
  EXPECT_EQ(h.Quantile(1.0), uint64_t{1} << 24);
}

// ---------------------------------------------------------------- unit: cache eligibility

TEST(ResponderUnit, VerdictCacheOnlyForRulesOnTheFileAlone) {
  const Schema& s = Schema::Builtin();
  const EventTypeId exec = *s.FindEventType("process_creation");
  const EventTypeId open = *s.FindEventType("file_access");
  const FieldIndex image = *s.FindField(exec, "Image");
  const FieldIndex user = *s.FindField(exec, "User");
  const FieldIndex target = *s.FindField(open, "TargetFilename");

  content::Ruleset path_only = Compile({kExecEvil, kExecOther});
  DecisionPlan p = PlanDecisions(path_only.rules, exec, image);
  EXPECT_TRUE(p.has_rules);
  EXPECT_TRUE(p.cacheable);
  EXPECT_EQ(p.fields_read, FieldMask{1} << image);

  content::Ruleset with_user = Compile(
      {kExecEvil, RuleYaml("00000000-0000-4000-8000-000000000010", "process_creation",
                           "    Image|endswith: /curl\n    User: www-data\n")});
  p = PlanDecisions(with_user.rules, exec, image);
  EXPECT_TRUE(p.has_rules);
  EXPECT_FALSE(p.cacheable);  // an allow for root says nothing about www-data
  EXPECT_EQ(p.fields_read, (FieldMask{1} << image) | (FieldMask{1} << user));

  content::Ruleset parent = Compile({RuleYaml("00000000-0000-4000-8000-000000000011", "process_creation",
                                              "    ParentImage|endswith: /nginx\n")});
  EXPECT_FALSE(PlanDecisions(parent.rules, exec, image).cacheable);

  // A keyword (any field) reads everything.
  content::Ruleset keyword = Compile({"title: kw\nid: 00000000-0000-4000-8000-000000000012\nstatus: test\n"
                                      "logsource:\n  product: linux\n  category: process_creation\n"
                                      "detection:\n  kw:\n    - 'mimikatz'\n  condition: kw\n"});
  p = PlanDecisions(keyword.rules, exec, image);
  EXPECT_FALSE(p.cacheable);
  EXPECT_EQ(p.fields_read, kAllEventFields);

  // Rules of other types do not count; no rules: nothing to decide.
  p = PlanDecisions(path_only.rules, open, target);
  EXPECT_FALSE(p.has_rules);
  EXPECT_TRUE(p.cacheable);
  EXPECT_EQ(p.fields_read, 0u);

  content::Ruleset opens = Compile({kOpenSecret});
  EXPECT_TRUE(PlanDecisions(opens.rules, open, target).cacheable);
  content::Ruleset opens_by = Compile({kOpenSecretByRoot});
  EXPECT_FALSE(PlanDecisions(opens_by.rules, open, target).cacheable);
}

// ---------------------------------------------------------------- unit: event building

std::string ReadLinkOrEmpty(const std::string& path) {
  char buf[PATH_MAX];
  const ssize_t n = readlink(path.c_str(), buf, sizeof(buf));
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

std::string FieldText(const OwnedEvent& ev, EventTypeId type, const char* name) {
  const FieldIndex f = *Schema::Builtin().FindField(type, name);
  const FieldValue& v = ev.view().fields[f];
  return v.present ? std::string(v.text) : "<absent>";
}

TEST(ResponderUnit, BuildsExecEventFromProcForThisProcess) {
  const Schema& s = Schema::Builtin();
  PermissionContextBuilder builder(s);
  EXPECT_TRUE(builder.problems().empty());
  ASSERT_TRUE(builder.usable(PermissionKind::kExec));
  const EventTypeId t = *s.FindEventType("process_creation");
  EXPECT_EQ(builder.event_type(PermissionKind::kExec), t);
  EXPECT_EQ(builder.file_field(PermissionKind::kExec), *s.FindField(t, "Image"));

  OwnedEvent ev;
  ASSERT_TRUE(builder.Build(PermissionKind::kExec, getpid(), "/opt/new/program", 7, kAllEventFields, ev));
  EXPECT_EQ(ev.type(), t);
  EXPECT_EQ(ev.time_ns(), 7u);
  EXPECT_EQ(FieldText(ev, t, "ProcessId"), std::to_string(getpid()));
  EXPECT_EQ(FieldText(ev, t, "Image"), "/opt/new/program");
  EXPECT_EQ(FieldText(ev, t, "CommandLine"), "<absent>");  // unknown before the exec
  char cwd[PATH_MAX];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  EXPECT_EQ(FieldText(ev, t, "CurrentDirectory"), cwd);
  EXPECT_EQ(FieldText(ev, t, "UserId"), std::to_string(getuid()));
  EXPECT_EQ(FieldText(ev, t, "GroupId"), std::to_string(getgid()));
  if (getuid() == 0) {
    EXPECT_EQ(FieldText(ev, t, "User"), "root");
  }
  EXPECT_EQ(FieldText(ev, t, "ParentProcessId"), std::to_string(getppid()));
  EXPECT_EQ(FieldText(ev, t, "ParentImage"), ReadLinkOrEmpty("/proc/" + std::to_string(getppid()) + "/exe"));
  EXPECT_NE(FieldText(ev, t, "ParentCommandLine"), "<absent>");
  std::ifstream loginuid("/proc/self/loginuid");
  uint64_t luid = 0xffffffff;
  loginuid >> luid;
  EXPECT_EQ(FieldText(ev, t, "LogonId"), luid == 0xffffffff ? "<absent>" : std::to_string(luid));
}

TEST(ResponderUnit, BuildsOpenEventWithActorContextAndOnlyWhatIsAsked) {
  const Schema& s = Schema::Builtin();
  PermissionContextBuilder builder(s);
  const EventTypeId t = *s.FindEventType("file_access");
  ASSERT_EQ(builder.file_field(PermissionKind::kOpen), *s.FindField(t, "TargetFilename"));

  OwnedEvent ev;
  ASSERT_TRUE(builder.Build(PermissionKind::kOpen, getpid(), "/etc/shadow", 1, kAllEventFields, ev));
  EXPECT_EQ(FieldText(ev, t, "TargetFilename"), "/etc/shadow");
  EXPECT_EQ(FieldText(ev, t, "Image"), ReadLinkOrEmpty("/proc/self/exe"));
  EXPECT_NE(FieldText(ev, t, "CommandLine").find("responder_test"), std::string::npos)
      << FieldText(ev, t, "CommandLine");
  EXPECT_EQ(FieldText(ev, t, "ParentProcessId"), std::to_string(getppid()));

  // Only Image asked for: no /proc read beyond exe, nothing else set.
  const FieldMask image_only = FieldMask{1} << *s.FindField(t, "Image");
  ASSERT_TRUE(builder.Build(PermissionKind::kOpen, getpid(), "/etc/shadow", 1, image_only, ev));
  EXPECT_EQ(FieldText(ev, t, "Image"), ReadLinkOrEmpty("/proc/self/exe"));
  EXPECT_EQ(FieldText(ev, t, "TargetFilename"), "/etc/shadow");
  EXPECT_EQ(FieldText(ev, t, "ProcessId"), std::to_string(getpid()));
  EXPECT_EQ(FieldText(ev, t, "CommandLine"), "<absent>");
  EXPECT_EQ(FieldText(ev, t, "CurrentDirectory"), "<absent>");
  EXPECT_EQ(FieldText(ev, t, "UserId"), "<absent>");
  EXPECT_EQ(FieldText(ev, t, "ParentProcessId"), "<absent>");

  // A process that is gone: only what the event itself said.
  ASSERT_TRUE(builder.Build(PermissionKind::kOpen, 0x3ffffff0, "/x", 1, kAllEventFields, ev));
  EXPECT_EQ(FieldText(ev, t, "TargetFilename"), "/x");
  EXPECT_EQ(FieldText(ev, t, "ProcessId"), std::to_string(0x3ffffff0));
  EXPECT_EQ(FieldText(ev, t, "Image"), "<absent>");
  EXPECT_EQ(FieldText(ev, t, "UserId"), "<absent>");
}

TEST(ResponderUnit, StartRefusesBadOptionsBeforeTouchingTheKernel) {
  auto start = [](ResponderOptions o) {
    Responder r(std::move(o));
    return r.Start();
  };
  ResponderOptions none;
  Status s = start(none);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("no mark paths"), std::string::npos);

  ResponderOptions inode;
  inode.marks = {{"/tmp", MarkScope::kInode}};
  s = start(inode);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("inode marks are not supported"), std::string::npos) << s.ToString();

  ResponderOptions nothing;
  nothing.marks = {{"/tmp", MarkScope::kMount}};
  nothing.exec = false;
  nothing.open = false;
  EXPECT_EQ(start(nothing).code(), Code::kInvalidArgument);

  ResponderOptions deadline;
  deadline.marks = {{"/tmp", MarkScope::kMount}};
  deadline.deadline = std::chrono::microseconds(0);
  EXPECT_EQ(start(deadline).code(), Code::kInvalidArgument);
}

// ---------------------------------------------------------------- live helpers

bool IsRoot() { return geteuid() == 0; }

// Open fanotify groups by pid, from every /proc/<pid>/fd link ("anon_inode:[fanotify]").
// Every thread of `pid` is stopped (state T in /proc/<pid>/task/<tid>/stat).
bool AllThreadsStopped(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* tasks = opendir(dir.c_str());
  if (tasks == nullptr) return false;
  bool all = true, any = false;
  while (dirent* t = readdir(tasks)) {
    if (t->d_name[0] == '.') continue;
    std::ifstream in(dir + "/" + t->d_name + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t paren = stat.rfind(')');  // the command name may hold spaces and parentheses
    if (paren == std::string::npos || paren + 2 >= stat.size()) continue;
    any = true;
    all = all && stat[paren + 2] == 'T';
  }
  closedir(tasks);
  return any && all;
}

std::map<int, int> FanotifyGroupsByPid() {
  std::map<int, int> groups;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return groups;
  while (dirent* p = readdir(proc)) {
    const int pid = std::atoi(p->d_name);
    if (pid <= 0) continue;
    const std::string dir = std::string("/proc/") + p->d_name + "/fd";
    DIR* fds = opendir(dir.c_str());
    if (fds == nullptr) continue;
    while (dirent* f = readdir(fds)) {
      if (f->d_name[0] == '.') continue;
      if (ReadLinkOrEmpty(dir + "/" + f->d_name) == "anon_inode:[fanotify]") ++groups[pid];
    }
    closedir(fds);
  }
  closedir(proc);
  return groups;
}

int Total(const std::map<int, int>& groups) {
  int n = 0;
  for (const auto& [pid, count] : groups) n += count;
  return n;
}

// The marks of this process's fanotify groups, from /proc/self/fdinfo.
struct MarkCounts {
  int groups = 0;
  int mount_marks = 0;
  int sb_marks = 0;
  int inode_ignore_marks = 0;
};
MarkCounts OwnMarks() {
  MarkCounts m;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return m;
  std::vector<std::string> fds;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.' && ReadLinkOrEmpty(std::string("/proc/self/fd/") + e->d_name) == "anon_inode:[fanotify]") {
      fds.push_back(e->d_name);
    }
  }
  closedir(d);
  for (const std::string& fd : fds) {
    ++m.groups;
    std::ifstream in("/proc/self/fdinfo/" + fd);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("fanotify mnt_id:", 0) == 0) ++m.mount_marks;
      if (line.rfind("fanotify sdev:", 0) == 0) ++m.sb_marks;
      if (line.rfind("fanotify ino:", 0) == 0 && line.find("ignored_mask:0 ") == std::string::npos &&
          line.find("ignored_mask:") != std::string::npos) {
        ++m.inode_ignore_marks;
      }
    }
  }
  return m;
}

// Kills the test's children, detaches its mounts and exits the process past
// `bound`: closing the group (by exiting) makes the kernel allow everything.
class Watchdog {
 public:
  explicit Watchdog(std::chrono::seconds bound) {
    thread_ = std::thread([this, bound] {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, bound, [&] { return done_; })) return;
      std::fprintf(stderr, "WATCHDOG: the test ran past %lld s: killing children, detaching mounts, exiting\n",
                   static_cast<long long>(bound.count()));
      for (pid_t pid : pids_) kill(pid, SIGKILL);
      for (const std::string& m : mounts_) umount2(m.c_str(), MNT_DETACH);
      _exit(3);
    });
  }
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Watch(pid_t pid) {
    std::lock_guard<std::mutex> lock(mu_);
    pids_.push_back(pid);
  }
  void WatchMount(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    mounts_.push_back(path);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::vector<pid_t> pids_;
  std::vector<std::string> mounts_;
  std::thread thread_;
};

// A tmpfs mounted on a fresh temp dir; unmounted (lazily if busy) and removed at the end.
class Tmpfs {
 public:
  explicit Tmpfs(Watchdog& dog) {
    char tmpl[] = "/tmp/vigil-responder.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return;
    dir_ = tmpl;
    if (mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=0755") != 0) {
      error_ = std::strerror(errno);
      rmdir(dir_.c_str());
      dir_.clear();
      return;
    }
    mounted_ = true;
    dog.WatchMount(dir_);
  }
  ~Tmpfs() {
    if (mounted_ && umount2(dir_.c_str(), 0) != 0) umount2(dir_.c_str(), MNT_DETACH);
    if (!dir_.empty()) rmdir(dir_.c_str());
  }
  bool ok() const { return mounted_; }
  const std::string& error() const { return error_; }
  const std::string& path() const { return dir_; }
  std::string operator/(const std::string& name) const { return dir_ + "/" + name; }
  // Plain umount (no MNT_DETACH): fails with EBUSY if anything still holds it.
  bool Unmount() {
    if (!mounted_) return false;
    if (umount2(dir_.c_str(), 0) != 0) return false;
    mounted_ = false;
    return true;
  }

 private:
  std::string dir_;
  std::string error_;
  bool mounted_ = false;
};

void CopyFile(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  out << in.rdbuf();
  out.close();
  ASSERT_EQ(chmod(to.c_str(), 0755), 0) << to;
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

// Shared between a forked child and the test.
struct Shared {
  std::atomic<int64_t> t0{0};
  std::atomic<int64_t> op_ns{0};
};
Shared* MapShared(size_t bytes = sizeof(Shared)) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : new (p) Shared;
}

struct OpResult {
  int status = -1;  // 0: ran / opened; 100 + errno: refused; -1: the child did not exit normally
  int64_t ms = 0;   // how long the operation took
};

OpResult Wait(pid_t pid, Shared* shm, bool from_t0) {
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  const int64_t end = NowNs();
  OpResult r;
  r.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
  r.ms = (from_t0 ? end - shm->t0.load() : shm->op_ns.load()) / 1'000'000;
  munmap(shm, sizeof(Shared));
  return r;
}

// fork + execve(path) in a child: 0 when the program ran (and exited 0),
// 100 + errno when execve failed. `ms`: from just before execve to its exit.
OpResult ExecIn(Watchdog& dog, const std::string& path) {
  Shared* shm = MapShared();
  const pid_t pid = fork();
  if (pid == 0) {
    char* const argv[] = {const_cast<char*>(path.c_str()), nullptr};
    shm->t0.store(NowNs());
    execve(path.c_str(), argv, environ);
    _exit(100 + errno);
  }
  dog.Watch(pid);
  return Wait(pid, shm, true);
}

// open(path, O_RDONLY) in a child: 0 or 100 + errno; `ms`: the open() call alone.
OpResult OpenIn(Watchdog& dog, const std::string& path) {
  Shared* shm = MapShared();
  const pid_t pid = fork();
  if (pid == 0) {
    const int64_t t0 = NowNs();
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    const int err = errno;
    shm->op_ns.store(NowNs() - t0);
    if (fd < 0) _exit(100 + err);
    close(fd);
    _exit(0);
  }
  dog.Watch(pid);
  return Wait(pid, shm, false);
}

// Polls `pred` every millisecond for up to `bound`.
template <typename Pred>
bool WaitFor(Pred pred, milliseconds bound = milliseconds(2000)) {
  const auto end = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return pred();
}

#define REQUIRE_ROOT() \
  if (!IsRoot()) GTEST_SKIP() << "needs root: fanotify permission events need CAP_SYS_ADMIN, the tmpfs needs mount"

constexpr int kEperm = 100 + EPERM;

// ---------------------------------------------------------------- live: exec

TEST(ResponderLive, ExecBlockedAllowedCachedAndReevaluatedAfterModifyOrRuleChange) {
  REQUIRE_ROOT();
  Watchdog dog(std::chrono::seconds(60));
  Tmpfs fs(dog);
  ASSERT_TRUE(fs.ok()) << fs.error();
  for (const char* name : {"good", "evil", "other"}) CopyFile("/bin/true", fs / name);

  ResponderOptions opt;
  opt.marks = {{fs.path(), MarkScope::kMount}};
  opt.exec = true;
  std::vector<std::string> blocked;  // rule ids, from on_block
  std::mutex mu;
  Responder r(opt, {.on_block =
                        [&](const engine::Engine& e, uint32_t rule, const OwnedEvent& ev) {
                          std::lock_guard<std::mutex> lock(mu);
                          blocked.push_back(e.rule(rule).id);
                          // The alert event carries the whole context, read before the DENY.
                          const EventTypeId t = ev.type();
                          EXPECT_NE(FieldText(ev, t, "ParentImage"), "<absent>");
                          const std::string image = FieldText(ev, t, "Image");
                          EXPECT_TRUE(image == fs / "evil" || image == fs / "other") << image;
                        }});
  r.SetEngine(MakeEngine({kExecEvil}));
  ASSERT_TRUE(r.Start().ok());
  EXPECT_TRUE(r.stats().cache_exec);  // the rule reads Image only

  EXPECT_EQ(ExecIn(dog, fs / "evil").status, kEperm);
  ASSERT_TRUE(WaitFor([&] { return r.stats().pending == 0; }));  // answers are counted after they are written
  EXPECT_EQ(r.stats().denied, 1u);
  // on_block runs on the evaluator after the DENY is posted: the caller can be back first.
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(mu);
    return !blocked.empty();
  }));
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(blocked, std::vector<std::string>{"00000000-0000-4000-8000-000000000001"});
  }

  EXPECT_EQ(ExecIn(dog, fs / "good").status, 0);
  ASSERT_TRUE(WaitFor([&] { return r.stats().cache_marks == 1; })) << "the allow of good was not cached";
  const uint64_t events = r.stats().events;
  EXPECT_EQ(OwnMarks().inode_ignore_marks, 1);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ExecIn(dog, fs / "good").status, 0);
  EXPECT_EQ(r.stats().events, events) << "cached execs must not reach user space";

  // Modified (appended): the kernel drops the ignore mask, the next exec is decided again.
  {
    std::ofstream out(fs / "good", std::ios::binary | std::ios::app);
    out << '\0';
  }
  EXPECT_EQ(ExecIn(dog, fs / "good").status, 0);
  EXPECT_EQ(r.stats().events, events + 1);
  ASSERT_TRUE(WaitFor([&] { return r.stats().cache_marks_total == 2; }));
  EXPECT_EQ(ExecIn(dog, fs / "good").status, 0);
  EXPECT_EQ(r.stats().events, events + 1);

  // Truncated and rewritten: decided again.
  CopyFile("/bin/true", fs / "good");
  EXPECT_EQ(ExecIn(dog, fs / "good").status, 0);
  EXPECT_EQ(r.stats().events, events + 2);

  // Denies are never cached.
  EXPECT_EQ(ExecIn(dog, fs / "evil").status, kEperm);
  EXPECT_EQ(ExecIn(dog, fs / "evil").status, kEperm);
  ASSERT_TRUE(WaitFor([&] { return r.stats().pending == 0; }));  // answers are counted after they are written
  EXPECT_EQ(r.stats().denied, 3u);

  // New rules: the cache is flushed (only the inode marks: the mount mark
  // stays), earlier allows are decided again, under the new rules.
  ASSERT_TRUE(WaitFor([&] { return r.stats().cache_marks >= 1; }));
  const uint64_t flushes = r.stats().cache_flushes;
  r.SetEngine(MakeEngine({kExecOther}));
  ASSERT_TRUE(WaitFor([&] { return r.stats().cache_flushes == flushes + 1; }));
  EXPECT_EQ(r.stats().cache_marks, 0u);
  MarkCounts marks = OwnMarks();
  EXPECT_EQ(marks.inode_ignore_marks, 0);
  EXPECT_EQ(marks.mount_marks, 1);
  const uint64_t before = r.stats().events;
  EXPECT_EQ(ExecIn(dog, fs / "good").status, 0);
  EXPECT_EQ(r.stats().events, before + 1);
  EXPECT_EQ(ExecIn(dog, fs / "evil").status, 0);  // no longer blocked
  EXPECT_EQ(ExecIn(dog, fs / "other").status, kEperm);

  r.Stop();
  const ResponderStats st = r.stats();
  EXPECT_EQ(st.events, st.allowed + st.denied);
  EXPECT_EQ(st.deadline_missed, 0u);
  EXPECT_EQ(st.queue_full, 0u);
  EXPECT_EQ(OwnMarks().groups, 0);
  std::printf("exec: %llu events, %llu denied, decision p50 %llu us p99 %llu us, max response %llu us\n",
              static_cast<unsigned long long>(st.events), static_cast<unsigned long long>(st.denied),
              static_cast<unsigned long long>(st.decision_p50_us), static_cast<unsigned long long>(st.decision_p99_us),
              static_cast<unsigned long long>(st.max_response_latency_us));
}

// docs/enforce.md, "Per inode, not per name": an ignore mark holds for the
// inode, so a hard link made after an allow reaches it under a name the rules
// block and is allowed from the cache; with the cache off it is asked and denied.
TEST(ResponderLive, VerdictCacheIsPerInodeSoALinkToAnAllowedFileIsAllowedUnlessTheCacheIsOff) {
  REQUIRE_ROOT();
  Watchdog dog(std::chrono::seconds(60));
  Tmpfs fs(dog);
  ASSERT_TRUE(fs.ok()) << fs.error();
  for (bool cache : {true, false}) {
    SCOPED_TRACE(cache ? "verdict cache on" : "verdict cache off");
    const std::string dir = fs / (cache ? "on" : "off");
    ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
    const std::string good = dir + "/good", evil = dir + "/evil";
    CopyFile("/bin/true", good);
    ResponderOptions opt;
    opt.marks = {{fs.path(), MarkScope::kMount}};
    opt.exec = true;
    opt.verdict_cache = cache;
    Responder r(opt);
    r.SetEngine(MakeEngine({kExecEvil}));
    ASSERT_TRUE(r.Start().ok());
    EXPECT_EQ(r.stats().cache_exec, cache);

    EXPECT_EQ(ExecIn(dog, good).status, 0);
    ASSERT_TRUE(WaitFor([&] { return r.stats().pending == 0; }));
    ASSERT_EQ(link(good.c_str(), evil.c_str()), 0) << std::strerror(errno);
    EXPECT_EQ(ExecIn(dog, evil).status, cache ? 0 : kEperm);
    ASSERT_TRUE(WaitFor([&] { return r.stats().pending == 0; }));
    EXPECT_EQ(r.stats().denied, cache ? 0u : 1u);
    EXPECT_EQ(r.stats().events, cache ? 1u : 2u) << "with the cache on, the linked name never reaches user space";
    r.Stop();
  }
}

TEST(ResponderLive, OwnPidsAndNeverBlockPrefixesAreAllowedUnevaluated) {
  REQUIRE_ROOT();
  Watchdog dog(std::chrono::seconds(60));
  Tmpfs fs(dog);
  ASSERT_TRUE(fs.ok()) << fs.error();
  ASSERT_EQ(mkdir((fs / "vigil-bin").c_str(), 0755), 0);
  CopyFile("/bin/true", fs / "evil");
  CopyFile("/bin/true", fs / "vigil-bin/evil");

  // A child waiting on a pipe, so its pid can be configured before it execs.
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  const std::string evil = fs / "evil";
  const pid_t helper = fork();
  if (helper == 0) {
    char c;
    close(go[1]);
    if (read(go[0], &c, 1) != 1) _exit(99);
    char* const argv[] = {const_cast<char*>(evil.c_str()), nullptr};
    execve(evil.c_str(), argv, environ);
    _exit(100 + errno);
  }
  dog.Watch(helper);
  close(go[0]);

  ResponderOptions opt;
  opt.marks = {{fs.path(), MarkScope::kMount}};
  opt.allowed_pids = {helper};
  opt.never_block_prefixes = {fs / "vigil-bin"};
  Responder r(opt);
  r.SetEngine(MakeEngine({kExecEvil}));
  ASSERT_TRUE(r.Start().ok());

  EXPECT_EQ(ExecIn(dog, fs / "evil").status, kEperm);            // anyone else: blocked
  EXPECT_EQ(ExecIn(dog, fs / "vigil-bin/evil").status, 0);       // never-block prefix
  ASSERT_EQ(write(go[1], "x", 1), 1);
  close(go[1]);
  int wstatus = 0;
  ASSERT_EQ(waitpid(helper, &wstatus, 0), helper);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << "an allowed pid runs evil";

  ASSERT_TRUE(WaitFor([&] { return r.stats().pending == 0; }));  // answers are counted after they are written
  const ResponderStats st = r.stats();
  EXPECT_EQ(st.denied, 1u);
  EXPECT_EQ(st.allowed_excluded, 1u);
  EXPECT_EQ(st.allowed_own, 1u);
  EXPECT_EQ(st.cache_marks, 0u) << "exclusions are not cached: they hold for their path or pid only";
}

// ---------------------------------------------------------------- live: open

TEST(ResponderLive, OpenOfMatchingPathFailsWithEperm) {
  REQUIRE_ROOT();
  Watchdog dog(std::chrono::seconds(60));
  Tmpfs fs(dog);
  ASSERT_TRUE(fs.ok()) << fs.error();
  WriteFile(fs / "secret", "s");
  WriteFile(fs / "public", "p");

  ResponderOptions opt;
  opt.marks = {{fs.path(), MarkScope::kMount}};
  opt.exec = false;
  opt.open = true;
  std::atomic<int> blocks{0};
  Responder r(opt, {.on_block = [&](const engine::Engine&, uint32_t, const OwnedEvent& ev) {
                  ++blocks;
                  EXPECT_EQ(FieldText(ev, ev.type(), "TargetFilename"), fs / "secret");
                  EXPECT_NE(FieldText(ev, ev.type(), "CommandLine"), "<absent>");
                }});
  r.SetEngine(MakeEngine({kOpenSecret}));
  ASSERT_TRUE(r.Start().ok());
  EXPECT_TRUE(r.stats().cache_open);

  EXPECT_EQ(OpenIn(dog, fs / "secret").status, kEperm);
  EXPECT_EQ(OpenIn(dog, fs / "public").status, 0);
  // on_block runs on the evaluator after the DENY is posted: the caller can be back first.
  ASSERT_TRUE(WaitFor([&] { return blocks.load() >= 1; }));
  EXPECT_EQ(blocks.load(), 1);
  // Our own opens are never held: the sensor must not wait on itself.
  const int fd = open((fs / "secret").c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0);
  if (fd >= 0) close(fd);
  EXPECT_GE(r.stats().allowed_own, 1u);
  r.Stop();
  EXPECT_EQ(r.stats().events, r.stats().allowed + r.stats().denied);
}

TEST(ResponderLive, VerdictCacheOnlyWhenTheDecisionCannotDependOnWhoOpens) {
  REQUIRE_ROOT();
  Watchdog dog(std::chrono::seconds(60));
  Tmpfs fs(dog);
  ASSERT_TRUE(fs.ok()) << fs.error();
  WriteFile(fs / "public", "p");

  for (bool path_only : {true, false}) {
    SCOPED_TRACE(path_only ? "rule on TargetFilename only" : "rule on TargetFilename and User");
    ResponderOptions opt;
    opt.marks = {{fs.path(), MarkScope::kMount}};
    opt.exec = false;
    opt.open = true;
    Responder r(opt);
    r.SetEngine(MakeEngine({path_only ? kOpenSecret : kOpenSecretByRoot}));
    ASSERT_TRUE(r.Start().ok());
    EXPECT_EQ(r.stats().cache_open, path_only);
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(OpenIn(dog, fs / "public").status, 0);
      WaitFor([&] { return r.stats().pending == 0; });
    }
    const ResponderStats st = r.stats();
    EXPECT_EQ(st.events, path_only ? 1u : 4u);
    EXPECT_EQ(st.cache_marks, path_only ? 1u : 0u);
    // Path-only rules are decided on the responder thread (no hand-off); a
    // rule that reads the actor's User needs /proc and the evaluator.
    EXPECT_EQ(st.inline_allowed, path_only ? 1u : 0u);
    EXPECT_EQ(st.decisions, path_only ? 1u : 4u);
    EXPECT_EQ(st.inline_disabled, 0u);
    r.Stop();
  }
}

// execve asks twice, for exec and then for open. When an allowed open would
// be cached anyway (open rules on the path alone), the evaluator decides the
// open with the exec and the responder caches it before answering: one round
// trip per exec. An open the rules block is still asked and denied.
TEST(ResponderLive, AllowedExecCachesItsOpenCheckOnlyWhenOpenRulesReadThePathAlone) {
  REQUIRE_ROOT();
  Watchdog dog(std::chrono::seconds(60));
  Tmpfs fs(dog);
  ASSERT_TRUE(fs.ok()) << fs.error();

  for (bool path_only : {true, false}) {
    SCOPED_TRACE(path_only ? "open rule on TargetFilename only" : "open rule on TargetFilename and User");
    const std::string good = fs / (path_only ? "good1" : "good2");
    const std::string secret = fs / (path_only ? "a/secret" : "b/secret");
    ASSERT_EQ(mkdir((fs / (path_only ? "a" : "b")).c_str(), 0755), 0);
    CopyFile("/bin/true", good);
    CopyFile("/bin/true", secret);
    ResponderOptions opt;
    opt.marks = {{fs.path(), MarkScope::kMount}};
    opt.exec = true;
    opt.open = true;
    Responder r(opt);
    r.SetEngine(MakeEngine({kExecEvil, path_only ? kOpenSecret : kOpenSecretByRoot}));
    ASSERT_TRUE(r.Start().ok());
    EXPECT_EQ(r.stats().cache_open, path_only);

    EXPECT_EQ(ExecIn(dog, good).status, 0);
    ASSERT_TRUE(WaitFor([&] { return r.stats().pending == 0; }));
    ResponderStats st = r.stats();
    EXPECT_EQ(st.events, path_only ? 1u : 2u) << "the open check of an allowed exec stays in the kernel";
    EXPECT_EQ(st.open_prefetched, path_only ? 1u : 0u);
    // Anyone's later open of the file is cached too (path-only rules), or decided again.
    EXPECT_EQ(OpenIn(dog, good).status, 0);
    ASSERT_TRUE(WaitFor([&] { return r.stats().pending == 0; }));
    EXPECT_EQ(r.stats().events, path_only ? 1u : 3u);

    // The exec rules allow it, the open rules do not: the open check comes
    // and is denied, so the exec fails.
    EXPECT_EQ(ExecIn(dog, secret).status, kEperm);
    ASSERT_TRUE(WaitFor([&] { return r.stats().pending == 0; }));
    st = r.stats();
    EXPECT_EQ(st.denied, 1u);
    EXPECT_EQ(st.open_prefetched, path_only ? 1u : 0u);
    r.Stop();
    EXPECT_EQ(r.stats().events, r.stats().allowed + r.stats().denied);
  }
}

// ---------------------------------------------------------------- live: deadlines

TEST(ResponderLive, SlowDecisionIsAllowedAtTheDeadline) {
  REQUIRE_ROOT();
  Watchdog dog(std::chrono::seconds(60));
  Tmpfs fs(dog);
  ASSERT_TRUE(fs.ok()) << fs.error();
  WriteFile(fs / "secret", "s");
  CopyFile("/bin/true", fs / "evil");

  // One kind at a time: an exec on a group marked for both kinds is two
  // permission checks in a row (FAN_OPEN_EXEC_PERM, then FAN_OPEN_PERM), each
  // with its own deadline.
  for (PermissionKind kind : {PermissionKind::kOpen, PermissionKind::kExec}) {
    SCOPED_TRACE(std::string(PermissionKindName(kind)));
    ResponderOptions opt;
    opt.marks = {{fs.path(), MarkScope::kMount}};
    opt.exec = kind == PermissionKind::kExec;
    opt.open = kind == PermissionKind::kOpen;
    opt.deadline = milliseconds(20);
    std::atomic<int> blocks{0};
    std::atomic<int> misses{0};
    Responder r(opt, {.on_block = [&](const engine::Engine&, uint32_t, const OwnedEvent&) { ++blocks; },
                      .on_health = [&](const ResponderHealthEvent& h) {
                        if (h.what == ResponderHealthEvent::What::kDeadlineMissed) ++misses;
                      }});
    // Both rules match, but the ruleset carries the slow-decision marker:
    // every decision takes 100 ms, five times the deadline.
    r.SetEngine(MakeEngine({RuleYaml("00000000-0000-4000-8000-000000000020", "file_access",
                                     "    TargetFilename|endswith: /secret\n", "vigil.test.slow_decision"),
                            kExecEvil}));
    ASSERT_TRUE(r.Start().ok());

    const OpResult op = kind == PermissionKind::kOpen ? OpenIn(dog, fs / "secret") : ExecIn(dog, fs / "evil");
    EXPECT_EQ(op.status, 0) << "a decision past its deadline is ALLOW";
    EXPECT_GE(op.ms, 19);
    EXPECT_LT(op.ms, 20 + kMarginMs);
    ASSERT_TRUE(WaitFor([&] { return r.stats().late_verdicts == 1; }, milliseconds(1000)));

    const ResponderStats st = r.stats();
    EXPECT_EQ(st.events, 1u);
    EXPECT_EQ(st.deadline_missed, 1u);
    EXPECT_EQ(misses.load(), 1);
    EXPECT_EQ(st.denied, 0u);
    EXPECT_EQ(blocks.load(), 0) << "a DENY that came too late was not applied: no block alert";
    EXPECT_GE(st.max_response_latency_us, 19'000u);
    EXPECT_LT(st.max_response_latency_us, static_cast<uint64_t>(20 + kMarginMs) * 1000);
    std::printf("slow decision (%s): allowed after %lld ms (deadline 20 ms), responder answered after %llu us\n",
                std::string(PermissionKindName(kind)).c_str(), static_cast<long long>(op.ms),
                static_cast<unsigned long long>(st.max_response_latency_us));
  }
}

TEST(ResponderLive, FullQueueAllowsAtOnce) {
  REQUIRE_ROOT();
  Watchdog dog(std::chrono::seconds(60));
  Tmpfs fs(dog);
  ASSERT_TRUE(fs.ok()) << fs.error();
  constexpr int kOpeners = 6;
  for (int i = 0; i < kOpeners; ++i) WriteFile(fs / ("f" + std::to_string(i)), "x");

  ResponderOptions opt;
  opt.marks = {{fs.path(), MarkScope::kMount}};
  opt.exec = false;
  opt.open = true;
  opt.queue_capacity = 1;
  opt.deadline = milliseconds(50);
  std::atomic<int> full{0};
  Responder r(opt, {.on_health = [&](const ResponderHealthEvent& h) {
                  if (h.what == ResponderHealthEvent::What::kQueueFull) ++full;
                }});
  r.SetEngine(MakeEngine({RuleYaml("00000000-0000-4000-8000-000000000021", "file_access",
                                   "    TargetFilename|endswith: /nothing\n", "vigil.test.slow_decision")}));
  ASSERT_TRUE(r.Start().ok());

  // Openers released together: one is evaluated (slowly), one waits in the
  // queue, the rest find it full and are allowed at once.
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  Shared* results = static_cast<Shared*>(mmap(nullptr, sizeof(Shared) * kOpeners, PROT_READ | PROT_WRITE,
                                              MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(results, MAP_FAILED);
  std::vector<pid_t> pids;
  for (int i = 0; i < kOpeners; ++i) {
    const std::string path = fs / ("f" + std::to_string(i));
    const pid_t pid = fork();
    if (pid == 0) {
      close(go[1]);
      char c;
      if (read(go[0], &c, 1) != 0) _exit(99);  // EOF: go
      const int64_t t0 = NowNs();
      const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
      results[i].op_ns.store(NowNs() - t0);
      _exit(fd >= 0 ? 0 : 100 + errno);
    }
    dog.Watch(pid);
    pids.push_back(pid);
  }
  close(go[0]);
  close(go[1]);
  int failures = 0;
  for (pid_t pid : pids) {
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) ++failures;
  }
  EXPECT_EQ(failures, 0);
  int fast = 0;
  for (int i = 0; i < kOpeners; ++i) fast += results[i].op_ns.load() < 10'000'000 ? 1 : 0;
  munmap(results, sizeof(Shared) * kOpeners);
  ASSERT_TRUE(WaitFor([&] { return r.stats().pending == 0; }));
  const ResponderStats st = r.stats();
  EXPECT_GE(st.queue_full, 1u);
  EXPECT_EQ(full.load(), static_cast<int>(st.queue_full));
  EXPECT_GE(fast, static_cast<int>(st.queue_full)) << "queue-full events are answered at once";
  EXPECT_EQ(st.events, static_cast<uint64_t>(kOpeners));
  EXPECT_EQ(st.allowed, static_cast<uint64_t>(kOpeners));
}

// ---------------------------------------------------------------- live: worker death

// Runs as a separate process (the test re-executes its own binary with this
// test selected): a responder marking the tmpfs for opens, verdict cache off,
// blocking */blocked. Says "R" on the ready fd, then waits to be killed.
TEST(ResponderChild, DISABLED_Main) {
  const char* dir = std::getenv("VIGIL_RESPONDER_CHILD_DIR");
  const char* ready = std::getenv("VIGIL_RESPONDER_CHILD_READY");
  if (dir == nullptr || ready == nullptr) GTEST_SKIP() << "only run by ResponderLive.WorkerStoppedThenKilled";
  const int fd = std::atoi(ready);
  ResponderOptions opt;
  opt.marks = {{dir, MarkScope::kMount}};
  opt.exec = false;
  opt.open = true;
  opt.verdict_cache = false;  // every open of the storm reaches the responder
  Responder r(opt);
  r.SetEngine(MakeEngine({RuleYaml("00000000-0000-4000-8000-000000000030", "file_access",
                                   "    TargetFilename|endswith: /blocked\n")}));
  Status s = r.Start();
  const char* msg = s.ok() ? "R" : "F";
  (void)!write(fd, msg, 1);
  close(fd);
  if (!s.ok()) _exit(1);
  for (;;) pause();  // until SIGKILL
}

struct Storm {
  static constexpr int kOpeners = 2;
  std::atomic<int> stop{0};
  struct PerOpener {
    std::atomic<uint64_t> opens{0};
    std::atomic<uint64_t> failures{0};
    std::atomic<int64_t> max_wait_ns{0};
    std::atomic<int64_t> max_wait_end_ns{0};
  } opener[kOpeners];
  uint64_t Opens() const {
    uint64_t n = 0;
    for (const auto& o : opener) n += o.opens.load();
    return n;
  }
};

TEST(ResponderLive, WorkerStoppedThenKilledReleasesEveryWaitingOpen) {
  REQUIRE_ROOT();
  Watchdog dog(std::chrono::seconds(60));
  Tmpfs fs(dog);
  ASSERT_TRUE(fs.ok()) << fs.error();
  for (int i = 0; i < Storm::kOpeners; ++i) WriteFile(fs / ("f" + std::to_string(i)), "x");
  WriteFile(fs / "blocked", "b");

  // The responder runs in a child process: a fresh exec of this binary.
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.push_back("VIGIL_RESPONDER_CHILD_DIR=" + fs.path());
  env_strings.push_back("VIGIL_RESPONDER_CHILD_READY=" + std::to_string(ready[1]));
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string self = ReadLinkOrEmpty("/proc/self/exe");
  std::string filter = "--gtest_filter=ResponderChild.DISABLED_Main";
  std::string disabled = "--gtest_also_run_disabled_tests";
  char* const argv[] = {self.data(), filter.data(), disabled.data(), nullptr};
  const pid_t worker = fork();
  if (worker == 0) {
    close(ready[0]);
    const int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull >= 0) dup2(devnull, STDOUT_FILENO);  // its gtest chatter; errors still reach stderr
    execve(self.c_str(), argv, envp.data());
    _exit(127);
  }
  dog.Watch(worker);
  close(ready[1]);
  pollfd p{ready[0], POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 20000), 1) << "the responder child did not start";
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  close(ready[0]);
  ASSERT_EQ(c, 'R') << "the responder child could not start its responder";

  EXPECT_EQ(OpenIn(dog, fs / "blocked").status, kEperm) << "the child's responder enforces";
  EXPECT_EQ(OpenIn(dog, fs / "f0").status, 0);

  auto* storm = static_cast<Storm*>(
      mmap(nullptr, sizeof(Storm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(storm, MAP_FAILED);
  new (storm) Storm;
  std::vector<pid_t> openers;
  for (int i = 0; i < Storm::kOpeners; ++i) {
    const std::string path = fs / ("f" + std::to_string(i));
    const pid_t pid = fork();
    if (pid == 0) {
      auto& me = storm->opener[i];
      while (storm->stop.load() == 0) {
        const int64_t t0 = NowNs();
        const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
        const int64_t t1 = NowNs();
        if (fd < 0) {
          me.failures.fetch_add(1);
        } else {
          close(fd);
        }
        me.opens.fetch_add(1);
        if (t1 - t0 > me.max_wait_ns.load()) {
          me.max_wait_ns.store(t1 - t0);
          me.max_wait_end_ns.store(t1);
        }
      }
      _exit(0);
    }
    dog.Watch(pid);
    openers.push_back(pid);
  }

  constexpr int64_t kStopMs = 1000;
  std::this_thread::sleep_for(milliseconds(300));
  const uint64_t before_stop = storm->Opens();
  ASSERT_EQ(kill(worker, SIGSTOP), 0);
  // kill() returns before every thread of the worker has stopped (a thread
  // running on the other CPU answers on until it is interrupted): count from
  // the moment all of them show state T.
  ASSERT_TRUE(WaitFor([&] { return AllThreadsStopped(worker); })) << "the worker did not stop";
  const uint64_t at_stop = storm->Opens();
  std::this_thread::sleep_for(milliseconds(kStopMs));
  const uint64_t during_stop = storm->Opens() - at_stop;
  const int64_t kill_ns = NowNs();
  ASSERT_EQ(kill(worker, SIGKILL), 0);
  int wstatus = 0;
  ASSERT_EQ(waitpid(worker, &wstatus, 0), worker);
  std::this_thread::sleep_for(milliseconds(300));
  const uint64_t after_kill = storm->Opens() - at_stop - during_stop;
  storm->stop.store(1);
  for (pid_t pid : openers) waitpid(pid, &wstatus, 0);

  int64_t max_wait = 0, max_end = 0;
  uint64_t failures = 0;
  for (const auto& o : storm->opener) {
    if (o.max_wait_ns.load() > max_wait) {
      max_wait = o.max_wait_ns.load();
      max_end = o.max_wait_end_ns.load();
    }
    failures += o.failures.load();
  }
  const int64_t release_ms = (max_end - kill_ns) / 1'000'000;
  std::printf(
      "worker death: %llu opens through the responder in 300 ms, %llu completed while it was stopped %lld ms, "
      "%llu in 300 ms after SIGKILL; longest open() wait %.1f ms, released %lld ms after SIGKILL\n",
      static_cast<unsigned long long>(before_stop), static_cast<unsigned long long>(during_stop),
      static_cast<long long>(kStopMs), static_cast<unsigned long long>(after_kill),
      static_cast<double>(max_wait) / 1e6, static_cast<long long>(release_ms));
  munmap(storm, sizeof(Storm));

  EXPECT_GT(before_stop, 50u) << "the storm did not go through the responder";
  // Stopped: every opener waits on its pending open, nothing completes
  // (an open already answered in the instant of SIGSTOP may still finish).
  EXPECT_LE(during_stop, static_cast<uint64_t>(Storm::kOpeners));
  // Bound: an open waits at most as long as the responder is stopped, plus
  // the time to kill it; closing the group on death releases every waiter at once.
  EXPECT_GE(max_wait / 1'000'000, kStopMs - 50);
  EXPECT_LT(max_wait / 1'000'000, kStopMs + 250);
  EXPECT_GE(release_ms, 0);
  EXPECT_LT(release_ms, 100) << "pending opens must be released when the group's last fd closes";
  EXPECT_GT(after_kill, 50u) << "with the group gone, opens run freely";
  EXPECT_EQ(failures, 0u);
}

// ---------------------------------------------------------------- live: nothing left behind

TEST(ResponderLive, NoGroupOrMarkOutlivesTheResponder) {
  REQUIRE_ROOT();
  Watchdog dog(std::chrono::seconds(60));
  const std::map<int, int> before = FanotifyGroupsByPid();
  {
    Tmpfs fs(dog);
    ASSERT_TRUE(fs.ok()) << fs.error();
    CopyFile("/bin/true", fs / "good");

    // A failed Start leaves nothing attached.
    {
      ResponderOptions bad;
      bad.marks = {{fs.path(), MarkScope::kMount}, {fs / "missing", MarkScope::kMount}};
      Responder r(bad);
      Status s = r.Start();
      EXPECT_EQ(s.code(), Code::kNotFound) << s.ToString();
      EXPECT_NE(s.message().find("missing"), std::string::npos);
      EXPECT_EQ(OwnMarks().groups, 0);
    }

    ResponderOptions opt;
    opt.marks = {{fs.path(), MarkScope::kFilesystem}};
    opt.exec = true;
    opt.open = true;
    Responder r(opt);
    r.SetEngine(MakeEngine({kExecEvil}));
    ASSERT_TRUE(r.Start().ok());
    EXPECT_EQ(OwnMarks().groups, 1);
    EXPECT_EQ(OwnMarks().sb_marks, 1);
    EXPECT_EQ(FanotifyGroupsByPid()[getpid()], before.count(getpid()) ? before.at(getpid()) + 1 : 1);
    EXPECT_EQ(ExecIn(dog, fs / "good").status, 0);
    ASSERT_TRUE(WaitFor([&] { return r.stats().cache_marks >= 1; }));
    EXPECT_GE(OwnMarks().inode_ignore_marks, 1);
    r.Stop();
    EXPECT_EQ(OwnMarks().groups, 0);
    EXPECT_TRUE(fs.Unmount()) << "the tmpfs must unmount once the responder stopped: " << std::strerror(errno);
  }
  const std::map<int, int> after = FanotifyGroupsByPid();
  const int ours = after.count(getpid()) ? after.at(getpid()) : 0;
  std::printf("fanotify groups system-wide: %d before, %d after (this process: %d after)\n", Total(before),
              Total(after), ours);
  EXPECT_EQ(ours, before.count(getpid()) ? before.at(getpid()) : 0);
  // Other processes (other tests on this machine) may come and go; none of
  // ours may remain: every group after is held by a process that held one before or is not ours.
  for (const auto& [pid, n] : after) {
    if (before.count(pid) == 0) {
      std::ifstream status("/proc/" + std::to_string(pid) + "/status");
      std::string line;
      int ppid = 0;
      while (std::getline(status, line)) {
        if (line.rfind("PPid:", 0) == 0) ppid = std::atoi(line.c_str() + 5);
      }
      EXPECT_NE(ppid, getpid()) << "a child of this test still holds a fanotify group: pid " << pid;
    }
  }
}

}  // namespace
}  // namespace vigil::sensor
