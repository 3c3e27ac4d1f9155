// Internal: the line-oriented text formats of update/ (key files, trust
// roots, manifests) share these helpers. Not for use outside update/.
//
// Every format is ASCII lines ending in '\n'. A line is split into a keyword
// and the rest at its first space. Errors name "<name>:<line>: <reason>".
//
// Thread-safety: stateless functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace vigil::update::text {

struct Line {
  size_t number = 0;      // 1-based
  std::string_view text;  // without the '\n'
};

struct SplitOptions {
  size_t max_bytes = 0;  // whole text
  size_t max_lines = 0;
  bool comments = false;  // '#' lines and blank lines are skipped (and may hold UTF-8)
};

// Splits `text` into lines. Refuses text over max_bytes, a last line without
// '\n', control characters (other than '\n'; '\t' only in comments), bytes
// >= 0x80 outside comments, and more than max_lines lines. Skipped comment
// and blank lines are not returned but count for line numbers.
Result<std::vector<Line>> SplitLines(std::string_view text, std::string_view name, const SplitOptions& options);

// "keyword rest": the text before the first space and after it ("" if none).
std::pair<std::string_view, std::string_view> SplitWord(std::string_view line);

// Lowercase hex of exactly out.size() bytes; false on any other input.
bool ParseHex(std::string_view hex, std::span<uint8_t> out);
std::string ToHex(std::span<const uint8_t> bytes);

// Canonical decimal: digits only, no sign, no leading zero (except "0"),
// no overflow.
std::optional<uint64_t> ParseU64(std::string_view s);
// Canonical decimal, optional leading '-', no "-0".
std::optional<int64_t> ParseI64(std::string_view s);

// "2026-01-02T03:04:05Z" (UTC).
std::string UnixToIso(int64_t unix_time);

// Error(code, "<name>:<line>: <reason>").
template <typename... Args>
tl::unexpected<Status> LineError(Code code, std::string_view name, size_t line, fmt::format_string<Args...> f,
                                 Args&&... args) {
  return Error(code, "{}:{}: {}", name, line, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace vigil::update::text
