#include "sensor/responder.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "base/log.h"
#include "schema/schema.h"
#include "sensor/fault_injection.h"
#include "sources/fanotify/dir_cache.h"
#include "sources/fanotify/event_parser.h"

namespace vigil::sensor {
namespace {

// A permission event is its metadata only (24 bytes: no info records are
// asked for), so one 4 KiB read returns at most this many, each with an fd.
constexpr size_t kReadBytes = 4096;
constexpr size_t kMaxEventsPerRead = kReadBytes / sizeof(fanotify_event_metadata);
// Reads per loop iteration: bounds how long verdicts and deadlines wait for
// a storm being read.
constexpr int kMaxReadsPerLoop = 4;
// The loop runs at least this often (the liveness counter `loops` moves).
constexpr int64_t kMaxSleepNs = 100'000'000;
// The most a decision on the responder thread may take (also at most a tenth
// of the deadline) before the fast path is turned off for its rules.
constexpr int64_t kInlineBudgetNs = 500'000;
constexpr int64_t kMaxDeadlineNs = 10'000'000'000;
constexpr size_t kMaxQueueCapacity = 1 << 20;
// fds beyond the pending events' that a process needs (logs, sockets, /proc reads).
constexpr size_t kSpareFds = 256;
constexpr std::string_view kDeletedSuffix = " (deleted)";

int64_t MonoNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

uint64_t RealtimeNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// A verdict slot: (id, generation, open-allowed bit, code) in one word, so
// the evaluator's verdict and the responder's deadline settle by one
// compare-and-swap.
constexpr uint64_t kCodePending = 0, kCodeAllow = 1, kCodeDeny = 2, kCodeExpired = 3;
// With an exec ALLOW: the open rules allow opening that file too, whoever
// opens it (Responder::Decide), so the open check that execve makes right
// after the exec check may be cached before the exec is answered.
constexpr uint64_t kOpenAllowedBit = 4;
constexpr uint64_t kIdBits = 40;      // 10^12 events before an id repeats in a slot word
constexpr uint64_t kGenBits = 21;     // 2 M engine swaps before a generation repeats
constexpr uint64_t kGenMask = (uint64_t{1} << kGenBits) - 1;
constexpr uint64_t kGenShift = 3;
constexpr uint64_t SlotWord(uint64_t id, uint64_t generation, uint64_t code) {
  return ((id & ((uint64_t{1} << kIdBits) - 1)) << (kGenBits + kGenShift)) | ((generation & kGenMask) << kGenShift) |
         code;
}
constexpr uint64_t SlotCode(uint64_t word) { return word & 3; }
constexpr uint64_t SlotGen(uint64_t word) { return (word >> kGenShift) & kGenMask; }
constexpr uint64_t SlotId(uint64_t word) { return word >> (kGenBits + kGenShift); }
static_assert(kIdBits + kGenBits + kGenShift == 64, "a slot word is 64 bits");
constexpr uint64_t MaskedId(uint64_t id) { return id & ((uint64_t{1} << kIdBits) - 1); }

uint64_t KindBit(PermissionKind kind) {
  return kind == PermissionKind::kExec ? FAN_OPEN_EXEC_PERM : FAN_OPEN_PERM;
}

size_t PendingCapacity(const ResponderOptions& o) {
  const size_t q = std::clamp<size_t>(o.queue_capacity, 1, kMaxQueueCapacity);
  // Room for the queue, one request being evaluated and two reads in flight.
  return q + 1 + 2 * kMaxEventsPerRead;
}

std::string ErrnoText(int err) { return std::strerror(err); }


Status MarkError(int err, const std::string& path, bool exec) {
  switch (err) {
    case EPERM:
      return Status(Code::kIo, "fanotify needs CAP_SYS_ADMIN to mark " + path + " (" + ErrnoText(err) + ")");
    case ENOENT:
      return Status(Code::kNotFound, "fanotify mark path " + path + " does not exist");
    case EINVAL:
      return Status(Code::kUnsupported,
                    std::string("fanotify_mark ") + path + ": " + ErrnoText(err) + ": kernel lacks " +
                        (exec ? "FAN_OPEN_EXEC_PERM (needs Linux 5.0+) or " : "") +
                        "FAN_MARK_FILESYSTEM (needs Linux 4.20+)");
    case ENOSPC:
      return Status(Code::kLimitExceeded,
                    "fanotify mark on " + path + ": too many marks (fs.fanotify.max_user_marks)");
    default:
      return Status(Code::kIo, "fanotify_mark " + path + ": " + ErrnoText(err));
  }
}

// Every event holds an fd in our table until it is answered, and the kernel
// DENIES a permission event whose fd it cannot create (EMFILE): the fd limit
// must cover the pending events with room to spare.
Status EnsureFdBudget(size_t pending_capacity) {
  const rlim_t need = static_cast<rlim_t>(pending_capacity + kMaxEventsPerRead + kSpareFds);
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return Status(Code::kIo, "getrlimit(RLIMIT_NOFILE): " + ErrnoText(errno));
  if (lim.rlim_cur >= need) return Status::Ok();
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < need) {
    return Status(Code::kLimitExceeded,
                  fmt::format("permission responder needs {} file descriptors (queue_capacity + read batch + "
                              "spare) but RLIMIT_NOFILE's hard limit is {}: lower queue_capacity or raise the limit",
                              need, lim.rlim_max));
  }
  lim.rlim_cur = need;
  if (setrlimit(RLIMIT_NOFILE, &lim) != 0) return Status(Code::kIo, "setrlimit(RLIMIT_NOFILE): " + ErrnoText(errno));
  return Status::Ok();
}

}  // namespace

