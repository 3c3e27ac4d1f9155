#include "sensor/testing/mem_store_fs.h"

#include <unistd.h>

#include <algorithm>
#include <functional>
#include <set>

namespace vigil::sensor::testing {

struct MemStoreFs::Node {
  bool is_dir = false;
  uint32_t mode = 0;
  uint32_t uid = 0;
  // A file: what readers see now, and what survives a crash.
  std::string data;
  std::string durable_data;
  // A directory: its entries now, and as of its last SyncDir.
  std::map<std::string, NodePtr> entries;
  std::map<std::string, NodePtr> durable_entries;
};

namespace {

// "/a/b/" -> {"a", "b"}; refuses relative paths and "." / ".." so that every
// path names exactly one node.
Result<std::vector<std::string>> SplitPath(const std::string& path) {
  if (path.empty() || path[0] != '/') return Error(Code::kInvalidArgument, "{}: not an absolute path", path);
  std::vector<std::string> parts;
  size_t i = 1;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string part = path.substr(i, j - i);
    if (part == "." || part == "..") return Error(Code::kInvalidArgument, "{}: '.' and '..' are not supported", path);
    if (!part.empty()) parts.push_back(std::move(part));
    i = j + 1;
  }
  return parts;
}

}  // namespace

MemStoreFs::MemStoreFs() : root_(std::make_shared<Node>()) {
  root_->is_dir = true;
  root_->mode = 0755;
  root_->uid = 0;
}

MemStoreFs::~MemStoreFs() = default;

Result<MemStoreFs::NodePtr> MemStoreFs::Lookup(const std::string& path) const {
  auto parts = SplitPath(path);
  if (!parts) return Error(parts.error());
  NodePtr node = root_;
  for (const std::string& part : *parts) {
    if (!node->is_dir) return Error(Code::kNotFound, "{}: a path component is not a directory", path);
    auto it = node->entries.find(part);
    if (it == node->entries.end()) return Error(Code::kNotFound, "{}: no such file or directory", path);
    node = it->second;
  }
  return node;
}

Result<MemStoreFs::Parent> MemStoreFs::LookupParent(const std::string& path) const {
  auto parts = SplitPath(path);
  if (!parts) return Error(parts.error());
  if (parts->empty()) return Error(Code::kInvalidArgument, "{}: the root has no parent", path);
  NodePtr node = root_;
  for (size_t i = 0; i + 1 < parts->size(); ++i) {
    auto it = node->entries.find((*parts)[i]);
    if (it == node->entries.end() || !it->second->is_dir) {
      return Error(Code::kNotFound, "{}: no such directory", path);
    }
    node = it->second;
  }
  if (!node->is_dir) return Error(Code::kNotFound, "{}: no such directory", path);
  return Parent{node, parts->back()};
}

Result<std::string> MemStoreFs::ReadFile(const std::string& path, size_t max_bytes) {
  std::lock_guard lock(mu_);
  auto node = Lookup(path);
  if (!node) return Error(node.error());
  if ((*node)->is_dir) return Error(Code::kInvalidArgument, "{}: not a regular file", path);
  if ((*node)->data.size() > max_bytes) {
    return Error(Code::kLimitExceeded, "{}: {} bytes exceeds the limit of {} bytes", path, (*node)->data.size(),
                 max_bytes);
  }
  return (*node)->data;
}

Status MemStoreFs::WriteFile(const std::string& path, std::string_view data, uint32_t mode) {
  std::lock_guard lock(mu_);
  bool fail = faults_.Fails();
  auto parent = LookupParent(path);
  if (!parent) return fail ? FaultInjector::Fault("write", path) : parent.error();
  NodePtr& slot = parent->dir->entries[parent->name];
  if (slot && slot->is_dir) return Status(Code::kInvalidArgument, fmt::format("{}: is a directory", path));
  if (!slot) {
    slot = std::make_shared<Node>();
    slot->uid = static_cast<uint32_t>(::geteuid());
  }
  slot->mode = mode & 07777;
  if (fail) {
    slot->data.assign(data.substr(0, data.size() / 2));
    return FaultInjector::Fault("write", path);
  }
  slot->data.assign(data);
  return Status::Ok();
}

Status MemStoreFs::SyncFile(const std::string& path) {
  std::lock_guard lock(mu_);
  if (faults_.Fails()) return FaultInjector::Fault("sync", path);
  auto node = Lookup(path);
  if (!node) return node.error();
  if ((*node)->is_dir) return Status(Code::kInvalidArgument, fmt::format("{}: is a directory", path));
  (*node)->durable_data = (*node)->data;
  return Status::Ok();
}

Status MemStoreFs::Rename(const std::string& from, const std::string& to) {
  std::lock_guard lock(mu_);
  if (faults_.Fails()) return FaultInjector::Fault("rename", from + " -> " + to);
  auto src = LookupParent(from);
  if (!src) return src.error();
  auto it = src->dir->entries.find(src->name);
  if (it == src->dir->entries.end()) {
    return Status(Code::kNotFound, fmt::format("cannot rename {} to {}: no such file", from, to));
  }
  auto dst = LookupParent(to);
  if (!dst) return dst.error();
  if (auto d = dst->dir->entries.find(dst->name); d != dst->dir->entries.end() && d->second->is_dir) {
    return Status(Code::kInvalidArgument, fmt::format("cannot rename {} to {}: target is a directory", from, to));
  }
  NodePtr node = it->second;
  src->dir->entries.erase(it);
  dst->dir->entries[dst->name] = std::move(node);
  return Status::Ok();
}

