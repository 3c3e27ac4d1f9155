// End-to-end tests of the `vigil` binary: exit codes, messages and outputs a
// user sees. Runs the real binary from $VIGIL_BIN_DIR in a temp dir.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/testing/run_vigil.h"

namespace {

namespace fs = std::filesystem;
using vigil::cli::testing::RunResult;
using vigil::cli::testing::RunVigil;
using vigil::cli::testing::Slurp;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vigil_ = vigil::cli::testing::VigilBinary();
    ASSERT_FALSE(vigil_.empty()) << "run through ctest (sets VIGIL_BIN_DIR)";
    ASSERT_TRUE(fs::exists(vigil_)) << vigil_;
    char tmpl[] = "/tmp/vigil_cli_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
  // Runs vigil with `args` (shell-quoted by the caller), optional stdin file.
  RunResult Vigil(const std::string& args, const std::string& stdin_file = "/dev/null") {
    return RunVigil(vigil_, dir_, args, stdin_file);
  }

  std::string vigil_;
  fs::path dir_;
};

const char kGoodRule[] = R"(title: Shell from temp
id: 6f1c1d9e-0000-4000-8000-000000000001
status: test
level: high
tags: [attack.execution]
logsource: {product: linux, category: process_creation}
detection:
  selection:
    Image|startswith: /tmp/
  condition: selection
)";

const char kUnknownFieldRule[] = R"(title: Uses a field the sensor does not supply
id: 6f1c1d9e-0000-4000-8000-000000000002
logsource: {product: linux, category: process_creation}
detection:
  selection:
    Field21: x
  condition: selection
)";

const char kAuditdRule[] = R"(title: Auditd rule
id: 6f1c1d9e-0000-4000-8000-000000000003
logsource: {product: linux, service: auditd}
detection:
  selection:
    type: EXECVE
  condition: selection
)";

