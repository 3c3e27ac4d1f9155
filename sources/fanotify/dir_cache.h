// A small LRU map from a directory's file handle (fsid, handle type, handle
// bytes) to the path it resolved to, so a burst of events in one directory
// costs one open_by_handle_at + readlink instead of one per event.
//
//   DirCache cache(1024);
//   DirKey key = DirKey::From(rec.fsid, rec.handle_type, rec.handle);
//   if (const std::string* p = cache.Find(key)) use(*p);
//   else cache.Insert(key, resolved);
//   cache.InvalidatePrefix("/srv/old");   // a directory was renamed or deleted
//
// Lookups build the key on the stack: a hit allocates nothing.
// Thread-safety: not thread-safe; owned by one FanotifySource.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "sources/fanotify/event_parser.h"

namespace vigil::sources::fanotify {

struct DirKey {
  uint64_t fsid = 0;
  int32_t handle_type = 0;
  uint32_t size = 0;
  std::array<uint8_t, kMaxHandleBytes> bytes{};

  // `handle` must be at most kMaxHandleBytes (the parser guarantees it).
  static DirKey From(uint64_t fsid, int32_t handle_type, std::span<const uint8_t> handle);
  bool operator==(const DirKey& other) const;
};

struct DirKeyHash {
  size_t operator()(const DirKey& key) const;
};

class DirCache {
 public:
  // capacity 0 disables the cache (Find always misses, Insert does nothing).
  explicit DirCache(size_t capacity) : capacity_(capacity) {}

  // The cached path, or nullptr. A hit makes the entry most recently used.
  // The pointer is valid until the next non-const call.
  const std::string* Find(const DirKey& key);
  void Insert(const DirKey& key, std::string_view path);
  // Drops every entry whose path is `dir` or lies below it.
  void InvalidatePrefix(std::string_view dir);
  void Clear();
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    DirKey key;
    std::string path;
  };
  size_t capacity_;
  std::list<Entry> entries_;  // most recently used first
  std::unordered_map<DirKey, std::list<Entry>::iterator, DirKeyHash> index_;
};

// True if `path` is `prefix` or lies below it ("/a/b" is under "/a", "/ab" is not).
bool PathIsUnder(std::string_view path, std::string_view prefix);

}  // namespace vigil::sources::fanotify
