#include "sensor/supervisor.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <utility>

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "base/log.h"
#include "sensor/content_store.h"
#include "sensor/crash_policy.h"
#include "sensor/store_fs.h"
#include "sensor/worker_protocol.h"

namespace vigil::sensor {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kWorkerProtocolFd = 3;           // the worker's end of the pipe, in the worker
constexpr int kMaxLoggedBadLines = 10;         // per worker run; the rest are counted
constexpr size_t kReadChunk = 4096;
constexpr int kMaxReadsPerWake = 16;           // 64 KiB (a full pipe), then see to the rest
constexpr milliseconds kReapPollTick{50};      // only without a pidfd (kernels before 5.3)
constexpr milliseconds kUnkillableLogEvery{10'000};

int64_t Ms(Clock::duration d) { return std::chrono::duration_cast<milliseconds>(d).count(); }

int64_t UnixNow() { return static_cast<int64_t>(::time(nullptr)); }

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// ---- the child between fork and exec: async-signal-safe calls only ----

enum ChildStage : int { kStagePdeathsig = 1, kStageFds, kStageExec };

struct ChildPlan {
  std::vector<char*> argv;  // null-terminated; points into strings the parent keeps alive
  pid_t parent = 0;
  int protocol_write = -1;
  int report_write = -1;  // CLOEXEC: closes at a successful exec; carries {stage, errno} otherwise
  int max_fd = 0;         // for the CLOEXEC loop when close_range is missing
};

[[noreturn]] void ExecWorker(const ChildPlan& plan) noexcept {
  int report = plan.report_write;
  auto fail = [&report](int stage) {
    const int record[2] = {stage, errno};
    ssize_t ignored = ::write(report, record, sizeof record);
    (void)ignored;
    ::_exit(127);
  };
  // Die with the supervisor. PDEATHSIG is set after fork, so if the parent
  // died before this line nobody would kill us: check, and go.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(kStagePdeathsig);
  if (::getppid() != plan.parent) ::_exit(127);
  ::setpgid(0, 0);  // signals from a terminal go to the supervisor, which forwards them

  // Move the two pipe ends out of the way, then put the protocol pipe at fd 3
  // (dup2 clears CLOEXEC on it) and mark every other descriptor above 2 CLOEXEC.
  const int high_report = ::fcntl(report, F_DUPFD_CLOEXEC, 10);
  if (high_report < 0) fail(kStageFds);
  report = high_report;
  const int high_protocol = ::fcntl(plan.protocol_write, F_DUPFD_CLOEXEC, 10);
  if (high_protocol < 0) fail(kStageFds);
  if (::dup2(high_protocol, kWorkerProtocolFd) < 0) fail(kStageFds);
  if (::syscall(SYS_close_range, kWorkerProtocolFd + 1, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    for (int fd = kWorkerProtocolFd + 1; fd < plan.max_fd; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }

  // Ignored signals and the blocked mask survive exec: give the worker a clean slate.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  ::execv(plan.argv[0], plan.argv.data());
  fail(kStageExec);
  ::_exit(127);  // not reached: fail() exits
}

// ---- the supervisor ----

class Supervisor {
 public:
  Supervisor(const SupervisorOptions& options, const SignalSource& signals)
      : options_(options),
        signals_(signals),
        policy_(CrashPolicyOptions{.crash_threshold = options.crash_threshold,
                                   .crash_window = options.crash_window}) {}

  int Run();

 private:
  struct Worker {
    pid_t pid = -1;
    int pidfd = -1;  // -1 without pidfd_open: reaped by polling waitpid
    int pipe = -1;   // read end of the protocol pipe; -1 after EOF
    ProtocolParser parser;
    Clock::time_point spawned;
    Clock::time_point last_hb;
    bool got_hb = false;
    std::optional<Clock::time_point> loading_since;  // a `trying` not yet followed by `running`
    bool degraded = false;
    uint64_t bad_lines = 0;
    bool term_sent = false;  // stopping: SIGTERM forwarded
    Clock::time_point stop_deadline;
    bool killed = false;  // SIGKILL sent
    std::string kill_reason;
    Clock::time_point next_unkillable_log;
  };

  bool Init();
  void Spawn(Clock::time_point now);
  void ReadPipe(Clock::time_point now, int max_reads);
  void HandleLine(Clock::time_point now, Result<WorkerMessage> line);
  void TryReap(Clock::time_point now);
  void Died(Clock::time_point now, const std::string& reason);
  void Record(const WorkerDeath& death, const CrashDecision& decision);
  void QuarantineContent(const ContentRef& content, const std::string& reason, StoreState* state);
  void SkipInMemory(ContentLevel level);
  std::vector<ContentLevel> SkipLevels();
  void HandleSignals(Clock::time_point now);
  void CheckDeadlines(Clock::time_point now);
  Clock::time_point HeartbeatDeadline(const Worker& w) const;
  Clock::time_point NextWake(Clock::time_point now) const;
  void Kill(int sig);

  const SupervisorOptions& options_;
  const SignalSource& signals_;
  CrashPolicy policy_;
  std::optional<ContentStore> store_;
  std::optional<StoreLock> lock_;
  std::vector<ContentLevel> memory_skips_;  // quarantines the store could not record
  std::optional<Worker> worker_;
  Clock::time_point restart_at_;
  bool stopping_ = false;
};

bool Supervisor::Init() {
  if (options_.worker_argv.empty() || options_.worker_argv[0].empty()) {
    LogError("supervisor: no worker command line");
    return false;
  }
  if (Status s = CrashPolicy::Validate(CrashPolicyOptions{.crash_threshold = options_.crash_threshold,
                                                          .crash_window = options_.crash_window});
      !s.ok()) {
    LogError("supervisor: {}", s.message());
    return false;
  }
  if (options_.heartbeat_timeout.count() <= 0 || options_.startup_grace.count() <= 0 ||
      options_.stop_timeout.count() < 0) {
    LogError("supervisor: heartbeat_timeout and startup_grace must be positive, stop_timeout not negative");
    return false;
  }
  // The worker's fds 0-2 are ours: make sure they exist, so the protocol
  // pipe cannot land on one of them and collect the worker's output.
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
      const int null_fd = ::open("/dev/null", O_RDWR);  // the lowest free number: `fd` itself
      if (null_fd > fd) {
        ::dup2(null_fd, fd);
        ::close(null_fd);
      }
    }
  }
  if (!options_.store_root.empty()) {
    Result<ContentStore> store = ContentStore::Open(PosixStoreFs(), options_.store_root, /*create=*/true);
    if (!store) {
      LogError("supervisor: content store: {}; supervising without it (a quarantine then only skips the path or "
               "default level, until the supervisor restarts)",
               store.error().ToString());
    } else {
      Result<StoreLock> lock = ContentStore::Lock(store->root());
      if (!lock) {
        LogError("supervisor: {}", lock.error().ToString());
        return false;
      }
      store_ = std::move(*store);
      lock_ = std::move(*lock);
    }
  }
  LogInfo("supervisor: starting {} (store {}; quarantine after {} deaths within {} s; heartbeat timeout {} ms, "
          "startup grace {} ms)",
          options_.worker_argv[0], store_ ? store_->root() : "none", options_.crash_threshold,
          options_.crash_window.count(), options_.heartbeat_timeout.count(), options_.startup_grace.count());
  return true;
}

std::vector<ContentLevel> Supervisor::SkipLevels() {
  std::vector<ContentLevel> levels = memory_skips_;
  if (store_) {
    Result<StoreState> state = store_->ReadState();
    if (state) {
      for (const std::string& name : state->skipped_levels) {
        Result<ContentLevel> level = ParseContentLevel(name);
        if (level && std::find(levels.begin(), levels.end(), *level) == levels.end()) levels.push_back(*level);
      }
    } else {
      LogWarning("supervisor: {}; skipped levels from it unknown", state.error().ToString());
    }
  }
  std::sort(levels.begin(), levels.end());
  return levels;
}

void Supervisor::SkipInMemory(ContentLevel level) {
  if (std::find(memory_skips_.begin(), memory_skips_.end(), level) == memory_skips_.end()) {
    memory_skips_.push_back(level);
  }
}

void Supervisor::Spawn(Clock::time_point now) {
  std::vector<std::string> args = options_.worker_argv;
  args.emplace_back(kHeartbeatFdFlag);
  args.push_back(std::to_string(kWorkerProtocolFd));
  const std::vector<ContentLevel> skip = SkipLevels();
  if (!skip.empty()) {
    args.emplace_back(kSkipLevelsFlag);
    args.push_back(FormatContentLevelList(skip));
  }
  ChildPlan plan;
  for (std::string& a : args) plan.argv.push_back(a.data());
  plan.argv.push_back(nullptr);
  plan.parent = ::getpid();
  rlimit files{};
  plan.max_fd = ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < (1u << 20)
                    ? static_cast<int>(files.rlim_cur)
                    : 1 << 20;

  policy_.OnSpawn(now);
  int protocol[2] = {-1, -1};
  int report[2] = {-1, -1};
  if (::pipe2(protocol, O_CLOEXEC) != 0 || ::pipe2(report, O_CLOEXEC) != 0) {
    const std::string why = fmt::format("cannot start worker: pipe: {}", std::strerror(errno));
    for (int* fd : {&protocol[0], &protocol[1], &report[0], &report[1]}) CloseFd(*fd);
    Died(now, why);
    return;
  }
  plan.protocol_write = protocol[1];
  plan.report_write = report[1];
  const pid_t pid = ::fork();
  if (pid == 0) ExecWorker(plan);
  const int fork_errno = errno;
  CloseFd(protocol[1]);
  CloseFd(report[1]);
  if (pid < 0) {
    CloseFd(protocol[0]);
    CloseFd(report[0]);
    Died(now, fmt::format("cannot start worker: fork: {}", std::strerror(fork_errno)));
    return;
  }
  // Blocks until the child execs (EOF: the CLOEXEC end closed) or reports
  // why it could not: a few syscalls' time.
  int record[2] = {0, 0};
  ssize_t n;
  do {
    n = ::read(report[0], record, sizeof record);
  } while (n < 0 && errno == EINTR);
  CloseFd(report[0]);
  if (n != 0) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    CloseFd(protocol[0]);
    const char* stage = record[0] == kStagePdeathsig ? "prctl(PR_SET_PDEATHSIG)"
                        : record[0] == kStageFds     ? "setting up descriptors"
                                                     : "exec";
    Died(now, n == sizeof record
                  ? fmt::format("cannot start worker {}: {}: {}", args[0], stage, std::strerror(record[1]))
                  : fmt::format("cannot start worker {}: {}", args[0], DescribeWaitStatus(status)));
    return;
  }
  ::fcntl(protocol[0], F_SETFL, ::fcntl(protocol[0], F_GETFL) | O_NONBLOCK);

  Worker w;
  w.pid = pid;
  w.pipe = protocol[0];
  w.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));  // O_CLOEXEC always
  w.spawned = now;
  worker_ = std::move(w);
  std::string shown;
  for (size_t i = 0; i < args.size(); ++i) shown += (i ? " " : "") + args[i];
  LogInfo("supervisor: worker pid {} started: {}", pid, shown);
}

