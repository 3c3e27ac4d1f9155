#include "sensor/daemon.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "base/log.h"
#include "base/file.h"
#include "content/bundle_file.h"
#include "engine/engine.h"
#include "sensor/bounded_queue.h"
#include "sensor/enforcement.h"
#include "sensor/event_builder.h"
#include "sensor/metrics.h"
#include "sensor/owned_raw_event.h"
#include "sensor/process_table.h"
#include "sensor/responder.h"
#include "sensor/shadow.h"
#include "sensor/sinks.h"
#include "sensor/worker_content.h"
#include "sources/ebpf/ebpf_source.h"
#include "sources/fanotify/fanotify_source.h"
#include "update/agent.h"

namespace vigil::sensor {
namespace {

using Clock = std::chrono::steady_clock;
using sources::RawEvent;
using sources::RawKind;

constexpr int kPollMs = 100;

// The default bundle beside the binary in a build tree (build/bin/vigild ->
// build/share/vigil/default.vbundle).
std::string BuildTreeDefault() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  std::string exe(buf, static_cast<size_t>(n));
  size_t slash = exe.rfind('/');
  if (slash == std::string::npos) return "";
  return exe.substr(0, slash) + "/../share/vigil/default.vbundle";
}

// argv can be megabytes; the command line is cut at this many bytes, as the
// eBPF source cuts it in the kernel.
constexpr size_t kMaxProcFileBytes = 64 << 10;

bool ReadSmallFile(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.resize(kMaxProcFileBytes);
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<size_t>(in.gcount()));
  return true;
}

// Degraded mode: fanotify's exec notification arrives while execve is still
// loading the program. Wait (bounded) until /proc/<pid>/exe shows it, then
// read argv, cwd and the parent from /proc. Best effort, documented in
// docs/vigild.md: a process that exits at once keeps only its image.
struct ExecEnrichment {
  std::string command_line, cwd;
};

void EnrichExecFromProc(RawEvent& ev, ExecEnrichment& buf) {
  const std::string base = "/proc/" + std::to_string(ev.pid);
  char path[PATH_MAX];
  // Up to 10 ms: /proc/<pid>/exe may fail to read or still show the old
  // program while execve swaps the memory map.
  for (int attempt = 0; attempt < 100; ++attempt) {
    ssize_t n = ::readlink((base + "/exe").c_str(), path, sizeof(path) - 1);
    if (n > 0 && std::string_view(path, static_cast<size_t>(n)) == ev.image) break;
    if (n < 0 && ::access(base.c_str(), F_OK) != 0) return;  // the process is gone
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  if (ReadSmallFile(base + "/cmdline", buf.command_line)) {
    std::string& cmdline = buf.command_line;
    while (!cmdline.empty() && cmdline.back() == '\0') cmdline.pop_back();
    for (char& c : cmdline) {
      if (c == '\0') c = ' ';
    }
    ev.command_line = cmdline;
  }
  ssize_t n = ::readlink((base + "/cwd").c_str(), path, sizeof(path) - 1);
  if (n > 0) {
    buf.cwd.assign(path, static_cast<size_t>(n));
    ev.cwd = buf.cwd;
  }
  std::ifstream status(base + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("PPid:", 0) == 0) ev.ppid = std::atoi(line.c_str() + 5);
    if (line.rfind("Uid:", 0) == 0) ev.uid = static_cast<uint32_t>(std::strtoul(line.c_str() + 4, nullptr, 10));
    if (line.rfind("Gid:", 0) == 0) ev.gid = static_cast<uint32_t>(std::strtoul(line.c_str() + 4, nullptr, 10));
  }
}

bool IsFileEvent(RawKind k) {
  return k == RawKind::kFileCreate || k == RawKind::kFileCloseWrite || k == RawKind::kFileRename ||
         k == RawKind::kFileDelete || k == RawKind::kFileOpen;
}

uint64_t RealtimeNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// File events wait here for kFileEventDelay before evaluation. The sources run
// on separate threads, so a file event can reach the queue before the eBPF
// exec of the process that caused it; a short delay lets the process table
// learn about the actor first. A fixed ring: when it is full the oldest event
// is evaluated early rather than dropped.
constexpr uint64_t kFileEventDelayNs = 20'000'000;
constexpr size_t kDelayLineSlots = 4096;

class DelayLine {
 public:
  explicit DelayLine(size_t capacity) : slots_(capacity) {}
  bool full() const { return size_ == slots_.size(); }
  bool empty() const { return size_ == 0; }
  // Swaps `e` in; the caller gets a stale object back.
  void Push(OwnedRawEvent& e) {
    std::swap(slots_[(head_ + size_) % slots_.size()], e);
    ++size_;
  }
  const OwnedRawEvent& front() const { return slots_[head_]; }
  void Pop(OwnedRawEvent& out) {
    std::swap(out, slots_[head_]);
    head_ = (head_ + 1) % slots_.size();
    --size_;
  }

 private:
  std::vector<OwnedRawEvent> slots_;
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace

struct Daemon::Impl {
  Config config;
  std::string host;
  Metrics metrics;
  std::unique_ptr<MetricsServer> metrics_server;

  // Content: the evaluation thread picks up a new engine when `generation`
  // moves; the swap happens between two events, so none is lost.
  std::mutex engine_mu;
  std::shared_ptr<const engine::Engine> engine;
  std::atomic<uint64_t> generation{0};
  std::unique_ptr<WorkerContent> content;
  std::optional<StoreLock> store_lock;  // standalone only
  DaemonOptions options;

  // Shadow evaluation. The main thread publishes a candidate engine (moving
  // shadow_generation); the evaluation thread runs it beside the active one
  // and posts the verdict when the window ends; the main thread acts on it.
  std::mutex shadow_mu;
  std::shared_ptr<const engine::Engine> shadow_engine;  // guarded by shadow_mu
  uint64_t shadow_version = 0;                           // guarded by shadow_mu
  std::atomic<uint64_t> shadow_generation{0};
  std::optional<ShadowVerdict> shadow_verdict;           // guarded by shadow_mu
  std::optional<LoadedContent> candidate;                // main thread only

