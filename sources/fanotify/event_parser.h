// Bounds-checked decoding of the bytes read(2) returns from a fanotify group
// initialised with FAN_REPORT_DFID_NAME (optionally FAN_REPORT_PIDFD). Pure:
// no system calls, so tests can feed it hand-made and truncated buffers.
//
//   std::span<const uint8_t> rest(buf, n);
//   while (!rest.empty()) {
//     ParsedEvent ev;
//     ParseStep step = ParseEvent(rest, &ev);
//     if (step.status == ParseStatus::kBadStream) { ++errors; break; }
//     if (step.status == ParseStatus::kBadEvent) ++errors; else Use(ev);
//     CloseFds(ev);                     // ev.fd / ev.pidfd, even for a bad event
//     rest = rest.subspan(step.consumed);
//   }
//
// Every length the kernel states (event_len, metadata_len, each info record's
// len, a file handle's handle_bytes, a name's terminator) is checked against
// the enclosing buffer before it is used. ParsedEvent points into the buffer.
//
// Thread-safety: stateless functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace vigil::sources::fanotify {

// The kernel's MAX_HANDLE_SZ; a longer handle is malformed.
inline constexpr size_t kMaxHandleBytes = 128;
// NAME_MAX; the kernel never reports a longer directory entry name.
inline constexpr size_t kMaxNameBytes = 255;

// One directory file id (+ entry name) record.
struct DirRecord {
  bool present = false;
  uint64_t fsid = 0;                  // __kernel_fsid_t, its 8 bytes as one key
  int32_t handle_type = 0;            // struct file_handle.handle_type
  std::span<const uint8_t> handle;    // struct file_handle.f_handle, <= kMaxHandleBytes
  std::string_view name;              // entry name; empty for a DFID record (no name)
};

struct ParsedEvent {
  uint64_t mask = 0;
  int32_t pid = 0;
  int32_t fd = -1;                    // FAN_NOFD in FID mode; closed by the caller if >= 0
  int32_t pidfd = -1;                 // from a PIDFD record; closed by the caller if >= 0
  DirRecord dir;                      // DFID_NAME or DFID
  DirRecord old_dir;                  // FAN_RENAME: OLD_DFID_NAME
  DirRecord new_dir;                  // FAN_RENAME: NEW_DFID_NAME
};

enum class ParseStatus {
  kOk,
  // The event's own length is sound but something inside it is not; skip
  // `consumed` bytes and go on. Records before the bad one are filled in (so
  // a pidfd already seen can be closed).
  kBadEvent,
  // The event header itself cannot be trusted (wrong version, a length that
  // does not fit): the rest of the buffer cannot be walked.
  kBadStream,
};

struct ParseStep {
  ParseStatus status = ParseStatus::kOk;
  size_t consumed = 0;
};

ParseStep ParseEvent(std::span<const uint8_t> bytes, ParsedEvent* out);

}  // namespace vigil::sources::fanotify
