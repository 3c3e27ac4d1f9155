// Test-only StoreFs implementations that inject faults: MemStoreFs, an
// in-memory file system that models durability and power cuts, and
// FaultyStoreFs, which makes any StoreFs (the real one) fail on cue.
//
//   MemStoreFs fs;
//   ... set up a store, fs.SyncAll() ...
//   fs.FailAfter(3);          // 3 more mutating calls succeed, then every one fails
//   Status s = store.WriteSlot(Slot::kActive, bytes);   // fails at its 4th step
//   fs.Crash();               // power cut: only what was made durable survives
//   auto reopened = ContentStore::Open(fs, "/store", false);
//
// The durability model follows leveldb's FaultInjectionTestEnv, made
// stricter: a file's bytes become durable on SyncFile; a directory entry
// (a file created by WriteFile, MakeDir, Rename, Remove) becomes durable on
// SyncDir of its directory, for every entry of that directory at once. At a
// crash every directory reverts to its last synced entries (so an unsynced
// rename is undone, an unsynced remove comes back, a file whose creation was
// never synced vanishes) and every file whose bytes changed since its last
// SyncFile is torn: it keeps the first half of its unsynced bytes, the way a
// power cut mid-writeback leaves a file on a real disk. A WriteFile that
// fails by injection also leaves a torn file behind (a disk filling up).
//
// Mutating calls (WriteFile, SyncFile, Rename, SyncDir, Remove, MakeDir) are
// counted; reads (ReadFile, ListDir, Exists, Stat) never fail and are not.
// An injected failure returns Code::kIo "injected fault: ...".
//
// Thread-safety: MemStoreFs takes an internal mutex in every call;
// FaultyStoreFs is for one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "sensor/store_fs.h"

namespace vigil::sensor::testing {

// Counts mutating calls and decides which one fails.
class FaultInjector {
 public:
  // The next `n` mutating calls succeed; that one after them and all later
  // ones fail. FailAfter(0): the very next call fails.
  void FailAfter(uint64_t n) { fail_at_ = ops_ + n; }
  void Heal() { fail_at_.reset(); }  // stop failing
  // Counts one mutating call; true if it must fail.
  bool Fails() {
    bool fail = fail_at_ && ops_ >= *fail_at_;
    ++ops_;
    if (fail) ++faults_;
    return fail;
  }
  uint64_t ops() const { return ops_; }        // mutating calls since construction
  uint64_t faults() const { return faults_; }  // of them, failed by injection
  static Status Fault(std::string_view op, std::string_view path) {
    return Status(Code::kIo, fmt::format("injected fault: {} {}", op, path));
  }

 private:
  uint64_t ops_ = 0;
  uint64_t faults_ = 0;
  std::optional<uint64_t> fail_at_;
};

class MemStoreFs final : public StoreFs {
 public:
  MemStoreFs();  // an empty file system: only "/", durable
  ~MemStoreFs() override;

  Result<std::string> ReadFile(const std::string& path, size_t max_bytes) override;
  Status WriteFile(const std::string& path, std::string_view data, uint32_t mode) override;
  Status SyncFile(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status SyncDir(const std::string& dir) override;
  Status Remove(const std::string& path) override;
  Status MakeDir(const std::string& path, uint32_t mode) override;
  Result<std::vector<std::string>> ListDir(const std::string& dir) override;
  bool Exists(const std::string& path) override;
  Result<FileStat> Stat(const std::string& path) override;

  void FailAfter(uint64_t n);
  void Heal();
  // Power cut: drop everything not durable, then clear the injected failure.
  void Crash();
  // Makes everything durable, as a clean shutdown would (test setup).
  void SyncAll();
  uint64_t mutations() const;
  uint64_t faults() const;

  // Test hooks for permission checks. New nodes belong to geteuid().
  Status SetMode(const std::string& path, uint32_t mode);
  Status SetOwner(const std::string& path, uint32_t uid);
  // Every path that exists now ("/a", "/a/b", ...), sorted: for assertions.
  std::vector<std::string> AllPaths() const;

 private:
  struct Node;
  using NodePtr = std::shared_ptr<Node>;
  struct Parent {
    NodePtr dir;
    std::string name;
  };

  Result<NodePtr> Lookup(const std::string& path) const;
  Result<Parent> LookupParent(const std::string& path) const;

  mutable std::mutex mu_;
  NodePtr root_;
  FaultInjector faults_;
};

// Passes every call to `base`, failing mutating calls on cue like MemStoreFs.
// There is no Crash(): a failure here models the process dying mid-way (the
// kernel keeps what was written), not a power cut.
class FaultyStoreFs final : public StoreFs {
 public:
  explicit FaultyStoreFs(StoreFs& base) : base_(base) {}

  Result<std::string> ReadFile(const std::string& path, size_t max_bytes) override {
    return base_.ReadFile(path, max_bytes);
  }
  Status WriteFile(const std::string& path, std::string_view data, uint32_t mode) override {
    if (faults_.Fails()) return FaultInjector::Fault("write", path);
    return base_.WriteFile(path, data, mode);
  }
  Status SyncFile(const std::string& path) override {
    if (faults_.Fails()) return FaultInjector::Fault("sync", path);
    return base_.SyncFile(path);
  }
  Status Rename(const std::string& from, const std::string& to) override {
    if (faults_.Fails()) return FaultInjector::Fault("rename", from + " -> " + to);
    return base_.Rename(from, to);
  }
  Status SyncDir(const std::string& dir) override {
    if (faults_.Fails()) return FaultInjector::Fault("syncdir", dir);
    return base_.SyncDir(dir);
  }
  Status Remove(const std::string& path) override {
    if (faults_.Fails()) return FaultInjector::Fault("remove", path);
    return base_.Remove(path);
  }
  Status MakeDir(const std::string& path, uint32_t mode) override {
    if (faults_.Fails()) return FaultInjector::Fault("mkdir", path);
    return base_.MakeDir(path, mode);
  }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override { return base_.ListDir(dir); }
  bool Exists(const std::string& path) override { return base_.Exists(path); }
  Result<FileStat> Stat(const std::string& path) override { return base_.Stat(path); }

  void FailAfter(uint64_t n) { faults_.FailAfter(n); }
  void Heal() { faults_.Heal(); }
  uint64_t mutations() const { return faults_.ops(); }
  uint64_t faults() const { return faults_.faults(); }

 private:
  StoreFs& base_;
  FaultInjector faults_;
};

}  // namespace vigil::sensor::testing