  // The update agent and what it delivered, for the main thread to store and
  // shadow-evaluate.
  std::unique_ptr<update::UpdateAgent> agent;
  std::mutex update_mu;
  std::optional<std::string> pending_update;   // guarded by update_mu
  std::atomic<uint64_t> offered_version{0};     // delivered, not yet in the store
  std::string logged_update_error;              // main thread only

  // Liveness for the supervisor's heartbeat: the evaluation thread moves this
  // every loop (at least every kPollMs when idle).
  std::atomic<uint64_t> eval_ticks{0};

  // Enforcement ([enforce], docs/enforce.md): the permission responder, fed
  // the blocking rules of whatever content runs. Null when not enforcing.
  std::unique_ptr<Responder> responder;
  ResponderStats enforce_logged;  // main thread: what the health log has reported

  std::vector<std::unique_ptr<sources::EventSource>> sources;
  std::vector<bool> source_degraded_exec;  // per source: fanotify exec events needing /proc enrichment
  bool degraded = false;

  BoundedQueue<OwnedRawEvent> raw_queue;
  BoundedQueue<std::string> alert_queue;
  std::vector<std::unique_ptr<Sink>> sinks;
  FILE* record = nullptr;

  std::atomic<bool> stop{false};
  std::atomic<bool> reload{false};

  // Metrics the threads update directly.
  std::vector<Counter*> events_by_type;
  Counter* events_excluded = nullptr;
  Counter* events_unbuilt = nullptr;
  Counter* alerts_total = nullptr;
  Counter* alerts_dropped = nullptr;
  Histogram* eval_latency = nullptr;
  std::vector<Counter*> source_pushed, source_dropped;  // per source, at the raw queue

  Impl(Config c)
      : config(std::move(c)), raw_queue(config.source_queue), alert_queue(config.alert_queue) {}

  ~Impl() {
    if (record != nullptr) std::fclose(record);
  }