TEST_F(CliTest, BuildReportsEveryProblemAndWritesWhatCompiled) {
  Write("rules/good.yml", kGoodRule);
  Write("rules/sub/bad.yaml", kUnknownFieldRule);
  Write("rules/sub/auditd.yml", kAuditdRule);
  Write("rules/README.md", "not a rule");
  RunResult r = Vigil("content build " + (dir_ / "rules").string() + " -o " + (dir_ / "b.vbundle").string());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("compiled 1 of 3 rules"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("VG200 unknown-field"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bad.yaml:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Field21"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("VG108 unsupported-logsource"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(dir_ / "b.vbundle"));

  RunResult v = Vigil("content verify " + (dir_ / "b.vbundle").string());
  EXPECT_EQ(v.code, 0) << v.err;
  EXPECT_NE(v.out.find("ok: "), std::string::npos);
  EXPECT_NE(v.out.find("1 rules"), std::string::npos) << v.out;
}

TEST_F(CliTest, StrictRefusesToWriteWhenAnyRuleIsRefused) {
  Write("rules/good.yml", kGoodRule);
  Write("rules/bad.yml", kUnknownFieldRule);
  RunResult r = Vigil("content build --strict " + (dir_ / "rules").string() + " -o " + (dir_ / "b.vbundle").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_FALSE(fs::exists(dir_ / "b.vbundle"));
  EXPECT_NE(r.err.find("not written"), std::string::npos) << r.err;
}

TEST_F(CliTest, BuildJsonDiagnosticsAreData) {
  Write("bad.yml", kUnknownFieldRule);
  Write("good.yml", kGoodRule);
  RunResult r = Vigil("content build --json " + (dir_ / "bad.yml").string() + " " + (dir_ / "good.yml").string() +
                " -o " + (dir_ / "b.vbundle").string());
  EXPECT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.is_array());
  bool found = false;
  for (const auto& d : j) {
    if (d["code"] == "VG200") {
      found = true;
      EXPECT_EQ(d["rule_id"], "6f1c1d9e-0000-4000-8000-000000000002");
      EXPECT_GT(d["line"].get<int>(), 0);
      EXPECT_NE(d["file"].get<std::string>().find("bad.yml"), std::string::npos);
    }
  }
  EXPECT_TRUE(found) << r.out;
}

TEST_F(CliTest, NothingCompiledOrBadInvocationIsNonZero) {
  Write("bad.yml", kUnknownFieldRule);
  RunResult r = Vigil("content build " + (dir_ / "bad.yml").string() + " -o " + (dir_ / "b.vbundle").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no rule compiled"), std::string::npos) << r.err;
  EXPECT_EQ(Vigil("content build -o x").code, 2);
  EXPECT_EQ(Vigil("nosuchcommand").code, 2);
  RunResult missing = Vigil("content build " + (dir_ / "missing").string() + " -o " + (dir_ / "b.vbundle").string());
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("no such file"), std::string::npos) << missing.err;
}

TEST_F(CliTest, VerifyRefusesGarbageTruncationAndMissingFiles) {
  Write("good.yml", kGoodRule);
  ASSERT_EQ(Vigil("content build " + (dir_ / "good.yml").string() + " -o " + (dir_ / "b.vbundle").string()).code, 0);
  std::string bytes = Slurp(dir_ / "b.vbundle");
  Write("trunc.vbundle", bytes.substr(0, bytes.size() / 2));
  Write("garbage.vbundle", std::string(4096, '\x5a'));
  std::string flipped = bytes;
  flipped[flipped.size() / 3] ^= 0x10;
  Write("flipped.vbundle", flipped);
  for (const char* name : {"trunc.vbundle", "garbage.vbundle", "flipped.vbundle", "nonexistent.vbundle"}) {
    RunResult v = Vigil("content verify " + (dir_ / name).string());
    EXPECT_EQ(v.code, 1) << name;
    EXPECT_NE(v.err.find("refused: "), std::string::npos) << name << ": " << v.err;
  }
}

TEST_F(CliTest, ReplayPrintsAlertsAndCountsBadLines) {
  Write("good.yml", kGoodRule);
  ASSERT_EQ(Vigil("content build " + (dir_ / "good.yml").string() + " -o " + (dir_ / "b.vbundle").string()).code, 0);
  std::string events = Write("events.jsonl",
                             R"({"event":"process_creation","Image":"/tmp/x","ProcessId":7})"
                             "\n"
                             "this is not json\n"
                             "\n"
                             R"({"event":"process_creation","Image":"/usr/bin/ls","ProcessId":8})"
                             "\n"
                             R"({"event":"no_such_type"})"
                             "\n"
                             R"({"event":"process_creation","Image":"/TMP/Y","ProcessId":9})");
  RunResult r = Vigil("replay --stats --bundle " + (dir_ / "b.vbundle").string() + " " + events);
  EXPECT_EQ(r.code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  std::vector<int> pids;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["rule_id"], "6f1c1d9e-0000-4000-8000-000000000001");
    EXPECT_EQ(j["rule_title"], "Shell from temp");
    EXPECT_EQ(j["level"], "high");
    EXPECT_EQ(j["tags"][0], "attack.execution");
    pids.push_back(j["event"]["ProcessId"]);
  }
  EXPECT_EQ(pids, (std::vector<int>{7, 9}));  // case-insensitive by default
  EXPECT_NE(r.err.find(":2: invalid JSON"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(":5: unknown event type"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("events read 3, bad lines 2, alerts 2"), std::string::npos) << r.err;

  RunResult from_stdin = Vigil("replay --bundle " + (dir_ / "b.vbundle").string() + " -", events);
  EXPECT_EQ(from_stdin.out, r.out);
}

TEST_F(CliTest, ReplayRefusesABadBundleClearly) {
  std::string junk = Write("junk.vbundle", "VIGILBND but nothing else");
  RunResult r = Vigil("replay --bundle " + junk + " /dev/null");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("bundle refused"), std::string::npos) << r.err;
}

TEST_F(CliTest, InspectShowsHeaderAndPrettyConditions) {
  Write("good.yml", kGoodRule);
  ASSERT_EQ(Vigil("content build --content-version 77 --channel canary " + (dir_ / "good.yml").string() + " -o " +
                  (dir_ / "b.vbundle").string())
                .code,
            0);
  RunResult r = Vigil("content inspect " + (dir_ / "b.vbundle").string());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("content version 77"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("canary"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Image startswith \"/tmp/\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("level high, action alert, process_creation, 1 atoms"), std::string::npos) << r.out;
  RunResult j = Vigil("content inspect --json " + (dir_ / "b.vbundle").string());
  auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["content_version"], 77);
  EXPECT_EQ(doc["rules"][0]["condition"], "Image startswith \"/tmp/\"");
  EXPECT_EQ(doc["rules"][0]["action"], "alert");
}

const char kBlockingRules[] = R"(title: Block binaries run from temp
id: 6f1c1d9e-0000-4000-8000-000000000010
level: high
vigil: {action: block}
logsource: {product: linux, category: process_creation}
detection:
  selection:
    Image|startswith: /tmp/
  condition: selection
---
title: Block curl piped to a shell
id: 6f1c1d9e-0000-4000-8000-000000000011
level: high
vigil:
  action: block
logsource: {product: linux, category: process_creation}
detection:
  selection:
    Image|endswith: /curl
    CommandLine|contains: '| sh'
  condition: selection
)";

TEST_F(CliTest, BuildReportsABlockingRuleThatCannotBeDecided) {
  Write("rules/block.yml", kBlockingRules);
  RunResult r = Vigil("content build " + (dir_ / "rules").string() + " -o " + (dir_ / "b.vbundle").string());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("compiled 1 of 2 rules (0 skipped: unsupported logsource, 1 refused)"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("block.yml:11: error VG512 block-field-unknown [rule 6f1c1d9e-0000-4000-8000-000000000011]: "
                       "rule 6f1c1d9e-0000-4000-8000-000000000011: blocking rule: field 'CommandLine' (atom 1) has "
                       "no value at exec permission time (FAN_OPEN_EXEC_PERM)"),
            std::string::npos)
      << r.err;

  RunResult strict =
      Vigil("content build --strict " + (dir_ / "rules").string() + " -o " + (dir_ / "s.vbundle").string());
  EXPECT_EQ(strict.code, 1);
  EXPECT_FALSE(fs::exists(dir_ / "s.vbundle"));

  RunResult json = Vigil("content build --json " + (dir_ / "rules").string() + " -o " + (dir_ / "j.vbundle").string());
  auto diags = nlohmann::json::parse(json.out);
  ASSERT_EQ(diags.size(), 1u) << json.out;
  EXPECT_EQ(diags[0]["code"], "VG512");
  EXPECT_EQ(diags[0]["slug"], "block-field-unknown");
  EXPECT_EQ(diags[0]["line"], 11);
  EXPECT_EQ(diags[0]["rule_id"], "6f1c1d9e-0000-4000-8000-000000000011");

  // The rule that can be decided is in the bundle as a blocking rule.
  RunResult inspect = Vigil("content inspect " + (dir_ / "b.vbundle").string());
  EXPECT_EQ(inspect.code, 0) << inspect.err;
  EXPECT_NE(inspect.out.find("level high, action block, process_creation, 1 atoms"), std::string::npos) << inspect.out;
  RunResult j = Vigil("content inspect --json " + (dir_ / "b.vbundle").string());
  auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["rules"][0]["action"], "block");
}

TEST_F(CliTest, BuildReportsBadVigilAttributesWithLines) {
  Write("bad.yml", std::string(kGoodRule) + "vigil:\n  action: deny\n  mode: enforce\n");
  RunResult r = Vigil("content build " + (dir_ / "bad.yml").string() + " -o " + (dir_ / "b.vbundle").string());
  EXPECT_EQ(r.code, 1) << r.err;  // nothing compiled
  EXPECT_NE(r.err.find("bad.yml:13: error VG106 bad-value"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("unknown vigil attribute 'mode'"), std::string::npos) << r.err;
}

TEST_F(CliTest, ContentTestRunsCasesAndFailsOnAMismatch) {
  Write("good.yml", kGoodRule);
  ASSERT_EQ(Vigil("content build " + (dir_ / "good.yml").string() + " -o " + (dir_ / "b.vbundle").string()).code, 0);
  std::string ok = Write("ok.jsonl",
                         R"({"rule_id":"6f1c1d9e-0000-4000-8000-000000000001","expect":true,"event":{"event":"process_creation","Image":"/tmp/a"}})"
                         "\n"
                         R"({"rule_id":"6f1c1d9e-0000-4000-8000-000000000001","expect":false,"event":{"event":"process_creation","Image":"/bin/a"}})"
                         "\n");
  RunResult r = Vigil("content test --bundle " + (dir_ / "b.vbundle").string() + " " + ok);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("2 passed, 0 failed"), std::string::npos) << r.out;
  std::string wrong = Write("wrong.jsonl",
                            R"({"rule_id":"6f1c1d9e-0000-4000-8000-000000000001","expect":true,"event":{"event":"process_creation","Image":"/bin/a"}})"
                            "\n");
  RunResult w = Vigil("content test --bundle " + (dir_ / "b.vbundle").string() + " " + wrong);
  EXPECT_EQ(w.code, 1);
  EXPECT_NE(w.out.find("FAIL"), std::string::npos) << w.out;
}

}  // namespace
