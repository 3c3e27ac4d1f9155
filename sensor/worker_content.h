// The worker's content: which bundle it runs, the candidate under shadow
// evaluation, activation, and promotion to last-known-good, each step recorded
// in the content store's state and reported to the supervisor.
//
//   WorkerContent wc(options, store, trust_root, report);  // report("trying active 7")
//   Result<LoadedContent> c = wc.LoadInitial();           // walks the level chain
//   ...
//   Status s = wc.StoreCandidate(bytes);                  // from the update agent
//   Result<LoadedContent> cand = wc.LoadCandidate();      // then shadow-evaluate it
//   wc.AcceptCandidate(*cand, report) / wc.RejectCandidate(version, report);
//   wc.Tick(now);                                         // health window -> lkg
//
// Levels, in the order LoadInitial tries them (docs/supervisor.md):
//   path     content.path / --content, when set (an operator's explicit choice: not signature-checked)
//   active   the store's active slot            } signed (k of n of the trust root), checksum,
//   lkg      the store's last-known-good slot   } verifier, expiry; a slot that fails is quarantined
//   default  the package's bundle (default_path, or the build tree's)
//   builtin  the bundle embedded in the binary (cannot be refused: it is part of the program)
// Levels in `skip_levels` (decided by the supervisor after a crash loop) are
// left out. The candidate level exists only beside a running level.
//
// Before any bundle is loaded, "trying <level> <version>" is recorded in the
// store's state and reported; once it runs, "running <level> <version>". If
// the worker dies in between, the supervisor knows what killed it.
//
// Thread-safety: one thread (the worker's main thread) calls everything except
// version_floor(), which any thread may read (the update agent does).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/engine.h"
#include "sensor/content_store.h"
#include "sensor/worker_protocol.h"
#include "update/trust_root.h"

namespace vigil::sensor {

struct LoadedContent {
  std::shared_ptr<const engine::Engine> engine;
  ContentLevel level = ContentLevel::kBuiltin;
  uint64_t version = 0;
  std::string where;  // file or slot path, "<built-in>"
};

struct WorkerContentOptions {
  std::string content_path;          // "" = not the path level
  std::string default_content_path;  // the package's bundle
  std::string build_tree_default;    // the build tree's, for running from a checkout
  std::vector<std::string> skip_levels;
  uint32_t health_window_seconds = 600;
};

class WorkerContent {
 public:
  // `report` receives protocol lines without the newline ("trying active 7").
  // `store` may be null (no store configured or it could not be opened);
  // without a trust root the store's slots are refused (not quarantined).
  using Reporter = std::function<void(const std::string& line)>;
  WorkerContent(WorkerContentOptions options, std::unique_ptr<ContentStore> store,
                std::optional<update::TrustRoot> trust_root, Reporter report);

  // Runs the first level that loads. Fails only if even the built-in content
  // cannot (a bug).
  Result<LoadedContent> LoadInitial();
  // The path level again (SIGHUP, or content.path changed).
  Result<LoadedContent> ReloadPath();

  // Writes verified update bytes to the candidate slot (the update agent has
  // checked signatures, hashes and the verifier already; LoadCandidate checks
  // them again from the disk).
  Status StoreCandidate(std::string_view bundle_bytes);
  bool HasCandidate() const;
  // Loads the candidate slot for shadow evaluation; quarantines it if it
  // fails to load.
  Result<LoadedContent> LoadCandidate();
  // Shadow verdicts. Accept: candidate -> active, version floor raised, now
  // running active. Reject: candidate quarantined with the report.
  Result<LoadedContent> AcceptCandidate(LoadedContent candidate, const std::string& report);
  Status RejectCandidate(uint64_t version, const std::string& report);

  // Copies active to lkg once it has run health_window_seconds in this
  // process without a crash. Call periodically.
  void Tick(int64_t now_unix);
  void SetDegraded(bool degraded);

  // Versions at or below this are not accepted from the update agent: the
  // highest version activated, quarantined or under evaluation.
  uint64_t version_floor() const { return floor_.load(std::memory_order_acquire); }
  const LoadedContent* running() const { return running_ ? &*running_ : nullptr; }
  bool has_store() const { return store_ != nullptr; }
  const ContentStore* store() const { return store_.get(); }
  // The state as last written (defaults without a store).
  const StoreState& state() const { return state_; }
  const std::optional<update::TrustRoot>& trust_root() const { return trust_root_; }

 private:
  Result<LoadedContent> LoadLevel(ContentLevel level);
  Result<LoadedContent> LoadStoreSlot(Slot slot, ContentLevel level);
  void Trying(ContentLevel level, uint64_t version);
  void Running(const LoadedContent& content);
  void RaiseFloor(uint64_t version);
  void SaveState();
  bool Skipped(ContentLevel level) const;

  WorkerContentOptions options_;
  std::unique_ptr<ContentStore> store_;
  std::optional<update::TrustRoot> trust_root_;
  Reporter report_;
  StoreState state_;
  std::optional<LoadedContent> running_;
  int64_t running_since_ = 0;
  std::atomic<uint64_t> floor_{0};
};

}  // namespace vigil::sensor
