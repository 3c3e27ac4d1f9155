#include "sources/ebpf/record_decoder.h"

#include <cstddef>
#include <cstring>
#include <string_view>

#include "sources/ebpf/vigil_bpf_records.h"

namespace vigil::sources {
namespace {

// The layouts docs/ebpf-source.md documents; a change there must be deliberate.
static_assert(sizeof(vigil_rec_hdr) == 32);
static_assert(offsetof(vigil_exec_rec, data) == 40);
static_assert(sizeof(vigil_fork_rec) == 32);
static_assert(sizeof(vigil_exit_rec) == 40);
static_assert(sizeof(vigil_connect_rec) == 80);

constexpr int kAfInet = 2;
constexpr int kAfInet6 = 10;

}  // namespace

RecordBuffers::RecordBuffers() {
  image.reserve(VIGIL_IMAGE_MAX + VIGIL_CWD_DEPTH * VIGIL_NAME_MAX);
  command_line.reserve(VIGIL_ARGV_MAX);
  cwd.reserve(VIGIL_CWD_DEPTH * VIGIL_NAME_MAX + 4);
}

int64_t DecodeExitCode(uint32_t status) {
  if ((status & 0x7f) != 0) return -static_cast<int64_t>(status & 0x7f);
  return (status >> 8) & 0xff;
}

bool DecodeRecord(std::span<const uint8_t> record, int64_t realtime_offset_ns, RecordBuffers& st, RawEvent& event) {
  const auto* bytes = reinterpret_cast<const char*>(record.data());
  const size_t size = record.size();
  vigil_rec_hdr hdr;
  if (size < sizeof(hdr)) return false;
  std::memcpy(&hdr, bytes, sizeof(hdr));

  event = RawEvent{};
  event.time_ns = hdr.ktime_ns + static_cast<uint64_t>(realtime_offset_ns);
  event.pid = static_cast<int32_t>(hdr.pid);
  event.ppid = static_cast<int32_t>(hdr.ppid);
  event.uid = hdr.uid;
  event.gid = hdr.gid;
  event.loginuid = hdr.loginuid;

  switch (hdr.kind) {
    case VIGIL_REC_EXEC: {
      constexpr size_t kFixed = offsetof(vigil_exec_rec, data);
      vigil_exec_rec rec;
      if (size < kFixed) return false;
      std::memcpy(&rec, bytes, kFixed);
      size_t payload = size - kFixed;
      if (rec.image_len >= VIGIL_IMAGE_MAX || rec.argv_len > VIGIL_ARGV_MAX ||
          rec.cwd_count > VIGIL_CWD_DEPTH ||
          size_t{rec.image_len} + rec.argv_len + rec.cwd_len > payload) {
        return false;
      }
      const char* p = bytes + kFixed;
      std::string_view image(p, rec.image_len);
      std::string_view argv(p + rec.image_len, rec.argv_len);
      std::string_view components(p + rec.image_len + rec.argv_len, rec.cwd_len);

      // argv is NUL-separated with a final NUL unless truncated.
      if (!argv.empty() && argv.back() == '\0') argv.remove_suffix(1);
      st.command_line.assign(argv);
      for (char& c : st.command_line) {
        if (c == '\0') c = ' ';
      }

      // Components arrive leaf first; a path deeper than the walk's bound is
      // shown as ".../<deepest components>" so it is never mistaken for an
      // absolute path.
      bool cwd_truncated = (rec.flags & VIGIL_EXEC_CWD_TRUNCATED) != 0;
      std::string_view names[VIGIL_CWD_DEPTH];
      size_t count = 0;
      while (!components.empty() && count < rec.cwd_count) {
        size_t end = components.find('\0');
        if (end == std::string_view::npos) break;
        names[count++] = components.substr(0, end);
        components.remove_prefix(end + 1);
      }
      if (count != rec.cwd_count) return false;
      st.cwd.assign(cwd_truncated ? "..." : "");
      for (size_t i = count; i > 0; --i) {
        st.cwd += '/';
        st.cwd += names[i - 1];
      }
      if (st.cwd.empty()) st.cwd = "/";

      // execve("./x") reports "./x"; resolve it against the cwd it was
      // resolved against by the kernel, which is the one just captured.
      if (!image.empty() && image.front() != '/' && !cwd_truncated) {
        while (image.starts_with("./")) image.remove_prefix(2);
        st.image.assign(st.cwd);
        if (st.image.back() != '/') st.image += '/';
        st.image += image;
      } else {
        st.image.assign(image);
      }

      event.kind = RawKind::kExec;
      event.image = st.image;
      event.command_line = st.command_line;
      // Unreadable argv pages leave an empty command line: incomplete, too.
      event.command_line_truncated = (rec.flags & (VIGIL_EXEC_ARGV_TRUNCATED | VIGIL_EXEC_ARGV_UNREADABLE)) != 0;
      event.cwd = st.cwd;
      return true;
    }
    case VIGIL_REC_FORK: {
      if (size < sizeof(vigil_fork_rec)) return false;
      event.kind = RawKind::kFork;
      return true;
    }
    case VIGIL_REC_EXIT: {
      vigil_exit_rec rec;
      if (size < sizeof(rec)) return false;
      std::memcpy(&rec, bytes, sizeof(rec));
      event.kind = RawKind::kExit;
      event.exit_code = DecodeExitCode(rec.exit_code);
      return true;
    }
    case VIGIL_REC_CONNECT: {
      vigil_connect_rec rec;
      if (size < sizeof(rec)) return false;
      std::memcpy(&rec, bytes, sizeof(rec));
      if (rec.family != kAfInet && rec.family != kAfInet6) return false;
      size_t addr_len = rec.family == kAfInet ? 4 : 16;
      event.kind = RawKind::kConnect;
      event.family = static_cast<uint8_t>(rec.family);
      event.protocol = static_cast<uint8_t>(rec.protocol);
      std::memcpy(event.dst_addr.data(), rec.dst_addr, addr_len);
      std::memcpy(event.src_addr.data(), rec.src_addr, addr_len);
      event.dst_port = rec.dst_port;
      event.src_port = rec.src_port;
      event.result = rec.result;
      return true;
    }
    default:
      break;
  }
  return false;
}

}  // namespace vigil::sources
