// The permission responder: blocks exec and open from user space with
// fanotify permission events, and never freezes the host. Every permission
// event is answered exactly once, before its deadline; a missed deadline or a
// full queue means ALLOW, counted. Design, bounds and failure modes:
// docs/enforce.md.
//
//   ResponderOptions opt;
//   opt.marks = {{"/", MarkScope::kFilesystem}};
//   opt.exec = true;                                        // FAN_OPEN_EXEC_PERM
//   opt.never_block_prefixes = {"/usr/sbin/vigild", "/var/lib/vigil", "/etc/vigil"};
//   Responder responder(std::move(opt), {
//       .on_block = [&](const engine::Engine& e, uint32_t rule, const OwnedEvent& ev) { alert(e.rule(rule), ev); },
//       .on_health = [&](const ResponderHealthEvent& h) { count(h); }});
//   responder.SetEngine(blocking_engine);                   // only the rules with `block`
//   if (Status s = responder.Start(); !s.ok()) die(s.ToString());  // names the missing privilege/feature
//   ...
//   responder.SetEngine(new_blocking_engine);               // content reload: swap + flush the verdict cache
//   ResponderStats st = responder.stats();
//   responder.Stop();                                       // answers everything pending ALLOW, closes the group
//
// Threads. Start() runs two: the RESPONDER alone reads the fanotify group and
// alone writes responses (so each event is answered once and its fd closed
// once); the EVALUATOR builds the schema event (permission_context.h),
// evaluates the blocking engine and posts a verdict. Pending events wait in
// arrival order, which is deadline order; the responder sleeps until the next
// event, verdict or oldest deadline, whichever comes first. execve asks twice
// (exec, then open of the same file): when allowed opens are cached (open
// rules read the path alone), the evaluator decides the open with the exec
// and the responder caches it before answering, so an allowed exec costs one
// round trip, not two.
//
// Thread-safety: SetEngine, stats and Stop from any thread; Start once. The
// callbacks run on the responder's threads: on_block on the evaluator (the
// blocked operation has already been denied), on_health on the responder,
// where it delays every answer: both must be quick, must not block, and must
// never open files on a marked filesystem from another process's behalf.
// Ownership: the responder owns its group, fds and threads; the engine is a
// shared immutable snapshot.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "content/ir.h"
#include "engine/engine.h"
#include "sensor/bounded_queue.h"
#include "sensor/event_builder.h"
#include "sensor/permission_context.h"
#include "sources/fanotify/fanotify_source.h"

