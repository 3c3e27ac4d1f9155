// For the CLI's end-to-end tests: run the real `vigil` binary the build made
// ($VIGIL_BIN_DIR, set by ctest) with a shell-quoted argument string, and
// collect its exit code, stdout and stderr through files in a work dir.
//
//   RunResult r = RunVigil(VigilBinary(), dir, "content build rules -o b.vbundle");
//   EXPECT_EQ(r.code, 0) << r.err;
//
// Each run is bounded by `timeout 60`; a signal shows as 128 + its number.
// Header-only: the tests link nothing for it.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace vigil::cli::testing {

struct RunResult {
  int code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

inline std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// $VIGIL_BIN_DIR/vigil, or "" when the variable is unset (not run by ctest).
inline std::string VigilBinary() {
  const char* bin = std::getenv("VIGIL_BIN_DIR");
  return bin == nullptr ? std::string() : std::string(bin) + "/vigil";
}

// Runs `vigil args <stdin_file`; stdout and stderr go through files in `dir`.
inline RunResult RunVigil(const std::string& vigil, const std::filesystem::path& dir, const std::string& args,
                          const std::string& stdin_file = "/dev/null") {
  const std::string out = (dir / "stdout").string(), err = (dir / "stderr").string();
  const std::string cmd = "timeout 60 " + vigil + " " + args + " <" + stdin_file + " >" + out + " 2>" + err;
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = Slurp(out);
  r.err = Slurp(err);
  return r;
}

}  // namespace vigil::cli::testing
