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
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "base/log.h"
#include "content/bundle_file.h"
#include "engine/engine.h"
#include "rules/builtin_content.h"
#include "sensor/bounded_queue.h"
#include "sensor/event_builder.h"
#include "sensor/metrics.h"
#include "sensor/owned_raw_event.h"
#include "sensor/process_table.h"
#include "sensor/sinks.h"
#include "sources/ebpf/ebpf_source.h"
#include "sources/fanotify/fanotify_source.h"

namespace vigil::sensor {
namespace {

using Clock = std::chrono::steady_clock;
using sources::RawEvent;
using sources::RawKind;

constexpr int kPollMs = 100;

// Where the running content came from; exported as a metric.
enum class ContentOrigin { kConfigured = 0, kInstalledDefault = 1, kBuiltin = 2 };

std::string_view OriginName(ContentOrigin o) {
  switch (o) {
    case ContentOrigin::kConfigured: return "configured";
    case ContentOrigin::kInstalledDefault: return "installed default";
    case ContentOrigin::kBuiltin: return "built-in default";
  }
  return "?";
}

Result<std::shared_ptr<const engine::Engine>> EngineFromFile(const std::string& path) {
  content::Diagnostics diags;
  Result<content::Ruleset> rs = content::LoadBundleFile(path, Schema::Builtin(), diags);
  if (!rs) {
    std::string first = diags.list().empty() ? "" : "; " + content::Diagnostics::Format(diags.list().front());
    return Error(rs.error().code(), "{}{}", rs.error().message(), first);
  }
  return engine::Engine::Create(*rs, Schema::Builtin());
}

Result<std::shared_ptr<const engine::Engine>> EngineFromBuiltin() {
  content::Diagnostics diags;
  Result<content::Ruleset> rs =
      content::LoadBundleBytes(BuiltinDefaultBundle(), "<built-in>", Schema::Builtin(), diags);
  if (!rs) return Error(rs.error());
  return engine::Engine::Create(*rs, Schema::Builtin());
}

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
  ContentOrigin origin = ContentOrigin::kConfigured;

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
  void SetEngine(std::shared_ptr<const engine::Engine> e, ContentOrigin o);
  Status StartSources();
  Status OpenSinks();
  void RegisterMetrics();
  void RefreshMetrics();
  void SourceLoop(size_t index);
  void EvalLoop();
  void SinkLoop();
};

void Daemon::Impl::SetEngine(std::shared_ptr<const engine::Engine> e, ContentOrigin o) {
  const auto& info = e->info();
  {
    std::lock_guard<std::mutex> lock(engine_mu);
    engine = std::move(e);
    origin = o;
  }
  generation.fetch_add(1, std::memory_order_release);
  metrics.AddGauge("vigil_content_version", "Content version of the running bundle")
      .Set(static_cast<double>(info.content_version));
  metrics.AddGauge("vigil_content_origin",
                   "Where the running content came from: 0 configured, 1 installed default, 2 built-in")
      .Set(static_cast<double>(static_cast<int>(o)));
}

Status Daemon::Impl::LoadInitialContent() {
  // An explicitly configured bundle that cannot be used is loud; no
  // configured bundle means "the default content", quietly.
  if (!config.content_path.empty()) {
    auto e = EngineFromFile(config.content_path);
    if (e) {
      LogInfo("content: {} (version {}, {} rules)", config.content_path, (*e)->info().content_version,
              (*e)->rules().size());
      SetEngine(std::move(*e), ContentOrigin::kConfigured);
      return Status::Ok();
    }
    LogError("content: {} cannot be used: {}", config.content_path, e.error().ToString());
    LogError("content: FALLING BACK TO DEFAULT CONTENT; vigil_content_origin reports it");
    metrics.AddCounter("vigil_content_load_failures_total", "Bundles refused at start or reload").Add();
  }
  for (const std::string& path : {config.default_content_path, BuildTreeDefault()}) {
    if (path.empty() || ::access(path.c_str(), R_OK) != 0) continue;
    auto e = EngineFromFile(path);
    if (e) {
      LogInfo("content: default bundle {} (version {}, {} rules)", path, (*e)->info().content_version,
              (*e)->rules().size());
      SetEngine(std::move(*e), ContentOrigin::kInstalledDefault);
      return Status::Ok();
    }
    LogError("content: default bundle {} cannot be used: {}", path, e.error().ToString());
  }
  auto e = EngineFromBuiltin();
  if (!e) return Status(Code::kInternal, "the built-in default content failed to load: " + e.error().ToString());
  LogWarning("content: running on the BUILT-IN default content (version {}, {} rules)",
             (*e)->info().content_version, (*e)->rules().size());
  SetEngine(std::move(*e), ContentOrigin::kBuiltin);
  return Status::Ok();
}

Status Daemon::Impl::ReloadContent() {
  if (config.content_path.empty()) return Status(Code::kInvalidArgument, "no content path configured");
  auto e = EngineFromFile(config.content_path);
  if (!e) {
    metrics.AddCounter("vigil_content_load_failures_total", "Bundles refused at start or reload").Add();
    LogError("content reload: {} refused, keeping the running content: {}", config.content_path,
             e.error().ToString());
    return e.error();
  }
  LogInfo("content reload: {} (version {}, {} rules)", config.content_path, (*e)->info().content_version,
          (*e)->rules().size());
  metrics.AddCounter("vigil_content_reloads_total", "Successful content reloads").Add();
  SetEngine(std::move(*e), ContentOrigin::kConfigured);
  return Status::Ok();
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
  for (;;) {
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
    eval_latency->Observe(std::chrono::duration<double>(Clock::now() - t0).count());
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

Result<std::unique_ptr<Daemon>> Daemon::Create(Config config) {
  auto impl = std::make_unique<Impl>(std::move(config));
  Impl& d = *impl;
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
  std::string started;
  for (const auto& s : d.sources) started += std::string(started.empty() ? "" : ", ") + std::string(s->name());
  LogInfo("running: sources {}{}; content origin {}", started, d.degraded ? " (DEGRADED)" : "",
          OriginName(d.origin));

  auto last_refresh = Clock::now() - std::chrono::seconds(1);
  while (!d.stop.load(std::memory_order_acquire)) {
    if (Clock::now() - last_refresh >= std::chrono::seconds(1)) {
      d.RefreshMetrics();
      last_refresh = Clock::now();
    }
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
