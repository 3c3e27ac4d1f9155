// End-to-end check of detection content through the real CLI binary.
//
// What it does, with the binaries ctest points at (VIGIL_BIN_DIR):
//   1. `vigil content build rules/default -o default.vbundle --strict`
//   2. `vigil content build $VIGIL_SIGMA_DIR/rules/linux -o sigmahq.vbundle`
//      (SigmaHQ's corpus, read in place, never copied into the repo)
//   3. For each cases file (rules/default/tests.jsonl against the default
//      bundle, content/testdata/sigmahq_cases.jsonl against the SigmaHQ
//      bundle), writes the inner "event" objects to a JSONL file, runs
//      `vigil replay --bundle B events.jsonl` and checks, case by case, that an
//      alert for the case's rule_id appeared exactly when "expect" is true.
//   4. Every rule in rules/default/*.yml has at least one positive and one
//      negative case; every rule a cases file names exists and has a positive.
//   5. Replaying rules/samples/events.jsonl with the default bundle reads every
//      line, raises alerts, and raises them only on the intrusion's processes.
//   6. No default rule is a blocking rule.
//
// Mapping alerts to cases: an alert carries the input event verbatim, so the
// harness overwrites each case's event "ProcessId" with a marker unique to the
// case (kMarkerBase + case index) and matches alerts on event.ProcessId. The
// ProcessIds written in the cases files are therefore only illustrative; no
// rule may test ProcessId.
//
// Case line format (docs/replay-format.md, "Rule test cases"):
//   {"rule_id": "<uuid>", "expect": true|false, "note": "...", "event": {...}}
//
// Environment (set by vigil_test): VIGIL_BIN_DIR, VIGIL_SOURCE_DIR,
// VIGIL_SIGMA_DIR (default: $VIGIL_SOURCE_DIR/../shared/sigma).
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int64_t kMarkerBase = 7'000'000;

std::string Env(const char* name, const std::string& fallback = "") {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

struct CommandResult {
  int exit_code = -1;
  std::string out;
};

// Runs `command` through the shell; stdout is captured, stderr goes to
// `stderr_path` so a failure can show it.
CommandResult RunCommand(const std::string& command, const std::string& stderr_path) {
  CommandResult r;
  std::string full = command + " 2>" + Quote(stderr_path);
  FILE* pipe = ::popen(full.c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[65536];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) r.out.append(buf, n);
  int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) out.push_back(line);
  }
  return out;
}

// The value of a top-level `id:` line ("id: 'abc-1'" -> "abc-1"), or "".
std::string TopLevelId(const std::string& line) {
  if (line.rfind("id:", 0) != 0) return "";
  std::string v = line.substr(3);
  auto trim = [&](const char* chars) {
    v.erase(0, v.find_first_not_of(chars));
    v.erase(v.find_last_not_of(chars) + 1);
  };
  trim(" \t\r");
  trim("'\"");
  if (v.empty() || v.find_first_not_of("0123456789abcdefABCDEF-") != std::string::npos) return "";
  return v;
}

// Top-level `id:` of every rule document in the .yml files under `dir`.
std::map<std::string, std::string> RuleIdsIn(const fs::path& dir) {
  std::map<std::string, std::string> ids;  // id -> file
  if (!fs::is_directory(dir)) return ids;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const auto ext = entry.path().extension();
    if (ext != ".yml" && ext != ".yaml") continue;
    for (const auto& line : Lines(ReadAll(entry.path().string()))) {
      if (std::string id = TopLevelId(line); !id.empty()) ids.emplace(id, entry.path().string());
    }
  }
  return ids;
}

struct Case {
  size_t line = 0;
  std::string rule_id;
  bool expect = false;
  std::string note;
  json event;
  int64_t marker = 0;
};