// ---------------------------------------------------------------- DecisionPlan

DecisionPlan PlanDecisions(std::span<const content::Rule> rules, EventTypeId type, FieldIndex file_field) {
  DecisionPlan plan;
  plan.cacheable = true;
  auto read = [&](FieldIndex field) {
    if (field == content::kAnyField || field >= 64) {
      plan.fields_read = kAllEventFields;
      plan.cacheable = false;
      return;
    }
    plan.fields_read |= FieldMask{1} << field;
    if (field != file_field) plan.cacheable = false;
  };
  for (const content::Rule& rule : rules) {
    if (rule.event_type != type) continue;
    plan.has_rules = true;
    for (const content::Atom& atom : rule.atoms) {
      read(atom.field);
      if (atom.op == content::AtomOp::kFieldRef) read(atom.ref_field);
    }
  }
  return plan;
}

// ---------------------------------------------------------------- LatencyHistogram

size_t LatencyHistogram::Bucket(uint64_t us) {
  if (us < kLinear) return static_cast<size_t>(us);
  const unsigned e = 63u - static_cast<unsigned>(std::countl_zero(us));  // >= 4
  if (e >= 4 + kOctaves) return kBuckets - 1;
  const size_t sub = static_cast<size_t>((us >> (e - 3)) & (kSub - 1));
  return kLinear + (e - 4) * kSub + sub;
}

uint64_t LatencyHistogram::BucketMiddle(size_t bucket) {
  if (bucket < kLinear) return bucket;
  if (bucket >= kBuckets - 1) return uint64_t{1} << (4 + kOctaves);
  const size_t e = (bucket - kLinear) / kSub + 4;
  const uint64_t sub = (bucket - kLinear) % kSub;
  const uint64_t width = uint64_t{1} << (e - 3);
  return (uint64_t{1} << e) + sub * width + width / 2;
}

void LatencyHistogram::Record(uint64_t us) { buckets_[Bucket(us)].fetch_add(1, std::memory_order_relaxed); }

uint64_t LatencyHistogram::count() const {
  uint64_t n = 0;
  for (const auto& b : buckets_) n += b.load(std::memory_order_relaxed);
  return n;
}

uint64_t LatencyHistogram::Quantile(double q) const {
  uint64_t counts[kBuckets];
  uint64_t total = 0;
  for (size_t i = 0; i < kBuckets; ++i) total += counts[i] = buckets_[i].load(std::memory_order_relaxed);
  if (total == 0) return 0;
  const double want = std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(total));
  const uint64_t target = std::max<uint64_t>(1, static_cast<uint64_t>(want));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts[i];
    if (seen >= target) return BucketMiddle(i);
  }
  return BucketMiddle(kBuckets - 1);
}

// ---------------------------------------------------------------- PendingPermissions

PendingPermissions::PendingPermissions(size_t capacity) : ring_(capacity == 0 ? 1 : capacity) {}

uint64_t PendingPermissions::Add(const Entry& entry) {
  const uint64_t id = next_id_++;
  Entry& e = ring_[Slot(id)];
  e = entry;
  e.taken = false;
  return id;
}

const PendingPermissions::Entry* PendingPermissions::Take(uint64_t id) {
  if (id < head_id_ || id >= next_id_) return nullptr;
  Entry& e = ring_[Slot(id)];
  if (e.taken) return nullptr;
  e.taken = true;
  return &e;
}

bool PendingPermissions::NextDeadline(int64_t* deadline_ns) {
  PopTaken();
  if (head_id_ == next_id_) return false;
  *deadline_ns = ring_[Slot(head_id_)].deadline_ns;
  return true;
}

void PendingPermissions::PopTaken() {
  while (head_id_ != next_id_ && ring_[Slot(head_id_)].taken) ++head_id_;
}

// ---------------------------------------------------------------- Responder

struct Responder::Policy {
  std::shared_ptr<const engine::Engine> engine;  // null: nothing blocks
  uint64_t generation = 0;
  DecisionPlan plan[kPermissionKinds];
  bool cache[kPermissionKinds] = {false, false};  // verdict cache in use for the kind
  // The responder thread may decide the kind itself: its rules read only the
  // file's path (no /proc read, no wait on the acting process) and no slow
  // decision is injected.
  bool inline_ok[kPermissionKinds] = {false, false};
};

struct Responder::Request {
  uint64_t id = 0;
  PermissionKind kind = PermissionKind::kExec;
  bool wake_only = false;  // Stop's nudge to a waiting evaluator
  int32_t pid = 0;
  int64_t deadline_ns = 0;
  uint64_t time_ns = 0;
  std::string path;
};

