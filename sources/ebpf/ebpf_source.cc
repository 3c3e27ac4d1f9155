#include "sources/ebpf/ebpf_source.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "sources/ebpf/record_decoder.h"
#include "vigil.skel.h"

namespace vigil::sources {
namespace {

constexpr size_t kLogTailBytes = 4096;  // what of libbpf's log a Status carries

// libbpf's print callback is process-global; Start points this thread's
// capture buffer at its Status-to-be, so concurrent Starts on other threads
// neither see nor clobber each other's messages.
thread_local std::string* t_libbpf_log = nullptr;
libbpf_print_fn_t g_previous_print = nullptr;

int CaptureLibbpfPrint(enum libbpf_print_level level, const char* format, va_list args) {
  if (t_libbpf_log == nullptr) {
    return g_previous_print != nullptr ? g_previous_print(level, format, args) : 0;
  }
  if (level == LIBBPF_DEBUG) return 0;
  // One message can be a whole verifier log (megabytes); format it in full
  // because its verdict is at the end, then keep only the tail.
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (n <= 0) return 0;
  std::string message(static_cast<size_t>(n) + 1, '\0');
  vsnprintf(message.data(), message.size(), format, args);
  message.pop_back();
  t_libbpf_log->append(message);
  if (t_libbpf_log->size() > kLogTailBytes) t_libbpf_log->erase(0, t_libbpf_log->size() - kLogTailBytes);
  return 0;
}

// Routes libbpf's messages into `log` for the lifetime of the guard.
class LibbpfLogCapture {
 public:
  explicit LibbpfLogCapture(std::string* log) {
    static std::once_flag once;
    std::call_once(once, [] { g_previous_print = libbpf_set_print(CaptureLibbpfPrint); });
    t_libbpf_log = log;
  }
  ~LibbpfLogCapture() { t_libbpf_log = nullptr; }
  LibbpfLogCapture(const LibbpfLogCapture&) = delete;
  LibbpfLogCapture& operator=(const LibbpfLogCapture&) = delete;
};

std::string LogTail(std::string log) {
  while (!log.empty() && (log.back() == '\n' || log.back() == ' ')) log.pop_back();
  return log.empty() ? "no libbpf message" : log;
}

bool HasEffectiveCapability(const __user_cap_data_struct (&caps)[2], int cap) {
  return (caps[cap / 32].effective & (1u << (cap % 32))) != 0;
}

Status CheckPrivileges() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct caps[2]{};
  if (syscall(SYS_capget, &header, caps) != 0) {
    return Status(Code::kIo, fmt::format("ebpf: capget: {}", strerror(errno)));
  }
  // Kernels before 5.8 had no CAP_BPF/CAP_PERFMON; CAP_SYS_ADMIN covers both.
  bool bpf_caps = HasEffectiveCapability(caps, CAP_BPF) && HasEffectiveCapability(caps, CAP_PERFMON);
  if (!bpf_caps && !HasEffectiveCapability(caps, CAP_SYS_ADMIN)) {
    return Status(Code::kInvalidArgument, "eBPF needs root or CAP_BPF+CAP_PERFMON");
  }
  return Status::Ok();
}

// libbpf attaches perf tracepoints by reading their ids from tracefs. Minimal
// systems (containers, VMs without systemd's sys-kernel-tracing.mount) do
// not mount it; it is a kernel pseudo file system, so mounting it is safe.
Status EnsureTracefs() {
  struct stat st;
  if (stat("/sys/kernel/tracing/events", &st) == 0 || stat("/sys/kernel/debug/tracing/events", &st) == 0) {
    return Status::Ok();
  }
  if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) != 0) {
    return Status(Code::kUnsupported,
                  fmt::format("ebpf: tracefs is not mounted and mounting it at /sys/kernel/tracing failed: {}",
                              strerror(errno)));
  }
  return Status::Ok();
}

// CLOCK_REALTIME - CLOCK_MONOTONIC, read as a monotonic sandwich so the error
// is at most half the time between the two monotonic reads.
int64_t RealtimeOffsetNs() {
  auto ns = [](clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
  };
  int64_t before = ns(CLOCK_MONOTONIC);
  int64_t real = ns(CLOCK_REALTIME);
  int64_t after = ns(CLOCK_MONOTONIC);
  return real - (before + (after - before) / 2);
}

}  // namespace

struct EbpfSource::State {
  vigil_bpf* skel = nullptr;
  ring_buffer* ring = nullptr;
  int64_t realtime_offset_ns = 0;
  std::vector<uint64_t> lost_per_cpu;  // sized for libbpf_num_possible_cpus()
  // Set for the duration of one Poll.
  const RawEventHandler* handler = nullptr;
  size_t delivered = 0;
  RecordBuffers buffers;  // reserved once: decoding does not allocate per event

  ~State() {
    ring_buffer__free(ring);
    vigil_bpf__destroy(skel);  // detaches every link, closes programs and maps
  }
};

EbpfSource::EbpfSource(EbpfOptions options) : options_(std::move(options)) {}

EbpfSource::~EbpfSource() { Stop(); }

