// The `vigil` command-line tool's subcommands. Each returns the process exit
// code: 0 success, 1 the operation failed (reason on stderr), 2 bad usage.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vigil::cli {

struct BuildArgs {
  std::vector<std::string> inputs;  // files and directories
  std::string output;
  bool strict = false;
  bool json = false;
  uint64_t content_version = 0;  // 0 = now (unix seconds)
  uint32_t expires_in_days = 0;  // 0 = never
  std::string channel = "stable";
};
int RunContentBuild(const BuildArgs& args);

int RunContentVerify(const std::string& bundle_path);

struct InspectArgs {
  std::string bundle;
  bool json = false;
};
int RunContentInspect(const InspectArgs& args);

struct TestArgs {
  std::string bundle;
  std::vector<std::string> cases;  // JSONL: {"rule_id", "expect", "event"}
};
int RunContentTest(const TestArgs& args);

struct ReplayArgs {
  std::string bundle;
  std::string input = "-";
  bool stats = false;
};
int RunReplay(const ReplayArgs& args);

}  // namespace vigil::cli