struct Responder::Counters {
  std::atomic<uint64_t> events{0}, allowed{0}, denied{0}, allowed_own{0}, allowed_excluded{0},
      allowed_unevaluated{0}, deadline_missed{0}, queue_full{0}, late_verdicts{0}, skipped_late{0},
      cache_marks{0}, cache_marks_total{0}, cache_flushes{0}, kernel_overflows{0}, errors{0}, loops{0},
      max_latency_ns{0}, decisions{0}, open_prefetched{0}, inline_allowed{0}, inline_disabled{0};
};

namespace {
inline void Bump(std::atomic<uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }
}  // namespace

Responder::Responder(ResponderOptions options, ResponderCallbacks callbacks)
    : options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      builder_(Schema::Builtin(), options_.proc_root),
      pending_(PendingCapacity(options_)),
      inline_builder_(Schema::Builtin(), options_.proc_root),
      counters_(std::make_unique<Counters>()) {
  // Made here so SetEngine can always signal it: it lives as long as the object.
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  policy_.store(MakePolicy(nullptr, 0));
}

Responder::~Responder() {
  Stop();
  if (wake_fd_ >= 0) close(wake_fd_);
}

std::shared_ptr<const Responder::Policy> Responder::MakePolicy(std::shared_ptr<const engine::Engine> engine,
                                                             uint64_t generation) const {
  auto policy = std::make_shared<Policy>();
  policy->generation = generation;
  if (engine && engine->schema().hash() != Schema::Builtin().hash()) {
    LogError("permission responder: the blocking engine was built for another schema: nothing is blocked");
    engine = nullptr;
  }
  for (size_t k = 0; k < kPermissionKinds; ++k) {
    const auto kind = static_cast<PermissionKind>(k);
    DecisionPlan plan{.has_rules = false, .fields_read = 0, .cacheable = true};
    if (engine && builder_.usable(kind)) {
      plan = PlanDecisions(engine->rules(), builder_.event_type(kind), builder_.file_field(kind));
    }
    policy->plan[k] = plan;
    policy->cache[k] = options_.verdict_cache && plan.cacheable;
    policy->inline_ok[k] =
        engine && plan.has_rules && plan.cacheable && InjectedDecisionDelay(engine->rules()).count() == 0;
  }
  policy->engine = std::move(engine);
  return policy;
}

void Responder::SetEngine(std::shared_ptr<const engine::Engine> engine) {
  {
    std::lock_guard<std::mutex> lock(engine_mu_);
    ++generation_;
    policy_.store(MakePolicy(std::move(engine), generation_), std::memory_order_release);
  }
  // The responder flushes the cache when it sees the new generation.
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
  }
}

Status Responder::Start() {
  if (started_) return Status(Code::kInvalidArgument, "permission responder: already started");
  if (wake_fd_ < 0) return Status(Code::kIo, "permission responder: eventfd: " + ErrnoText(errno));
  Status s = Attach();
  if (!s.ok()) {
    CloseAll();
    return s;
  }
  started_ = true;
  stopping_.store(false);
  responder_thread_ = std::thread([this] { RunResponder(); });
  evaluator_thread_ = std::thread([this] { RunEvaluator(); });
  return Status::Ok();
}

Status Responder::Attach() {
  if (options_.marks.empty()) return Status(Code::kInvalidArgument, "permission responder: no mark paths configured");
  for (const FanotifyMark& m : options_.marks) {
    if (m.scope == MarkScope::kInode) {
      return Status(Code::kInvalidArgument,
                    "permission responder: " + m.path +
                        ": inode marks are not supported (flushing the verdict cache removes every inode mark "
                        "of the group); mark the mount or the filesystem");
    }
  }
  if (!options_.exec && !options_.open) {
    return Status(Code::kInvalidArgument, "permission responder: neither exec nor open is enabled");
  }
  const int64_t deadline_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.deadline).count();
  if (deadline_ns <= 0 || deadline_ns > kMaxDeadlineNs) {
    return Status(Code::kInvalidArgument, "permission responder: deadline must be in (0, 10 s]");
  }
  deadline_ns_ = deadline_ns;
  if (options_.queue_capacity == 0 || options_.queue_capacity > kMaxQueueCapacity) {
    return Status(Code::kInvalidArgument, "permission responder: queue_capacity must be in [1, 1048576]");
  }
  if (options_.max_cache_marks == 0) {
    return Status(Code::kInvalidArgument, "permission responder: max_cache_marks must be at least 1");
  }
  if (Status s = EnsureFdBudget(pending_.capacity()); !s.ok()) return s;

  fan_fd_ = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
  if (fan_fd_ < 0) {
    return sources::fanotify::FanotifyInitError(
        errno, "kernel lacks fanotify permission events (CONFIG_FANOTIFY_ACCESS_PERMISSIONS)",
        "the fanotify permission responder");
  }
  perm_mask_ = (options_.exec ? FAN_OPEN_EXEC_PERM : 0) | (options_.open ? FAN_OPEN_PERM : 0);
  for (const FanotifyMark& m : options_.marks) {
    const unsigned flags = FAN_MARK_ADD | (m.scope == MarkScope::kMount ? FAN_MARK_MOUNT : FAN_MARK_FILESYSTEM);
    if (fanotify_mark(fan_fd_, flags, perm_mask_, AT_FDCWD, m.path.c_str()) != 0) {
      return MarkError(errno, m.path, options_.exec);
    }
  }

  // Every decision reads the event fd's path below it: without /proc no
  // path could be read and every event would be allowed unevaluated.
  self_fd_dir_ = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (self_fd_dir_ < 0) {
    return Status(Code::kUnsupported,
                  "permission responder: /proc/self/fd: " + ErrnoText(errno) + " (event paths are read through /proc)");
  }
  own_pids_ = options_.allowed_pids;
  own_pids_.push_back(getpid());
  const size_t capacity = pending_.capacity();
  slots_ = std::make_unique<std::atomic<uint64_t>[]>(capacity);
  for (size_t i = 0; i < capacity; ++i) slots_[i].store(SlotWord(0, 0, kCodeExpired));
  verdict_ids_.clear();
  verdict_ids_.reserve(2 * capacity);
  verdict_ids_local_.clear();
  verdict_ids_local_.reserve(2 * capacity);
  requests_ = std::make_unique<BoundedQueue<Request>>(options_.queue_capacity);
  request_ = std::make_unique<Request>();
  request_->path.reserve(PATH_MAX);
  read_buffer_.reset(new uint8_t[kReadBytes]);
  cache_generation_ = policy_.load()->generation;
  return Status::Ok();
}

