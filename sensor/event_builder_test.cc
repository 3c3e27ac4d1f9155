// EventBuilder and AppendEventJson: the field mapping of every raw kind, a
// schema that lacks fields (refused and counted, never written out of
// bounds), JSON escaping and U+FFFD replacement, a round trip through the
// replay decoder, OwnedEvent copies and moves, and no allocation once warm.
//
// The allocation test replaces the global operator new to count calls. Under
// AddressSanitizer the sanitizer owns operator new; that test is skipped there.
#include "sensor/event_builder.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <optional>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "base/testing/alloc_counter.h"

#include "sensor/bounded_queue.h"
#include "sources/replay/event_json.h"


namespace vigil::sensor {
namespace {

using sources::RawEvent;
using sources::RawKind;

constexpr uint64_t kSecond = 1'000'000'000;

ProcessTableOptions NoProc() { return {.proc_root = "/nonexistent", .load_on_miss = false}; }

// The field named `name` of `ev`, looked up in `schema` by name.
const FieldValue* Field(const OwnedEvent& ev, const Schema& schema, std::string_view name) {
  std::optional<FieldIndex> i = schema.FindField(ev.type(), name);
  if (!i || *i >= ev.view().fields.size()) return nullptr;
  return &ev.view().fields[*i];
}

std::optional<std::string> Text(const OwnedEvent& ev, std::string_view name,
                                const Schema& schema = Schema::Builtin()) {
  const FieldValue* f = Field(ev, schema, name);
  if (f == nullptr || !f->present) return std::nullopt;
  return std::string(f->text);
}

std::optional<int64_t> Number(const OwnedEvent& ev, std::string_view name) {
  const FieldValue* f = Field(ev, Schema::Builtin(), name);
  if (f == nullptr || !f->present || !f->has_number) return std::nullopt;
  return f->number;
}

std::string TypeName(const OwnedEvent& ev) { return Schema::Builtin().event_type(ev.type()).name; }

RawEvent Exec(int32_t pid, int32_t ppid, std::string_view image, std::string_view cmd, std::string_view cwd) {
  RawEvent e;
  e.kind = RawKind::kExec;
  e.time_ns = kSecond;
  e.pid = pid;
  e.ppid = ppid;
  e.uid = 0;
  e.gid = 27;
  e.loginuid = 1000;
  e.image = image;
  e.command_line = cmd;
  e.cwd = cwd;
  return e;
}

RawEvent FileEvent(RawKind kind, int32_t pid, std::string_view path, std::string_view path2 = {}) {
  RawEvent e;
  e.kind = kind;
  e.time_ns = 2 * kSecond;
  e.pid = pid;
  e.path = path;
  e.path2 = path2;
  return e;
}

RawEvent Connect(int32_t pid, int family, const char* src, uint16_t sport, const char* dst, uint16_t dport,
                 uint8_t protocol) {
  RawEvent e;
  e.kind = RawKind::kConnect;
  e.time_ns = 3 * kSecond;
  e.pid = pid;
  e.family = static_cast<uint8_t>(family);
  e.protocol = protocol;
  EXPECT_EQ(inet_pton(family, src, e.src_addr.data()), 1);
  EXPECT_EQ(inet_pton(family, dst, e.dst_addr.data()), 1);
  e.src_port = sport;
  e.dst_port = dport;
  return e;
}

// A shell (pid 100, child of 1) that started curl (pid 200).
class EventBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(builder_.Build(Exec(100, 1, "/usr/bin/bash", "bash -i", "/root"), table_, ev_));
    ASSERT_TRUE(builder_.Build(Exec(200, 100, "/usr/bin/curl", "curl -s http://x/a.sh", "/tmp"), table_, ev_));
  }

  const Schema& schema_ = Schema::Builtin();
  ProcessTable table_{NoProc()};
  EventBuilder builder_{Schema::Builtin()};
  OwnedEvent ev_;
};

TEST_F(EventBuilderTest, BuiltinSchemaHasEveryField) { EXPECT_TRUE(builder_.problems().empty()); }

