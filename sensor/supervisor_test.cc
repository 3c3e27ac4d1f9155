// The supervisor against real processes: sensor/testing/fake_worker speaks
// the protocol and crashes, hangs or exits on cue; each test runs
// RunSupervisor in a thread (or in a forked process, for real signals and
// PDEATHSIG) on a temp store, under a watchdog that kills every process the
// test made if it overruns.
#include "sensor/supervisor.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/file.h"
#include "sensor/content_store.h"
#include "sensor/store_fs.h"

namespace vigil::sensor {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

int64_t MonoMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

// Dead: gone, or a zombie nobody reaped yet.
bool IsDead(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return true;
  const size_t paren = text.rfind(") ");
  return paren == std::string::npos || text[paren + 2] == 'Z' || text[paren + 2] == 'X';
}

bool IsFakeWorker(pid_t pid) {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
  return !ec && std::filesystem::equivalent(exe, VIGIL_FAKE_WORKER, ec);
}

// Waits until `done` or `limit`; true if done.
bool Eventually(const std::function<bool()>& done, Clock::duration limit, Clock::duration step = 2ms) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(step);
  }
  return done();
}

// Runs `on_expiry` if not cancelled within `limit`.
class Watchdog {
 public:
  Watchdog(Clock::duration limit, std::function<void()> on_expiry)
      : thread_([this, limit, f = std::move(on_expiry)] {
          std::unique_lock<std::mutex> lock(mu_);
          if (!cv_.wait_for(lock, limit, [this] { return cancelled_; })) {
            ADD_FAILURE() << "watchdog: the test overran; killing its processes";
            f();
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool cancelled_ = false;
  std::thread thread_;
};

struct Event {
  int64_t ms = 0;
  pid_t pid = 0;
  std::string what;
};

class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vigil-supervisor-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    store_root_ = dir_ + "/store";
    control_ = dir_ + "/control";
    log_ = dir_ + "/log";
    Control("");
  }

  void TearDown() override {
    for (pid_t pid : forked_) {  // a forked supervisor a failed assertion left running
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    KillWorkers();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void Control(const std::string& text) { ASSERT_TRUE(WriteFileAtomic(control_, text).ok()); }

  // active v7 and lkg v6 by default; the supervisor never reads the bytes.
  void MakeStore(bool active = true, bool lkg = true, uint64_t candidate = 0) {
    Result<ContentStore> store = ContentStore::Open(PosixStoreFs(), store_root_, true);
    ASSERT_TRUE(store) << store.error().ToString();
    StoreState state;
    state.version_floor = 7;
    if (active) {
      ASSERT_TRUE(store->WriteSlot(Slot::kActive, "bundle v7").ok());
      state.active_version = 7;
    }
    if (lkg) {
      ASSERT_TRUE(store->WriteSlot(Slot::kLkg, "bundle v6").ok());
      state.lkg_version = 6;
    }
    if (candidate != 0) {
      ASSERT_TRUE(store->WriteSlot(Slot::kCandidate, "bundle candidate").ok());
      state.candidate_version = candidate;
    }
    ASSERT_TRUE(store->WriteState(state).ok());
  }

  StoreState State() const {
    Result<ContentStore> store = ContentStore::OpenReadOnly(PosixStoreFs(), store_root_);
    EXPECT_TRUE(store) << store.error().ToString();
    if (!store) return {};
    Result<StoreState> state = store->ReadState();
    EXPECT_TRUE(state) << state.error().ToString();
    return state ? *state : StoreState{};
  }

  std::vector<BadEntry> Bad() const {
    Result<ContentStore> store = ContentStore::OpenReadOnly(PosixStoreFs(), store_root_);
    if (!store) return {};
    Result<std::vector<BadEntry>> bad = store->ListBadEntries();
    return bad ? *bad : std::vector<BadEntry>{};
  }

  SupervisorOptions Options() const {
    SupervisorOptions o;
    o.worker_argv = {VIGIL_FAKE_WORKER, "--log", log_, "--control", control_, "--store", store_root_};
    o.store_root = store_root_;
    o.heartbeat_timeout = 1000ms;
    o.startup_grace = 5000ms;
    o.stop_timeout = 2s;
    return o;
  }

  std::vector<Event> Events() const {
    std::vector<Event> out;
    std::ifstream in(log_);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream words(line);
      Event e;
      words >> e.ms >> e.pid;
      std::getline(words, e.what);
      if (!e.what.empty() && e.what[0] == ' ') e.what.erase(0, 1);
      out.push_back(e);
    }
    return out;
  }
  std::vector<Event> Matching(const std::string& prefix) const {
    std::vector<Event> out;
    for (const Event& e : Events()) {
      if (e.what.rfind(prefix, 0) == 0) out.push_back(e);
    }
    return out;
  }
  bool WaitForEvent(const std::string& prefix, size_t count = 1, Clock::duration limit = 15s) const {
    return Eventually([&] { return Matching(prefix).size() >= count; }, limit, 5ms);
  }

  // SIGKILL every fake worker the log knows of that still runs.
  void KillWorkers() const {
    for (const Event& e : Matching("start")) {
      if (!IsDead(e.pid) && IsFakeWorker(e.pid)) ::kill(e.pid, SIGKILL);
    }
  }
  void ExpectAllWorkersDead() const {
    for (const Event& e : Matching("start")) EXPECT_TRUE(IsDead(e.pid)) << "worker " << e.pid << " survived";
  }

  // RunSupervisor in a thread of this process.
  class InThread {
   public:
    InThread(SupervisorTest* test, SupervisorOptions options, Clock::duration limit)
        : options_(std::move(options)),
          signals_(*SignalSource::Manual()),
          thread_([this] { rc_ = RunSupervisor(options_, signals_); }),
          watchdog_(limit, [this, test] {
            signals_.Raise(SIGTERM);
            test->KillWorkers();
          }) {}
    ~InThread() {
      if (thread_.joinable()) Stop();
    }
    void Raise(int sig) { signals_.Raise(sig); }
    int Stop() {
      signals_.Raise(SIGTERM);
      thread_.join();
      return rc_;
    }
    // For a supervisor that returns by itself.
    int Join() {
      thread_.join();
      return rc_;
    }

   private:
    SupervisorOptions options_;
    SignalSource signals_;
    std::atomic<int> rc_{-1};
    std::thread thread_;
    Watchdog watchdog_;
  };
  std::unique_ptr<InThread> Start(SupervisorOptions options, Clock::duration limit = 60s) {
    return std::make_unique<InThread>(this, std::move(options), limit);
  }

  // RunSupervisor in a forked process, on the process's real signals.
  pid_t Fork(const SupervisorOptions& options) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      Result<SignalSource> signals = SignalSource::FromProcessSignals();
      ::_exit(signals ? RunSupervisor(options, *signals) : 99);
    }
    if (pid > 0) forked_.push_back(pid);
    return pid;
  }
  // Reaps a forked supervisor within `limit`; its wait status, or -1.
  int WaitExit(pid_t pid, Clock::duration limit) {
    int status = -1;
    if (!Eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, limit)) return -1;
    std::erase(forked_, pid);
    return status;
  }

  std::string dir_, store_root_, control_, log_;
  std::vector<pid_t> forked_;  // not reaped yet
};