  Status LoadInitialContent();
  Status ReloadContent();
  void SetEngine(const LoadedContent& c);
  void BeginShadow();
  void FinishShadow();
  void StartUpdateAgent();
  void TakeUpdate();
  void UpdateMetrics();
  void Report(const std::string& line) {
    if (options.report) options.report(line);
  }
  Status StartSources();
  void StartEnforcement();
  void SetBlockingRules(const engine::Engine& content_engine);
  void OnBlock(const engine::Engine& blocking, uint32_t rule_index, const OwnedEvent& event);
  void EnforcementMetrics();
  Status OpenSinks();
  void RegisterMetrics();
  void RefreshMetrics();
  void SourceLoop(size_t index);
  void EvalLoop();
  void SinkLoop();
};

void Daemon::Impl::SetEngine(const LoadedContent& c) {
  const auto& info = c.engine->info();
  {
    std::lock_guard<std::mutex> lock(engine_mu);
    engine = c.engine;
  }
  generation.fetch_add(1, std::memory_order_release);
  // The responder swaps to the new content's blocking rules and flushes its
  // verdict cache: an allow of the old content may not hold under the new.
  if (responder) SetBlockingRules(*c.engine);
  metrics.AddGauge("vigil_content_version", "Content version of the running bundle")
      .Set(static_cast<double>(info.content_version));
  for (ContentLevel l : {ContentLevel::kPath, ContentLevel::kActive, ContentLevel::kLkg, ContentLevel::kDefault, ContentLevel::kBuiltin}) {
    metrics
        .AddGauge("vigil_content_level", "1 for the level the running content came from (docs/supervisor.md)",
                  {{"level", std::string(ContentLevelName(l))}})
        .Set(l == c.level ? 1.0 : 0.0);
  }
}

Status Daemon::Impl::LoadInitialContent() {
  std::unique_ptr<ContentStore> store;
  if (!config.store_path.empty()) {
    Result<ContentStore> opened = ContentStore::Open(PosixStoreFs(), config.store_path, /*create=*/true);
    if (opened && options.standalone) {
      // Without a supervisor, this process is the store's one writer.
      Result<StoreLock> lock = ContentStore::Lock(config.store_path);
      if (lock) {
        store_lock.emplace(std::move(*lock));
      } else {
        opened = Error(lock.error());
      }
    }
    if (opened) {
      store = std::make_unique<ContentStore>(std::move(*opened));
    } else {
      LogError("content store: {}; running without it (no updates, no last-known-good)", opened.error().ToString());
      metrics.AddCounter("vigil_content_store_errors_total", "Content store failures").Add();
    }
  }
  std::optional<update::TrustRoot> trust;
  if (!config.trust_root_path.empty() && ::access(config.trust_root_path.c_str(), F_OK) != 0 && errno == ENOENT) {
    LogWarning("trust root {}: not installed; content from the store and updates are refused",
               config.trust_root_path);
  } else if (!config.trust_root_path.empty()) {
    Result<update::TrustRoot> root = update::LoadTrustRoot(config.trust_root_path);
    if (root) {
      trust = std::move(*root);
    } else {
      LogError("trust root {}: {}; content from the store and updates are refused", config.trust_root_path,
               root.error().ToString());
    }
  }
  WorkerContentOptions opt;
  opt.content_path = config.content_path;
  opt.default_content_path = config.default_content_path;
  opt.build_tree_default = BuildTreeDefault();
  opt.skip_levels = options.skip_levels;
  opt.health_window_seconds = config.health_window_seconds;
  content = std::make_unique<WorkerContent>(std::move(opt), std::move(store), std::move(trust),
                                            [this](const std::string& line) { Report(line); });
  Result<LoadedContent> c = content->LoadInitial();
  if (!c) return c.error();
  if (c->level != ContentLevel::kPath && c->level != ContentLevel::kActive) {
    metrics.AddCounter("vigil_content_load_failures_total", "Bundles refused at start or reload").Add();
  }
  SetEngine(*c);
  return Status::Ok();
}

Status Daemon::Impl::ReloadContent() {
  Result<LoadedContent> c = config.content_path.empty() ? content->LoadInitial() : content->ReloadPath();
  if (!c) {
    metrics.AddCounter("vigil_content_load_failures_total", "Bundles refused at start or reload").Add();
    LogError("content reload: refused, keeping the running content: {}", c.error().ToString());
    return c.error();
  }
  LogInfo("content reload: {} {} (version {}, {} rules)", ContentLevelName(c->level), c->where, c->version,
          c->engine->rules().size());
  metrics.AddCounter("vigil_content_reloads_total", "Successful content reloads").Add();
  SetEngine(*c);
  return Status::Ok();
}

void Daemon::Impl::BeginShadow() {
  if (candidate) return;  // one at a time; a newer one waits in the slot
  Result<LoadedContent> c = content->LoadCandidate();
  if (!c) {
    metrics.AddCounter("vigil_shadow_verdicts_total", "Shadow evaluations, by verdict", {{"verdict", "refused"}})
        .Add();
    return;
  }
  candidate = std::move(*c);
  if (config.shadow_seconds == 0) {
    ShadowVerdict v{true, fmt::format("candidate v{}: shadow evaluation disabled (shadow.seconds = 0)",
                                      candidate->version)};
    std::lock_guard<std::mutex> lock(shadow_mu);
    shadow_verdict = std::move(v);
    return;
  }
  LogInfo("shadow: candidate v{} ({} rules) runs beside the active content for {} s", candidate->version,
          candidate->engine->rules().size(), config.shadow_seconds);
  {
    std::lock_guard<std::mutex> lock(shadow_mu);
    shadow_engine = candidate->engine;
    shadow_version = candidate->version;
  }
  shadow_generation.fetch_add(1, std::memory_order_release);
  metrics.AddGauge("vigil_shadow_running", "1 while a candidate bundle is being shadow-evaluated").Set(1);
}

void Daemon::Impl::FinishShadow() {
  std::optional<ShadowVerdict> verdict;
  {
    std::lock_guard<std::mutex> lock(shadow_mu);
    verdict.swap(shadow_verdict);
  }
  if (!verdict || !candidate) return;
  {
    std::lock_guard<std::mutex> lock(shadow_mu);
    shadow_engine.reset();
  }
  metrics.AddGauge("vigil_shadow_running", "1 while a candidate bundle is being shadow-evaluated").Set(0);
  metrics
      .AddCounter("vigil_shadow_verdicts_total", "Shadow evaluations, by verdict",
                  {{"verdict", verdict->accept ? "accepted" : "rejected"}})
      .Add();
  const uint64_t version = candidate->version;
  if (verdict->accept) {
    LogInfo("shadow: {}", verdict->report);
    Result<LoadedContent> active = content->AcceptCandidate(std::move(*candidate), verdict->report);
    if (active) {
      SetEngine(*active);
      LogInfo("content: activated v{} ({} rules)", active->version, active->engine->rules().size());
    } else {
      LogError("content: cannot activate candidate v{}: {}", version, active.error().ToString());
    }
  } else {
    LogError("shadow: {}", verdict->report);
    if (Status s = content->RejectCandidate(version, verdict->report); !s.ok()) {
      LogError("content: {}", s.ToString());
    }
  }
  candidate.reset();
}

void Daemon::Impl::StartUpdateAgent() {
  if (config.update_manifest_url.empty()) return;
  if (!content->has_store() || !content->trust_root()) {
    LogError("update agent: not started: it needs a content store (content.store) and a trust root "
             "(content.trust_root) to check what it fetches");
    return;
  }
  update::UpdateAgentOptions o;
  o.manifest_url = config.update_manifest_url;
  o.channel = config.update_channel;
  o.poll_interval = std::chrono::seconds(config.update_poll_seconds);
  o.timeout = std::chrono::seconds(config.update_timeout_seconds);
  o.max_bundle_bytes = config.update_max_bundle_bytes;
  o.ca_file = config.update_ca_file;
  // Failures retry sooner than a normal poll at first, never sooner than
  // the poll interval allows, and back off to at most an hour.
  o.backoff_min = std::min<std::chrono::milliseconds>(o.poll_interval, std::chrono::seconds(10));
  o.backoff_max = std::max<std::chrono::milliseconds>(o.poll_interval, std::chrono::hours(1));
  update::UpdateAgent::Callbacks cb;
  cb.current_version = [this] {
    return std::max(content->version_floor(), offered_version.load(std::memory_order_acquire));
  };
  cb.deliver = [this](const update::Manifest& m, std::string bundle) {
    // The store has one writer, the main thread: hand the bytes over.
    std::lock_guard<std::mutex> lock(update_mu);
    pending_update = std::move(bundle);
    offered_version.store(m.content_version, std::memory_order_release);
    return Status::Ok();
  };
  auto a = update::UpdateAgent::Create(std::move(o), *content->trust_root(), Schema::Builtin(), std::move(cb));
  if (!a) {
    LogError("update agent: not started: {}", a.error().ToString());
    return;
  }
  agent = std::move(*a);
  agent->Start();
  LogInfo("update agent: polling {} every {} s (channel {})", config.update_manifest_url, config.update_poll_seconds,
          config.update_channel);
}

void Daemon::Impl::TakeUpdate() {
  std::optional<std::string> bytes;
  {
    std::lock_guard<std::mutex> lock(update_mu);
    if (candidate) return;  // one candidate at a time; this one waits
    bytes.swap(pending_update);
  }
  if (!bytes) return;
  if (Status s = content->StoreCandidate(*bytes); !s.ok()) {
    LogError("update: cannot store the candidate: {}", s.ToString());
    offered_version.store(0, std::memory_order_release);  // let the agent offer it again
    return;
  }
  BeginShadow();
}

void Daemon::Impl::UpdateMetrics() {
  if (!agent) return;
  update::UpdateAgentStats st = agent->stats();
  metrics.AddCounter("vigil_update_polls_total", "Update agent polls").Set(st.polls);
  metrics.AddCounter("vigil_update_accepted_total", "Bundles the update agent delivered").Set(st.accepted);
  metrics.AddCounter("vigil_update_fetch_failures_total", "Manifest or bundle transfers that failed")
      .Set(st.fetch_failures);
  for (size_t i = 0; i < update::kRefusalKinds; ++i) {
    metrics
        .AddCounter("vigil_update_refused_total", "Updates refused, by reason",
                    {{"reason", std::string(update::RefusalName(static_cast<update::Refusal>(i)))}})
        .Set(st.refusals[i]);
  }
  // Each new failure once in the log; the same one repeating is in the metrics.
  if (st.consecutive_failures > 0 && st.last_error != logged_update_error) {
    LogError("update: {}", st.last_error);
    logged_update_error = st.last_error;
  } else if (st.consecutive_failures == 0) {
    logged_update_error.clear();
  }
}

Status Daemon::Impl::StartSources() {
  std::string ebpf_error;
  if (config.ebpf) {
    auto src = std::make_unique<sources::EbpfSource>();
    Status s = src->Start();
    if (s.ok()) {
      sources.push_back(std::move(src));
      source_degraded_exec.push_back(false);
    } else {
      ebpf_error = s.ToString();
    }
  } else {
    ebpf_error = "disabled by configuration (sources.ebpf = false)";
  }
  degraded = !ebpf_error.empty();
  if (degraded) {
    LogWarning("DEGRADED MODE: eBPF unavailable ({}); process events come from fanotify exec "
               "notifications and /proc; no network events",
               ebpf_error);
  }
  if (config.fanotify || degraded) {
    sources::fanotify::FanotifyOptions opt;
    opt.marks.clear();
    for (const auto& p : config.fanotify_paths) opt.marks.push_back({p, sources::fanotify::MarkScope::kFilesystem});
    opt.report_open = config.file_open_events;
    opt.report_exec = degraded;
    // With eBPF the process table knows every actor: skip fanotify's per-event
    // /proc lookups and pidfds (the pid is resolved through the table).
    opt.lookup_actor = degraded;
    opt.use_pidfd = degraded;
    opt.excluded_prefixes = config.exclude_paths;
    if (!config.fanotify) {
      // Degraded mode needs the group for exec events only.
      opt.report_open = false;
    }
    auto src = std::make_unique<sources::fanotify::FanotifySource>(std::move(opt));
    Status s = src->Start();
    if (s.ok()) {
      sources.push_back(std::move(src));
      source_degraded_exec.push_back(degraded);
    } else if (sources.empty()) {
      return Status(s.code(), "no event source could start: eBPF: " + ebpf_error + "; fanotify: " + s.ToString());
    } else {
      LogError("fanotify unavailable ({}): no file events", s.ToString());
      degraded = true;
    }
  }
  if (sources.empty()) return Status(Code::kInvalidArgument, "no event source enabled in the configuration");
  metrics.AddGauge("vigil_degraded", "1 when the sensor runs without eBPF or without fanotify")
      .Set(degraded ? 1.0 : 0.0);
  return Status::Ok();
}

namespace {

// The parent directory of `path` ("/a/b" -> "/a"), or "" for a bare name.
std::string ParentDir(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

void Daemon::Impl::StartEnforcement() {
  if (!config.enforce) return;
  metrics.AddGauge("vigil_enforce_enabled", "1 when [enforce] is on and the permission responder runs").Set(0);
  ResponderOptions o;
  for (const std::string& p : config.enforce_paths) o.marks.push_back({p, MarkScope::kFilesystem});
  o.exec = config.enforce_exec;
  o.open = config.enforce_open;
  o.deadline = std::chrono::milliseconds(config.enforce_deadline_ms);
  o.queue_capacity = config.enforce_queue;
  o.verdict_cache = config.enforce_verdict_cache;
  o.allowed_pids = options.enforce_allowed_pids;
  // vigil's own files are never blocked: its binaries and configuration
  // (from the caller), its content wherever it lives, and the operator's list.
  o.never_block_prefixes = options.enforce_never_block;
  for (const std::string& p : {config.store_path, config.content_path, config.default_content_path,
                               ParentDir(BuildTreeDefault()), config.trust_root_path}) {
    // Normalized: the responder compares resolved paths component by component.
    if (!p.empty()) o.never_block_prefixes.push_back(std::filesystem::path(p).lexically_normal().string());
  }
  for (const std::string& p : config.enforce_never_block) o.never_block_prefixes.push_back(p);
  ResponderCallbacks cb;
  cb.on_block = [this](const engine::Engine& e, uint32_t rule, const OwnedEvent& ev) { OnBlock(e, rule, ev); };
  // No on_health: it would run on the responder thread between answers. The
  // responder's own counters carry every health event, and the main thread
  // logs what is new once a second (EnforcementMetrics).
  auto r = std::make_unique<Responder>(std::move(o), std::move(cb));
  std::shared_ptr<const engine::Engine> content_engine;
  {
    std::lock_guard<std::mutex> lock(engine_mu);
    content_engine = engine;
  }
  responder = std::move(r);
  SetBlockingRules(*content_engine);
  if (Status s = responder->Start(); !s.ok()) {
    // Fail open, loudly: the sensor keeps watching; nothing is blocked.
    LogError("enforce: NOT ENFORCING: {}", s.ToString());
    metrics.AddCounter("vigil_enforce_start_failures_total", "Permission responder start failures").Add();
    responder.reset();
    return;
  }
  metrics.AddGauge("vigil_enforce_enabled", "1 when [enforce] is on and the permission responder runs").Set(1);
  std::string paths;
  for (const std::string& p : config.enforce_paths) paths += (paths.empty() ? "" : ", ") + p;
  LogInfo("enforce: permission responder on {} ({}{}{}), deadline {} ms, verdict cache {}", paths,
          config.enforce_exec ? "exec" : "", config.enforce_exec && config.enforce_open ? "+" : "",
          config.enforce_open ? "open" : "", config.enforce_deadline_ms, config.enforce_verdict_cache ? "on" : "off");
}

void Daemon::Impl::SetBlockingRules(const engine::Engine& content_engine) {
  const uint64_t version = content_engine.info().content_version;
  Result<BlockingSelection> s =
      SelectBlockingRules(content_engine, {config.enforce_rule_ids, config.enforce_tags});
  if (!s) {
    LogError("enforce: {}; nothing blocks", s.error().ToString());
    responder->SetEngine(nullptr);
    metrics.AddGauge("vigil_enforce_policy_refused", "Rules the enforce policy names that cannot block (this content)")
        .Set(0);
    metrics.AddGauge("vigil_enforce_blocking_rules", "Rules the permission responder enforces").Set(0);
    return;
  }
  for (const std::string& r : s->refused) LogError("enforce: {}", r);
  metrics.AddGauge("vigil_enforce_policy_refused", "Rules the enforce policy names that cannot block (this content)")
      .Set(static_cast<double>(s->refused.size()));
  for (const std::string& u : s->unmatched) LogWarning("enforce: policy {} names no rule of content v{}", u, version);
  LogInfo("enforce: content v{}: {} blocking rules ({} marked in the content, {} by policy)", version,
          s->from_content + s->from_policy, s->from_content, s->from_policy);
  metrics.AddGauge("vigil_enforce_blocking_rules", "Rules the permission responder enforces")
      .Set(static_cast<double>(s->from_content + s->from_policy));
  responder->SetEngine(std::move(s->engine));
}

// Evaluator thread of the responder: the operation is already denied.
void Daemon::Impl::OnBlock(const engine::Engine& blocking, uint32_t rule_index, const OwnedEvent& event) {
  const content::Rule& rule = blocking.rule(rule_index);
  std::string line;
  AppendAlertLine(line, {host, blocking.info().content_version, "denied"}, rule, event, blocking.schema());
  alerts_total->Add();
  metrics.AddCounter("vigil_enforce_blocks_total", "Operations denied, by rule", {{"rule_id", rule.id}}).Add();
  if (!alert_queue.TryPush(std::move(line))) alerts_dropped->Add();
}

// Main thread, once a second: the responder's counters as metrics, and each
// health event (a missed deadline, a full queue: both answered ALLOW) in the
// log, summed over the second so that a storm is one line a second.
void Daemon::Impl::EnforcementMetrics() {
  if (!responder) return;
  const ResponderStats st = responder->stats();
  auto counter = [&](const char* name, const char* help, uint64_t v, const Labels& labels = {}) {
    metrics.AddCounter(name, help, labels).Set(v);
  };
  auto gauge = [&](const char* name, const char* help, double v, const Labels& labels = {}) {
    metrics.AddGauge(name, help, labels).Set(v);
  };
  const char* kEvents = "Permission events the responder read";
  const char* kAnswers = "Permission events answered, by verdict and reason";
  counter("vigil_enforce_events_total", kEvents, st.events);
  counter("vigil_enforce_answers_total", kAnswers, st.denied, {{"verdict", "deny"}, {"reason", "rule"}});
  const uint64_t allowed_reasoned =
      st.allowed_own + st.allowed_excluded + st.allowed_unevaluated + st.deadline_missed + st.queue_full;
  counter("vigil_enforce_answers_total", kAnswers, st.allowed - std::min(st.allowed, allowed_reasoned),
          {{"verdict", "allow"}, {"reason", "decided"}});
  counter("vigil_enforce_answers_total", kAnswers, st.allowed_own, {{"verdict", "allow"}, {"reason", "own"}});
  counter("vigil_enforce_answers_total", kAnswers, st.allowed_excluded, {{"verdict", "allow"}, {"reason", "excluded"}});
  counter("vigil_enforce_answers_total", kAnswers, st.allowed_unevaluated,
          {{"verdict", "allow"}, {"reason", "unevaluated"}});
  counter("vigil_enforce_answers_total", kAnswers, st.deadline_missed, {{"verdict", "allow"}, {"reason", "deadline"}});
  counter("vigil_enforce_answers_total", kAnswers, st.queue_full, {{"verdict", "allow"}, {"reason", "queue_full"}});
  counter("vigil_enforce_kernel_overflows_total", "Permission queue overflows in the kernel (the kernel allowed)",
          st.kernel_overflows);
  counter("vigil_enforce_errors_total", "Failed responses, marks or reads of the responder", st.errors);
  gauge("vigil_enforce_pending", "Permission events read and not yet answered", static_cast<double>(st.pending));
  gauge("vigil_enforce_cache_marks", "Ignore marks of the kernel verdict cache since its last flush",
        static_cast<double>(st.cache_marks));
  counter("vigil_enforce_cache_flushes_total", "Flushes of the kernel verdict cache", st.cache_flushes);
  counter("vigil_enforce_inline_allowed_total", "Decisions made on the responder thread (path-only rules)",
          st.inline_allowed);
  counter("vigil_enforce_inline_disabled_total", "Rule sets whose responder-thread decisions overran their budget",
          st.inline_disabled);
  gauge("vigil_enforce_cache_in_use", "1 when allows of this kind are cached in the kernel",
        st.cache_exec ? 1.0 : 0.0, {{"kind", "exec"}});
  gauge("vigil_enforce_cache_in_use", "1 when allows of this kind are cached in the kernel",
        st.cache_open ? 1.0 : 0.0, {{"kind", "open"}});
  const char* kLatency = "Read-to-answer latency of decided permission events, microseconds";
  gauge("vigil_enforce_decision_latency_us", kLatency, static_cast<double>(st.decision_p50_us),
        {{"quantile", "0.5"}});
  gauge("vigil_enforce_decision_latency_us", kLatency, static_cast<double>(st.decision_p99_us),
        {{"quantile", "0.99"}});
  gauge("vigil_enforce_max_response_latency_us", "Longest read-to-answer time of any permission event",
        static_cast<double>(st.max_response_latency_us));
  const uint64_t missed = st.deadline_missed - enforce_logged.deadline_missed;
  const uint64_t full = st.queue_full - enforce_logged.queue_full;
  if (missed > 0) {
    LogWarning("enforce: health: {} permission decisions missed their {} ms deadline and were ALLOWED ({} in all)",
               missed, config.enforce_deadline_ms, st.deadline_missed);
  }
  if (full > 0) {
    LogWarning("enforce: health: {} permission events found the decision queue full and were ALLOWED ({} in all)",
               full, st.queue_full);
  }
  if (st.kernel_overflows > enforce_logged.kernel_overflows) {
    LogWarning("enforce: health: the kernel's permission queue overflowed {} times",
               st.kernel_overflows - enforce_logged.kernel_overflows);
  }
  enforce_logged = st;
}

Status Daemon::Impl::OpenSinks() {
  if (config.stdout_sink) sinks.push_back(std::make_unique<StdoutSink>());
  if (!config.jsonl_path.empty()) {
    auto f = JsonlFileSink::Open({config.jsonl_path, config.jsonl_max_bytes, config.jsonl_keep});
    if (!f) return f.error();
    sinks.push_back(std::move(*f));
  }
  if (config.syslog_sink) sinks.push_back(std::make_unique<SyslogSink>());
  if (!config.record_path.empty()) {
    record = std::fopen(config.record_path.c_str(), "ae");
    if (record == nullptr) {
      return Status(Code::kIo, fmt::format("--record {}: {}", config.record_path, std::strerror(errno)));
    }
  }
  return Status::Ok();
}

void Daemon::Impl::RegisterMetrics() {
  const Schema& schema = Schema::Builtin();
  for (const auto& t : schema.event_types()) {
    events_by_type.push_back(&metrics.AddCounter("vigil_events_total", "Events evaluated, by type", {{"type", t.name}}));
  }
  events_excluded = &metrics.AddCounter("vigil_events_excluded_total", "Events dropped by configured exclusions");
  events_unbuilt = &metrics.AddCounter("vigil_events_unbuilt_total", "Raw events that map to no schema event (forks)");
  alerts_total = &metrics.AddCounter("vigil_alerts_total", "Alerts raised");
  alerts_dropped = &metrics.AddCounter("vigil_dropped_total", "Items dropped, by stage", {{"stage", "alert_queue"}});
  eval_latency = &metrics.AddHistogram("vigil_eval_seconds", "Engine evaluation latency per event",
                                       {1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 1e-3, 1e-2});
  for (const auto& s : sources) {
    std::string name(s->name());
    source_pushed.push_back(&metrics.AddCounter("vigil_queue_pushed_total", "Raw events queued for evaluation, by source",
                                                {{"source", name}}));
    source_dropped.push_back(&metrics.AddCounter("vigil_dropped_total", "Items dropped, by stage",
                                                 {{"stage", "raw_queue"}, {"source", name}}));
  }
}

void Daemon::Impl::RefreshMetrics() {
  for (const auto& s : sources) {
    std::string name(s->name());
    sources::SourceCounters c = s->counters();
    metrics.AddCounter("vigil_source_events_total", "Events delivered by each source", {{"source", name}})
        .Set(c.received);
    metrics.AddCounter("vigil_dropped_total", "Items dropped, by stage", {{"stage", "kernel"}, {"source", name}})
        .Set(c.lost);
    metrics.AddCounter("vigil_source_errors_total", "Records a source could not decode", {{"source", name}})
        .Set(c.errors);
  }
  QueueStats rq = raw_queue.stats();
  QueueStats aq = alert_queue.stats();
  metrics.AddGauge("vigil_queue_depth", "Items waiting, by queue", {{"queue", "raw"}}).Set(static_cast<double>(rq.depth));
  metrics.AddGauge("vigil_queue_depth", "Items waiting, by queue", {{"queue", "alert"}}).Set(static_cast<double>(aq.depth));
  metrics.AddGauge("vigil_queue_capacity", "Queue capacity, by queue", {{"queue", "raw"}})
      .Set(static_cast<double>(rq.capacity));
  metrics.AddGauge("vigil_queue_capacity", "Queue capacity, by queue", {{"queue", "alert"}})
      .Set(static_cast<double>(aq.capacity));
  for (const auto& sink : sinks) {
    SinkStats st = sink->stats();
    metrics.AddCounter("vigil_sink_written_total", "Alert lines written, by sink", {{"sink", std::string(sink->name())}})
        .Set(st.written);
    metrics.AddCounter("vigil_dropped_total", "Items dropped, by stage", {{"stage", "sink"}, {"sink", std::string(sink->name())}})
        .Set(st.failed);
  }
  if (content) {
    metrics.AddGauge("vigil_supervisor_crashes", "Worker deaths recorded in the content store's state (at most 16 kept)")
        .Set(static_cast<double>(content->state().crashes.size()));
  }
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  metrics.AddGauge("vigil_cpu_seconds", "CPU time used by vigild (user + system)").Set(cpu);
  std::ifstream statm("/proc/self/statm");
  uint64_t pages_total = 0, pages_resident = 0;
  if (statm >> pages_total >> pages_resident) {
    metrics.AddGauge("vigil_resident_memory_bytes", "Resident set size of vigild")
        .Set(static_cast<double>(pages_resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE))));
  }
}

void Daemon::Impl::SourceLoop(size_t index) {
  sources::EventSource& src = *sources[index];
  const bool enrich = source_degraded_exec[index];
  Counter& pushed = *source_pushed[index];
  Counter& dropped = *source_dropped[index];
  OwnedRawEvent item;
  ExecEnrichment enrichment;
  while (!stop.load(std::memory_order_relaxed)) {
    Result<size_t> n = src.Poll(kPollMs, [&](const RawEvent& e) {
      if (enrich && e.kind == RawKind::kExec) {
        RawEvent copy = e;
        EnrichExecFromProc(copy, enrichment);
        item.Assign(copy);
      } else {
        item.Assign(e);
      }
      if (raw_queue.TryPush(std::move(item))) {
        pushed.Add();
      } else {
        dropped.Add();
      }
    });
    if (!n) {
      LogError("source {}: {}; stopping this source", src.name(), n.error().ToString());
      break;
    }
  }
  src.Stop();
}

void Daemon::Impl::EvalLoop() {
  const Schema& schema = Schema::Builtin();
  ProcessTable table({.max_entries = config.process_table_max});
  if (Status s = table.SeedFromProc(); !s.ok()) LogWarning("process table: {}", s.ToString());
  std::shared_ptr<const engine::Engine> current;
  std::unique_ptr<engine::Engine::Scratch> scratch;
  uint64_t seen_generation = ~0ull;
  EventBuilder builder(schema);
  for (const auto& problem : builder.problems()) LogError("event builder: {}", problem);
  OwnedRawEvent item;
  OwnedEvent event;
  std::string json;
  // 20 ms of file events at a few hundred thousand events/s; a full line
  // evaluates its oldest event early, so the size bounds memory, not loss.
  DelayLine delayed(std::min<size_t>(config.source_queue, kDelayLineSlots));
  // vigil_alerts_total{rule_id}, registered on a rule's first alert and then
  // cached by rule index for the current engine snapshot.
  std::vector<Counter*> rule_counters;
  // The candidate under shadow evaluation, if any.
  std::shared_ptr<const engine::Engine> shadow;
  std::unique_ptr<engine::Engine::Scratch> shadow_scratch;
  uint64_t seen_shadow_generation = 0;
  ShadowTally tally;
  ShadowRun run;
  Clock::time_point shadow_start, shadow_end;
  const ShadowLimits limits{config.shadow_max_alert_ratio, config.shadow_min_alerts,
                            uint64_t{config.shadow_max_mean_eval_us} * 1000};
  auto post_verdict = [&] {
    run.seconds = std::chrono::duration<double>(Clock::now() - shadow_start).count();
    ShadowVerdict v = JudgeShadow(tally, limits, run);
    shadow.reset();
    shadow_scratch.reset();
    std::lock_guard<std::mutex> lock(shadow_mu);
    shadow_verdict = std::move(v);
  };
  for (;;) {
    eval_ticks.fetch_add(1, std::memory_order_relaxed);
    if (uint64_t g = shadow_generation.load(std::memory_order_acquire); g != seen_shadow_generation) {
      std::lock_guard<std::mutex> lock(shadow_mu);
      seen_shadow_generation = g;
      shadow = shadow_engine;
      shadow_scratch = shadow ? shadow->NewScratch() : nullptr;
      tally = ShadowTally{};
      if (shadow) {
        for (const content::Rule& r : shadow->rules()) tally.candidate_rule_ids.push_back(r.id);
        tally.candidate_rule_alerts.assign(shadow->rules().size(), 0);
      }
      shadow_start = Clock::now();
      shadow_end = shadow_start + std::chrono::seconds(config.shadow_seconds);
      run = ShadowRun{shadow_version, current ? current->info().content_version : 0, 0};
    }
    if (shadow && Clock::now() >= shadow_end) post_verdict();
    // Next event: a delayed file event whose time has come (or everything at
    // shutdown), else the queue; a file event from the queue goes to the
    // delay line first.
    const bool stopping = stop.load(std::memory_order_acquire);
    if (!delayed.empty() && (stopping || delayed.full() ||
                             RealtimeNs() >= delayed.front().raw().time_ns + kFileEventDelayNs)) {
      delayed.Pop(item);
    } else if (raw_queue.TryPop(item)) {
      if (IsFileEvent(item.raw().kind) && !stopping) {
        delayed.Push(item);
        continue;
      }
    } else if (stopping && delayed.empty()) {
      break;  // sources have stopped; queue and delay line drained
    } else {
      raw_queue.WaitForItems(std::chrono::milliseconds(delayed.empty() ? kPollMs : 2));
      continue;
    }
    if (uint64_t g = generation.load(std::memory_order_acquire); g != seen_generation) {
      std::lock_guard<std::mutex> lock(engine_mu);
      current = engine;
      scratch = current->NewScratch();
      seen_generation = g;
      rule_counters.assign(current->rules().size(), nullptr);
    }
    if (!builder.Build(item.raw(), table, event)) {
      events_unbuilt->Add();
      continue;
    }
    EventView view = event.view();
    if (!config.exclude_images.empty()) {
      auto image = schema.FindField(view.type, "Image");
      if (image && std::find(config.exclude_images.begin(), config.exclude_images.end(),
                             view.fields[*image].text) != config.exclude_images.end()) {
        events_excluded->Add();
        continue;
      }
    }
    events_by_type[view.type]->Add();
    if (record != nullptr) {
      json.clear();
      AppendEventJson(json, event, schema);
      json.push_back('\n');
      std::fwrite(json.data(), 1, json.size(), record);
    }
    auto t0 = Clock::now();
    std::span<const uint32_t> matches = current->Evaluate(view, *scratch);
    auto t1 = Clock::now();
    eval_latency->Observe(std::chrono::duration<double>(t1 - t0).count());
    if (shadow) {
      // The candidate sees the same event; its alerts are counted, not sent.
      uint64_t candidate_alerts = 0;
      try {
        std::span<const uint32_t> cm = shadow->Evaluate(view, *shadow_scratch);
        candidate_alerts = cm.size();
        for (uint32_t r : cm) ++tally.candidate_rule_alerts[r];
      } catch (const std::exception& e) {
        if (tally.faults++ == 0) tally.first_fault = e.what();
      }
      auto t2 = Clock::now();
      tally.Add(matches.size(), candidate_alerts,
                static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()),
                static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t2 - t1).count()));
      if (tally.faults > 0) post_verdict();  // a fault is final: no need to wait out the window
    }
    if (matches.empty()) continue;
    AlertContext ctx{host, current->info().content_version};
    for (uint32_t rule_index : matches) {
      std::string line;
      const content::Rule& rule = current->rules()[rule_index];
      AppendAlertLine(line, ctx, rule, event, schema);
      alerts_total->Add();
      if (rule_counters[rule_index] == nullptr) {
        rule_counters[rule_index] =
            &metrics.AddCounter("vigil_rule_alerts_total", "Alerts raised, by rule", {{"rule_id", rule.id}});
      }
      rule_counters[rule_index]->Add();
      if (!alert_queue.TryPush(std::move(line))) alerts_dropped->Add();
    }
  }
  if (record != nullptr) std::fflush(record);
  alert_queue.NotifyAll();
}

