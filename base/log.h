// Daemon logging: one line per message on stderr (journald keeps it), with a
// UTC timestamp, the program name, pid and level.
//
//   LogWarning("content {}: {}; running on the built-in default content", path, why);
//   // 2026-11-24T13:45:10Z vigild[812]: WARNING: content ...
//
// Thread-safety: safe from any thread (one write(2) per line).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace vigil {

enum class LogLevel { kInfo, kWarning, kError };

void SetLogProgramName(std::string_view name);

// `unix_time` as "2026-11-24T13:45:10Z" (UTC, seconds), the format of log
// stamps, manifests and the CLI; "unix time N" if it has no calendar date.
std::string UtcTimeText(int64_t unix_time);
void LogLine(LogLevel level, std::string_view message);

template <typename... Args>
void LogInfo(fmt::format_string<Args...> f, Args&&... args) {
  LogLine(LogLevel::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void LogWarning(fmt::format_string<Args...> f, Args&&... args) {
  LogLine(LogLevel::kWarning, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void LogError(fmt::format_string<Args...> f, Args&&... args) {
  LogLine(LogLevel::kError, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace vigil