TEST_F(EventBuilderTest, ExecIsProcessCreationWithActorAndParent) {
  EXPECT_EQ(TypeName(ev_), "process_creation");
  EXPECT_EQ(ev_.time_ns(), kSecond);
  EXPECT_EQ(Number(ev_, "ProcessId"), 200);
  EXPECT_EQ(Text(ev_, "ProcessId"), "200");
  EXPECT_EQ(Text(ev_, "Image"), "/usr/bin/curl");
  EXPECT_EQ(Text(ev_, "CommandLine"), "curl -s http://x/a.sh");
  EXPECT_EQ(Text(ev_, "CurrentDirectory"), "/tmp");
  EXPECT_EQ(Text(ev_, "User"), "root");
  EXPECT_EQ(Number(ev_, "UserId"), 0);
  EXPECT_EQ(Number(ev_, "LogonId"), 1000);
  EXPECT_EQ(Number(ev_, "ParentProcessId"), 100);
  EXPECT_EQ(Text(ev_, "ParentImage"), "/usr/bin/bash");
  EXPECT_EQ(Text(ev_, "ParentCommandLine"), "bash -i");
  EXPECT_EQ(Text(ev_, "ParentUser"), "root");
  EXPECT_EQ(Number(ev_, "GroupId"), 27);
  EXPECT_EQ(builder_.stats().built, 2u);
}

TEST_F(EventBuilderTest, UnknownParentLeavesParentFieldsAbsent) {
  ASSERT_TRUE(builder_.Build(Exec(100, 1, "/usr/bin/bash", "bash -i", "/root"), table_, ev_));
  EXPECT_EQ(Number(ev_, "ParentProcessId"), 1);
  EXPECT_EQ(Text(ev_, "ParentImage"), std::nullopt);
  EXPECT_EQ(Text(ev_, "ParentUser"), std::nullopt);
}

TEST_F(EventBuilderTest, ForkUpdatesTheTableOnly) {
  RawEvent fork;
  fork.kind = RawKind::kFork;
  fork.pid = 300;
  fork.ppid = 200;
  EXPECT_FALSE(builder_.Build(fork, table_, ev_));
  EXPECT_EQ(builder_.stats().no_event, 1u);
  ASSERT_TRUE(builder_.Build(FileEvent(RawKind::kFileCreate, 300, "/tmp/a.sh"), table_, ev_));
  EXPECT_EQ(Text(ev_, "Image"), "/usr/bin/curl");  // inherited from the parent
  EXPECT_EQ(Number(ev_, "ParentProcessId"), 200);
  EXPECT_EQ(Text(ev_, "ParentImage"), "/usr/bin/curl");
}

TEST_F(EventBuilderTest, ExitIsProcessTerminationAndStillResolves) {
  RawEvent exit;
  exit.kind = RawKind::kExit;
  exit.time_ns = 5 * kSecond;
  exit.pid = 200;
  exit.exit_code = -9;
  ASSERT_TRUE(builder_.Build(exit, table_, ev_));
  EXPECT_EQ(TypeName(ev_), "process_termination");
  EXPECT_EQ(Number(ev_, "ExitCode"), -9);
  EXPECT_EQ(Text(ev_, "Image"), "/usr/bin/curl");
  EXPECT_EQ(Text(ev_, "ParentImage"), "/usr/bin/bash");
  // A late file event of the dead process, inside the grace period.
  ASSERT_TRUE(builder_.Build(FileEvent(RawKind::kFileCloseWrite, 200, "/tmp/out"), table_, ev_));
  EXPECT_EQ(Text(ev_, "CommandLine"), "curl -s http://x/a.sh");
}

TEST_F(EventBuilderTest, FileKindsMapToTheirEventTypes) {
  struct Case {
    RawKind kind;
    const char* type;
  };
  for (Case c : {Case{RawKind::kFileCreate, "file_event"}, Case{RawKind::kFileCloseWrite, "file_change"},
                 Case{RawKind::kFileDelete, "file_delete"}, Case{RawKind::kFileOpen, "file_access"}}) {
    ASSERT_TRUE(builder_.Build(FileEvent(c.kind, 200, "/etc/passwd"), table_, ev_));
    EXPECT_EQ(TypeName(ev_), c.type);
    EXPECT_EQ(Text(ev_, "TargetFilename"), "/etc/passwd");
    EXPECT_EQ(Text(ev_, "Image"), "/usr/bin/curl");
    EXPECT_EQ(Text(ev_, "CurrentDirectory"), "/tmp");
    EXPECT_EQ(Text(ev_, "ParentCommandLine"), "bash -i");
  }
}

