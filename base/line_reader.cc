#include "base/line_reader.h"

#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace vigil {

LineReader::LineReader(int fd, size_t max_line_bytes) : fd_(fd), max_(max_line_bytes) {
  buf_.resize(std::min<size_t>(max_ + 1, 1 << 16));
}

bool LineReader::Fill() {
  if (eof_) return false;
  if (begin_ > 0) {  // slide unconsumed bytes to the front
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == buf_.size()) {
    if (buf_.size() >= max_ + 1) return false;  // caller handles the overlong line
    buf_.resize(std::min(buf_.size() * 2, max_ + 1));
  }
  for (;;) {
    ssize_t n = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    end_ += static_cast<size_t>(n);
    return true;
  }
}

LineReader::Next LineReader::Read(std::string_view* line) {
  size_t scanned = begin_;
  for (;;) {
    const char* nl = static_cast<const char*>(std::memchr(buf_.data() + scanned, '\n', end_ - scanned));
    if (nl != nullptr) {
      size_t pos = static_cast<size_t>(nl - buf_.data());
      *line = std::string_view(buf_.data() + begin_, pos - begin_);
      begin_ = pos + 1;
      ++line_number_;
      return Next::kLine;
    }
    scanned = end_;
    if (end_ - begin_ > max_) {
      // Overlong: discard through the next newline without keeping it.
      ++line_number_;
      for (;;) {
        begin_ = end_ = 0;
        if (!Fill()) return Next::kTooLong;
        const char* skip = static_cast<const char*>(std::memchr(buf_.data(), '\n', end_));
        if (skip != nullptr) {
          begin_ = static_cast<size_t>(skip - buf_.data()) + 1;
          return Next::kTooLong;
        }
      }
    }
    size_t before = begin_;
    if (!Fill()) {
      if (end_ > begin_ && end_ - begin_ <= max_) {  // last line without '\n'
        *line = std::string_view(buf_.data() + begin_, end_ - begin_);
        begin_ = end_;
        ++line_number_;
        return Next::kLine;
      }
      if (end_ - begin_ > max_) {
        begin_ = end_;
        ++line_number_;
        return Next::kTooLong;
      }
      return Next::kEof;
    }
    scanned -= before - begin_;  // Fill() may have slid the data
  }
}

}  // namespace vigil