void Responder::CloseAll() {
  if (self_fd_dir_ >= 0) {
    close(self_fd_dir_);
    self_fd_dir_ = -1;
  }
  if (fan_fd_ >= 0) {
    close(fan_fd_);  // the last reference: the kernel allows what it held and drops every mark
    fan_fd_ = -1;
  }
}

void Responder::Stop() {
  if (!started_) return;
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopping_.store(true);
  }
  stop_cv_.notify_all();
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  Request nudge;
  nudge.wake_only = true;
  (void)requests_->TryPush(std::move(nudge));  // a full queue wakes the evaluator anyway
  responder_thread_.join();  // answers what is pending, closes the group
  evaluator_thread_.join();
  CloseAll();
  started_ = false;
}

ResponderStats Responder::stats() const {
  const Counters& c = *counters_;
  auto get = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  ResponderStats s;
  s.allowed = get(c.allowed);
  s.denied = get(c.denied);
  s.events = get(c.events);
  s.allowed_own = get(c.allowed_own);
  s.allowed_excluded = get(c.allowed_excluded);
  s.allowed_unevaluated = get(c.allowed_unevaluated);
  s.deadline_missed = get(c.deadline_missed);
  s.queue_full = get(c.queue_full);
  s.late_verdicts = get(c.late_verdicts);
  s.skipped_late = get(c.skipped_late);
  s.cache_marks = get(c.cache_marks);
  s.cache_marks_total = get(c.cache_marks_total);
  s.cache_flushes = get(c.cache_flushes);
  s.kernel_overflows = get(c.kernel_overflows);
  s.errors = get(c.errors);
  s.loops = get(c.loops);
  s.pending = s.events >= s.allowed + s.denied ? s.events - s.allowed - s.denied : 0;
  s.max_response_latency_us = get(c.max_latency_ns) / 1000;
  s.decisions = get(c.decisions);
  s.open_prefetched = get(c.open_prefetched);
  s.inline_allowed = get(c.inline_allowed);
  s.inline_disabled = get(c.inline_disabled);
  s.decision_p50_us = decision_latency_.Quantile(0.50);
  s.decision_p99_us = decision_latency_.Quantile(0.99);
  std::shared_ptr<const Policy> policy = policy_.load();
  s.cache_exec = policy->cache[static_cast<size_t>(PermissionKind::kExec)];
  s.cache_open = policy->cache[static_cast<size_t>(PermissionKind::kOpen)];
  s.engine_generation = policy->generation;
  return s;
}

// ---------------------------------------------------------------- responder thread

