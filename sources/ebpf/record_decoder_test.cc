#include "sources/ebpf/record_decoder.h"

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sources/ebpf/vigil_bpf_records.h"

namespace vigil::sources {
namespace {

vigil_rec_hdr Header(uint32_t kind) {
  vigil_rec_hdr h{};
  h.kind = kind;
  h.pid = 4242;
  h.ktime_ns = 1'000;
  h.ppid = 7;
  h.uid = 1000;
  h.gid = 100;
  h.loginuid = 1000;
  return h;
}

// An exec record as the kernel side lays it out: the fixed part, then image,
// argv (NUL-separated) and the cwd's components, leaf first.
std::vector<uint8_t> ExecRecord(const std::string& image, const std::string& argv,
                                const std::vector<std::string>& cwd_leaf_first, uint8_t flags = 0) {
  std::string comps;
  for (const std::string& c : cwd_leaf_first) comps += c + '\0';
  vigil_exec_rec rec{};
  rec.hdr = Header(VIGIL_REC_EXEC);
  rec.image_len = static_cast<uint16_t>(image.size());
  rec.argv_len = static_cast<uint16_t>(argv.size());
  rec.cwd_len = static_cast<uint16_t>(comps.size());
  rec.cwd_count = static_cast<uint8_t>(cwd_leaf_first.size());
  rec.flags = flags;
  const std::string data = (image + argv + comps).substr(0, sizeof(rec.data));
  std::memcpy(rec.data, data.data(), data.size());
  const size_t size = offsetof(vigil_exec_rec, data) + data.size();
  const auto* p = reinterpret_cast<const uint8_t*>(&rec);
  return std::vector<uint8_t>(p, p + size);
}

template <typename T>
std::vector<uint8_t> Bytes(const T& rec) {
  const auto* p = reinterpret_cast<const uint8_t*>(&rec);
  return std::vector<uint8_t>(p, p + sizeof(rec));
}

TEST(RecordDecoder, ExecWithArgvAndCwd) {
  RecordBuffers buf;
  RawEvent ev;
  const auto rec = ExecRecord("/usr/bin/ls", std::string("ls\0-la\0/tmp\0", 12), {"work", "home"});
  ASSERT_TRUE(DecodeRecord(rec, 5'000, buf, ev));
  EXPECT_EQ(ev.kind, RawKind::kExec);
  EXPECT_EQ(ev.pid, 4242);
  EXPECT_EQ(ev.ppid, 7);
  EXPECT_EQ(ev.uid, 1000u);
  EXPECT_EQ(ev.time_ns, 6'000u);  // monotonic + offset
  EXPECT_EQ(ev.image, "/usr/bin/ls");
  EXPECT_EQ(ev.command_line, "ls -la /tmp");
  EXPECT_FALSE(ev.command_line_truncated);
  EXPECT_EQ(ev.cwd, "/home/work");
}

TEST(RecordDecoder, RelativeImageIsResolvedAgainstTheCwd) {
  RecordBuffers buf;
  RawEvent ev;
  ASSERT_TRUE(DecodeRecord(ExecRecord("./././x", "x", {"b", "a"}), 0, buf, ev));
  EXPECT_EQ(ev.image, "/a/b/x");
  ASSERT_TRUE(DecodeRecord(ExecRecord("x", "x", {}), 0, buf, ev));
  EXPECT_EQ(ev.cwd, "/");
  EXPECT_EQ(ev.image, "/x");
  // A cwd deeper than the walk is shown as ".../<components>" and a relative
  // image is not resolved against it (it would look absolute and be wrong).
  ASSERT_TRUE(DecodeRecord(ExecRecord("./x", "x", {"c"}, VIGIL_EXEC_CWD_TRUNCATED), 0, buf, ev));
  EXPECT_EQ(ev.cwd, ".../c");
  EXPECT_EQ(ev.image, "./x");
}

TEST(RecordDecoder, TruncatedOrUnreadableArgvIsMarked) {
  RecordBuffers buf;
  RawEvent ev;
  ASSERT_TRUE(DecodeRecord(ExecRecord("/bin/a", "a", {}, VIGIL_EXEC_ARGV_TRUNCATED), 0, buf, ev));
  EXPECT_TRUE(ev.command_line_truncated);
  ASSERT_TRUE(DecodeRecord(ExecRecord("/bin/a", "", {}, VIGIL_EXEC_ARGV_UNREADABLE), 0, buf, ev));
  EXPECT_TRUE(ev.command_line_truncated);
  EXPECT_EQ(ev.command_line, "");
}

TEST(RecordDecoder, ExecLengthsBeyondTheRecordOrTheFormatAreRefused) {
  RecordBuffers buf;
  RawEvent ev;
  auto rec = ExecRecord("/bin/a", "a", {"x"});
  // Every truncation of a valid record is refused, never read past.
  for (size_t n = 0; n < rec.size(); ++n) {
    EXPECT_FALSE(DecodeRecord(std::span<const uint8_t>(rec.data(), n), 0, buf, ev)) << n << " bytes";
  }
  auto patched = [&](auto mutate) {
    vigil_exec_rec r{};
    std::memcpy(&r, rec.data(), rec.size());
    mutate(r);
    std::vector<uint8_t> out(rec);
    std::memcpy(out.data(), &r, offsetof(vigil_exec_rec, data));
    return out;
  };
  EXPECT_FALSE(DecodeRecord(patched([](vigil_exec_rec& r) { r.image_len = VIGIL_IMAGE_MAX; }), 0, buf, ev));
  EXPECT_FALSE(DecodeRecord(patched([](vigil_exec_rec& r) { r.argv_len = VIGIL_ARGV_MAX + 1; }), 0, buf, ev));
  EXPECT_FALSE(DecodeRecord(patched([](vigil_exec_rec& r) { r.cwd_count = VIGIL_CWD_DEPTH + 1; }), 0, buf, ev));
  EXPECT_FALSE(DecodeRecord(patched([](vigil_exec_rec& r) { r.cwd_len += 1; }), 0, buf, ev));
  // A component count the bytes do not hold (no NUL for the second one).
  EXPECT_FALSE(DecodeRecord(patched([](vigil_exec_rec& r) { r.cwd_count = 2; }), 0, buf, ev));
}

TEST(RecordDecoder, ForkExitConnect) {
  RecordBuffers buf;
  RawEvent ev;
  vigil_fork_rec fork{};
  fork.hdr = Header(VIGIL_REC_FORK);
  ASSERT_TRUE(DecodeRecord(Bytes(fork), 0, buf, ev));
  EXPECT_EQ(ev.kind, RawKind::kFork);
  EXPECT_EQ(ev.pid, 4242);

  vigil_exit_rec exit{};
  exit.hdr = Header(VIGIL_REC_EXIT);
  exit.exit_code = 3 << 8;
  ASSERT_TRUE(DecodeRecord(Bytes(exit), 0, buf, ev));
  EXPECT_EQ(ev.kind, RawKind::kExit);
  EXPECT_EQ(ev.exit_code, 3);
  exit.exit_code = 9;  // killed by SIGKILL
  ASSERT_TRUE(DecodeRecord(Bytes(exit), 0, buf, ev));
  EXPECT_EQ(ev.exit_code, -9);

  vigil_connect_rec c{};
  c.hdr = Header(VIGIL_REC_CONNECT);
  c.family = 2;
  c.protocol = 6;
  c.dst_addr[0] = 10;
  c.dst_addr[3] = 1;
  c.dst_port = 443;
  c.result = -111;
  ASSERT_TRUE(DecodeRecord(Bytes(c), 0, buf, ev));
  EXPECT_EQ(ev.kind, RawKind::kConnect);
  EXPECT_EQ(ev.family, 2);
  EXPECT_EQ(ev.dst_port, 443);
  EXPECT_EQ(ev.dst_addr[0], 10);
  EXPECT_EQ(ev.result, -111);
  c.family = 1;  // AF_UNIX: not ours to report
  EXPECT_FALSE(DecodeRecord(Bytes(c), 0, buf, ev));
}

TEST(RecordDecoder, ShortAndUnknownRecordsAreRefused) {
  RecordBuffers buf;
  RawEvent ev;
  vigil_fork_rec fork{};
  fork.hdr = Header(VIGIL_REC_FORK);
  auto bytes = Bytes(fork);
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(DecodeRecord(std::span<const uint8_t>(bytes.data(), n), 0, buf, ev)) << n;
  }
  vigil_exit_rec exit{};
  exit.hdr = Header(VIGIL_REC_EXIT);
  EXPECT_FALSE(DecodeRecord(std::span<const uint8_t>(Bytes(exit).data(), sizeof(exit) - 1), 0, buf, ev));
  fork.hdr.kind = 99;
  EXPECT_FALSE(DecodeRecord(Bytes(fork), 0, buf, ev));
}

}  // namespace
}  // namespace vigil::sources