void Supervisor::HandleLine(Clock::time_point now, Result<WorkerMessage> line) {
  Worker& w = *worker_;
  if (!line) {
    ++w.bad_lines;
    if (w.bad_lines <= kMaxLoggedBadLines) {
      LogWarning("supervisor: worker pid {}: line ignored: {}{}", w.pid, line.error().message(),
                 w.bad_lines == kMaxLoggedBadLines ? " (further bad lines from this worker are only counted)" : "");
    }
    return;
  }
  const WorkerMessage& m = *line;
  policy_.OnMessage(now, m);
  switch (m.kind) {
    case WorkerMessage::Kind::kHeartbeat:
      w.got_hb = true;
      w.last_hb = now;
      break;
    case WorkerMessage::Kind::kTrying:
      w.loading_since = now;
      LogInfo("supervisor: worker pid {}: trying {}", w.pid, DescribeContent({m.level, m.version}));
      break;
    case WorkerMessage::Kind::kRunning:
      w.loading_since.reset();
      LogInfo("supervisor: worker pid {}: running {}", w.pid, DescribeContent({m.level, m.version}));
      break;
    case WorkerMessage::Kind::kDegraded:
      if (m.degraded != w.degraded) {
        w.degraded = m.degraded;
        if (m.degraded) {
          LogWarning("supervisor: worker pid {} reports DEGRADED MODE", w.pid);
        } else {
          LogInfo("supervisor: worker pid {} left degraded mode", w.pid);
        }
      }
      break;
  }
}