void Responder::RunResponder() {
  std::shared_ptr<const Policy> policy;
  bool readable_stream = true;
  while (!stopping_.load(std::memory_order_acquire)) {
    Bump(counters_->loops);
    policy = policy_.load(std::memory_order_acquire);
    if (policy->generation != cache_generation_) {
      // New content: allows decided by the old rules may not hold any more.
      FlushCache();
      cache_generation_ = policy->generation;
    }

    int64_t now = MonoNs();
    int64_t sleep_ns = kMaxSleepNs;
    int64_t next = 0;
    if (pending_.NextDeadline(&next)) sleep_ns = std::clamp<int64_t>(next - now, 0, kMaxSleepNs);
    // With no room for a whole read, leave events in the kernel's queue until
    // deadlines or verdicts free some: every event read costs an fd.
    const bool room = pending_.capacity() - pending_.size() >= kMaxEventsPerRead;
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {room ? fan_fd_ : -1, POLLIN, 0}};
    timespec ts{static_cast<time_t>(sleep_ns / 1'000'000'000), static_cast<long>(sleep_ns % 1'000'000'000)};
    const int ready = ppoll(fds, 2, &ts, nullptr);
    if (ready < 0 && errno != EINTR) {
      Bump(counters_->errors);
      LogError("permission responder: ppoll: {}", ErrnoText(errno));
    }
    if (ready > 0 && (fds[0].revents & POLLIN)) {
      uint64_t count = 0;
      (void)!read(wake_fd_, &count, sizeof(count));
    }
    // Verdicts first: they answer events sooner than anything else can.
    {
      std::lock_guard<std::mutex> lock(verdict_mu_);
      verdict_ids_local_.swap(verdict_ids_);
    }
    if (!verdict_ids_local_.empty()) ApplyVerdicts(*policy, verdict_ids_local_);
    if (ready > 0 && (fds[1].revents & POLLIN) && !ReadEvents(*policy)) {
      readable_stream = false;
      break;
    }
    ExpireDeadlines(*policy, MonoNs());
  }

  // Stop (or an unreadable stream): answer everything held. A verdict the
  // evaluator already settled stands; the rest is allowed.
  if (!policy) policy = policy_.load();
  pending_.TakeExpired(INT64_MAX, [&](uint64_t id, const PendingPermissions::Entry& e) {
    uint64_t expected = SlotWord(id, 0, kCodePending);
    if (slots_[pending_.Slot(id)].compare_exchange_strong(expected, SlotWord(id, 0, kCodeExpired),
                                                           std::memory_order_acq_rel)) {
      Answer(e, true, false);
    } else {
      ApplySlot(*policy, id, e, expected);
    }
  });
  if (!readable_stream) {
    LogError("permission responder: the event stream cannot be read: closing the group (the kernel allows "
             "everything it still holds); nothing is blocked until restart");
  }
  close(fan_fd_);  // the kernel allows whatever is still queued and removes every mark
  fan_fd_ = -1;
}

bool Responder::ReadEvents(const Policy& policy) {
  for (int i = 0; i < kMaxReadsPerLoop; ++i) {
    if (pending_.capacity() - pending_.size() < kMaxEventsPerRead) break;
    const ssize_t n = read(fan_fd_, read_buffer_.get(), kReadBytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      // EMFILE/ENFILE: the kernel could not give us an fd and has already
      // denied that event itself. Nothing to answer; say it loudly.
      Bump(counters_->errors);
      LogError("permission responder: read: {}", ErrnoText(errno));
      break;
    }
    if (n == 0) break;
    std::span<const uint8_t> rest(read_buffer_.get(), static_cast<size_t>(n));
    while (!rest.empty()) {
      sources::fanotify::ParsedEvent ev;
      const sources::fanotify::ParseStep step = sources::fanotify::ParseEvent(rest, &ev);
      if (step.status == sources::fanotify::ParseStatus::kBadStream) {
        Bump(counters_->errors);
        return false;  // the fds in the rest of the buffer cannot be found: only closing the group frees them
      }
      rest = rest.subspan(step.consumed);
      if (ev.pidfd >= 0) close(ev.pidfd);  // not asked for; never expected
      if (step.status == sources::fanotify::ParseStatus::kBadEvent) Bump(counters_->errors);
      if (ev.mask & FAN_Q_OVERFLOW) {
        Bump(counters_->kernel_overflows);  // the kernel allowed the events it could not queue
        continue;
      }
      if (ev.fd < 0) continue;
      if ((ev.mask & (FAN_OPEN_PERM | FAN_OPEN_EXEC_PERM)) == 0) {
        close(ev.fd);
        continue;
      }
      HandleEvent(policy, ev.fd, ev.pid, ev.mask);
    }
  }
  return true;
}