TEST_F(SupervisorTest, RestartsAWorkerThatCrashed) {
  MakeStore();
  Control("@1 crash-run active 300\n");
  auto sup = Start(Options());
  ASSERT_TRUE(WaitForEvent("running active 7", 2));
  const std::vector<Event> starts = Matching("start");
  const std::vector<Event> running = Matching("running");
  ASSERT_EQ(starts.size(), 2u);
  const int64_t crash_ms = running[0].ms + 300;
  std::printf("[ measured ] crash -> replacement worker running: %lld ms\n",
              static_cast<long long>(running[1].ms - crash_ms));
  EXPECT_LT(running[1].ms - crash_ms, 2000);
  EXPECT_EQ(sup->Stop(), 0);
  ExpectAllWorkersDead();

  const StoreState state = State();
  ASSERT_EQ(state.crashes.size(), 1u);
  EXPECT_EQ(state.crashes[0].level, "active");
  EXPECT_EQ(state.crashes[0].content_version, 7u);
  EXPECT_EQ(state.crashes[0].reason, "signal 6 (SIGABRT)");
  EXPECT_NE(state.last_event.find("worker died on active v7: signal 6 (SIGABRT) (crash 1 of 3 within 600 s)"),
            std::string::npos)
      << state.last_event;
  EXPECT_EQ(state.active_version, 7u);
  EXPECT_TRUE(Bad().empty());
}