// Parses a cases file; malformed lines are test failures (with line numbers).
std::vector<Case> LoadCases(const std::string& path, int64_t marker_base) {
  std::vector<Case> cases;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::string line;
  size_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      ADD_FAILURE() << path << ":" << lineno << ": not a JSON object";
      continue;
    }
    if (!j.contains("rule_id") || !j["rule_id"].is_string() || !j.contains("expect") ||
        !j["expect"].is_boolean() || !j.contains("event") || !j["event"].is_object() ||
        !j["event"].contains("event") || !j["event"]["event"].is_string()) {
      ADD_FAILURE() << path << ":" << lineno << ": needs string rule_id, boolean expect, object event with \"event\"";
      continue;
    }
    Case c;
    c.line = lineno;
    c.rule_id = j["rule_id"].get<std::string>();
    c.expect = j["expect"].get<bool>();
    if (j.contains("note") && j["note"].is_string()) c.note = j["note"].get<std::string>();
    c.event = j["event"];
    c.marker = marker_base + static_cast<int64_t>(cases.size());
    c.event["ProcessId"] = c.marker;
    cases.push_back(std::move(c));
  }
  return cases;
}

class ReplayCasesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    bin_ = Env("VIGIL_BIN_DIR");
    src_ = Env("VIGIL_SOURCE_DIR");
    sigma_ = Env("VIGIL_SIGMA_DIR", src_.empty() ? "" : src_ + "/../shared/sigma");
    char tmpl[] = "/tmp/vigil_replay_cases.XXXXXX";
    if (char* d = ::mkdtemp(tmpl)) tmp_ = d;
  }
  static void TearDownTestSuite() {
    if (!tmp_.empty()) {
      std::error_code ec;
      fs::remove_all(tmp_, ec);
    }
  }

  void SetUp() override {
    ASSERT_FALSE(bin_.empty()) << "VIGIL_BIN_DIR is not set (run through ctest)";
    ASSERT_FALSE(src_.empty()) << "VIGIL_SOURCE_DIR is not set (run through ctest)";
    ASSERT_FALSE(tmp_.empty()) << "mkdtemp failed";
  }

  static void ExpectVigil() {
    EXPECT_TRUE(fs::exists(Vigil())) << Vigil() << " does not exist; build the vigil target first";
  }

  static std::string Vigil() { return bin_ + "/vigil"; }

  // Builds (once per suite) and returns the path of the named bundle.
  static std::string Bundle(const std::string& name, const std::string& rules_dir, bool strict) {
    std::string out = tmp_ + "/" + name + ".vbundle";
    if (fs::exists(out)) return out;
    ExpectVigil();
    std::string err = tmp_ + "/" + name + ".build.stderr";
    CommandResult r = RunCommand(Vigil() + " content build " + Quote(rules_dir) + " -o " + Quote(out) +
                              (strict ? " --strict" : ""),
                          err);
    EXPECT_EQ(r.exit_code, 0) << "vigil content build " << rules_dir << " failed:\n" << ReadAll(err);
    EXPECT_TRUE(fs::exists(out)) << out << " was not written:\n" << ReadAll(err);
    return out;
  }

  // Writes `events` (one JSON object each) to a file and replays them.
  // Returns the parsed alerts; every stdout line must be a well-formed alert.
  static std::vector<json> Replay(const std::string& bundle, const std::string& events_path, std::string* err_text) {
    // stderr goes to a temp file, never beside events_path (which may be in the source tree).
    static int replay_count = 0;
    std::string err = (fs::temp_directory_path() /
                       ("vigil_replay_" + std::to_string(::getpid()) + "_" + std::to_string(++replay_count) + ".stderr"))
                          .string();
    CommandResult r = RunCommand(Vigil() + " replay --stats --bundle " + Quote(bundle) + " " + Quote(events_path), err);
    const std::string err_contents = ReadAll(err);
    fs::remove(err);
    if (err_text != nullptr) *err_text = err_contents;
    EXPECT_EQ(r.exit_code, 0) << "vigil replay failed:\n" << err_contents;
    std::vector<json> alerts;
    for (const auto& line : Lines(r.out)) {
      json a = json::parse(line, nullptr, false);
      if (a.is_discarded() || !a.is_object()) {
        ADD_FAILURE() << "replay printed a non-JSON line: " << line.substr(0, 200);
        continue;
      }
      for (const char* key : {"rule_id", "rule_title", "level", "tags", "event"}) {
        EXPECT_TRUE(a.contains(key)) << "alert without \"" << key << "\": " << line.substr(0, 200);
      }
      if (a.contains("rule_id") && a["rule_id"].is_string() && a.contains("event") && a["event"].is_object()) {
        alerts.push_back(std::move(a));
      }
    }
    return alerts;
  }

  // Replays every case's event and checks each case's expectation. Returns
  // the rule ids that had at least one passing positive case.
  static std::set<std::string> CheckCases(const std::vector<Case>& cases, const std::string& bundle,
                                          const std::string& name, const std::string& stem) {
    std::string events_path = tmp_ + "/" + stem + ".events.jsonl";
    {
      std::ofstream ev(events_path);
      for (const auto& c : cases) ev << c.event.dump() << "\n";
    }
    std::string err_text;
    std::vector<json> alerts = Replay(bundle, events_path, &err_text);
    // Every case event must be accepted by the replay decoder (--stats line).
    EXPECT_NE(err_text.find("events read " + std::to_string(cases.size()) + ", bad lines 0,"), std::string::npos)
        << name << ": replay did not accept every case event:\n" << err_text;
    std::set<std::pair<int64_t, std::string>> fired;
    for (const auto& a : alerts) {
      const json& pid = a["event"].contains("ProcessId") ? a["event"]["ProcessId"] : json();
      if (pid.is_number_integer()) fired.emplace(pid.get<int64_t>(), a["rule_id"].get<std::string>());
    }
    std::set<std::string> positive_ok;
    size_t failed = 0;
    for (const auto& c : cases) {
      bool got = fired.count({c.marker, c.rule_id}) > 0;
      if (got != c.expect) {
        ++failed;
        ADD_FAILURE() << name << " line " << c.line << ": rule " << c.rule_id << " expected "
                      << (c.expect ? "a match" : "no match") << ", got " << (got ? "a match" : "no match")
                      << " (" << c.note << ")\n  event: " << c.event.dump();
      } else if (c.expect) {
        positive_ok.insert(c.rule_id);
      }
    }
    if (failed > 0) ADD_FAILURE() << name << ": " << failed << " of " << cases.size() << " cases failed\n" << err_text;
    return positive_ok;
  }

  static std::string bin_, src_, sigma_, tmp_;
};