void Responder::HandleEvent(const Policy& policy, int fd, int32_t pid, uint64_t mask) {
  const int64_t read_ns = MonoNs();
  PendingPermissions::Entry entry;
  entry.fd = fd;
  entry.pid = pid;
  entry.kind = (mask & FAN_OPEN_EXEC_PERM) ? PermissionKind::kExec : PermissionKind::kOpen;
  entry.read_ns = read_ns;
  entry.deadline_ns = read_ns + deadline_ns_;
  Bump(counters_->events);

  if (OwnPid(pid)) {
    Bump(counters_->allowed_own);
    Answer(entry, true, false);
    return;
  }
  // The file's path, as seen from our mount namespace: one lookup below our
  // own /proc/<pid>/fd instead of four for /proc/self/fd/N (bench/enforce/
  // path_bench.cc).
  char name[16];
  *std::to_chars(name, name + sizeof(name) - 1, fd).ptr = '\0';
  Request& req = *request_;
  req.path.resize(PATH_MAX);
  const ssize_t n = readlinkat(self_fd_dir_, name, req.path.data(), req.path.size());
  if (n <= 0 || static_cast<size_t>(n) >= req.path.size() || req.path[0] != '/') {
    Bump(counters_->allowed_unevaluated);
    Answer(entry, true, false);
    return;
  }
  req.path.resize(static_cast<size_t>(n));
  if (std::string_view(req.path).ends_with(kDeletedSuffix)) {
    // Unlinked but open (exec through /proc/self/fd, execveat): the name it had.
    struct stat st {};
    if (fstat(fd, &st) == 0 && st.st_nlink == 0) req.path.resize(req.path.size() - kDeletedSuffix.size());
  }
  if (NeverBlock(req.path)) {
    Bump(counters_->allowed_excluded);
    Answer(entry, true, false);
    return;
  }
  const size_t k = static_cast<size_t>(entry.kind);
  if (!policy.plan[k].has_rules) {
    Bump(counters_->allowed_unevaluated);
    Answer(entry, true, policy.cache[k] && policy.generation == cache_generation_);
    return;
  }
  if (policy.inline_ok[k] && inline_off_generation_ != policy.generation) {
    bool open_too = false;
    if (AllowedInline(policy, entry.kind, pid, req.path, &open_too)) {
      const bool current = policy.generation == cache_generation_;
      bool cache = policy.cache[k] && current;
      if (open_too && current) {
        PrefetchOpen(fd, cache);  // the exec's own mark with it, in one call
        cache = false;
      }
      const int64_t answered_ns = Answer(entry, true, cache);
      Bump(counters_->inline_allowed);
      Bump(counters_->decisions);
      decision_latency_.Record(static_cast<uint64_t>(std::max<int64_t>(0, answered_ns - read_ns)) / 1000);
      return;
    }
    // A match (or no event): the evaluator decides, reads the whole context
    // for the alert and calls on_block, as for every other decision.
  }
  if (pending_.full()) {  // cannot happen while reads wait for room; kept as a guard
    Bump(counters_->queue_full);
    Answer(entry, true, false);
    Health(ResponderHealthEvent::What::kQueueFull, entry.kind, pid, counters_->queue_full.load());
    return;
  }
  const uint64_t id = pending_.Add(entry);
  slots_[pending_.Slot(id)].store(SlotWord(id, 0, kCodePending), std::memory_order_release);
  req.id = id;
  req.kind = entry.kind;
  req.wake_only = false;
  req.pid = pid;
  req.deadline_ns = entry.deadline_ns;
  req.time_ns = RealtimeNs();
  if (!requests_->TryPush(std::move(req))) {
    // Nobody else knows the id: the slot needs no settling.
    slots_[pending_.Slot(id)].store(SlotWord(id, 0, kCodeExpired), std::memory_order_relaxed);
    const PendingPermissions::Entry* held = pending_.Take(id);
    Bump(counters_->queue_full);
    Answer(*held, true, false);
    Health(ResponderHealthEvent::What::kQueueFull, entry.kind, pid, counters_->queue_full.load());
  }
}

void Responder::ApplyVerdicts(const Policy& policy, std::vector<uint64_t>& ids) {
  for (uint64_t id : ids) {
    const PendingPermissions::Entry* e = pending_.Take(id);
    if (e == nullptr) continue;  // answered at its deadline with this very verdict
    ApplySlot(policy, id, *e, slots_[pending_.Slot(id)].load(std::memory_order_acquire));
  }
  ids.clear();
}

// `word` is the settled slot of `id`: the evaluator's verdict.
void Responder::ApplySlot(const Policy& policy, uint64_t id, const PendingPermissions::Entry& entry, uint64_t word) {
  const uint64_t code = SlotCode(word);
  if (SlotId(word) != MaskedId(id) || (code != kCodeAllow && code != kCodeDeny)) {
    // Not ours (cannot happen: only this thread reuses slots). Fail open.
    Bump(counters_->errors);
    Answer(entry, true, false);
    return;
  }
  const bool allow = code == kCodeAllow;
  const size_t k = static_cast<size_t>(entry.kind);
  // Only verdicts of the rules the cache currently holds may be cached.
  const bool current = policy.generation == cache_generation_ && SlotGen(word) == (cache_generation_ & kGenMask);
  bool cache = allow && policy.cache[k] && current;
  if (allow && (word & kOpenAllowedBit) != 0 && entry.kind == PermissionKind::kExec &&
      policy.cache[static_cast<size_t>(PermissionKind::kOpen)] && current) {
    PrefetchOpen(entry.fd, cache);
    cache = false;
  }
  const int64_t answered_ns = Answer(entry, allow, cache);
  Bump(counters_->decisions);
  decision_latency_.Record(static_cast<uint64_t>(std::max<int64_t>(0, answered_ns - entry.read_ns)) / 1000);
}

void Responder::ExpireDeadlines(const Policy& policy, int64_t now_ns) {
  pending_.TakeExpired(now_ns, [&](uint64_t id, const PendingPermissions::Entry& e) {
    uint64_t expected = SlotWord(id, 0, kCodePending);
    if (slots_[pending_.Slot(id)].compare_exchange_strong(expected, SlotWord(id, 0, kCodeExpired),
                                                           std::memory_order_acq_rel)) {
      const uint64_t total = counters_->deadline_missed.fetch_add(1, std::memory_order_relaxed) + 1;
      Answer(e, true, false);
      Health(ResponderHealthEvent::What::kDeadlineMissed, e.kind, e.pid, total);
    } else {
      ApplySlot(policy, id, e, expected);  // the verdict won the race: it stands
    }
  });
}