TEST_F(EventBuilderTest, RenameHasSourceAndTarget) {
  ASSERT_TRUE(builder_.Build(FileEvent(RawKind::kFileRename, 200, "/tmp/a", "/usr/local/bin/a"), table_, ev_));
  EXPECT_EQ(TypeName(ev_), "file_rename");
  EXPECT_EQ(Text(ev_, "SourceFilename"), "/tmp/a");
  EXPECT_EQ(Text(ev_, "TargetFilename"), "/usr/local/bin/a");
  // Legacy pairing that saw only the MOVED_TO half: the old path is unknown.
  ASSERT_TRUE(builder_.Build(FileEvent(RawKind::kFileRename, 200, "", "/usr/local/bin/b"), table_, ev_));
  EXPECT_EQ(Text(ev_, "SourceFilename"), std::nullopt);
  EXPECT_EQ(Text(ev_, "TargetFilename"), "/usr/local/bin/b");
}

TEST_F(EventBuilderTest, ConnectIpv4Tcp) {
  ASSERT_TRUE(builder_.Build(Connect(200, AF_INET, "10.0.0.5", 40000, "93.184.216.34", 443, IPPROTO_TCP),
                             table_, ev_));
  EXPECT_EQ(TypeName(ev_), "network_connection");
  EXPECT_EQ(Text(ev_, "Protocol"), "tcp");
  EXPECT_EQ(Text(ev_, "Initiated"), "true");
  EXPECT_EQ(Text(ev_, "SourceIp"), "10.0.0.5");
  EXPECT_EQ(Number(ev_, "SourcePort"), 40000);
  EXPECT_EQ(Text(ev_, "DestinationIp"), "93.184.216.34");
  EXPECT_EQ(Number(ev_, "DestinationPort"), 443);
  EXPECT_EQ(Text(ev_, "DestinationIsIpv6"), "false");
  EXPECT_EQ(Text(ev_, "SourceHostname"), std::nullopt);
  EXPECT_EQ(Text(ev_, "DestinationHostname"), std::nullopt);
  EXPECT_EQ(Text(ev_, "Image"), "/usr/bin/curl");
}

TEST_F(EventBuilderTest, ConnectIpv6UdpUnboundSource) {
  ASSERT_TRUE(builder_.Build(Connect(200, AF_INET6, "::", 0, "2001:db8::53", 53, IPPROTO_UDP), table_, ev_));
  EXPECT_EQ(Text(ev_, "Protocol"), "udp");
  EXPECT_EQ(Text(ev_, "SourceIp"), std::nullopt);
  EXPECT_EQ(Text(ev_, "SourcePort"), std::nullopt);
  EXPECT_EQ(Text(ev_, "DestinationIp"), "2001:db8::53");
  EXPECT_EQ(Number(ev_, "DestinationPort"), 53);
  EXPECT_EQ(Text(ev_, "DestinationIsIpv6"), "true");
}

TEST_F(EventBuilderTest, UnknownActorUsesWhatTheSourceKnew) {
  RawEvent e = FileEvent(RawKind::kFileCreate, 999, "/tmp/x");
  e.image = "/usr/sbin/sshd";  // fanotify read /proc/999/exe
  e.uid = 0;
  ASSERT_TRUE(builder_.Build(e, table_, ev_));
  EXPECT_EQ(Number(ev_, "ProcessId"), 999);
  EXPECT_EQ(Text(ev_, "Image"), "/usr/sbin/sshd");
  EXPECT_EQ(Text(ev_, "User"), "root");
  EXPECT_EQ(Number(ev_, "UserId"), 0);
  EXPECT_EQ(Text(ev_, "ParentProcessId"), std::nullopt);

  // The actor was gone before fanotify looked: its uid 0 is not a fact.
  e.image = {};
  ASSERT_TRUE(builder_.Build(e, table_, ev_));
  EXPECT_EQ(Text(ev_, "Image"), std::nullopt);
  EXPECT_EQ(Text(ev_, "User"), std::nullopt);
  EXPECT_EQ(Text(ev_, "UserId"), std::nullopt);
  EXPECT_EQ(Text(ev_, "TargetFilename"), "/tmp/x");
}

// The table's image wins; the raw event's is the fallback when the table has
// none (a process it learned of from a fork with an unknown parent).
TEST_F(EventBuilderTest, ImageFromTheRawEventWhenTheTableHasNone) {
  RawEvent fork;
  fork.kind = RawKind::kFork;
  fork.pid = 400;
  fork.ppid = 399;
  ASSERT_FALSE(builder_.Build(fork, table_, ev_));
  RawEvent e = FileEvent(RawKind::kFileOpen, 400, "/etc/shadow");
  e.image = "/usr/bin/cat";
  ASSERT_TRUE(builder_.Build(e, table_, ev_));
  EXPECT_EQ(Text(ev_, "Image"), "/usr/bin/cat");
}

