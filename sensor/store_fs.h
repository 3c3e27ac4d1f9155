// The file system behind the content store, as a narrow interface so tests
// can run the store on an in-memory file system that injects faults and power
// cuts (sensor/testing/mem_store_fs.h).
//
//   StoreFs& fs = PosixStoreFs();
//   if (Status s = fs.WriteFile(tmp, bytes, 0600); !s.ok()) return s;   // not durable yet
//   if (Status s = fs.SyncFile(tmp); !s.ok()) return s;                 // data durable
//   if (Status s = fs.Rename(tmp, dst); !s.ok()) return s;              // atomic replace
//   return fs.SyncDir(DirName(dst));                                    // the new name durable
//
// Durability model (what a caller may assume, and what MemStoreFs enforces):
// a file's bytes survive a power cut only once SyncFile returned Ok after the
// last WriteFile; a directory entry (made by WriteFile creating a file,
// MakeDir, Rename or Remove) survives only once SyncDir of its directory
// returned Ok. Rename replaces the target atomically for every reader.
//
// Paths are absolute. Every call that names a file does not follow a symlink
// in the final component (O_NOFOLLOW / lstat), so a planted link cannot
// redirect a write.
//
// Thread-safety: PosixStoreFs() is stateless and safe from any thread.
// Implementations are used by one ContentStore writer at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace vigil::sensor {

struct FileStat {
  enum class Type { kRegular, kDirectory, kSymlink, kOther };
  Type type = Type::kOther;
  uint32_t mode = 0;  // permission bits only (07777)
  uint32_t uid = 0;
  uint64_t size = 0;
};

class StoreFs {
 public:
  virtual ~StoreFs() = default;

  // The whole file; kNotFound if missing, kLimitExceeded (without reading)
  // above `max_bytes`, kInvalidArgument if it is not a regular file.
  virtual Result<std::string> ReadFile(const std::string& path, size_t max_bytes) = 0;
  // Creates or truncates `path` and writes `data`, permissions exactly
  // `mode` (umask does not apply). Not durable until SyncFile.
  virtual Status WriteFile(const std::string& path, std::string_view data, uint32_t mode) = 0;
  virtual Status SyncFile(const std::string& path) = 0;
  // Atomic replace of `to` (a file). The new name is durable once `to`'s
  // directory is synced, the old name's removal once `from`'s is.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status SyncDir(const std::string& dir) = 0;
  virtual Status Remove(const std::string& path) = 0;  // a file; kNotFound if missing
  // Ok if it already exists as a directory; permissions exactly `mode` when created.
  virtual Status MakeDir(const std::string& path, uint32_t mode) = 0;
  // Entry names (no "." or ".."), sorted; kNotFound if missing.
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  virtual bool Exists(const std::string& path) = 0;
  // lstat: a symlink is reported as kSymlink, not followed. kNotFound if missing.
  virtual Result<FileStat> Stat(const std::string& path) = 0;
};

// The real file system: O_CLOEXEC everywhere, O_NOFOLLOW on every file open,
// fsync(2) for SyncFile and SyncDir, rename(2), explicit fchmod/chmod so the
// modes asked for are the modes on disk. A directory listing is bounded to
// kMaxListEntries names (kLimitExceeded beyond).
inline constexpr size_t kMaxListEntries = 100'000;
StoreFs& PosixStoreFs();

// "/a/b/c" -> "/a/b"; "/a" -> "/".
std::string DirName(std::string_view path);

}  // namespace vigil::sensor
