#include "update/text_format.h"
#include "base/log.h"

#include <ctime>

namespace vigil::update::text {

Result<std::vector<Line>> SplitLines(std::string_view text, std::string_view name, const SplitOptions& options) {
  if (text.size() > options.max_bytes) {
    return Error(Code::kLimitExceeded, "{}: {} bytes exceeds the limit of {} bytes", name, text.size(),
                 options.max_bytes);
  }
  if (text.empty()) return Error(Code::kInvalidArgument, "{}: empty", name);
  std::vector<Line> lines;
  size_t pos = 0, number = 0;
  while (pos < text.size()) {
    ++number;
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      return LineError(Code::kInvalidArgument, name, number, "last line does not end in a newline (truncated?)");
    }
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    size_t first = line.find_first_not_of(" \t");
    bool comment = options.comments && (first == std::string_view::npos || line[first] == '#');
    for (size_t i = 0; i < line.size(); ++i) {
      auto c = static_cast<unsigned char>(line[i]);
      if (c == '\r') return LineError(Code::kInvalidArgument, name, number, "carriage return (CRLF line ends?)");
      if (c == '\t' && comment) continue;
      if (c < 0x20 || c == 0x7f) {
        return LineError(Code::kInvalidArgument, name, number, "control character 0x{:02x} at column {}", c, i + 1);
      }
      if (c >= 0x80 && !comment) {
        return LineError(Code::kInvalidArgument, name, number, "non-ASCII byte 0x{:02x} at column {}", c, i + 1);
      }
    }
    if (comment) continue;
    if (lines.size() == options.max_lines) {
      return LineError(Code::kLimitExceeded, name, number, "more than {} lines", options.max_lines);
    }
    lines.push_back({number, line});
  }
  return lines;
}

std::pair<std::string_view, std::string_view> SplitWord(std::string_view line) {
  size_t sp = line.find(' ');
  if (sp == std::string_view::npos) return {line, {}};
  return {line.substr(0, sp), line.substr(sp + 1)};
}

bool ParseHex(std::string_view hex, std::span<uint8_t> out) {
  if (hex.size() != out.size() * 2) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

std::string ToHex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

std::optional<uint64_t> ParseU64(std::string_view s) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

std::optional<int64_t> ParseI64(std::string_view s) {
  bool negative = !s.empty() && s[0] == '-';
  if (negative) s.remove_prefix(1);
  std::optional<uint64_t> v = ParseU64(s);
  if (!v) return std::nullopt;
  if (negative) {
    if (*v == 0 || *v > uint64_t{1} << 63) return std::nullopt;
    return static_cast<int64_t>(0 - *v);
  }
  if (*v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return static_cast<int64_t>(*v);
}

std::string UnixToIso(int64_t unix_time) { return UtcTimeText(unix_time); }

}  // namespace vigil::update::text
