#include "sensor/store_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "base/unique_fd.h"

namespace vigil::sensor {
namespace {


// ENOENT is the one errno callers act on (a missing slot, state or marker).
Status ErrnoStatus(int err, std::string_view what, const std::string& path) {
  if (err == ENOENT) return Status(Code::kNotFound, fmt::format("{} {}: {}", what, path, std::strerror(err)));
  if (err == ELOOP) {
    return Status(Code::kInvalidArgument, fmt::format("{} {}: is a symbolic link; refusing to follow it", what, path));
  }
  return Status(Code::kIo, fmt::format("{} {}: {}", what, path, std::strerror(err)));
}

FileStat::Type TypeOf(mode_t mode) {
  if (S_ISREG(mode)) return FileStat::Type::kRegular;
  if (S_ISDIR(mode)) return FileStat::Type::kDirectory;
  if (S_ISLNK(mode)) return FileStat::Type::kSymlink;
  return FileStat::Type::kOther;
}

class PosixFs final : public StoreFs {
 public:
  Result<std::string> ReadFile(const std::string& path, size_t max_bytes) override {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (fd.get() < 0) return Error(ErrnoStatus(errno, "cannot open", path));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return Error(ErrnoStatus(errno, "cannot stat", path));
    if (!S_ISREG(st.st_mode)) return Error(Code::kInvalidArgument, "{}: not a regular file", path);
    if (static_cast<uint64_t>(st.st_size) > max_bytes) {
      return Error(Code::kLimitExceeded, "{}: {} bytes exceeds the limit of {} bytes", path, st.st_size, max_bytes);
    }
    std::string data(static_cast<size_t>(st.st_size), '\0');
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::read(fd.get(), data.data() + done, data.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Error(ErrnoStatus(errno, "cannot read", path));
      }
      if (n == 0) break;  // the file shrank while we read it
      done += static_cast<size_t>(n);
    }
    data.resize(done);
    return data;
  }

  Status WriteFile(const std::string& path, std::string_view data, uint32_t mode) override {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode & 07777));
    if (fd.get() < 0) return ErrnoStatus(errno, "cannot create", path);
    if (::fchmod(fd.get(), mode & 07777) != 0) return ErrnoStatus(errno, "cannot chmod", path);
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, "cannot write", path);
      }
      done += static_cast<size_t>(n);
    }
    if (::close(fd.release()) != 0) return ErrnoStatus(errno, "cannot close", path);
    return Status::Ok();
  }

  Status SyncFile(const std::string& path) override {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (fd.get() < 0) return ErrnoStatus(errno, "cannot open", path);
    if (::fsync(fd.get()) != 0) return ErrnoStatus(errno, "cannot fsync", path);
    return Status::Ok();
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      int err = errno;
      return Status(err == ENOENT ? Code::kNotFound : Code::kIo,
                    fmt::format("cannot rename {} to {}: {}", from, to, std::strerror(err)));
    }
    return Status::Ok();
  }

  Status SyncDir(const std::string& dir) override {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
    if (fd.get() < 0) return ErrnoStatus(errno, "cannot open directory", dir);
    if (::fsync(fd.get()) != 0) return ErrnoStatus(errno, "cannot fsync directory", dir);
    return Status::Ok();
  }

  Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return ErrnoStatus(errno, "cannot remove", path);
    return Status::Ok();
  }

  Status MakeDir(const std::string& path, uint32_t mode) override {
    if (::mkdir(path.c_str(), mode & 07777) != 0) {
      int err = errno;
      if (err != EEXIST) return ErrnoStatus(err, "cannot create directory", path);
      struct stat st {};
      if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return Status::Ok();
      return Status(Code::kInvalidArgument, fmt::format("{}: exists and is not a directory", path));
    }
    // mkdir(2) applies the umask; the store's modes are part of its security.
    if (::chmod(path.c_str(), mode & 07777) != 0) return ErrnoStatus(errno, "cannot chmod", path);
    return Status::Ok();
  }

  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    int raw = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (raw < 0) return Error(ErrnoStatus(errno, "cannot open directory", dir));
    DIR* d = ::fdopendir(raw);
    if (d == nullptr) {
      int err = errno;
      ::close(raw);
      return Error(ErrnoStatus(err, "cannot read directory", dir));
    }
    std::vector<std::string> names;
    Status status;
    errno = 0;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      if (name == "." || name == "..") continue;
      if (names.size() == kMaxListEntries) {
        status = Status(Code::kLimitExceeded,
                        fmt::format("{}: more than {} entries; refusing to list it", dir, kMaxListEntries));
        break;
      }
      names.emplace_back(name);
    }
    if (status.ok() && errno != 0) status = ErrnoStatus(errno, "cannot read directory", dir);
    ::closedir(d);
    if (!status.ok()) return Error(std::move(status));
    std::sort(names.begin(), names.end());
    return names;
  }

  bool Exists(const std::string& path) override {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
  }

  Result<FileStat> Stat(const std::string& path) override {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return Error(ErrnoStatus(errno, "cannot stat", path));
    FileStat out;
    out.type = TypeOf(st.st_mode);
    out.mode = st.st_mode & 07777;
    out.uid = st.st_uid;
    out.size = static_cast<uint64_t>(st.st_size);
    return out;
  }
};

}  // namespace

StoreFs& PosixStoreFs() {
  static PosixFs fs;
  return fs;
}

std::string DirName(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

}  // namespace vigil::sensor
