#include "sources/fanotify/event_parser.h"

#include <sys/fanotify.h>

#include <cstring>

namespace vigil::sources::fanotify {
namespace {

// struct file_handle's fixed part: handle_bytes (u32) and handle_type (s32).
constexpr size_t kFileHandleHeader = 8;
constexpr size_t kFidRecordHeader = sizeof(fanotify_event_info_header) + sizeof(uint64_t);

// Reads a trivially copyable T at `offset`; the caller has checked the bounds.
// memcpy because the kernel only promises natural alignment for the metadata.
template <typename T>
T Load(std::span<const uint8_t> bytes, size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

bool ParseFid(std::span<const uint8_t> rec, bool with_name, DirRecord* out) {
  if (rec.size() < kFidRecordHeader + kFileHandleHeader) return false;
  out->fsid = Load<uint64_t>(rec, sizeof(fanotify_event_info_header));
  const uint32_t handle_bytes = Load<uint32_t>(rec, kFidRecordHeader);
  out->handle_type = Load<int32_t>(rec, kFidRecordHeader + 4);
  const size_t handle_at = kFidRecordHeader + kFileHandleHeader;
  if (handle_bytes == 0 || handle_bytes > kMaxHandleBytes || handle_bytes > rec.size() - handle_at) {
    return false;
  }
  out->handle = rec.subspan(handle_at, handle_bytes);
  if (with_name) {
    // The name is NUL-terminated; the record may be padded after the NUL.
    std::span<const uint8_t> tail = rec.subspan(handle_at + handle_bytes);
    const void* nul = std::memchr(tail.data(), 0, tail.size());
    if (nul == nullptr) return false;
    const size_t len = static_cast<const uint8_t*>(nul) - tail.data();
    if (len == 0 || len > kMaxNameBytes) return false;
    out->name = std::string_view(reinterpret_cast<const char*>(tail.data()), len);
  }
  out->present = true;
  return true;
}

}  // namespace

ParseStep ParseEvent(std::span<const uint8_t> bytes, ParsedEvent* out) {
  *out = ParsedEvent{};
  if (bytes.size() < sizeof(fanotify_event_metadata)) return {ParseStatus::kBadStream, bytes.size()};
  const auto meta = Load<fanotify_event_metadata>(bytes, 0);
  if (meta.vers != FANOTIFY_METADATA_VERSION || meta.metadata_len < sizeof(fanotify_event_metadata) ||
      meta.event_len < meta.metadata_len || meta.event_len > bytes.size()) {
    return {ParseStatus::kBadStream, bytes.size()};
  }
  out->mask = meta.mask;
  out->pid = meta.pid;
  out->fd = meta.fd;
  const ParseStep bad{ParseStatus::kBadEvent, meta.event_len};

  std::span<const uint8_t> records = bytes.subspan(meta.metadata_len, meta.event_len - meta.metadata_len);
  while (!records.empty()) {
    if (records.size() < sizeof(fanotify_event_info_header)) return bad;
    const auto hdr = Load<fanotify_event_info_header>(records, 0);
    if (hdr.len < sizeof(fanotify_event_info_header) || hdr.len > records.size()) return bad;
    std::span<const uint8_t> rec = records.first(hdr.len);
    records = records.subspan(hdr.len);
    DirRecord* target = nullptr;
    bool with_name = true;
    switch (hdr.info_type) {
      case FAN_EVENT_INFO_TYPE_DFID_NAME: target = &out->dir; break;
      case FAN_EVENT_INFO_TYPE_DFID: target = &out->dir; with_name = false; break;
      case FAN_EVENT_INFO_TYPE_OLD_DFID_NAME: target = &out->old_dir; break;
      case FAN_EVENT_INFO_TYPE_NEW_DFID_NAME: target = &out->new_dir; break;
      case FAN_EVENT_INFO_TYPE_PIDFD:
        if (rec.size() < sizeof(fanotify_event_info_pidfd)) return bad;
        out->pidfd = Load<fanotify_event_info_pidfd>(rec, 0).pidfd;
        continue;
      default:
        continue;  // FID, ERROR and future record types carry nothing we use
    }
    // A second record of the same kind would make the event ambiguous.
    if (target->present || !ParseFid(rec, with_name, target)) return bad;
  }
  return {ParseStatus::kOk, meta.event_len};
}

}  // namespace vigil::sources::fanotify