TEST_F(SupervisorTest, CrashLoopOnActiveQuarantinesItAndRunsLkg) {
  MakeStore();
  Control("crash-load active\n");
  auto sup = Start(Options());
  ASSERT_TRUE(WaitForEvent("running lkg 6"));
  const std::vector<Event> starts = Matching("start");
  const Event lkg = Matching("running lkg 6")[0];
  ASSERT_EQ(starts.size(), 4u) << "3 crashes, then lkg";
  const int64_t elapsed = lkg.ms - starts[0].ms;
  std::printf("[ measured ] crash-looping active -> running lkg: %lld ms, %zu crashes\n",
              static_cast<long long>(elapsed), starts.size() - 1);
  EXPECT_LT(elapsed, 10'000);
  EXPECT_EQ(starts[3].what.find("--skip-levels"), std::string::npos) << "quarantined through the store, not skipped";
  EXPECT_EQ(sup->Stop(), 0);
  ExpectAllWorkersDead();

  const std::vector<BadEntry> bad = Bad();
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_NE(bad[0].name.find("-active-v7.vbundle"), std::string::npos) << bad[0].name;
  EXPECT_NE(bad[0].reason.find("3 worker deaths in "), std::string::npos) << bad[0].reason;
  EXPECT_NE(bad[0].reason.find("after active v7 was first tried (threshold 3 within 600 s); last: signal 6 (SIGABRT)"),
            std::string::npos)
      << bad[0].reason;
  Result<std::string> moved = ReadFileBounded(bad[0].path, 1 << 20);
  ASSERT_TRUE(moved);
  EXPECT_EQ(*moved, "bundle v7");

  const StoreState state = State();
  EXPECT_EQ(state.active_version, 0u);
  EXPECT_EQ(state.lkg_version, 6u);
  EXPECT_EQ(state.version_floor, 7u) << "the supervisor keeps what it does not own";
  ASSERT_EQ(state.crashes.size(), 3u);
  for (const CrashRecord& c : state.crashes) {
    EXPECT_EQ(c.level, "active");
    EXPECT_EQ(c.content_version, 7u);
    EXPECT_EQ(c.reason, "signal 6 (SIGABRT)");
  }
  EXPECT_EQ(state.last_event.rfind("quarantined active v7: 3 crashes in ", 0), 0u) << state.last_event;
}

TEST_F(SupervisorTest, CrashLoopOnActiveThenLkgEndsOnBuiltin) {
  MakeStore();
  Control("crash-load active\ncrash-load lkg\n");
  auto sup = Start(Options());
  ASSERT_TRUE(WaitForEvent("running builtin 0", 1, 30s));
  const std::vector<Event> starts = Matching("start");
  ASSERT_EQ(starts.size(), 7u) << "3 crashes on active, 3 on lkg, then builtin";
  std::printf("[ measured ] crash-looping active and lkg -> running builtin: %lld ms\n",
              static_cast<long long>(Matching("running builtin 0")[0].ms - starts[0].ms));
  EXPECT_EQ(sup->Stop(), 0);
  ExpectAllWorkersDead();
  const std::vector<BadEntry> bad = Bad();
  ASSERT_EQ(bad.size(), 2u);
  const StoreState state = State();
  EXPECT_EQ(state.active_version, 0u);
  EXPECT_EQ(state.lkg_version, 0u);
  EXPECT_EQ(state.crashes.size(), 6u);
  EXPECT_EQ(state.last_event.rfind("quarantined lkg v6: 3 crashes in ", 0), 0u) << state.last_event;
}

TEST_F(SupervisorTest, CrashLoopOnDefaultSkipsTheLevelForGood) {
  MakeStore(/*active=*/false, /*lkg=*/false);
  Control("default-version 5\ncrash-load default\n");
  {
    auto sup = Start(Options());
    ASSERT_TRUE(WaitForEvent("running builtin 0"));
    const std::vector<Event> starts = Matching("start");
    ASSERT_EQ(starts.size(), 4u);
    EXPECT_NE(starts[3].what.find("skip=default"), std::string::npos) << starts[3].what;
    EXPECT_NE(starts[3].what.find("--skip-levels default"), std::string::npos) << starts[3].what;
    EXPECT_EQ(sup->Stop(), 0);
  }
  EXPECT_EQ(State().skipped_levels, std::vector<std::string>{"default"});
  // A new supervisor (a reboot) still skips it.
  auto again = Start(Options());
  ASSERT_TRUE(WaitForEvent("running builtin 0", 2));
  EXPECT_NE(Matching("start").back().what.find("--skip-levels default"), std::string::npos);
  EXPECT_EQ(again->Stop(), 0);
  EXPECT_EQ(Matching("start").size(), 5u);
}

TEST_F(SupervisorTest, CandidateCrashIsQuarantinedAtOnce) {
  MakeStore(true, true, /*candidate=*/8);
  Control("crash-load candidate\n");
  auto sup = Start(Options());
  ASSERT_TRUE(WaitForEvent("running active 7", 2));
  EXPECT_EQ(Matching("shadow candidate").size(), 0u);
  EXPECT_EQ(sup->Stop(), 0);
  const std::vector<BadEntry> bad = Bad();
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_NE(bad[0].name.find("-candidate-v8.vbundle"), std::string::npos) << bad[0].name;
  EXPECT_EQ(bad[0].reason, "worker died while shadow-evaluating candidate v8: signal 6 (SIGABRT)");
  const StoreState state = State();
  EXPECT_EQ(state.candidate_version, 0u);
  EXPECT_EQ(state.active_version, 7u);
  ASSERT_EQ(state.crashes.size(), 1u);
  EXPECT_EQ(state.crashes[0].level, "candidate");
}

TEST_F(SupervisorTest, HungWorkerIsKilledWithinTheHeartbeatTimeout) {
  MakeStore();
  Control("@1 hang active 200\n");
  SupervisorOptions options = Options();
  options.heartbeat_timeout = 3000ms;  // the default
  auto sup = Start(options);
  ASSERT_TRUE(WaitForEvent("hang"));
  const Event hang = Matching("hang")[0];
  ASSERT_TRUE(Eventually([&] { return IsDead(hang.pid); }, 6s, 1ms));
  const int64_t hang_to_dead = MonoMs() - hang.ms;
  std::printf("[ measured ] last heartbeat -> hung worker dead: %lld ms (heartbeat_timeout 3000 ms)\n",
              static_cast<long long>(hang_to_dead));
  EXPECT_GE(hang_to_dead, 3000 - 10);  // "hang" is logged just after the last heartbeat
  EXPECT_LE(hang_to_dead, 3000 + 500);
  ASSERT_TRUE(WaitForEvent("running active 7", 2));
  EXPECT_EQ(sup->Stop(), 0);
  const StoreState state = State();
  ASSERT_EQ(state.crashes.size(), 1u);
  EXPECT_EQ(state.crashes[0].reason.rfind("heartbeat lost after ", 0), 0u) << state.crashes[0].reason;
  EXPECT_EQ(state.crashes[0].level, "active");
}

TEST_F(SupervisorTest, WorkerThatNeverSendsAHeartbeatIsKilledAfterTheStartupGrace) {
  MakeStore();
  Control("@1 no-heartbeat\n");
  SupervisorOptions options = Options();
  options.heartbeat_timeout = 300ms;
  options.startup_grace = 1000ms;
  auto sup = Start(options);
  ASSERT_TRUE(WaitForEvent("running active 7", 2));
  const std::vector<Event> starts = Matching("start");
  const int64_t lived = starts[1].ms - starts[0].ms;
  std::printf("[ measured ] silent worker start -> replacement start: %lld ms (startup_grace 1000 ms)\n",
              static_cast<long long>(lived));
  EXPECT_GE(lived, 1000);
  EXPECT_LE(lived, 2000);
  EXPECT_EQ(sup->Stop(), 0);
  const StoreState state = State();
  ASSERT_EQ(state.crashes.size(), 1u);
  EXPECT_EQ(state.crashes[0].reason.rfind("heartbeat lost after 1", 0), 0u) << state.crashes[0].reason;
}

TEST_F(SupervisorTest, GarbledProtocolLinesAreIgnored) {
  MakeStore();
  // Garbage first, then real lines; it lives 1.5 s on heartbeats with a 0.5 s timeout, then crashes.
  Control("@1 garbage\n@1 crash-run active 1500\n");
  SupervisorOptions options = Options();
  options.heartbeat_timeout = 500ms;
  auto sup = Start(options);
  ASSERT_TRUE(WaitForEvent("running active 7", 2));
  EXPECT_EQ(sup->Stop(), 0);
  const StoreState state = State();
  ASSERT_EQ(state.crashes.size(), 1u);
  EXPECT_EQ(state.crashes[0].reason, "signal 6 (SIGABRT)") << "heartbeats after the garbage must still count";
  EXPECT_EQ(state.crashes[0].level, "active") << "lines after the garbage must still parse";
  EXPECT_EQ(state.crashes[0].content_version, 7u);
}

TEST_F(SupervisorTest, WorkerInheritsOnlyTheProtocolPipe) {
  MakeStore();
  const int leaked = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC: a careless fd in the parent
  ASSERT_GE(leaked, 3);
  auto sup = Start(Options());
  ASSERT_TRUE(WaitForEvent("running active 7"));
  EXPECT_EQ(sup->Stop(), 0);
  ::close(leaked);
  const Event start = Matching("start")[0];
  EXPECT_EQ(start.what.rfind("start fds=0,1,2,3 ", 0), 0u) << start.what;
  EXPECT_NE(start.what.find("--heartbeat-fd 3"), std::string::npos) << start.what;
}

TEST_F(SupervisorTest, SighupIsForwardedToTheWorker) {
  MakeStore();
  auto sup = Start(Options());
  ASSERT_TRUE(WaitForEvent("running active 7"));
  sup->Raise(SIGHUP);
  ASSERT_TRUE(WaitForEvent("hup"));
  EXPECT_EQ(sup->Stop(), 0);
  EXPECT_EQ(Matching("start").size(), 1u);
  ASSERT_EQ(Matching("term").size(), 1u) << "stopped with SIGTERM, cleanly";
  EXPECT_TRUE(State().crashes.empty()) << "a requested stop is not a crash";
}

TEST_F(SupervisorTest, SigtermStopsSupervisorAndWorker) {
  MakeStore();
  std::atomic<pid_t> sup{-1};
  Watchdog watchdog(30s, [this, &sup] {
    if (sup > 0) ::kill(sup, SIGKILL);
    KillWorkers();
  });
  sup = Fork(Options());
  ASSERT_GT(sup, 0);
  ASSERT_TRUE(WaitForEvent("running active 7"));
  const pid_t worker = Matching("start")[0].pid;
  const int64_t sent = MonoMs();
  ASSERT_EQ(::kill(sup, SIGTERM), 0);
  const int status = WaitExit(sup, 10s);
  ASSERT_NE(status, -1) << "the supervisor did not exit within 10 s of SIGTERM";
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  std::printf("[ measured ] SIGTERM -> supervisor exited: %lld ms\n", static_cast<long long>(MonoMs() - sent));
  EXPECT_TRUE(IsDead(worker));
  EXPECT_EQ(Matching("term").size(), 1u) << "the worker got SIGTERM and stopped itself";
}

TEST_F(SupervisorTest, WorkerIgnoringSigtermIsKilledAfterTheStopTimeout) {
  MakeStore();
  Control("ignore-term\n");
  SupervisorOptions options = Options();
  options.stop_timeout = 1s;
  auto sup = Start(options);
  ASSERT_TRUE(WaitForEvent("running active 7"));
  const int64_t sent = MonoMs();
  EXPECT_EQ(sup->Stop(), 0);
  const int64_t took = MonoMs() - sent;
  std::printf("[ measured ] stop with a worker ignoring SIGTERM: %lld ms (stop_timeout 1 s)\n",
              static_cast<long long>(took));
  EXPECT_GE(took, 1000);
  EXPECT_LT(took, 3000);
  ExpectAllWorkersDead();
  EXPECT_TRUE(Matching("term").empty());
}

TEST_F(SupervisorTest, DeadSupervisorTakesTheWorkerDown) {
  MakeStore();
  std::atomic<pid_t> sup{-1};
  Watchdog watchdog(30s, [this, &sup] {
    if (sup > 0) ::kill(sup, SIGKILL);
    KillWorkers();
  });
  sup = Fork(Options());
  ASSERT_GT(sup, 0);
  ASSERT_TRUE(WaitForEvent("running active 7"));
  const pid_t worker = Matching("start")[0].pid;
  const int64_t killed = MonoMs();
  ASSERT_EQ(::kill(sup, SIGKILL), 0);
  ASSERT_NE(WaitExit(sup, 5s), -1);
  ASSERT_TRUE(Eventually([&] { return IsDead(worker); }, 5s, 1ms)) << "the worker outlived its supervisor";
  std::printf("[ measured ] supervisor SIGKILLed -> worker dead: %lld ms\n", static_cast<long long>(MonoMs() - killed));
}

TEST_F(SupervisorTest, StoreLockedByAnotherSupervisorIsRefused) {
  MakeStore();
  Result<StoreLock> lock = ContentStore::Lock(store_root_);
  ASSERT_TRUE(lock) << lock.error().ToString();
  auto sup = Start(Options(), 10s);
  EXPECT_EQ(sup->Join(), 1);
  EXPECT_TRUE(Matching("start").empty());
}

TEST_F(SupervisorTest, WorkerThatCannotBeStartedIsRetriedNeverFatal) {
  MakeStore();
  SupervisorOptions options = Options();
  options.worker_argv = {dir_ + "/no-such-vigild"};
  auto sup = Start(options);
  const std::string want = "worker died before loading any content: cannot start worker " + dir_ +
                           "/no-such-vigild: exec: No such file or directory; not a content problem";
  EXPECT_TRUE(Eventually([&] { return State().last_event.rfind(want, 0) == 0; }, 5s, 20ms)) << State().last_event;
  EXPECT_TRUE(State().crashes.empty()) << "no content, so no crash record";
  EXPECT_EQ(sup->Stop(), 0);
}

TEST_F(SupervisorTest, RunsWithoutAStore) {
  SupervisorOptions options = Options();
  options.store_root.clear();
  options.worker_argv = {VIGIL_FAKE_WORKER, "--log", log_, "--control", control_};
  Control("default-version 5\ncrash-load default\n");
  auto sup = Start(options);
  ASSERT_TRUE(WaitForEvent("running builtin 0"));
  EXPECT_NE(Matching("start").back().what.find("--skip-levels default"), std::string::npos);
  EXPECT_EQ(Matching("start").size(), 4u);
  EXPECT_EQ(sup->Stop(), 0);
}

TEST(SupervisorOptionsTest, RefusedOptionsReturnOne) {
  Result<SignalSource> signals = SignalSource::Manual();
  ASSERT_TRUE(signals);
  SupervisorOptions none;
  EXPECT_EQ(RunSupervisor(none, *signals), 1);
  SupervisorOptions bad;
  bad.worker_argv = {"/bin/true"};
  bad.crash_threshold = 0;
  EXPECT_EQ(RunSupervisor(bad, *signals), 1);
  bad.crash_threshold = 3;
  bad.heartbeat_timeout = 0ms;
  EXPECT_EQ(RunSupervisor(bad, *signals), 1);
}

TEST(DescribeWaitStatusTest, ExitsAndSignals) {
  EXPECT_EQ(DescribeWaitStatus(W_EXITCODE(0, 0)), "exit 0");
  EXPECT_EQ(DescribeWaitStatus(W_EXITCODE(1, 0)), "exit 1");
  EXPECT_EQ(DescribeWaitStatus(W_EXITCODE(0, SIGSEGV)), "signal 11 (SIGSEGV)");
  EXPECT_EQ(DescribeWaitStatus(W_EXITCODE(0, SIGKILL)), "signal 9 (SIGKILL)");
  EXPECT_EQ(DescribeWaitStatus(W_EXITCODE(0, SIGABRT) | 0x80), "signal 6 (SIGABRT)");  // core dumped
}

TEST(SignalSourceTest, ManualSourceQueuesSignalsInOrder) {
  Result<SignalSource> s = SignalSource::Manual();
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->Next());
  s->Raise(SIGHUP);
  s->Raise(SIGTERM);
  EXPECT_EQ(s->Next(), SIGHUP);
  EXPECT_EQ(s->Next(), SIGTERM);
  EXPECT_FALSE(s->Next());
  SignalSource moved = std::move(*s);
  moved.Raise(SIGINT);
  EXPECT_EQ(moved.Next(), SIGINT);
}

}  // namespace
}  // namespace vigil::sensor
