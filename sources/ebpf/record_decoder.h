// Decoding of one ring-buffer record of the eBPF source (layouts in
// vigil_bpf_records.h, docs/ebpf-source.md) into a RawEvent. Pure: no
// libbpf, no system calls, so tests and the fuzzer feed it hand-made bytes.
//
//   RecordBuffers buffers;                       // reused: no allocation per event once warm
//   RawEvent event;
//   if (DecodeRecord(record_bytes, realtime_offset_ns, buffers, event)) handler(event);
//   else ++errors;                               // short, unknown or inconsistent record
//
// Every length the record states is checked against the record's size
// before it is used. The event's strings point into `buffers` (or the
// record) and are valid until the next call with the same buffers.
//
// Thread-safety: stateless; each thread its own buffers.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "sources/source.h"

namespace vigil::sources {

struct RecordBuffers {
  RecordBuffers();  // reserves the format's worst case: decoding never allocates
  std::string image;
  std::string command_line;
  std::string cwd;
};

// The wait status's view of task->exit_code: the exit code, or -signal.
int64_t DecodeExitCode(uint32_t status);

// False for a record too short for its kind, of an unknown kind, whose
// lengths exceed the record or the format's bounds, or (connect) of another
// address family. `realtime_offset_ns` turns the record's CLOCK_MONOTONIC
// stamp into CLOCK_REALTIME.
bool DecodeRecord(std::span<const uint8_t> record, int64_t realtime_offset_ns, RecordBuffers& buffers,
                  RawEvent& event);

}  // namespace vigil::sources