int64_t Responder::Answer(const PendingPermissions::Entry& entry, bool allow, bool cache) {
  fanotify_response response{};
  response.fd = entry.fd;
  response.response = allow ? FAN_ALLOW : FAN_DENY;
  ssize_t n;
  do {
    n = write(fan_fd_, &response, sizeof(response));
  } while (n < 0 && errno == EINTR);
  const int64_t answered_ns = MonoNs();
  // ENOENT: the process was killed while it waited; nothing is left to answer.
  if (n != static_cast<ssize_t>(sizeof(response))) Bump(counters_->errors);
  if (allow && cache) AddIgnoreMark(entry.fd, KindBit(entry.kind));
  close(entry.fd);
  Bump(allow ? counters_->allowed : counters_->denied);
  const uint64_t latency = static_cast<uint64_t>(std::max<int64_t>(0, answered_ns - entry.read_ns));
  uint64_t seen = counters_->max_latency_ns.load(std::memory_order_relaxed);
  while (latency > seen &&
         !counters_->max_latency_ns.compare_exchange_weak(seen, latency, std::memory_order_relaxed)) {
  }
  return answered_ns;
}

// execve checks the file for exec, then for open: with the open decided too
// (and cacheable), its ignore mark goes in before the exec is answered, so
// the second check stays in the kernel: one round trip per exec, not two.
// The exec's own ignore mark, when it is cached, goes in the same call.
void Responder::PrefetchOpen(int fd, bool cache_exec) {
  AddIgnoreMark(fd, FAN_OPEN_PERM | (cache_exec ? FAN_OPEN_EXEC_PERM : 0));
  Bump(counters_->open_prefetched);
}

void Responder::AddIgnoreMark(int fd, uint64_t mask) {
  if (counters_->cache_marks.load(std::memory_order_relaxed) >= options_.max_cache_marks) FlushCache();
  // No FAN_MARK_IGNORED_SURV_MODIFY: the kernel drops the ignore mask as soon
  // as the file is modified, and the next open/exec is decided again.
  if (fanotify_mark(fan_fd_, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK, mask, fd, nullptr) == 0) {
    Bump(counters_->cache_marks);
    Bump(counters_->cache_marks_total);
    return;
  }
  Bump(counters_->errors);
  if (errno == ENOSPC) FlushCache();  // fs.fanotify.max_user_marks: start again
}

void Responder::FlushCache() {
  if (counters_->cache_marks.load(std::memory_order_relaxed) == 0) return;
  // FAN_MARK_FLUSH without MOUNT/FILESYSTEM removes the group's inode marks
  // only, which are all ignore marks: the configured marks stay.
  if (fanotify_mark(fan_fd_, FAN_MARK_FLUSH, 0, AT_FDCWD, nullptr) != 0) {
    Bump(counters_->errors);
    LogError("permission responder: flushing the verdict cache: {}", ErrnoText(errno));
    return;
  }
  counters_->cache_marks.store(0, std::memory_order_relaxed);
  Bump(counters_->cache_flushes);
}

void Responder::Health(ResponderHealthEvent::What what, PermissionKind kind, int32_t pid, uint64_t total) {
  if (!callbacks_.on_health) return;
  callbacks_.on_health(ResponderHealthEvent{.what = what, .kind = kind, .pid = pid, .total = total});
}

bool Responder::OwnPid(int32_t pid) const {
  return std::find(own_pids_.begin(), own_pids_.end(), pid) != own_pids_.end();
}

bool Responder::NeverBlock(std::string_view path) const {
  for (const std::string& prefix : options_.never_block_prefixes) {
    if (sources::fanotify::PathIsUnder(path, prefix)) return true;
  }
  return false;
}

// ---------------------------------------------------------------- evaluator thread

bool Responder::OpenAllowedToo(const Policy& policy, int32_t pid, const std::string& path, uint64_t time_ns,
                               PermissionContextBuilder& builder, OwnedEvent& event, engine::Engine::Scratch& scratch) {
  constexpr size_t kOpen = static_cast<size_t>(PermissionKind::kOpen);
  // Only when an allowed open would be cached anyway: the open rules read the
  // file's path alone, so this answer holds for whoever opens it next.
  if (!options_.open || !policy.cache[kOpen]) return false;
  const DecisionPlan& plan = policy.plan[kOpen];
  if (!plan.has_rules) return true;
  if (!builder.Build(PermissionKind::kOpen, pid, path, time_ns, plan.fields_read, event)) return false;
  return policy.engine->Evaluate(event.view(), scratch).empty();
}