void Daemon::Impl::SinkLoop() {
  std::string line;
  auto last_flush = Clock::now();
  for (;;) {
    bool got = alert_queue.TryPop(line);
    if (!got) {
      if (stop.load(std::memory_order_acquire) && alert_queue.stats().depth == 0) break;
      for (auto& s : sinks) s->Flush();
      alert_queue.WaitForItems(std::chrono::milliseconds(kPollMs));
      continue;
    }
    for (auto& s : sinks) s->Write(line);
    if (Clock::now() - last_flush > std::chrono::milliseconds(200)) {
      for (auto& s : sinks) s->Flush();
      last_flush = Clock::now();
    }
  }
  for (auto& s : sinks) s->Flush();
}

Daemon::Daemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Daemon::~Daemon() = default;

Result<std::unique_ptr<Daemon>> Daemon::Create(Config config, DaemonOptions options) {
  auto impl = std::make_unique<Impl>(std::move(config));
  Impl& d = *impl;
  d.options = std::move(options);
  if (d.config.host_name.empty()) {
    char name[256] = {};
    ::gethostname(name, sizeof(name) - 1);
    d.host = name;
  } else {
    d.host = d.config.host_name;
  }
  if (Status s = d.LoadInitialContent(); !s.ok()) return Error(s);
  if (Status s = d.OpenSinks(); !s.ok()) return Error(s);
  if (!d.config.metrics_listen.empty()) {
    auto server = MetricsServer::Start(d.config.metrics_listen, d.metrics);
    if (!server) return Error(Code::kInvalidArgument, "metrics: {}", server.error().ToString());
    d.metrics_server = std::move(*server);
    LogInfo("metrics: http://{}/metrics", d.metrics_server->address());
  }
  return std::unique_ptr<Daemon>(new Daemon(std::move(impl)));
}

