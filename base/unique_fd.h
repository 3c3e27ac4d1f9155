// An owned file descriptor, closed when the owner goes.
//
//   UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
//   if (fd.get() < 0) ... errno ...
//   int raw = fd.release();   // hand it on: no longer closed here
//
// Thread-safety: like an int; one owner.
#pragma once

#include <unistd.h>

#include <utility>

namespace vigil {

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace vigil
