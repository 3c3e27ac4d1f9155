// Live tests of vigild enforcing (docs/enforce.md): a real supervisor and
// worker with [enforce] on, blocking execs and opens on the test's own tmpfs
// with content rules and config policies, swapping what blocks on a content
// reload, and releasing every waiting open when the worker hangs.
//
// Safety: see sensor/testing/live_daemon.h. The only marks are on the tmpfs
// the fixture mounts; vigild is stopped in TearDown (the supervisor takes its
// worker with it); the hang test has its own watchdog that kills the worker
// if the supervisor has not, so no open can wait more than a bounded time.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "sensor/testing/live_daemon.h"

namespace {

namespace fs = std::filesystem;
using namespace vigil::testing;

constexpr char kBlockExec[] = "e0f00000-0000-4000-8000-000000000001";
constexpr char kBlockOpen[] = "e0f00000-0000-4000-8000-000000000002";
constexpr char kCommandLine[] = "e0f00000-0000-4000-8000-000000000003";

// A process_creation rule on the file's name, blocking if `marked`.
std::string ExecRule(const std::string& id, const std::string& name, bool marked) {
  return "title: enforce test - exec " + name + "\nid: " + id + "\nlevel: high\n" +
         (marked ? "vigil: {action: block}\n" : "") +
         "logsource: {product: linux, category: process_creation}\n"
         "detection:\n  sel:\n    Image|endswith: /" + name + "\n  condition: sel\n";
}

// Exec `file`, a program the test copied onto the tmpfs: 0 when it ran, the
// execve errno when it was refused.
int ExecErrno(const std::string& file) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execl(file.c_str(), file.c_str(), static_cast<char*>(nullptr));
    ::_exit(100 + errno);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status)) return -1;
  return WEXITSTATUS(status) >= 100 ? WEXITSTATUS(status) - 100 : WEXITSTATUS(status);
}

int OpenErrno(const std::string& file) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

class EnforceTest : public LiveDaemonTest {
 protected:
  void SetUp() override {
    LiveDaemonTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_EQ(CountFanotifyMarksOn(root_), 0);  // a fresh tmpfs
    for (const char* name : {"evil", "good"}) {
      fs::copy_file("/bin/true", root_ + "/" + name);
      fs::permissions(root_ + "/" + name, fs::perms::owner_all);
    }
    WriteText(root_ + "/secret", "s");
    WriteText(root_ + "/other", "o");
  }

  // The live config plus [enforce] on the tmpfs, and `extra` lines.
  std::string EnforceConfig(const std::string& extra = "") {
    return Config(/*ebpf=*/true) + "[enforce]\nenabled = true\npaths = [\"" + root_ +
           "\"]\nexec = true\nopen = true\n" + extra;
  }

  // The first block alert of `rule_id` about `path`.
  json WaitBlock(const std::string& rule_id, const std::string& path) {
    return WaitAlert(rule_id, [&](const json& e) {
      return e.value("Image", "") == path || e.value("TargetFilename", "") == path;
    });
  }

};

