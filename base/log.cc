#include "base/log.h"

#include <ctime>
#include <string>
#include <unistd.h>

namespace vigil {
namespace {
std::string& ProgramName() {
  static std::string name = "vigil";
  return name;
}
}  // namespace

void SetLogProgramName(std::string_view name) { ProgramName() = std::string(name); }

void LogLine(LogLevel level, std::string_view message) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  const char* tag = level == LogLevel::kInfo ? "" : level == LogLevel::kWarning ? "WARNING: " : "ERROR: ";
  std::string line = fmt::format("{} {}[{}]: {}{}\n", stamp, ProgramName(), ::getpid(), tag, message);
  ssize_t ignored = ::write(2, line.data(), line.size());
  (void)ignored;  // nowhere left to report a failed log write
}

}  // namespace vigil