// Responder thread. Rules that read only the file's path are decided here:
// no /proc read, no hand-off to the evaluator and back (two cross-CPU
// wake-ups, most of a decision's cost), so the caller waits for one thread
// instead of two. The price is that this thread evaluates while other events
// wait to be read; path-only rules take microseconds, and an evaluation that
// ever takes longer than the budget turns the fast path off for these rules
// (until the next SetEngine), so no deadline can be missed because of it.
bool Responder::AllowedInline(const Policy& policy, PermissionKind kind, int32_t pid, const std::string& path,
                              bool* open_too) {
  if (inline_engine_ != policy.engine) {
    inline_scratch_ = policy.engine->NewScratch();
    inline_engine_ = policy.engine;
  }
  const int64_t start_ns = MonoNs();
  const uint64_t time_ns = RealtimeNs();
  const DecisionPlan& plan = policy.plan[static_cast<size_t>(kind)];
  bool allow = inline_builder_.Build(kind, pid, path, time_ns, plan.fields_read, inline_event_) &&
               policy.engine->Evaluate(inline_event_.view(), *inline_scratch_).empty();
  if (allow && kind == PermissionKind::kExec) {
    *open_too = OpenAllowedToo(policy, pid, path, time_ns, inline_builder_, inline_event_, *inline_scratch_);
  }
  const int64_t budget_ns = std::min<int64_t>(kInlineBudgetNs, deadline_ns_ / 10);
  if (const int64_t took_ns = MonoNs() - start_ns; took_ns > budget_ns) {
    inline_off_generation_ = policy.generation;
    Bump(counters_->inline_disabled);
    LogWarning("permission responder: a path-only decision took {} us (budget {} us): the evaluator thread decides "
               "for these rules from now on",
               took_ns / 1000, budget_ns / 1000);
  }
  return allow;
}

bool Responder::PostVerdict(uint64_t id, bool allow, uint64_t generation, bool open_allowed) {
  uint64_t expected = SlotWord(id, 0, kCodePending);
  const uint64_t word =
      SlotWord(id, generation, allow ? kCodeAllow : kCodeDeny) | (allow && open_allowed ? kOpenAllowedBit : 0);
  if (!slots_[pending_.Slot(id)].compare_exchange_strong(expected, word, std::memory_order_acq_rel)) {
    Bump(counters_->late_verdicts);  // the deadline came first: the event was allowed
    return false;
  }
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(verdict_mu_);
    was_empty = verdict_ids_.empty();
    verdict_ids_.push_back(id);
  }
  // The responder takes every id it finds; only the first after a take needs a wake-up.
  if (was_empty) {
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
  }
  return true;
}

void Responder::RunEvaluator() {
  Request req;
  req.path.reserve(PATH_MAX);
  OwnedEvent event;
  std::vector<uint32_t> matches;
  matches.reserve(16);
  std::shared_ptr<const engine::Engine> scratch_engine;  // the engine `scratch` was made for
  std::unique_ptr<engine::Engine::Scratch> scratch;
  while (!stopping_.load(std::memory_order_acquire)) {
    if (!requests_->TryPop(req)) {
      requests_->WaitForItems(std::chrono::milliseconds(100));
      continue;
    }
    if (req.wake_only) continue;
    if (MonoNs() >= req.deadline_ns) {
      Bump(counters_->skipped_late);  // already allowed at its deadline (or about to be)
      continue;
    }
    std::shared_ptr<const Policy> policy = policy_.load(std::memory_order_acquire);
    const engine::Engine* engine = policy->engine.get();
    const DecisionPlan& plan = policy->plan[static_cast<size_t>(req.kind)];
    if (engine == nullptr || !plan.has_rules) {
      PostVerdict(req.id, true, policy->generation);
      continue;
    }
    if (scratch_engine.get() != engine) {
      scratch = engine->NewScratch();
      scratch_engine = policy->engine;
    }
    if (const auto delay = InjectedDecisionDelay(engine->rules()); delay.count() > 0) {
      std::unique_lock<std::mutex> lock(stop_mu_);
      if (stop_cv_.wait_for(lock, delay, [&] { return stopping_.load(); })) break;
    }
    if (!builder_.Build(req.kind, req.pid, req.path, req.time_ns, plan.fields_read, event)) {
      PostVerdict(req.id, true, policy->generation);
      continue;
    }
    std::span<const uint32_t> hits = engine->Evaluate(event.view(), *scratch);
    if (hits.empty()) {
      const bool open_too = req.kind == PermissionKind::kExec &&
                            OpenAllowedToo(*policy, req.pid, req.path, req.time_ns, builder_, event, *scratch);
      PostVerdict(req.id, true, policy->generation, open_too);
      continue;
    }
    matches.assign(hits.begin(), hits.end());
    // The alert carries the whole context: read it while the process still
    // waits for our answer (after a DENY it may exit at once).
    builder_.Build(req.kind, req.pid, req.path, req.time_ns, kAllEventFields, event);
    if (!PostVerdict(req.id, false, policy->generation)) continue;  // too late: it was allowed
    if (callbacks_.on_block) {
      for (uint32_t rule : matches) callbacks_.on_block(*engine, rule, event);
    }
  }
}

}  // namespace vigil::sensor