std::string ReplayCasesTest::bin_;
std::string ReplayCasesTest::src_;
std::string ReplayCasesTest::sigma_;
std::string ReplayCasesTest::tmp_;

TEST_F(ReplayCasesTest, DefaultRulesHavePositiveAndNegativeCases) {
  auto ids = RuleIdsIn(src_ + "/rules/default");
  ASSERT_GE(ids.size(), 25u) << "expected the default rule set under rules/default";
  std::vector<Case> cases = LoadCases(src_ + "/rules/default/tests.jsonl", kMarkerBase);
  std::map<std::string, std::pair<int, int>> counts;  // id -> (positives, negatives)
  for (const auto& c : cases) {
    EXPECT_TRUE(ids.count(c.rule_id)) << "tests.jsonl line " << c.line << ": unknown rule id " << c.rule_id;
    (c.expect ? counts[c.rule_id].first : counts[c.rule_id].second)++;
  }
  for (const auto& [id, file] : ids) {
    EXPECT_GE(counts[id].first, 1) << file << " (" << id << ") has no positive case in tests.jsonl";
    EXPECT_GE(counts[id].second, 1) << file << " (" << id << ") has no negative case in tests.jsonl";
  }
}

TEST_F(ReplayCasesTest, DefaultRulesMatchTheirCases) {
  std::string bundle = Bundle("default", src_ + "/rules/default", /*strict=*/true);
  ASSERT_FALSE(HasFailure());
  std::vector<Case> cases = LoadCases(src_ + "/rules/default/tests.jsonl", kMarkerBase);
  ASSERT_FALSE(cases.empty());
  CheckCases(cases, bundle, "rules/default/tests.jsonl", "default_cases");
}

