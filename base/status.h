// One error vocabulary for all of vigil: Status (a code and a message with
// context) and Result<T> (a value or a Status). No exceptions cross a vigil
// API; code that calls a throwing library catches at that boundary.
//
//   Result<Bundle> r = ReadBundle(bytes);
//   if (!r) { log(r.error().ToString()); return r.error(); }
//   Use(*r);
//
// Thread-safety: plain values, no shared state.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <tl/expected.hpp>

namespace vigil {

enum class Code {
  kOk = 0,
  kInvalidArgument,  // the caller (or a user's input) is wrong
  kNotFound,
  kIo,               // the OS said no
  kCorrupt,          // bytes that fail a structural or checksum check
  kUnsupported,      // valid input we deliberately do not handle
  kLimitExceeded,    // a stated bound (size, count, depth, time) was hit
  kVerifyFailed,     // the verifier refused content
  kInternal,         // a vigil bug
};

std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "corrupt: bundle: section 3 ends past the buffer (offset 812, length 90, size 840)"
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

template <typename T>
using Result = tl::expected<T, Status>;

// return Error(Code::kCorrupt, "section {} truncated", i);
template <typename... Args>
tl::unexpected<Status> Error(Code code, fmt::format_string<Args...> format, Args&&... args) {
  return tl::unexpected<Status>(Status(code, fmt::format(format, std::forward<Args>(args)...)));
}
inline tl::unexpected<Status> Error(Status status) { return tl::unexpected<Status>(std::move(status)); }

}  // namespace vigil