namespace vigil::sensor {

using sources::fanotify::FanotifyMark;
using sources::fanotify::MarkScope;

struct ResponderOptions {
  // Filesystem or mount marks (kInode is refused: the verdict cache's flush
  // removes every inode mark of the group). Production: {"/", kFilesystem};
  // tests and benchmarks: a tmpfs they mount.
  std::vector<FanotifyMark> marks;
  bool exec = true;   // FAN_OPEN_EXEC_PERM -> process_creation
  bool open = false;  // FAN_OPEN_PERM -> file_access
  // Time from reading an event to answering it; past it the answer is ALLOW.
  std::chrono::microseconds deadline{20'000};
  // Events waiting for the evaluator; when full, ALLOW at once (counted).
  size_t queue_capacity = 1024;
  // Events from these processes are allowed unevaluated; our own pid always is.
  std::vector<int32_t> allowed_pids;
  // Files under these paths (component-wise) are allowed unevaluated: vigil's
  // binaries, its content store, its configuration.
  std::vector<std::string> never_block_prefixes;
  // Kernel verdict cache (ignore marks on allowed inodes), used for a kind
  // only when its rules read nothing but the file's path (see DecisionPlan).
  bool verdict_cache = true;
  // Ignore marks added before the cache is flushed and started again.
  size_t max_cache_marks = 65536;
  std::string proc_root = "/proc";  // tests only
};

struct ResponderHealthEvent {
  enum class What : uint8_t {
    kDeadlineMissed,  // answered ALLOW at its deadline: the evaluator was too slow
    kQueueFull,       // answered ALLOW at once: the evaluator's queue was full
  };
  What what = What::kDeadlineMissed;
  PermissionKind kind = PermissionKind::kExec;
  int32_t pid = 0;
  uint64_t total = 0;  // that counter after this event
};

struct ResponderCallbacks {
  // A blocking rule matched and the operation was denied: one call per
  // matching rule, on the evaluator thread. `engine` is the one that decided
  // (SetEngine may have swapped it since). The event carries every field.
  std::function<void(const engine::Engine& engine, uint32_t rule_index, const OwnedEvent& event)> on_block;
  // A deadline was missed or the queue was full (both already answered ALLOW).
  std::function<void(const ResponderHealthEvent&)> on_health;
};

// What the blocking rules of one event type need, decided when an engine is set.
struct DecisionPlan {
  bool has_rules = false;  // false: every event of the kind is allowed without evaluation
  FieldMask fields_read = 0;  // the fields any rule of the type reads (kAnyField: all)
  // Every rule reads only the file's own field (Image for exec,
  // TargetFilename for open), so a decision cannot depend on who acts and an
  // ALLOW may be cached per inode for every process.
  bool cacheable = false;
};
DecisionPlan PlanDecisions(std::span<const content::Rule> rules, EventTypeId type, FieldIndex file_field);

struct ResponderStats {
  uint64_t events = 0;            // permission events read (= allowed + denied + pending)
  uint64_t allowed = 0;           // every ALLOW, whatever the reason (the next five included)
  uint64_t denied = 0;
  uint64_t allowed_own = 0;       // from our own or an allowed pid
  uint64_t allowed_excluded = 0;  // a file under a never-block prefix
  uint64_t allowed_unevaluated = 0;  // no blocking rule for the kind, or no readable path
  uint64_t deadline_missed = 0;
  uint64_t queue_full = 0;
  uint64_t late_verdicts = 0;     // verdicts that came after their event's deadline answer
  uint64_t skipped_late = 0;      // requests the evaluator dropped: already past their deadline
  uint64_t cache_marks = 0;       // ignore marks added since the last flush
  uint64_t cache_marks_total = 0;
  uint64_t cache_flushes = 0;
  uint64_t kernel_overflows = 0;  // FAN_Q_OVERFLOW (the kernel allowed what it dropped)
  uint64_t errors = 0;            // failed responses (the process was gone), marks, reads
  uint64_t pending = 0;           // read, not yet answered
  uint64_t loops = 0;             // responder loop iterations: moves at least every 100 ms while alive
  uint64_t max_response_latency_us = 0;  // read -> answer, any answer
  uint64_t decisions = 0;         // verdicts applied in time (first decisions)
  uint64_t decision_p50_us = 0;   // read -> answer of those, estimated from a histogram (+-6%)
  uint64_t decision_p99_us = 0;
  uint64_t open_prefetched = 0;   // allowed execs whose open check was cached with them (one round trip, not two)
  uint64_t inline_allowed = 0;    // decisions (all ALLOW) made on the responder thread itself (see Responder)
  uint64_t inline_disabled = 0;   // rule sets whose inline evaluation overran its budget and was turned off
  bool cache_exec = false;        // the verdict cache is in use for exec / open
  bool cache_open = false;
  uint64_t engine_generation = 0; // SetEngine calls so far
};

// Latency histogram: 8 buckets per power of two (about 6% resolution) from
// 1 us to 2^24 us. Record from one thread, read from any.
class LatencyHistogram {
 public:
  void Record(uint64_t us);
  uint64_t count() const;
  // The q-quantile (0 < q <= 1), as the middle of its bucket; 0 when empty.
  uint64_t Quantile(double q) const;