void Daemon::RequestStop() { impl_->stop.store(true, std::memory_order_release); }
void Daemon::RequestReload() { impl_->reload.store(true, std::memory_order_release); }

Status Daemon::Run() {
  Impl& d = *impl_;
  if (Status s = d.StartSources(); !s.ok()) return s;
  d.RegisterMetrics();

  // Watch the content file's directory: bundles are installed by rename, so
  // the file itself is replaced rather than written.
  int inotify_fd = -1;
  std::string content_dir, content_name;
  if (d.config.watch_content && !d.config.content_path.empty()) {
    size_t slash = d.config.content_path.rfind('/');
    content_dir = slash == std::string::npos ? "." : d.config.content_path.substr(0, slash == 0 ? 1 : slash);
    content_name = slash == std::string::npos ? d.config.content_path : d.config.content_path.substr(slash + 1);
    inotify_fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_fd >= 0 && ::inotify_add_watch(inotify_fd, content_dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
      LogWarning("content watch on {}: {}; reload with SIGHUP", content_dir, std::strerror(errno));
      ::close(inotify_fd);
      inotify_fd = -1;
    }
  }

  std::vector<std::thread> threads;
  for (size_t i = 0; i < d.sources.size(); ++i) threads.emplace_back([&d, i] { d.SourceLoop(i); });
  std::thread eval([&d] { d.EvalLoop(); });
  std::thread sink([&d] { d.SinkLoop(); });
  d.StartEnforcement();  // before "running": from then on, marked execs and opens are decided
  std::string started;
  for (const auto& s : d.sources) started += std::string(started.empty() ? "" : ", ") + std::string(s->name());
  const LoadedContent* running = d.content->running();
  LogInfo("running: sources {}{}; content {} v{}", started, d.degraded ? " (DEGRADED)" : "",
          running ? ContentLevelName(running->level) : "?", running ? running->version : 0);
  d.content->SetDegraded(d.degraded);
  d.Report(fmt::format("degraded {}", d.degraded ? 1 : 0));
  if (d.content->HasCandidate()) d.BeginShadow();  // one left from before a restart
  d.StartUpdateAgent();

  auto last_refresh = Clock::now() - std::chrono::seconds(1);
  auto last_heartbeat = Clock::now();
  uint64_t heartbeat_ticks = ~0ull;
  uint64_t heartbeat_loops = ~0ull;
  while (!d.stop.load(std::memory_order_acquire)) {
    const auto now = Clock::now();
    if (now - last_refresh >= std::chrono::seconds(1)) {
      d.RefreshMetrics();
      d.EnforcementMetrics();
      d.content->Tick(static_cast<int64_t>(::time(nullptr)));
      d.UpdateMetrics();
      last_refresh = now;
    }
    // The heartbeat says the pipeline moves, not merely that this thread
    // does: it is sent only if the evaluation thread looped since the last,
    // and, when enforcing, the permission responder too (a stuck responder
    // holds up every marked exec/open: the supervisor must kill it).
    if (now - last_heartbeat >= kHeartbeatInterval) {
      uint64_t ticks = d.eval_ticks.load(std::memory_order_relaxed);
      uint64_t loops = d.responder ? d.responder->stats().loops : 0;
      if (ticks != heartbeat_ticks && (!d.responder || loops != heartbeat_loops)) d.Report("hb");
      heartbeat_ticks = ticks;
      heartbeat_loops = loops;
      last_heartbeat = now;
    }
    d.FinishShadow();
    d.TakeUpdate();
    bool changed = false;
    if (inotify_fd >= 0) {
      pollfd p{inotify_fd, POLLIN, 0};
      if (::poll(&p, 1, kPollMs) > 0) {
        alignas(inotify_event) char buf[4096];
        ssize_t n;
        while ((n = ::read(inotify_fd, buf, sizeof(buf))) > 0) {
          for (char* ptr = buf; ptr < buf + n;) {
            auto* ev = reinterpret_cast<inotify_event*>(ptr);
            if (ev->len > 0 && content_name == ev->name) changed = true;
            ptr += sizeof(inotify_event) + ev->len;
          }
        }
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
    }
    if (changed || d.reload.exchange(false)) (void)d.ReloadContent();
  }

  if (d.agent) d.agent->Stop();
  // First: answers everything pending ALLOW and closes the group, before
  // the threads that consume its alerts stop.
  if (d.responder) {
    d.responder->Stop();
    d.EnforcementMetrics();
    ResponderStats st = d.responder->stats();
    LogInfo("enforce: stopped: {} permission events: denied {}, allowed {} (missed deadline {}, queue full {})",
            st.events, st.denied, st.allowed, st.deadline_missed, st.queue_full);
  }
  for (auto& t : threads) t.join();  // each source thread stops its source
  d.raw_queue.NotifyAll();
  eval.join();
  sink.join();
  if (inotify_fd >= 0) ::close(inotify_fd);
  d.RefreshMetrics();

  QueueStats rq = d.raw_queue.stats();
  std::string per_source;
  for (const auto& s : d.sources) {
    sources::SourceCounters c = s->counters();
    per_source += fmt::format(" {}: received {} lost {} errors {};", s->name(), c.received, c.lost, c.errors);
  }
  LogInfo("stopped:{} raw queue: pushed {} dropped {} evaluated {}; alerts {} (dropped {})", per_source, rq.pushed,
          rq.dropped, rq.popped, d.alerts_total->value(), d.alerts_dropped->value());
  return Status::Ok();
}

}  // namespace vigil::sensor