TEST_F(EnforceTest, BlocksMarkedAndPolicyRulesAndAlertsWithTheDecision) {
  Build(dir_ + "/content.vbundle",
        ExecRule(kBlockExec, "evil", /*marked=*/true) +
            "---\ntitle: enforce test - open secret\nid: " + kBlockOpen +
            "\nlevel: high\ntags: [enforce.test]\n"
            "logsource: {product: linux, category: file_access}\n"
            "detection:\n  sel:\n    TargetFilename|endswith: /secret\n  condition: sel\n"
            "---\ntitle: enforce test - command line\nid: " + kCommandLine +
            "\nlevel: high\ntags: [enforce.test]\n"
            "logsource: {product: linux, category: process_creation}\n"
            "detection:\n  sel:\n    CommandLine|contains: good\n  condition: sel\n",
        /*with_default=*/false, 3);
  StartVigild(EnforceConfig("tags = [\"enforce.test\"]\n"));
  // The policy names a rule that needs the new argv: refused, named, alerting only.
  EXPECT_NE(Log().find(std::string("enforce: rule ") + kCommandLine), std::string::npos) << Log();
  EXPECT_NE(Log().find("VG512 block-field-unknown"), std::string::npos) << Log();
  EXPECT_NE(Log().find("enforce: content v3: 2 blocking rules (1 marked in the content, 1 by policy)"),
            std::string::npos)
      << Log();

  EXPECT_EQ(ExecErrno(root_ + "/evil"), EPERM);
  EXPECT_EQ(ExecErrno(root_ + "/good"), 0);  // the CommandLine rule does not block it
  EXPECT_EQ(OpenErrno(root_ + "/secret"), EPERM);
  EXPECT_EQ(OpenErrno(root_ + "/other"), 0);
  EXPECT_EQ(OpenErrno(root_ + "/evil"), 0);  // reading is not executing

  json exec = WaitBlock(kBlockExec, root_ + "/evil");
  ASSERT_FALSE(exec.is_null()) << Slurp(dir_ + "/alerts.jsonl") << Log();
  EXPECT_EQ(exec["action"], "block");
  EXPECT_EQ(exec["decision"], "denied");
  EXPECT_EQ(exec["content_version"], 3);
  EXPECT_EQ(exec["event"]["event"], "process_creation");
  EXPECT_EQ(exec["event"]["ParentProcessId"], ::getpid());  // the test forked, the child asked to exec
  EXPECT_FALSE(exec["event"].contains("CommandLine"));      // unknown at exec permission time
  json open = WaitBlock(kBlockOpen, root_ + "/secret");
  ASSERT_FALSE(open.is_null()) << Slurp(dir_ + "/alerts.jsonl");
  EXPECT_EQ(open["decision"], "denied");
  EXPECT_EQ(open["action"], "block");  // made blocking by the policy
  EXPECT_EQ(open["event"]["ProcessId"], ::getpid());

  // The refused policy rule still alerts, from the ordinary pipeline, and
  // never with a decision.
  json cmdline = WaitAlert(kCommandLine, [&](const json& e) { return e.value("Image", "") == root_ + "/good"; });
  ASSERT_FALSE(cmdline.is_null()) << Slurp(dir_ + "/alerts.jsonl");
  EXPECT_FALSE(cmdline.contains("decision"));
  EXPECT_FALSE(cmdline.contains("action"));

  ASSERT_TRUE(WaitFor([&] { return Metrics().find("vigil_enforce_answers_total{verdict=\"deny\",reason=\"rule\"} 2") !=
                                   std::string::npos; },
                      std::chrono::seconds(5)))
      << Metrics();
  std::string m = Metrics();
  EXPECT_NE(m.find("vigil_enforce_enabled 1"), std::string::npos);
  EXPECT_NE(m.find("vigil_enforce_policy_refused 1"), std::string::npos);
  EXPECT_NE(m.find(std::string("vigil_enforce_blocks_total{rule_id=\"") + kBlockExec + "\"} 1"), std::string::npos);
  // The responder's filesystem mark, the notification source's, and the
  // verdict cache's ignore marks (the allowed execs and opens above).
  const int marks_running = CountFanotifyMarksOn(root_);
  EXPECT_GE(marks_running, 3);

  EXPECT_EQ(StopVigild(), 0) << Log();
  EXPECT_EQ(CountFanotifyMarksOn(root_), 0) << "a fanotify mark on the test's tmpfs outlived vigild ("
                                             << marks_running << " while it ran)";
  // Nothing is marked any more: the blocked file runs.
  EXPECT_EQ(ExecErrno(root_ + "/evil"), 0);
}

// Content changes what blocks, and the kernel's verdict cache (an ignore
// mark on `good` after its allow) does not outlive the content that allowed.
TEST_F(EnforceTest, ContentReloadSwapsTheBlockingRulesAndFlushesTheVerdictCache) {
  Build(dir_ + "/content.vbundle", ExecRule(kBlockExec, "evil", true), false, 1);
  StartVigild(EnforceConfig());
  EXPECT_EQ(ExecErrno(root_ + "/evil"), EPERM);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ExecErrno(root_ + "/good"), 0);
  ASSERT_TRUE(WaitFor([&] { return Metrics().find("vigil_enforce_cache_marks 0") == std::string::npos; },
                      std::chrono::seconds(5)))
      << "good's allow was not cached\n" << Metrics();

  Build(dir_ + "/content.vbundle", ExecRule(kBlockExec, "good", true), false, 2);
  ASSERT_TRUE(WaitFor([&] { return Log().find("enforce: content v2: 1 blocking rules") != std::string::npos; },
                      std::chrono::seconds(20)))
      << Log();
  EXPECT_EQ(ExecErrno(root_ + "/good"), EPERM) << "the verdict cache kept an allow of the old content";
  EXPECT_EQ(ExecErrno(root_ + "/evil"), 0);
  json a = WaitBlock(kBlockExec, root_ + "/good");
  ASSERT_FALSE(a.is_null()) << Slurp(dir_ + "/alerts.jsonl");
  EXPECT_EQ(a["content_version"], 2);
  // Metrics are refreshed once a second.
  EXPECT_TRUE(WaitFor([&] { return Metrics().find("vigil_enforce_cache_flushes_total 1") != std::string::npos; },
                      std::chrono::seconds(5)))
      << Metrics();
}