 private:
  static constexpr size_t kLinear = 16;  // 0..15 us, one bucket each
  static constexpr size_t kSub = 8;
  static constexpr size_t kOctaves = 20;  // 2^4 .. 2^24 us
  static constexpr size_t kBuckets = kLinear + kSub * kOctaves + 1;  // + overflow
  static size_t Bucket(uint64_t us);
  static uint64_t BucketMiddle(size_t bucket);
  std::atomic<uint64_t> buckets_[kBuckets] = {};
};

// The responder's book of events read and not yet answered, in arrival (=
// deadline) order. Ids are consecutive; entry `id` lives in slot id %
// capacity. A fixed ring: no allocation after construction. Each entry is
// taken (to be answered) at most once; taken entries leave from the front.
// Thread-safety: one thread (the responder).
class PendingPermissions {
 public:
  struct Entry {
    int fd = -1;
    int32_t pid = 0;
    PermissionKind kind = PermissionKind::kExec;
    int64_t read_ns = 0;      // CLOCK_MONOTONIC
    int64_t deadline_ns = 0;  // read_ns + deadline
    bool taken = false;
  };

  explicit PendingPermissions(size_t capacity);
  // Entries held: untaken ones and taken ones behind an untaken front.
  size_t size() const { return static_cast<size_t>(next_id_ - head_id_); }
  size_t capacity() const { return ring_.size(); }
  bool full() const { return size() == ring_.size(); }
  // Adds an entry (the caller checks full() first); its id.
  uint64_t Add(const Entry& entry);
  // The entry `id` if held and not taken yet, now marked taken; nullptr for
  // an id already taken or never added.
  const Entry* Take(uint64_t id);
  // The earliest deadline of an untaken entry; false when there is none.
  bool NextDeadline(int64_t* deadline_ns);
  // Takes, oldest first, every untaken entry whose deadline is <= now_ns
  // (all of them for INT64_MAX) and calls fn(id, entry) on each.
  template <typename Fn>
  size_t TakeExpired(int64_t now_ns, Fn&& fn) {
    size_t n = 0;
    PopTaken();
    while (head_id_ != next_id_ && ring_[Slot(head_id_)].deadline_ns <= now_ns) {
      Entry& e = ring_[Slot(head_id_)];
      e.taken = true;
      fn(head_id_, static_cast<const Entry&>(e));
      ++n;
      PopTaken();
    }
    return n;
  }
  size_t Slot(uint64_t id) const { return static_cast<size_t>(id % ring_.size()); }

 private:
  void PopTaken();
  std::vector<Entry> ring_;
  uint64_t head_id_ = 0;  // oldest entry held
  uint64_t next_id_ = 0;  // id of the next Add
};

class Responder {
 public:
  explicit Responder(ResponderOptions options, ResponderCallbacks callbacks = {});
  ~Responder();  // Stop()
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;

  // Creates the group, adds the marks, starts the threads. Errors name the
  // missing privilege or kernel feature ("fanotify permission events need
  // CAP_SYS_ADMIN", "kernel lacks fanotify permission events
  // (CONFIG_FANOTIFY_ACCESS_PERMISSIONS)", "kernel lacks FAN_OPEN_EXEC_PERM
  // (needs Linux 5.0+)") or the path. A failed Start leaves nothing attached.
  Status Start();

  // Swaps the blocking engine (nullptr: nothing blocks). Events already
  // being evaluated finish on the old one; the responder flushes the verdict
  // cache before it answers anything under the new one, and verdicts of the
  // old engine are not cached. The engine's schema must be the one the
  // builder was made for (Schema::Builtin()); a mismatch blocks nothing.
  void SetEngine(std::shared_ptr<const engine::Engine> engine);

  // Answers every pending event ALLOW, closes the group (the kernel allows
  // whatever it still held), joins the threads. Idempotent.
  void Stop();

  ResponderStats stats() const;

 private:
  struct Policy;
  struct Request;
  struct Counters;