// The 21-vs-20 lesson: a schema whose network_connection lacks a field the
// builder fills. Connect events are refused and counted, nothing is written
// past the event's fields, and other kinds still build. Fields are found by
// name, so a schema with a different order still gets every value right.
TEST(EventBuilderSchema, MissingFieldIsRefusedNotWrittenOutOfBounds) {
  std::vector<EventTypeDef> types(Schema::Builtin().event_types().begin(), Schema::Builtin().event_types().end());
  for (auto& t : types) {
    if (t.name == "network_connection") {
      ASSERT_EQ(t.fields.back().name, "DestinationIsIpv6");
      t.fields.pop_back();
    }
    if (t.name == "process_creation") std::reverse(t.fields.begin(), t.fields.end());
  }
  Result<Schema> narrow = Schema::Create(1, std::move(types));
  ASSERT_TRUE(narrow.has_value()) << narrow.error().ToString();
  EventBuilder builder(*narrow);
  ASSERT_EQ(builder.problems().size(), 1u);
  EXPECT_EQ(builder.problems()[0], "network_connection: schema has no field DestinationIsIpv6");

  ProcessTable table(NoProc());
  OwnedEvent ev;
  EXPECT_FALSE(builder.Build(Connect(1, AF_INET, "10.0.0.1", 1, "10.0.0.2", 2, IPPROTO_TCP), table, ev));
  EXPECT_EQ(builder.stats().refused, 1u);

  ASSERT_TRUE(builder.Build(Exec(7, 1, "/bin/sh", "sh -c x", "/"), table, ev));
  EXPECT_EQ(ev.view().fields.size(), 12u);
  EXPECT_EQ(Text(ev, "Image", *narrow), "/bin/sh");
  EXPECT_EQ(Text(ev, "CommandLine", *narrow), "sh -c x");
  EXPECT_EQ(Text(ev, "GroupId", *narrow), "27");
  EXPECT_EQ(*narrow->FindField(ev.type(), "GroupId"), 0);  // really reordered

  std::string json;
  AppendEventJson(json, ev, *narrow);
  EXPECT_EQ(json.rfind("{\"event\":\"process_creation\",\"GroupId\":27,", 0), 0u) << json;
}

TEST(EventBuilderSchema, MissingEventTypeIsRefused) {
  Result<Schema> only_exec = Schema::Create(1, {Schema::Builtin().event_types()[0]});
  ASSERT_TRUE(only_exec.has_value());
  EventBuilder builder(*only_exec);
  EXPECT_EQ(builder.problems().size(), 7u);
  ProcessTable table(NoProc());
  OwnedEvent ev;
  EXPECT_FALSE(builder.Build(FileEvent(RawKind::kFileDelete, 1, "/x"), table, ev));
  EXPECT_TRUE(builder.Build(Exec(7, 1, "/bin/sh", "sh", "/"), table, ev));
  EXPECT_EQ(builder.stats().refused, 1u);
  EXPECT_EQ(builder.stats().built, 1u);
}

TEST(EventJson, KeysInSchemaOrderNumbersAndStrings) {
  const Schema& schema = Schema::Builtin();
  EventBuilder builder(schema);
  ProcessTable table(NoProc());
  OwnedEvent ev;
  RawEvent e = Exec(42, 0, "/bin/echo", "echo \"hi\"\t\\", "/");
  e.loginuid = 0xffffffff;
  ASSERT_TRUE(builder.Build(e, table, ev));
  std::string json = "prefix:";
  AppendEventJson(json, ev, schema);
  EXPECT_EQ(json,
            "prefix:{\"event\":\"process_creation\",\"ProcessId\":42,\"Image\":\"/bin/echo\","
            "\"CommandLine\":\"echo \\\"hi\\\"\\t\\\\\",\"CurrentDirectory\":\"/\",\"User\":\"root\","
            "\"UserId\":0,\"GroupId\":27}");
}

