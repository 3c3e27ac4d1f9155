#include "sources/fanotify/event_parser.h"

#include <sys/fanotify.h>

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace vigil::sources::fanotify {
namespace {

// Builds fanotify read(2) output byte by byte, the way the kernel lays it out.
class Builder {
 public:
  size_t Begin(uint64_t mask, int32_t pid) {
    start_ = bytes_.size();
    fanotify_event_metadata m{};
    m.vers = FANOTIFY_METADATA_VERSION;
    m.metadata_len = sizeof(m);
    m.mask = mask;
    m.fd = FAN_NOFD;
    m.pid = pid;
    Append(&m, sizeof(m));
    return start_;
  }
  // A DFID_NAME-style record; `name` is written with its NUL unless with_nul is false.
  size_t Fid(uint8_t type, uint64_t fsid, std::vector<uint8_t> handle, const std::string& name,
             bool with_nul = true) {
    const size_t at = bytes_.size();
    fanotify_event_info_header h{type, 0, 0};
    Append(&h, sizeof(h));
    Append(&fsid, sizeof(fsid));
    const uint32_t handle_bytes = static_cast<uint32_t>(handle.size());
    const int32_t handle_type = 1;
    Append(&handle_bytes, 4);
    Append(&handle_type, 4);
    Append(handle.data(), handle.size());
    Append(name.data(), name.size());
    if (with_nul) bytes_.push_back(0);
    while ((bytes_.size() - at) % 4 != 0) bytes_.push_back(0);
    SetU16(at + 2, static_cast<uint16_t>(bytes_.size() - at));
    return at;
  }
  void Pidfd(int32_t fd) {
    fanotify_event_info_pidfd p{};
    p.hdr.info_type = FAN_EVENT_INFO_TYPE_PIDFD;
    p.hdr.len = sizeof(p);
    p.pidfd = fd;
    Append(&p, sizeof(p));
  }
  void End() { SetU32(start_, static_cast<uint32_t>(bytes_.size() - start_)); }
  void SetU16(size_t at, uint16_t v) { std::memcpy(&bytes_[at], &v, 2); }
  void SetU32(size_t at, uint32_t v) { std::memcpy(&bytes_[at], &v, 4); }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  void Append(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
  }
  std::vector<uint8_t> bytes_;
  size_t start_ = 0;
};

TEST(EventParser, DfidNameAndPidfd) {
  Builder b;
  b.Begin(FAN_CREATE, 42);
  b.Fid(FAN_EVENT_INFO_TYPE_DFID_NAME, 7, {1, 2, 3, 4, 5, 6, 7, 8}, "hello.txt");
  b.Pidfd(9);
  b.End();
  ParsedEvent ev;
  ParseStep step = ParseEvent(b.bytes(), &ev);
  ASSERT_EQ(step.status, ParseStatus::kOk);
  EXPECT_EQ(step.consumed, b.bytes().size());
  EXPECT_EQ(ev.mask, FAN_CREATE);
  EXPECT_EQ(ev.pid, 42);
  EXPECT_EQ(ev.pidfd, 9);
  ASSERT_TRUE(ev.dir.present);
  EXPECT_EQ(ev.dir.fsid, 7u);
  EXPECT_EQ(ev.dir.handle.size(), 8u);
  EXPECT_EQ(ev.dir.name, "hello.txt");
  EXPECT_FALSE(ev.old_dir.present);
}

TEST(EventParser, RenameRecordsAndTwoEvents) {
  Builder b;
  b.Begin(FAN_RENAME, 1);
  b.Fid(FAN_EVENT_INFO_TYPE_OLD_DFID_NAME, 7, {1, 1, 1, 1}, "a");
  b.Fid(FAN_EVENT_INFO_TYPE_NEW_DFID_NAME, 7, {2, 2, 2, 2}, "b");
  b.End();
  const size_t second = b.Begin(FAN_DELETE, 2);
  b.Fid(FAN_EVENT_INFO_TYPE_DFID_NAME, 7, {2, 2, 2, 2}, "b");
  b.End();
  ParsedEvent ev;
  ParseStep step = ParseEvent(b.bytes(), &ev);
  ASSERT_EQ(step.status, ParseStatus::kOk);
  EXPECT_EQ(step.consumed, second);
  EXPECT_EQ(ev.old_dir.name, "a");
  EXPECT_EQ(ev.new_dir.name, "b");
  step = ParseEvent(std::span<const uint8_t>(b.bytes()).subspan(second), &ev);
  ASSERT_EQ(step.status, ParseStatus::kOk);
  EXPECT_EQ(ev.mask, FAN_DELETE);
  EXPECT_EQ(ev.dir.name, "b");
}

TEST(EventParser, OverflowHasNoRecords) {
  Builder b;
  b.Begin(FAN_Q_OVERFLOW, -1);
  b.End();
  ParsedEvent ev;
  ASSERT_EQ(ParseEvent(b.bytes(), &ev).status, ParseStatus::kOk);
  EXPECT_EQ(ev.mask, FAN_Q_OVERFLOW);
  EXPECT_FALSE(ev.dir.present);
}

TEST(EventParser, HeaderProblemsStopTheStream) {
  Builder b;
  b.Begin(FAN_CREATE, 1);
  b.Fid(FAN_EVENT_INFO_TYPE_DFID_NAME, 7, {1, 2, 3, 4}, "x");
  b.End();
  const std::vector<uint8_t> good = b.bytes();
  ParsedEvent ev;
  // Shorter than the metadata.
  EXPECT_EQ(ParseEvent(std::span<const uint8_t>(good).first(10), &ev).status, ParseStatus::kBadStream);
  // event_len past the end of what was read.
  EXPECT_EQ(ParseEvent(std::span<const uint8_t>(good).first(good.size() - 1), &ev).status,
            ParseStatus::kBadStream);
  // event_len smaller than metadata_len.
  b.SetU32(0, 8);
  EXPECT_EQ(ParseEvent(b.bytes(), &ev).status, ParseStatus::kBadStream);
  // Unknown metadata version.
  b.bytes() = good;
  b.bytes()[4] = FANOTIFY_METADATA_VERSION + 1;
  EXPECT_EQ(ParseEvent(b.bytes(), &ev).status, ParseStatus::kBadStream);
  // metadata_len smaller than the struct.
  b.bytes() = good;
  b.SetU16(6, 4);
  EXPECT_EQ(ParseEvent(b.bytes(), &ev).status, ParseStatus::kBadStream);
}

// Each case corrupts one record of an otherwise sound event: the event is
// skipped whole (consumed == event_len), the pidfd before it still reported.
TEST(EventParser, RecordProblemsSkipTheEvent) {
  struct Case {
    const char* what;
    void (*corrupt)(Builder&, size_t rec);
  };
  const Case cases[] = {
      {"record len 0", [](Builder& b, size_t rec) { b.SetU16(rec + 2, 0); }},
      {"record len 3", [](Builder& b, size_t rec) { b.SetU16(rec + 2, 3); }},
      {"record len past the event", [](Builder& b, size_t rec) { b.SetU16(rec + 2, 500); }},
      {"handle_bytes past the record", [](Builder& b, size_t rec) { b.SetU32(rec + 12, 60); }},
      {"handle_bytes 0", [](Builder& b, size_t rec) { b.SetU32(rec + 12, 0); }},
      {"handle_bytes above MAX_HANDLE_SZ", [](Builder& b, size_t rec) { b.SetU32(rec + 12, 4096); }},
      {"record shorter than a file handle", [](Builder& b, size_t rec) { b.SetU16(rec + 2, 16); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Builder b;
    b.Begin(FAN_CREATE, 1);
    b.Pidfd(5);
    const size_t rec = b.Fid(FAN_EVENT_INFO_TYPE_DFID_NAME, 7, {1, 2, 3, 4, 5, 6, 7, 8}, "name");
    b.End();
    const size_t event_len = b.bytes().size();
    c.corrupt(b, rec);
    ParsedEvent ev;
    ParseStep step = ParseEvent(b.bytes(), &ev);
    EXPECT_EQ(step.status, ParseStatus::kBadEvent);
    EXPECT_EQ(step.consumed, event_len);
    EXPECT_EQ(ev.pidfd, 5);
  }
}

TEST(EventParser, NameProblems) {
  ParsedEvent ev;
  {
    Builder b;  // no NUL anywhere in the record
    b.Begin(FAN_CREATE, 1);
    b.Fid(FAN_EVENT_INFO_TYPE_DFID_NAME, 7, {1, 2, 3, 4}, "abcd", /*with_nul=*/false);
    b.End();
    EXPECT_EQ(ParseEvent(b.bytes(), &ev).status, ParseStatus::kBadEvent);
  }
  {
    Builder b;  // empty name
    b.Begin(FAN_CREATE, 1);
    b.Fid(FAN_EVENT_INFO_TYPE_DFID_NAME, 7, {1, 2, 3, 4}, "");
    b.End();
    EXPECT_EQ(ParseEvent(b.bytes(), &ev).status, ParseStatus::kBadEvent);
  }
  {
    Builder b;  // longer than NAME_MAX
    b.Begin(FAN_CREATE, 1);
    b.Fid(FAN_EVENT_INFO_TYPE_DFID_NAME, 7, {1, 2, 3, 4}, std::string(kMaxNameBytes + 1, 'n'));
    b.End();
    EXPECT_EQ(ParseEvent(b.bytes(), &ev).status, ParseStatus::kBadEvent);
  }
  {
    Builder b;  // two DFID_NAME records: ambiguous
    b.Begin(FAN_CREATE, 1);
    b.Fid(FAN_EVENT_INFO_TYPE_DFID_NAME, 7, {1, 2, 3, 4}, "a");
    b.Fid(FAN_EVENT_INFO_TYPE_DFID_NAME, 7, {1, 2, 3, 4}, "b");
    b.End();
    EXPECT_EQ(ParseEvent(b.bytes(), &ev).status, ParseStatus::kBadEvent);
  }
  {
    Builder b;  // exactly NAME_MAX is fine; a DFID record has no name
    b.Begin(FAN_CREATE, 1);
    b.Fid(FAN_EVENT_INFO_TYPE_DFID_NAME, 7, {1, 2, 3, 4}, std::string(kMaxNameBytes, 'n'));
    b.End();
    ASSERT_EQ(ParseEvent(b.bytes(), &ev).status, ParseStatus::kOk);
    EXPECT_EQ(ev.dir.name.size(), kMaxNameBytes);
  }
}

TEST(EventParser, UnknownRecordTypesAreSkipped) {
  Builder b;
  b.Begin(FAN_CREATE, 1);
  b.Fid(99, 7, {9, 9, 9, 9}, "ignored");
  b.Fid(FAN_EVENT_INFO_TYPE_DFID_NAME, 7, {1, 2, 3, 4}, "kept");
  b.End();
  ParsedEvent ev;
  ASSERT_EQ(ParseEvent(b.bytes(), &ev).status, ParseStatus::kOk);
  EXPECT_EQ(ev.dir.name, "kept");
}

// Every prefix of a sound two-event buffer either parses an event or stops;
// never reads past the span (ASan would say so).
TEST(EventParser, EveryTruncationIsSafe) {
  Builder b;
  b.Begin(FAN_RENAME, 1);
  b.Fid(FAN_EVENT_INFO_TYPE_OLD_DFID_NAME, 7, {1, 1, 1, 1}, "a");
  b.Fid(FAN_EVENT_INFO_TYPE_NEW_DFID_NAME, 7, {2, 2, 2, 2}, "b");
  b.Pidfd(3);
  b.End();
  for (size_t n = 0; n <= b.bytes().size(); ++n) {
    std::vector<uint8_t> copy(b.bytes().begin(), b.bytes().begin() + static_cast<ptrdiff_t>(n));
    ParsedEvent ev;
    ParseStep step = ParseEvent(copy, &ev);
    EXPECT_LE(step.consumed, n);
    EXPECT_EQ(step.status, n == b.bytes().size() ? ParseStatus::kOk : ParseStatus::kBadStream) << n;
  }
}

}  // namespace
}  // namespace vigil::sources::fanotify