Status MemStoreFs::SyncDir(const std::string& dir) {
  std::lock_guard lock(mu_);
  if (faults_.Fails()) return FaultInjector::Fault("syncdir", dir);
  auto node = Lookup(dir);
  if (!node) return node.error();
  if (!(*node)->is_dir) return Status(Code::kInvalidArgument, fmt::format("{}: not a directory", dir));
  (*node)->durable_entries = (*node)->entries;
  return Status::Ok();
}

Status MemStoreFs::Remove(const std::string& path) {
  std::lock_guard lock(mu_);
  if (faults_.Fails()) return FaultInjector::Fault("remove", path);
  auto parent = LookupParent(path);
  if (!parent) return parent.error();
  auto it = parent->dir->entries.find(parent->name);
  if (it == parent->dir->entries.end()) {
    return Status(Code::kNotFound, fmt::format("cannot remove {}: no such file", path));
  }
  if (it->second->is_dir) return Status(Code::kInvalidArgument, fmt::format("cannot remove {}: is a directory", path));
  parent->dir->entries.erase(it);
  return Status::Ok();
}

Status MemStoreFs::MakeDir(const std::string& path, uint32_t mode) {
  std::lock_guard lock(mu_);
  if (faults_.Fails()) return FaultInjector::Fault("mkdir", path);
  auto parent = LookupParent(path);
  if (!parent) return parent.error();
  auto it = parent->dir->entries.find(parent->name);
  if (it != parent->dir->entries.end()) {
    if (it->second->is_dir) return Status::Ok();
    return Status(Code::kInvalidArgument, fmt::format("{}: exists and is not a directory", path));
  }
  auto node = std::make_shared<Node>();
  node->is_dir = true;
  node->mode = mode & 07777;
  node->uid = static_cast<uint32_t>(::geteuid());
  parent->dir->entries[parent->name] = std::move(node);
  return Status::Ok();
}

Result<std::vector<std::string>> MemStoreFs::ListDir(const std::string& dir) {
  std::lock_guard lock(mu_);
  auto node = Lookup(dir);
  if (!node) return Error(node.error());
  if (!(*node)->is_dir) return Error(Code::kInvalidArgument, "{}: not a directory", dir);
  std::vector<std::string> names;
  for (const auto& [name, child] : (*node)->entries) names.push_back(name);
  return names;  // std::map keeps them sorted
}

bool MemStoreFs::Exists(const std::string& path) {
  std::lock_guard lock(mu_);
  return Lookup(path).has_value();
}

Result<FileStat> MemStoreFs::Stat(const std::string& path) {
  std::lock_guard lock(mu_);
  auto node = Lookup(path);
  if (!node) return Error(node.error());
  FileStat st;
  st.type = (*node)->is_dir ? FileStat::Type::kDirectory : FileStat::Type::kRegular;
  st.mode = (*node)->mode;
  st.uid = (*node)->uid;
  st.size = (*node)->is_dir ? 0 : (*node)->data.size();
  return st;
}

void MemStoreFs::FailAfter(uint64_t n) {
  std::lock_guard lock(mu_);
  faults_.FailAfter(n);
}

void MemStoreFs::Heal() {
  std::lock_guard lock(mu_);
  faults_.Heal();
}

void MemStoreFs::Crash() {
  std::lock_guard lock(mu_);
  // Walk what survives: from the root, through synced entries only. A file
  // linked from two directories is visited once.
  std::set<Node*> seen;
  std::function<void(const NodePtr&)> revert = [&](const NodePtr& node) {
    if (!seen.insert(node.get()).second) return;
    if (node->is_dir) {
      node->entries = node->durable_entries;
      for (const auto& [name, child] : node->entries) revert(child);
      return;
    }
    if (node->data != node->durable_data) {
      // Torn writeback: the synced bytes are gone too if the file was
      // truncated since; what reached the disk is a prefix of the new bytes.
      node->data.resize(node->data.size() / 2);
      node->durable_data = node->data;
    }
  };
  revert(root_);
  faults_.Heal();
}

void MemStoreFs::SyncAll() {
  std::lock_guard lock(mu_);
  std::function<void(const NodePtr&)> sync = [&](const NodePtr& node) {
    if (node->is_dir) {
      node->durable_entries = node->entries;
      for (const auto& [name, child] : node->entries) sync(child);
    } else {
      node->durable_data = node->data;
    }
  };
  sync(root_);
}

uint64_t MemStoreFs::mutations() const {
  std::lock_guard lock(mu_);
  return faults_.ops();
}

uint64_t MemStoreFs::faults() const {
  std::lock_guard lock(mu_);
  return faults_.faults();
}

Status MemStoreFs::SetMode(const std::string& path, uint32_t mode) {
  std::lock_guard lock(mu_);
  auto node = Lookup(path);
  if (!node) return node.error();
  (*node)->mode = mode & 07777;
  return Status::Ok();
}

Status MemStoreFs::SetOwner(const std::string& path, uint32_t uid) {
  std::lock_guard lock(mu_);
  auto node = Lookup(path);
  if (!node) return node.error();
  (*node)->uid = uid;
  return Status::Ok();
}

std::vector<std::string> MemStoreFs::AllPaths() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  std::function<void(const NodePtr&, const std::string&)> walk = [&](const NodePtr& node, const std::string& path) {
    for (const auto& [name, child] : node->entries) {
      std::string p = path + "/" + name;
      out.push_back(p);
      if (child->is_dir) walk(child, p);
    }
  };
  walk(root_, "");
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace vigil::sensor::testing