void Supervisor::ReadPipe(Clock::time_point now, int max_reads) {
  Worker& w = *worker_;
  char buf[kReadChunk];
  for (int i = 0; i < max_reads && w.pipe >= 0; ++i) {
    const ssize_t n = ::read(w.pipe, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {  // EOF: the worker closed its end (it died, or it will be killed as silent)
      if (std::optional<Status> tail = w.parser.Finish()) HandleLine(now, tl::unexpected(*tail));
      if (n < 0) LogWarning("supervisor: worker pid {}: read: {}", w.pid, std::strerror(errno));
      CloseFd(w.pipe);
      return;
    }
    for (Result<WorkerMessage>& line : w.parser.Feed(std::string_view(buf, static_cast<size_t>(n)))) {
      HandleLine(now, std::move(line));
    }
  }
}

void Supervisor::TryReap(Clock::time_point now) {
  Worker& w = *worker_;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(w.pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return;  // still running
  if (r < 0) {         // ECHILD: someone else reaped it (a SIGCHLD set to SIG_IGN); it is gone
    LogError("supervisor: waitpid({}): {}", w.pid, std::strerror(errno));
    status = 0;
  }
  ReadPipe(now, 64);  // what it said last decides what it is blamed for: the pipe holds at most 64 KiB
  std::string reason = r < 0 ? std::string("lost (reaped elsewhere)") : DescribeWaitStatus(status);
  if (w.killed && !w.kill_reason.empty() && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
    reason = w.kill_reason;
  }
  if (w.bad_lines > static_cast<uint64_t>(kMaxLoggedBadLines)) {
    LogWarning("supervisor: worker pid {} sent {} bad protocol lines in all", w.pid, w.bad_lines);
  }
  LogInfo("supervisor: worker pid {} ended: {}", w.pid, reason);
  CloseFd(w.pipe);
  CloseFd(w.pidfd);
  worker_.reset();
  Died(now, reason);
}

void Supervisor::Died(Clock::time_point now, const std::string& reason) {
  const WorkerDeath death{now, reason, stopping_, policy_.Suspect()};
  const CrashDecision d = policy_.OnDeath(death);
  restart_at_ = now + d.restart_delay;
  if (!d.counted) {
    LogInfo("supervisor: {}", d.summary);
    return;
  }
  if (d.quarantine) {
    LogError("supervisor: {}", d.summary);
  } else if (d.not_content_problem) {
    LogError("supervisor: {}", d.summary);
  } else {
    LogWarning("supervisor: {}", d.summary);
  }
  Record(death, d);
}

void Supervisor::Record(const WorkerDeath& death, const CrashDecision& d) {
  std::optional<StoreState> state;
  if (store_) {
    // Reopening removes the temp file of a write the worker died in.
    Result<ContentStore> reopened = ContentStore::Open(PosixStoreFs(), store_->root(), /*create=*/false);
    if (reopened) {
      store_ = std::move(*reopened);
    } else {
      LogWarning("supervisor: reopening the content store: {}", reopened.error().ToString());
    }
    Result<StoreState> read = store_->ReadState();
    if (read) {
      state = std::move(*read);
    } else {
      // Rewriting it from defaults would lose the version floor (the
      // downgrade defence): leave it for `vigil recover`.
      LogError("supervisor: {}; the crash is not recorded there and the file is left as it is",
               read.error().ToString());
    }
  }
  if (d.quarantine) QuarantineContent(*d.quarantine, d.quarantine_reason, state ? &*state : nullptr);
  if (!state) return;

  const int64_t now_unix = UnixNow();
  if (d.content) {  // the store records crashes on content only
    state->crashes.push_back(
        CrashRecord{now_unix, std::string(ContentLevelName(d.content->level)), d.content->version, death.reason});
    while (state->crashes.size() > kMaxCrashRecords) state->crashes.pop_front();
  }
  state->running_level.clear();  // nothing runs until the restart
  state->running_version = 0;
  state->running_since = 0;
  state->last_event = SanitizeStateText(d.summary);
  state->updated_unix = now_unix;
  if (Status s = store_->WriteState(*state); !s.ok()) {
    LogError("supervisor: cannot record the death in {}: {}", store_->StatePath(), s.ToString());
    if (d.quarantine &&
        (d.quarantine->level == ContentLevel::kPath || d.quarantine->level == ContentLevel::kDefault)) {
      SkipInMemory(d.quarantine->level);
    }
  }
}

void Supervisor::QuarantineContent(const ContentRef& content, const std::string& reason, StoreState* state) {
  const std::string what = DescribeContent(content);
  if (content.level == ContentLevel::kPath || content.level == ContentLevel::kDefault) {
    const std::string name(ContentLevelName(content.level));
    if (state == nullptr) {
      SkipInMemory(content.level);
      LogError("supervisor: QUARANTINED {}: level {} skipped until the supervisor restarts (no state file to "
               "record it in): {}",
               what, name, reason);
      return;
    }
    if (std::find(state->skipped_levels.begin(), state->skipped_levels.end(), name) == state->skipped_levels.end()) {
      state->skipped_levels.push_back(name);
    }
    LogError("supervisor: QUARANTINED {}: level {} skipped from now on (`vigil recover` clears it): {}", what, name,
             reason);
    return;
  }
  Slot slot = Slot::kActive;
  uint64_t* recorded = nullptr;
  switch (content.level) {
    case ContentLevel::kCandidate:
      slot = Slot::kCandidate;
      if (state) recorded = &state->candidate_version;
      break;
    case ContentLevel::kActive:
      slot = Slot::kActive;
      if (state) recorded = &state->active_version;
      break;
    case ContentLevel::kLkg:
      slot = Slot::kLkg;
      if (state) recorded = &state->lkg_version;
      break;
    default:  // builtin is never quarantined; path and default are handled above
      return;
  }
  if (!store_) {
    SkipInMemory(content.level);
    LogError("supervisor: cannot quarantine {} without a content store; level skipped until the supervisor restarts",
             what);
    return;
  }
  // The worker's report names what it loaded; the state's version is only
  // bookkeeping. Quarantine the slot either way: the only writer is dead.
  if (recorded != nullptr && *recorded != 0 && *recorded != content.version) {
    LogWarning("supervisor: the state says {} holds v{}, the worker reported v{}", SlotName(slot), *recorded,
               content.version);
  }
  Result<std::string> moved = store_->Quarantine(slot, content.version, reason);
  if (moved) {
    if (recorded != nullptr) *recorded = 0;
    LogError("supervisor: QUARANTINED {}: {} moved to {}: {}", what, store_->SlotPath(slot), *moved, reason);
    return;
  }
  if (moved.error().code() == Code::kNotFound) {
    if (recorded != nullptr) *recorded = 0;
    LogWarning("supervisor: {} to quarantine, but the {} slot is empty (the worker moved it first)", what,
               SlotName(slot));
    return;
  }
  SkipInMemory(content.level);
  LogError("supervisor: CANNOT QUARANTINE {}: {}; level {} skipped until the supervisor restarts", what,
           moved.error().ToString(), ContentLevelName(content.level));
}

void Supervisor::Kill(int sig) {
  if (!worker_) return;
  if (sig == SIGKILL) ::kill(-worker_->pid, SIGKILL);  // its process group: anything it started, too
  ::kill(worker_->pid, sig);
}

void Supervisor::HandleSignals(Clock::time_point now) {
  while (std::optional<int> sig = signals_.Next()) {
    if (*sig == SIGHUP) {
      if (worker_) {
        LogInfo("supervisor: SIGHUP: forwarded to worker pid {}", worker_->pid);
        Kill(SIGHUP);
      } else {
        LogInfo("supervisor: SIGHUP: no worker running (a restart is pending)");
      }
      continue;
    }
    if (*sig != SIGTERM && *sig != SIGINT) continue;
    if (stopping_) continue;  // already stopping, bounded by stop_timeout
    stopping_ = true;
    if (!worker_) {
      LogInfo("supervisor: {}: stopping (no worker running)", sigabbrev_np(*sig) ? sigabbrev_np(*sig) : "signal");
      continue;
    }
    LogInfo("supervisor: SIG{}: stopping worker pid {} (SIGTERM, SIGKILL after {} s)",
            sigabbrev_np(*sig) ? sigabbrev_np(*sig) : "?", worker_->pid, options_.stop_timeout.count());
    worker_->term_sent = true;
    worker_->stop_deadline = now + options_.stop_timeout;
    Kill(SIGTERM);
  }
}

Clock::time_point Supervisor::HeartbeatDeadline(const Worker& w) const {
  Clock::time_point deadline = w.got_hb ? w.last_hb + options_.heartbeat_timeout : w.spawned + options_.startup_grace;
  if (w.loading_since) deadline = std::max(deadline, *w.loading_since + options_.startup_grace);
  return deadline;
}

void Supervisor::CheckDeadlines(Clock::time_point now) {
  if (!worker_) return;
  Worker& w = *worker_;
  if (w.killed) {
    if (now >= w.next_unkillable_log) {
      LogError("supervisor: worker pid {} still not reaped {} ms after SIGKILL (stuck in the kernel?)", w.pid,
               Ms(now - w.next_unkillable_log + kUnkillableLogEvery));
      w.next_unkillable_log = now + kUnkillableLogEvery;
    }
    return;
  }
  if (w.term_sent) {
    if (now < w.stop_deadline) return;
    LogWarning("supervisor: worker pid {} did not stop within {} s: SIGKILL", w.pid, options_.stop_timeout.count());
    w.kill_reason = fmt::format("did not stop within {} s of SIGTERM", options_.stop_timeout.count());
  } else {
    if (now < HeartbeatDeadline(w)) return;
    const Clock::time_point since = w.got_hb ? w.last_hb : w.spawned;
    w.kill_reason = fmt::format("heartbeat lost after {} ms", Ms(now - since));
    LogError("supervisor: worker pid {} is hung: {} ({}): SIGKILL", w.pid, w.kill_reason,
             w.got_hb ? fmt::format("timeout {} ms", options_.heartbeat_timeout.count())
                      : fmt::format("none since it started; grace {} ms", options_.startup_grace.count()));
  }
  w.killed = true;
  w.next_unkillable_log = now + kUnkillableLogEvery;
  Kill(SIGKILL);
}

Clock::time_point Supervisor::NextWake(Clock::time_point now) const {
  if (!worker_) return stopping_ ? now : restart_at_;
  const Worker& w = *worker_;
  Clock::time_point wake = w.killed ? w.next_unkillable_log : w.term_sent ? w.stop_deadline : HeartbeatDeadline(w);
  if (w.pidfd < 0) wake = std::min(wake, now + kReapPollTick);
  return wake;
}

int Supervisor::Run() {
  if (!Init()) return 1;
  restart_at_ = Clock::now();
  for (;;) {
    Clock::time_point now = Clock::now();
    HandleSignals(now);
    if (!worker_) {
      if (stopping_) {
        LogInfo("supervisor: stopped");
        return 0;
      }
      if (now >= restart_at_) {
        Spawn(now);
        continue;  // a failed spawn decided a new restart time; a started one needs watching
      }
    }

    pollfd fds[3];
    nfds_t n = 0;
    fds[n++] = {signals_.fd(), POLLIN, 0};
    const int pipe_index = worker_ && worker_->pipe >= 0 ? static_cast<int>(n) : -1;
    if (pipe_index >= 0) fds[n++] = {worker_->pipe, POLLIN, 0};
    const int pidfd_index = worker_ && worker_->pidfd >= 0 ? static_cast<int>(n) : -1;
    if (pidfd_index >= 0) fds[n++] = {worker_->pidfd, POLLIN, 0};
    const Clock::duration wait = NextWake(now) - now;
    const auto wait_ms = std::chrono::ceil<milliseconds>(std::max(wait, Clock::duration::zero()));
    const int timeout = static_cast<int>(std::min<int64_t>(wait_ms.count(), 60'000));
    if (::poll(fds, n, timeout) < 0 && errno != EINTR) {
      LogError("supervisor: poll: {}", std::strerror(errno));
      ::usleep(10'000);  // never spin; never give up
    }

    now = Clock::now();
    HandleSignals(now);
    if (worker_ && pipe_index >= 0 && fds[pipe_index].revents != 0) ReadPipe(now, kMaxReadsPerWake);
    if (worker_) TryReap(now);  // cheap (one waitpid); catches the death whatever woke us
    CheckDeadlines(now);
  }
}

}  // namespace

Result<SignalSource> SignalSource::FromProcessSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  if (int e = pthread_sigmask(SIG_BLOCK, &set, nullptr); e != 0) {
    return Error(Code::kIo, "blocking SIGTERM, SIGINT, SIGHUP: {}", std::strerror(e));
  }
  const int fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) return Error(Code::kIo, "signalfd: {}", std::strerror(errno));
  return SignalSource(fd, -1);
}

Result<SignalSource> SignalSource::Manual() {
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return Error(Code::kIo, "pipe: {}", std::strerror(errno));
  return SignalSource(fds[0], fds[1]);
}

SignalSource::SignalSource(SignalSource&& other) noexcept
    : read_fd_(std::exchange(other.read_fd_, -1)), write_fd_(std::exchange(other.write_fd_, -1)) {}

SignalSource& SignalSource::operator=(SignalSource&& other) noexcept {
  if (this != &other) {
    CloseFd(read_fd_);
    CloseFd(write_fd_);
    read_fd_ = std::exchange(other.read_fd_, -1);
    write_fd_ = std::exchange(other.write_fd_, -1);
  }
  return *this;
}

SignalSource::~SignalSource() {
  CloseFd(read_fd_);
  CloseFd(write_fd_);
}

void SignalSource::Raise(int signo) const {
  if (write_fd_ < 0) return;
  signalfd_siginfo info;
  std::memset(&info, 0, sizeof info);
  info.ssi_signo = static_cast<uint32_t>(signo);
  ssize_t ignored = ::write(write_fd_, &info, sizeof info);  // atomic: below PIPE_BUF
  (void)ignored;
}

std::optional<int> SignalSource::Next() const {
  signalfd_siginfo info;
  for (;;) {
    const ssize_t n = ::read(read_fd_, &info, sizeof info);
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof info)) return std::nullopt;
    return static_cast<int>(info.ssi_signo);
  }
}

int RunSupervisor(const SupervisorOptions& options, const SignalSource& signals) {
  Supervisor supervisor(options, signals);
  return supervisor.Run();
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return fmt::format("exit {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return name ? fmt::format("signal {} (SIG{})", sig, name) : fmt::format("signal {}", sig);
  }
  return fmt::format("wait status 0x{:x}", status);
}

}  // namespace vigil::sensor
