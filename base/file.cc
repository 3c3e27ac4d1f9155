#include "base/file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/unique_fd.h"

namespace vigil {
namespace {


Status ErrnoStatus(std::string_view what, const std::string& path) {
  return Status(Code::kIo, fmt::format("{} {}: {}", what, path, std::strerror(errno)));
}

}  // namespace

Result<std::string> ReadFileBounded(const std::string& path, size_t max_bytes) {
  return ReadFileBounded(path, max_bytes, nullptr);
}

Result<std::string> ReadFileBounded(const std::string& path, size_t max_bytes,
                                    const std::function<Status(const struct stat&)>& check) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return Error(ErrnoStatus("cannot open", path));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Error(ErrnoStatus("cannot stat", path));
  if (!S_ISREG(st.st_mode)) return Error(Code::kInvalidArgument, "{}: not a regular file", path);
  if (check) {
    if (Status s = check(st); !s.ok()) return Error(std::move(s));
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return Error(Code::kLimitExceeded, "{}: {} bytes exceeds the limit of {} bytes", path, st.st_size,
                 max_bytes);
  }
  std::string data;
  data.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::read(fd.get(), data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error(ErrnoStatus("cannot read", path));
    }
    if (n == 0) break;  // the file shrank while we read it
    done += static_cast<size_t>(n);
  }
  data.resize(done);
  return data;
}

Status WriteFileAtomic(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) return ErrnoStatus("cannot create", tmp);
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        Status s = ErrnoStatus("cannot write", tmp);
        ::unlink(tmp.c_str());
        return s;
      }
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) != 0) {
      Status s = ErrnoStatus("cannot fsync", tmp);
      ::unlink(tmp.c_str());
      return s;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status s = ErrnoStatus("cannot rename to", path);
    ::unlink(tmp.c_str());
    return s;
  }
  std::string dir = ".";
  if (auto slash = path.rfind('/'); slash != std::string::npos) dir = slash == 0 ? "/" : path.substr(0, slash);
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() >= 0) ::fsync(dfd.get());
  return Status::Ok();
}

}  // namespace vigil