Status EbpfSource::Start() {
  if (state_ != nullptr) return Status(Code::kInvalidArgument, "ebpf: already started");
  if (Status s = CheckPrivileges(); !s.ok()) return s;
  if (access(options_.btf_path.c_str(), R_OK) != 0) {
    return Status(Code::kUnsupported, fmt::format("kernel BTF missing at {}", options_.btf_path));
  }
  if (Status s = EnsureTracefs(); !s.ok()) return s;

  auto state = std::make_unique<State>();
  std::string log;
  LibbpfLogCapture capture(&log);
  state->skel = vigil_bpf__open();
  if (state->skel == nullptr) {
    return Status(Code::kIo, fmt::format("ebpf: opening the BPF object failed: {}: {}", strerror(errno),
                                         LogTail(std::move(log))));
  }
  state->skel->rodata->self_tgid = options_.exclude_self ? static_cast<uint32_t>(getpid()) : 0;
  if (int err = bpf_map__set_max_entries(state->skel->maps.events, options_.ring_bytes); err != 0) {
    return Status(Code::kInvalidArgument,
                  fmt::format("ebpf: ring_bytes {}: {}", options_.ring_bytes, strerror(-err)));
  }
  if (int err = vigil_bpf__load(state->skel); err != 0) {
    return Status(Code::kIo, fmt::format("ebpf: loading the BPF programs failed: {}: {}", strerror(-err),
                                         LogTail(std::move(log))));
  }
  if (int err = vigil_bpf__attach(state->skel); err != 0) {
    return Status(Code::kIo, fmt::format("ebpf: attaching to tracepoints failed: {}: {}", strerror(-err),
                                         LogTail(std::move(log))));
  }
  state->ring = ring_buffer__new(bpf_map__fd(state->skel->maps.events), &EbpfSource::OnRecord, this, nullptr);
  if (state->ring == nullptr) {
    return Status(Code::kIo, fmt::format("ebpf: ring buffer setup failed: {}: {}", strerror(errno),
                                         LogTail(std::move(log))));
  }
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return Status(Code::kIo, fmt::format("ebpf: counting possible CPUs: {}", strerror(-cpus)));
  state->lost_per_cpu.assign(static_cast<size_t>(cpus), 0);
  state->realtime_offset_ns = RealtimeOffsetNs();
  received_ = 0;
  lost_ = 0;
  errors_ = 0;
  state_ = std::move(state);
  return Status::Ok();
}

void EbpfSource::Stop() {
  if (state_ == nullptr) return;
  RefreshLost();  // the final count, before the maps go away
  state_.reset();
}

Result<size_t> EbpfSource::Poll(int timeout_ms, const RawEventHandler& handler) {
  if (state_ == nullptr) return Error(Code::kInvalidArgument, "ebpf: Poll before Start");
  state_->handler = &handler;
  state_->delivered = 0;
  int n;
  if (options_.batch_delay_us == 0) {
    n = ring_buffer__poll(state_->ring, timeout_ms);
  } else {
    epoll_event ev{};
    n = epoll_wait(ring_buffer__epoll_fd(state_->ring), &ev, 1, timeout_ms);
    if (n < 0) n = -errno;
    if (n > 0) {
      SleepBatchDelay(options_.batch_delay_us);
      n = ring_buffer__consume(state_->ring);
    }
  }
  state_->handler = nullptr;
  const auto now = std::chrono::steady_clock::now();
  if (state_->delivered == 0 || now - last_lost_refresh_ >= kLostRefreshInterval) {
    RefreshLost();
    last_lost_refresh_ = now;
  }
  if (n < 0 && n != -EINTR) return Error(Code::kIo, "ebpf: polling the ring buffer: {}", strerror(-n));
  return state_->delivered;
}

SourceCounters EbpfSource::counters() const {
  return SourceCounters{received_.load(), lost_.load(), errors_.load()};
}

std::vector<uint32_t> EbpfSource::program_ids() const {
  std::vector<uint32_t> ids;
  if (state_ == nullptr) return ids;
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, state_->skel->obj) {
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) == 0) ids.push_back(info.id);
  }
  return ids;
}

void EbpfSource::RefreshLost() {
  uint64_t total = 0;
  uint32_t key = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(state_->skel->maps.lost), &key, state_->lost_per_cpu.data()) == 0) {
    for (uint64_t n : state_->lost_per_cpu) total += n;
  }
  // A program the kernel did not run because another BPF program was active
  // on the CPU produced no record and no `lost` increment; count it here.
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, state_->skel->obj) {
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) == 0) total += info.recursion_misses;
  }
  lost_ = total;
}

int EbpfSource::OnRecord(void* ctx, void* data, size_t size) {
  static_cast<EbpfSource*>(ctx)->Decode(data, size);
  return 0;  // a bad record must not stop the rest of the batch
}

void EbpfSource::Decode(const void* data, size_t size) {
  State& st = *state_;
  RawEvent event;
  if (!DecodeRecord(std::span<const uint8_t>(static_cast<const uint8_t*>(data), size), st.realtime_offset_ns,
                    st.buffers, event)) {
    ++errors_;
    return;
  }
  (*st.handler)(event);
  ++received_;
  ++st.delivered;
}

}  // namespace vigil::sources
