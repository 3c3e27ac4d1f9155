// Reads newline-separated lines from a file descriptor with a bound on line
// length, so a hostile input without newlines cannot grow memory.
//
//   LineReader in(fd, 1 << 20);
//   std::string_view line;
//   for (;;) {
//     LineReader::Next n = in.Read(&line);
//     if (n == LineReader::Next::kEof) break;
//     if (n == LineReader::Next::kTooLong) { count_bad(in.line_number()); continue; }
//     ...
//   }
//
// Thread-safety: not thread-safe. The fd stays owned by the caller.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vigil {

class LineReader {
 public:
  enum class Next { kLine, kTooLong, kEof, kError };

  LineReader(int fd, size_t max_line_bytes);

  // kLine: *line is the next line without its '\n', valid until the next
  // call. kTooLong: a line longer than the bound was consumed and skipped.
  // kError: read() failed (errno is set); further calls return kEof.
  Next Read(std::string_view* line);

  // 1-based number of the line last returned (or skipped).
  uint64_t line_number() const { return line_number_; }

 private:
  bool Fill();

  int fd_;
  size_t max_;
  std::string buf_;
  size_t begin_ = 0;  // start of unconsumed data
  size_t end_ = 0;    // end of valid data
  bool eof_ = false;
  uint64_t line_number_ = 0;
};

}  // namespace vigil
