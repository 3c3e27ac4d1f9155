// EbpfSource: process (exec, fork, exit) and network-connect events from small
// eBPF programs on kernel tracepoints (sources/ebpf/vigil.bpf.c), delivered
// through one ring buffer. The kernel side only copies bounded snapshots;
// all decoding happens here, and every record is size-checked before use.
//
//   EbpfSource src;                                   // reports all but itself
//   if (Status s = src.Start(); !s.ok()) die(s);      // names the missing privilege/feature
//   while (running) (void)src.Poll(100, [&](const RawEvent& e) { queue.TryPush(e); });
//   src.Stop();                                       // detaches every program
//   log(src.counters().lost);                         // exact kernel-side drops
//
// Needs root or CAP_BPF+CAP_PERFMON, kernel BTF (/sys/kernel/btf/vmlinux) and
// tracefs; Start mounts tracefs at /sys/kernel/tracing when it is missing.
// docs/ebpf-source.md describes the programs, record layouts and bounds.
//
// Thread-safety: Start/Poll/Stop/program_ids from one thread (the source's
// own); counters() from any thread. RawEvent strings point into buffers owned
// by the source and are valid only during the handler call.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "sources/source.h"

namespace vigil::sources {

struct EbpfOptions {
  // Ring buffer size in bytes: a power of two and a multiple of the page size.
  // 8 MiB holds about 40,000 typical exec records.
  uint32_t ring_bytes = 8u << 20;
  // Drop events whose actor is this process (the sensor must not report the
  // connects and forks it makes itself).
  bool exclude_self = true;
  // Where Start looks for kernel BTF, which CO-RE relocation needs.
  std::string btf_path = "/sys/kernel/btf/vmlinux";
  // After the ring buffer reports records, wait this long before consuming
  // them, so a storm is read in batches: the kernel notifies the reader only
  // when a record lands in an empty (caught-up) ring, so while the reader
  // sleeps with records pending, further records wake nobody and cost the
  // process that made them no interrupt. Adds at most this much latency
  // (capped at 100 ms); 0 consumes at once.
  uint32_t batch_delay_us = 1000;
};

class EbpfSource final : public EventSource {
 public:
  explicit EbpfSource(EbpfOptions options = {});
  ~EbpfSource() override;
  EbpfSource(const EbpfSource&) = delete;
  EbpfSource& operator=(const EbpfSource&) = delete;

  std::string_view name() const override { return "ebpf"; }
  Status Start() override;
  Result<size_t> Poll(int timeout_ms, const RawEventHandler& handler) override;
  void Stop() override;
  // lost = ring-buffer reservations that failed plus program runs the kernel
  // skipped (recursion misses), summed over CPUs; refreshed by every Poll and
  // by Stop.
  SourceCounters counters() const override;

  // Kernel ids of the loaded programs; empty when not started. Lets tests and
  // status output check what is attached.
  std::vector<uint32_t> program_ids() const;

 private:
  struct State;  // libbpf skeleton, ring buffer, decode buffers
  static int OnRecord(void* ctx, void* data, size_t size);
  void Decode(const void* data, size_t size);
  void RefreshLost();

  EbpfOptions options_;
  std::unique_ptr<State> state_;
  // RefreshLost costs a bpf() syscall per program; under an exec storm doing
  // it after every poll was 9% of the sensor's CPU. Busy polls refresh at most
  // this often; idle polls and Stop always do.
  static constexpr std::chrono::milliseconds kLostRefreshInterval{100};
  std::chrono::steady_clock::time_point last_lost_refresh_{};
  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> lost_{0};
  std::atomic<uint64_t> errors_{0};
};

}  // namespace vigil::sources
