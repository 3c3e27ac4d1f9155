#include "sources/fanotify/dir_cache.h"

#include <cstring>

namespace vigil::sources::fanotify {

DirKey DirKey::From(uint64_t fsid, int32_t handle_type, std::span<const uint8_t> handle) {
  DirKey key;
  key.fsid = fsid;
  key.handle_type = handle_type;
  key.size = static_cast<uint32_t>(handle.size() < kMaxHandleBytes ? handle.size() : kMaxHandleBytes);
  std::memcpy(key.bytes.data(), handle.data(), key.size);
  return key;
}

bool DirKey::operator==(const DirKey& other) const {
  return fsid == other.fsid && handle_type == other.handle_type && size == other.size &&
         std::memcmp(bytes.data(), other.bytes.data(), size) == 0;
}

size_t DirKeyHash::operator()(const DirKey& key) const {
  // FNV-1a: handles are short and the hash is on the per-event path.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  };
  mix(&key.fsid, sizeof(key.fsid));
  mix(&key.handle_type, sizeof(key.handle_type));
  mix(key.bytes.data(), key.size);
  return static_cast<size_t>(h);
}

const std::string* DirCache::Find(const DirKey& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  entries_.splice(entries_.begin(), entries_, it->second);
  return &it->second->path;
}

void DirCache::Insert(const DirKey& key, std::string_view path) {
  if (capacity_ == 0) return;
  if (auto it = index_.find(key); it != index_.end()) {
    it->second->path.assign(path);
    entries_.splice(entries_.begin(), entries_, it->second);
    return;
  }
  if (entries_.size() >= capacity_) {
    index_.erase(entries_.back().key);
    entries_.pop_back();
  }
  entries_.push_front(Entry{key, std::string(path)});
  index_.emplace(key, entries_.begin());
}

void DirCache::InvalidatePrefix(std::string_view dir) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (PathIsUnder(it->path, dir)) {
      index_.erase(it->key);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

void DirCache::Clear() {
  index_.clear();
  entries_.clear();
}

bool PathIsUnder(std::string_view path, std::string_view prefix) {
  if (prefix.empty()) return false;
  if (prefix.back() == '/') prefix.remove_suffix(1);  // "/var/log/" and "/" mean their directory
  if (!path.starts_with(prefix)) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

}  // namespace vigil::sources::fanotify