// The worker stops (SIGSTOP: a hang no deadline can cure, nothing of it
// runs) while a thread opens files on the marked tree as fast as it can.
// Every open waits until the supervisor's heartbeat timeout kills the worker
// and the kernel releases what the closed group held; then the new worker
// enforces again.
TEST_F(EnforceTest, HungWorkerIsKilledAndEveryWaitingOpenReleased) {
  Build(dir_ + "/content.vbundle",
        "title: enforce test - open secret\nid: " + std::string(kBlockOpen) +
            "\nlevel: high\nvigil: {action: block}\n"
            "logsource: {product: linux, category: file_access}\n"
            "detection:\n  sel:\n    TargetFilename|endswith: /secret\n  condition: sel\n",
        false, 1);
  constexpr int kHeartbeatTimeoutMs = 2000;
  // No verdict cache: every open reaches the responder.
  StartVigild(EnforceConfig("verdict_cache = false\n[supervisor]\nheartbeat_timeout_ms = " +
                            std::to_string(kHeartbeatTimeoutMs) + "\n"));
  const pid_t worker = WorkerPid();
  ASSERT_GT(worker, 0);
  // Until its first heartbeat the supervisor gives a worker the startup
  // grace (15 s) rather than the heartbeat timeout: let one go out (every
  // 500 ms).
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_EQ(OpenErrno(root_ + "/secret"), EPERM);

  std::atomic<bool> done{false};
  std::atomic<int64_t> longest_us{0};
  std::atomic<uint64_t> opens{0};
  std::thread opener([&] {
    const std::string path = root_ + "/other";
    while (!done.load()) {
      auto t0 = LiveClock::now();
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(LiveClock::now() - t0).count();
      if (fd >= 0) ::close(fd);
      opens.fetch_add(1);
      longest_us.store(std::max(longest_us.load(), us));
    }
  });
  // Watchdog: if the supervisor never kills the worker, this does, so the
  // opener (and the machine's opens on the tmpfs) cannot wait for ever.
  std::atomic<bool> watchdog_fired{false};
  std::thread watchdog([&] {
    auto until = LiveClock::now() + std::chrono::seconds(15);
    while (!done.load() && LiveClock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (!done.load()) {
      watchdog_fired = true;
      ::kill(worker, SIGKILL);
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const uint64_t before_stop = opens.load();
  const auto stopped_at = LiveClock::now();
  ASSERT_EQ(::kill(worker, SIGSTOP), 0);
  const bool replaced = WaitFor([&] { pid_t w = WorkerPid(); return w > 0 && w != worker; }, std::chrono::seconds(10));
  const double replaced_after_s = std::chrono::duration<double>(LiveClock::now() - stopped_at).count();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  done = true;
  opener.join();
  watchdog.join();
  ASSERT_FALSE(watchdog_fired.load()) << "the supervisor did not kill the stopped worker\n" << Log();
  ASSERT_TRUE(replaced) << Log();
  const double longest_s = static_cast<double>(longest_us.load()) / 1e6;
  std::printf("hung worker: %llu opens before SIGSTOP, %llu in all; longest open() wait %.3f s "
              "(heartbeat timeout %.1f s); worker replaced %.3f s after SIGSTOP\n",
              static_cast<unsigned long long>(before_stop), static_cast<unsigned long long>(opens.load()), longest_s,
              kHeartbeatTimeoutMs / 1000.0, replaced_after_s);
  EXPECT_GT(before_stop, 10u);
  // The stop held opens (else this tested nothing), and no longer than the
  // heartbeat timeout plus one heartbeat interval and the kill.
  EXPECT_GT(longest_s, 1.0);
  EXPECT_LT(longest_s, kHeartbeatTimeoutMs / 1000.0 + 1.0);

  // The new worker enforces again.
  ASSERT_TRUE(WaitFor([&] { return OpenErrno(root_ + "/secret") == EPERM; }, std::chrono::seconds(30))) << Log();
}

// A responder that cannot start (a path that does not exist) leaves vigild
// watching, says so loudly, and blocks nothing.
TEST_F(EnforceTest, ResponderThatCannotStartFailsOpenAndSaysSo) {
  Build(dir_ + "/content.vbundle", ExecRule(kBlockExec, "evil", true), false, 1);
  StartVigild(Config(true) + "[enforce]\nenabled = true\npaths = [\"" + dir_ + "/no-such-dir\"]\n");
  EXPECT_NE(Log().find("enforce: NOT ENFORCING: "), std::string::npos) << Log();
  EXPECT_NE(Log().find("no-such-dir"), std::string::npos) << Log();
  EXPECT_NE(Metrics().find("vigil_enforce_enabled 0"), std::string::npos) << Metrics();
  EXPECT_EQ(ExecErrno(root_ + "/evil"), 0);
  // ... and still alerts on what it sees.
  json a = WaitAlert(kBlockExec, [&](const json& e) { return e.value("Image", "") == root_ + "/evil"; });
  ASSERT_FALSE(a.is_null()) << Slurp(dir_ + "/alerts.jsonl");
  EXPECT_FALSE(a.contains("decision"));
}

}  // namespace
