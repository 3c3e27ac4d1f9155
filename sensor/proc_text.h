// Numbers out of /proc text, shared by the process table and the permission
// context builder (both read /proc/<pid>/status and loginuid).
//
//   uint32_t uid;
//   if (StatusField(status_text, "Uid:", uid)) ...  // "Uid:\t1000\t1000\t1000\t1000" -> the real uid, 1000
//   ParseNumber("4294967295\n", loginuid);           // leading digits; false if none
//
// Thread-safety: pure functions.
#pragma once

#include <charconv>
#include <string_view>

namespace vigil::sensor {

// The number at the start of `text` (trailing text ignored); false if none.
template <typename T>
bool ParseNumber(std::string_view text, T& out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr != text.data();
}

// The first number after `key` at the start of a line of a status file
// ("PPid:\t1"; for "Uid:\t1000\t1000\t1000\t1000", the real uid, as the
// process table and the eBPF source report it).
template <typename T>
bool StatusField(std::string_view status, std::string_view key, T& out) {
  size_t at = status.find(key);
  while (at != std::string_view::npos && at != 0 && status[at - 1] != '\n') at = status.find(key, at + 1);
  if (at == std::string_view::npos) return false;
  std::string_view rest = status.substr(at + key.size());
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
  return ParseNumber(rest, out);
}

}  // namespace vigil::sensor