  Status Attach();
  void CloseAll();
  std::shared_ptr<const Policy> MakePolicy(std::shared_ptr<const engine::Engine> engine, uint64_t generation) const;
  // Responder thread.
  void RunResponder();
  bool ReadEvents(const Policy& policy);  // false: the stream cannot be read any more
  void HandleEvent(const Policy& policy, int fd, int32_t pid, uint64_t mask);
  void ApplyVerdicts(const Policy& policy, std::vector<uint64_t>& ids);
  void ApplySlot(const Policy& policy, uint64_t id, const PendingPermissions::Entry& entry, uint64_t slot);
  void ExpireDeadlines(const Policy& policy, int64_t now_ns);
  int64_t Answer(const PendingPermissions::Entry& entry, bool allow, bool cache);  // when the answer was written
  void AddIgnoreMark(int fd, uint64_t mask);  // FAN_OPEN_PERM and/or FAN_OPEN_EXEC_PERM
  void PrefetchOpen(int fd, bool cache_exec);
  void FlushCache();
  void Health(ResponderHealthEvent::What what, PermissionKind kind, int32_t pid, uint64_t total);
  bool OwnPid(int32_t pid) const;
  bool NeverBlock(std::string_view path) const;
  // The fast path: true when the rules allow the event without leaving this
  // thread (`*open_too`: and the open of the same file, for an exec).
  bool AllowedInline(const Policy& policy, PermissionKind kind, int32_t pid, const std::string& path, bool* open_too);
  // Evaluator thread.
  void RunEvaluator();
  // False: too late. `open_allowed`: see OpenAllowedToo.
  bool PostVerdict(uint64_t id, bool allow, uint64_t generation, bool open_allowed = false);
  // For an allowed exec: whether the open rules allow opening the same file,
  // decided now when an allowed open of it would be cached anyway.
  // `builder` and `event` are the calling thread's own.
  bool OpenAllowedToo(const Policy& policy, int32_t pid, const std::string& path, uint64_t time_ns,
                      PermissionContextBuilder& builder, OwnedEvent& event, engine::Engine::Scratch& scratch);

  ResponderOptions options_;
  ResponderCallbacks callbacks_;
  std::vector<int32_t> own_pids_;
  int fan_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: verdicts posted, engine swapped, stop
  int self_fd_dir_ = -1;  // our /proc/<pid>/fd: the responder reads event fds' paths below it
  int64_t deadline_ns_ = 0;  // options_.deadline, checked by Attach
  uint64_t perm_mask_ = 0;
  std::thread responder_thread_;
  std::thread evaluator_thread_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;

  // Made once; the evaluator builds events with it, SetEngine reads its layout.
  PermissionContextBuilder builder_;
  std::atomic<std::shared_ptr<const Policy>> policy_;
  std::mutex engine_mu_;  // serializes SetEngine (generation order)
  uint64_t generation_ = 0;

  // Responder thread only.
  PendingPermissions pending_;
  uint64_t cache_generation_ = 0;  // the policy generation whose verdicts the kernel cache holds
  std::unique_ptr<uint8_t[]> read_buffer_;
  std::unique_ptr<Request> request_;  // reused: its path buffer circulates through the queue
  std::vector<uint64_t> verdict_ids_local_;
  // The fast path's own builder, event and scratch (the evaluator has its own).
  PermissionContextBuilder inline_builder_;
  OwnedEvent inline_event_;
  std::shared_ptr<const engine::Engine> inline_engine_;  // the engine inline_scratch_ was made for
  std::unique_ptr<engine::Engine::Scratch> inline_scratch_;
  uint64_t inline_off_generation_ = ~uint64_t{0};  // the policy whose inline evaluation overran its budget

  // Responder -> evaluator.
  std::unique_ptr<BoundedQueue<Request>> requests_;
  // Evaluator -> responder. The verdict itself lives in the event's slot
  // (id, generation, code), settled by compare-and-swap: whichever of the
  // evaluator (a verdict) and the responder (the deadline) comes first wins,
  // so on_block fires only for events that really are denied. The ids list
  // only says which slots to look at.
  std::unique_ptr<std::atomic<uint64_t>[]> slots_;
  std::mutex verdict_mu_;
  std::vector<uint64_t> verdict_ids_;  // guarded by verdict_mu_; capacity = pending capacity
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;    // interrupts an injected delay

  std::unique_ptr<Counters> counters_;
  LatencyHistogram decision_latency_;
};

}  // namespace vigil::sensor
