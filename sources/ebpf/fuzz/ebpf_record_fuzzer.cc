// The eBPF source's record decoder on arbitrary bytes, as a ring-buffer
// record could hold them if the kernel side (or a layout mismatch between
// the two sides) wrote garbage: it must never read outside the record, and
// what it accepts must stay within the format's bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "sources/ebpf/record_decoder.h"
#include "sources/ebpf/vigil_bpf_records.h"

using vigil::sources::DecodeRecord;
using vigil::sources::RawEvent;
using vigil::sources::RawKind;
using vigil::sources::RecordBuffers;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static RecordBuffers buffers;  // reused across inputs, as the source reuses its own
  RawEvent event;
  if (!DecodeRecord(std::span<const uint8_t>(data, size), 0, buffers, event)) return 0;
  switch (event.kind) {
    case RawKind::kExec:
      // image: the record's (< VIGIL_IMAGE_MAX) or the cwd + "/" + it; cwd:
      // at most VIGIL_CWD_DEPTH components, each from the record.
      if (event.command_line.size() > VIGIL_ARGV_MAX) std::abort();
      if (event.cwd.empty() || event.cwd.size() > size + 4) std::abort();
      if (event.image.size() > event.cwd.size() + 1 + VIGIL_IMAGE_MAX) std::abort();
      for (char c : event.command_line) {
        if (c == '\0') std::abort();  // NULs became spaces
      }
      break;
    case RawKind::kFork:
    case RawKind::kExit:
      break;
    case RawKind::kConnect:
      if (event.family != 2 && event.family != 10) std::abort();
      break;
    default:
      std::abort();  // the decoder makes no other kind
  }
  return 0;
}