// vigil ships with enforcement off, and its default content must not block
// even where an operator turns enforcement on: blocking is always the
// operator's explicit choice (docs/sigma.md, "vigil attributes").
TEST_F(ReplayCasesTest, DefaultContentNeverBlocks) {
  std::string bundle = Bundle("default", src_ + "/rules/default", /*strict=*/true);
  ASSERT_FALSE(HasFailure());
  std::string err = tmp_ + "/default.inspect.stderr";
  CommandResult r = RunCommand(Vigil() + " content inspect --json " + Quote(bundle), err);
  ASSERT_EQ(r.exit_code, 0) << ReadAll(err);
  json doc = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(doc.is_object() && doc.contains("rules") && doc["rules"].is_array()) << r.out.substr(0, 200);
  ASSERT_GE(doc["rules"].size(), 25u);
  for (const json& rule : doc["rules"]) {
    EXPECT_EQ(rule.value("action", ""), "alert") << rule.value("id", "") << " (" << rule.value("source", "") << ")";
  }
}

TEST_F(ReplayCasesTest, SigmaHqRulesMatchHandWrittenCases) {
  const std::string rules_dir = sigma_ + "/rules/linux";
  ASSERT_TRUE(fs::is_directory(rules_dir)) << rules_dir << " not found (set VIGIL_SIGMA_DIR)";
  auto ids = RuleIdsIn(rules_dir);
  std::vector<Case> cases = LoadCases(src_ + "/content/testdata/sigmahq_cases.jsonl", kMarkerBase + 1'000'000);
  std::set<std::string> named;
  for (const auto& c : cases) {
    EXPECT_TRUE(ids.count(c.rule_id)) << "sigmahq_cases.jsonl line " << c.line << ": no SigmaHQ rule has id "
                                      << c.rule_id;
    named.insert(c.rule_id);
  }
  EXPECT_GE(named.size(), 15u) << "cases should cover at least 15 SigmaHQ rules";

  std::string bundle = Bundle("sigmahq", rules_dir, /*strict=*/false);
  ASSERT_FALSE(HasFailure());
  std::set<std::string> positive_ok = CheckCases(cases, bundle, "content/testdata/sigmahq_cases.jsonl", "sigmahq_cases");
  // A rule that did not compile would pass its negative cases vacuously.
  for (const auto& id : named) {
    EXPECT_TRUE(positive_ok.count(id)) << "SigmaHQ rule " << id << " (" << ids[id]
                                       << ") has no positive case that matched";
  }
}

TEST_F(ReplayCasesTest, SampleEventsAlertOnlyOnTheIntrusion) {
  std::string bundle = Bundle("default", src_ + "/rules/default", /*strict=*/true);
  ASSERT_FALSE(HasFailure());
  const std::string sample = src_ + "/rules/samples/events.jsonl";
  size_t lines = Lines(ReadAll(sample)).size();
  ASSERT_GE(lines, 150u);
  std::string err_text;
  std::vector<json> alerts = Replay(bundle, sample, &err_text);
  // --stats: "events read N, bad lines 0, ..."
  EXPECT_NE(err_text.find("events read " + std::to_string(lines) + ","), std::string::npos) << err_text;
  EXPECT_NE(err_text.find("bad lines 0,"), std::string::npos) << err_text;
  EXPECT_GE(alerts.size(), 10u);
  // In the sample, the intrusion's processes are ProcessId 4100..4199; the
  // host's routine activity (cron, sshd, builds, apt, nginx) uses other ids.
  std::set<std::string> titles;
  for (const auto& a : alerts) {
    const json& pid = a["event"].contains("ProcessId") ? a["event"]["ProcessId"] : json();
    ASSERT_TRUE(pid.is_number_integer()) << a.dump();
    int64_t p = pid.get<int64_t>();
    EXPECT_TRUE(p >= 4100 && p <= 4199) << "alert on routine activity: " << a.dump();
    titles.insert(a["rule_title"].get<std::string>());
  }
  for (const char* t : {"Shell Spawned by Web Server or PHP Worker", "Interactive Shell Redirected to /dev/tcp Socket",
                        "Binary Executed From World-Writable Temporary Directory",
                        "Password Hash File Read or Copied With a General-Purpose Tool",
                        "Cron Job Added That Runs From Temp, Downloads or Opens a Socket",
                        "System Log Files Deleted, Shredded or Truncated"}) {
    EXPECT_TRUE(titles.count(t)) << "sample replay raised no \"" << t << "\" alert";
  }
}

}  // namespace