TEST(EventJson, EscapesControlCharactersAndReplacesInvalidUtf8) {
  struct Case {
    std::string in;
    std::string out;
  };
  const Case cases[] = {
      {"plain", "\"plain\""},
      {std::string("a\0b", 3), "\"a\\u0000b\""},
      {"\x01\x1f\x7f\b\f\n\r", "\"\\u0001\\u001f\x7f\\b\\f\\n\\r\""},
      {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
      {"\xff", "\"\xef\xbf\xbd\""},
      {"a\xc3", "\"a\xef\xbf\xbd\""},                          // truncated at the end
      {"\xc3(", "\"\xef\xbf\xbd(\""},                          // bad continuation: keep the next byte
      {"\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\""},            // overlong
      {"\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},  // a surrogate
      {"\xf4\x90\x80\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},  // > U+10FFFF
      {"\xe2\x82", "\"\xef\xbf\xbd\""},                        // maximal subpart: one U+FFFD
      {"\xf0\x9f\x98", "\"\xef\xbf\xbd\""},
  };
  for (const Case& c : cases) {
    std::string out;
    AppendJsonString(out, c.in);
    EXPECT_EQ(out, c.out) << "input of " << c.in.size() << " bytes";
  }
}

// Decodes `json` with the replay decoder and checks every field of `ev`.
void ExpectRoundTrip(const OwnedEvent& ev, const std::string& json) {
  replay::EventDecoder decoder(Schema::Builtin());
  Status s = decoder.Decode(json);
  ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << json;
  const EventView& got = decoder.event();
  ASSERT_EQ(got.type, ev.type());
  ASSERT_EQ(got.fields.size(), ev.view().fields.size());
  EXPECT_EQ(decoder.unknown_keys(), 0u);
  for (size_t i = 0; i < got.fields.size(); ++i) {
    const FieldValue& want = ev.view().fields[i];
    SCOPED_TRACE(Schema::Builtin().event_type(ev.type()).fields[i].name);
    EXPECT_EQ(got.fields[i].present, want.present);
    EXPECT_EQ(got.fields[i].text, want.text);
    EXPECT_EQ(got.fields[i].has_number, want.has_number);
    if (want.has_number) {
      EXPECT_EQ(got.fields[i].number, want.number);
    }
  }
}

TEST_F(EventBuilderTest, EveryKindRoundTripsThroughTheReplayDecoder) {
  RawEvent exit;
  exit.kind = RawKind::kExit;
  exit.pid = 200;
  exit.exit_code = 1;
  const RawEvent raws[] = {
      Exec(300, 200, "/tmp/ünïcode \"x\"", "sh -c 'echo\tyes'\n", "/home/a b"),
      FileEvent(RawKind::kFileCreate, 300, "/tmp/new\\file"),
      FileEvent(RawKind::kFileCloseWrite, 300, "/tmp/w"),
      FileEvent(RawKind::kFileRename, 300, "/tmp/a", "/tmp/b"),
      FileEvent(RawKind::kFileDelete, 300, "/tmp/d"),
      FileEvent(RawKind::kFileOpen, 300, "/etc/hosts"),
      Connect(300, AF_INET, "192.168.1.2", 5555, "1.1.1.1", 853, IPPROTO_TCP),
      Connect(300, AF_INET6, "fe80::1", 6000, "::ffff:10.1.2.3", 80, IPPROTO_TCP),
      exit,
  };
  for (const RawEvent& raw : raws) {
    ASSERT_TRUE(builder_.Build(raw, table_, ev_));
    std::string json;
    AppendEventJson(json, ev_, schema_);
    SCOPED_TRACE(json);
    ExpectRoundTrip(ev_, json);
  }
}

// File names are arbitrary bytes: whatever they hold, the JSON decodes, and a
// name that is valid UTF-8 comes back unchanged.
TEST_F(EventBuilderTest, ArbitraryBytesAlwaysGiveValidJson) {
  std::mt19937 rng(1);
  replay::EventDecoder decoder(schema_);
  std::string path, json, sanitized;
  for (int i = 0; i < 5000; ++i) {
    path.assign(1 + rng() % 40, '\0');
    for (char& c : path) c = static_cast<char>(i % 2 == 0 ? rng() % 256 : 0x80 + rng() % 0x50);
    ASSERT_TRUE(builder_.Build(FileEvent(RawKind::kFileCreate, 200, path), table_, ev_));
    json.clear();
    AppendEventJson(json, ev_, schema_);
    Status s = decoder.Decode(json);
    ASSERT_TRUE(s.ok()) << s.ToString();
    sanitized.clear();
    AppendJsonString(sanitized, path);
    std::string_view target = decoder.event().fields[*schema_.FindField(ev_.type(), "TargetFilename")].text;
    std::string reencoded;
    AppendJsonString(reencoded, target);
    EXPECT_EQ(reencoded, sanitized);  // decoding undid exactly the escaping
  }
}

TEST_F(EventBuilderTest, CopiesAndMovesKeepTheirOwnStorage) {
  ASSERT_TRUE(builder_.Build(FileEvent(RawKind::kFileCreate, 200, "a short name"), table_, ev_));
  OwnedEvent copy = ev_;
  OwnedEvent moved = std::move(copy);
  ASSERT_TRUE(builder_.Build(FileEvent(RawKind::kFileDelete, 100, "/a/much/longer/path/than/sso/holds"), table_,
                             ev_));
  EXPECT_EQ(Text(moved, "TargetFilename"), "a short name");
  EXPECT_EQ(Text(moved, "Image"), "/usr/bin/curl");
  EXPECT_EQ(copy.view().fields.size(), 0u);  // moved-from: an empty event

  BoundedQueue<OwnedEvent> q(4);
  for (const char* p : {"/q/1", "/q/2-with-a-name-longer-than-sso", "/q/3"}) {
    ASSERT_TRUE(builder_.Build(FileEvent(RawKind::kFileCreate, 200, p), table_, ev_));
    ASSERT_TRUE(q.TryPush(std::move(ev_)));
  }
  OwnedEvent out;
  for (const char* p : {"/q/1", "/q/2-with-a-name-longer-than-sso", "/q/3"}) {
    ASSERT_TRUE(q.TryPop(out));
    EXPECT_EQ(Text(out, "TargetFilename"), p);
    EXPECT_EQ(Text(out, "CommandLine"), "curl -s http://x/a.sh");
  }
}

// Steady state of a fork storm: new pids fork, exec, touch a file, connect and
// exit, in a table that recycles its slots. Once warm, building and encoding
// allocate nothing.
TEST(EventBuilderAlloc, NoAllocationOnceWarm) {
  if (!test_support::AllocCounterAvailable()) GTEST_SKIP() << test_support::kAllocCounterUnavailable;
  const Schema& schema = Schema::Builtin();
  EventBuilder builder(schema);
  ProcessTable table({.max_entries = 64, .exited_grace_ns = kSecond, .proc_root = "/nonexistent",
                      .load_on_miss = false});
  OwnedEvent ev;
  std::string json;
  json.reserve(4096);
  ASSERT_TRUE(builder.Build(Exec(100, 1, "/usr/bin/bash-with-a-long-name", "bash --login -i", "/root/dir"),
                            table, ev));

  uint64_t t = kSecond;
  auto cycle = [&](int i) {
    int32_t pid = 1000 + i % 30000;
    t += 1'000'000;
    RawEvent fork;
    fork.kind = RawKind::kFork;
    fork.pid = pid;
    fork.ppid = 100;
    fork.time_ns = t;
    RawEvent exec = Exec(pid, 100, "/usr/bin/curl-with-a-long-name", "curl -s http://example.com/a.sh",
                         "/home/someone/work");
    exec.time_ns = t;
    exec.uid = 1000;
    RawEvent file = FileEvent(RawKind::kFileRename, pid, "/tmp/some/file/name/a", "/tmp/some/file/name/b");
    file.time_ns = t;
    RawEvent conn = Connect(pid, AF_INET6, "2001:db8::1", 40000, "2001:db8::2", 443, IPPROTO_TCP);
    conn.time_ns = t;
    RawEvent exit;
    exit.kind = RawKind::kExit;
    exit.pid = pid;
    exit.time_ns = t;
    size_t built = 0;
    for (const RawEvent* raw : {&fork, &exec, &file, &conn, &exit}) {
      if (builder.Build(*raw, table, ev)) {
        ++built;
        json.clear();
        AppendEventJson(json, ev, schema);
      }
    }
    return built;
  };
  for (int i = 0; i < 2000; ++i) cycle(i);  // every slot used and recycled

  const size_t before = test_support::AllocationCount();
  size_t built = 0;
  for (int i = 2000; i < 12000; ++i) built += cycle(i);
  const size_t allocations = test_support::AllocationCount() - before;
  EXPECT_EQ(allocations, 0u);
  EXPECT_EQ(built, 40000u);
  EXPECT_LE(table.stats().entries, 64u);
}

}  // namespace
}  // namespace vigil::sensor
