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

std::string UtcTimeText(int64_t unix_time) {
  std::time_t t = static_cast<std::time_t>(unix_time);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return fmt::format("unix time {}", unix_time);
  char buf[40];
  if (std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) return fmt::format("unix time {}", unix_time);
  return buf;
}

void LogLine(LogLevel level, std::string_view message) {
  const std::string stamp = UtcTimeText(static_cast<int64_t>(std::time(nullptr)));
  const char* tag = level == LogLevel::kInfo ? "" : level == LogLevel::kWarning ? "WARNING: " : "ERROR: ";
  std::string line = fmt::format("{} {}[{}]: {}{}\n", stamp, ProgramName(), ::getpid(), tag, message);
  ssize_t ignored = ::write(2, line.data(), line.size());
  (void)ignored;  // nowhere left to report a failed log write
}

}  // namespace vigil
