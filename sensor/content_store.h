// The on-host content store: slots of content bundles (active, last known
// good, candidate), quarantined bad bundles and one state file, every change
// written so that a power cut at any instant leaves each slot absent, the old
// bytes or the new bytes, never a mix. Layout, state format and the step by
// step atomicity argument: docs/content-store.md.
//
//   Result<ContentStore> store = ContentStore::Open(PosixStoreFs(), "/var/lib/vigil/store", /*create=*/true);
//   if (!store) return store.error();
//   Result<StoreLock> lock = ContentStore::Lock(store->root());   // held for the process lifetime
//   if (!lock) return lock.error();   // "store /var/lib/vigil/store is in use (locked by another vigild)"
//
//   if (Status s = store->WriteSlot(Slot::kCandidate, bundle_bytes); !s.ok()) return s;
//   Result<StoreState> state = store->ReadState();
//   if (!state) {                     // a corrupt state file must not stop the sensor:
//     LogWarning("{}; using defaults", state.error().ToString());   // "<root>/state:7: ..."
//     state = StoreState{};
//   }
//   state->candidate_version = 42;
//   if (Status s = store->WriteState(*state); !s.ok()) return s;
//
// Concurrency rule: ONE WRITER AT A TIME. The worker writes while it runs;
// the supervisor writes only while no worker runs; `vigil recover` works
// offline (it refuses a locked store unless forced). StoreLock enforces this
// between supervisors; the store itself does not lock. Readers (`vigil
// status`, OpenReadOnly) may run at any time: every file they read is
// replaced by rename, so they see old or new, never a partial file.
//
// The store never parses bundles: versions are the caller's to give.
//
// Thread-safety: a ContentStore is thread-compatible (const methods from many
// threads; a mutating one excludes every other call). It holds a reference to
// its StoreFs, which must outlive it. Copies share the file system.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "sensor/store_fs.h"

namespace vigil::sensor {

enum class Slot { kActive, kLkg, kCandidate };
std::string_view SlotName(Slot slot);  // "active", "lkg", "candidate"
Result<Slot> ParseSlot(std::string_view name);
inline constexpr Slot kAllSlots[] = {Slot::kActive, Slot::kLkg, Slot::kCandidate};

// Bounds (docs/content-store.md).
inline constexpr size_t kMaxSlotBytes = 64 << 20;  // = content::kMaxBundleBytes
inline constexpr size_t kMaxStateFileBytes = 64 << 10;
inline constexpr size_t kMaxCrashRecords = 16;
inline constexpr size_t kMaxSkippedLevels = 32;
inline constexpr size_t kMaxStateStringBytes = 512;
inline constexpr size_t kMaxBadEntries = 10;

// The levels the worker can run, best first; any other level is refused by
// the state parser and writer.
inline constexpr std::string_view kContentLevels[] = {"candidate", "active", "lkg", "path", "default", "builtin"};
bool IsContentLevel(std::string_view level);

struct CrashRecord {  // one worker death, recorded by the supervisor
  int64_t unix_time = 0;
  std::string level;  // what the worker was running: one of kContentLevels
  uint64_t content_version = 0;
  std::string reason;  // "signal 11 (SIGSEGV)", "exit 1", "heartbeat lost after 3000 ms"

  bool operator==(const CrashRecord&) const = default;
};

struct StoreState {            // the store's one state file; every field has a default
  uint64_t version_floor = 0;  // never accept content below this (raised on every activation)
  // The worker's "trying" marker: written BEFORE it loads content at `trying_level`.
  std::string trying_level;  // "" = none
  uint64_t trying_version = 0;
  int64_t trying_since = 0;
  // What the worker runs now, and since when (health window start).
  std::string running_level;
  uint64_t running_version = 0;
  int64_t running_since = 0;
  uint64_t active_version = 0, lkg_version = 0, candidate_version = 0;  // 0 = slot empty
  std::vector<std::string> skipped_levels;  // levels the supervisor stopped using ("default", "path")
  std::deque<CrashRecord> crashes;          // newest last, at most kMaxCrashRecords
  bool degraded = false;                    // worker runs without eBPF, etc.
  std::string last_event;                   // one human line: "quarantined active v7: 3 crashes in 12 s"
  std::string last_shadow_report;           // one human line from the last shadow evaluation
  int64_t updated_unix = 0;

  bool operator==(const StoreState&) const = default;
};

// The state file's text (docs/content-store.md): a "vigil store state 1"
// line, then "key value" lines. Every value is validated; unknown keys,
// duplicate scalar keys, more than kMaxCrashRecords crash lines or
// kMaxSkippedLevels skipped_level lines, strings above kMaxStateStringBytes
// or holding control characters, and texts above kMaxStateFileBytes are
// refused. Every problem is reported (up to 10), one "<name>:<line>: <key>:
// <reason>" per problem joined by "; ", code of the first one.
Result<StoreState> ParseStoreState(std::string_view text, std::string_view name);
// The inverse: ParseStoreState(*FormatStoreState(s)) == s for any state this
// accepts. Free text (last_event, last_shadow_report, crash reasons) passes
// through SanitizeStateText; crashes beyond kMaxCrashRecords drop the oldest.
// Refuses (kInvalidArgument) an unknown level, a negative time or more than
// kMaxSkippedLevels skipped levels: those are caller bugs, not text to clean.
Result<std::string> FormatStoreState(const StoreState& state);
// Control characters become spaces; cut to `max_bytes` on a UTF-8 boundary.
std::string SanitizeStateText(std::string_view text, size_t max_bytes = kMaxStateStringBytes);

// An exclusive flock(2) on <root>/lock, released when destroyed (or when the
// process dies, however it dies). Move-only. The fd is O_CLOEXEC, so a
// worker the supervisor execs does not inherit it.
class StoreLock {
 public:
  StoreLock(StoreLock&& other) noexcept;
  StoreLock& operator=(StoreLock&& other) noexcept;
  StoreLock(const StoreLock&) = delete;
  StoreLock& operator=(const StoreLock&) = delete;
  ~StoreLock();

  const std::string& path() const { return path_; }

 private:
  friend class ContentStore;
  StoreLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

// One quarantined bundle, as ListBadEntries reads it back.
struct BadEntry {
  std::string name;       // "1732460710-active-v7.vbundle"
  std::string path;       // <root>/bad/<name>
  int64_t unix_time = 0;  // parsed from the name (0 if the name is not ours)
  std::string reason;     // from <name-without-.vbundle>.reason; "" if missing
};

class ContentStore {
 public:
  // Opens the store at `root`. With `create`, makes root (0700, missing
  // parents 0755) and its layout if missing; it initialises an existing
  // directory only if it is empty or holds nothing but store entries.
  // Without `create`, refuses a directory that is not a vigil store
  // (kNotFound: no such directory; kInvalidArgument: no VIGIL_STORE marker).
  // Removes leftover temp files of an interrupted write. Refuses a root that
  // is a symlink, not owned by the effective uid (root, for vigild) or group/
  // world writable; the message names the path, owner and mode.
  static Result<ContentStore> Open(StoreFs& fs, std::string root, bool create);
  // The same checks, but changes nothing on disk (temp files stay: a writer
  // may be using them); every mutating call returns kInvalidArgument. For
  // `vigil status` and `vigil recover --dry-run`.
  static Result<ContentStore> OpenReadOnly(StoreFs& fs, std::string root);

  // Takes the store lock without waiting. Fails with Code::kIo "store <root>
  // is in use (locked by another vigild)" when another open file description
  // holds it (another process, or another Lock call in this one). The
  // directory must exist; <root>/lock is created 0600 if missing.
  static Result<StoreLock> Lock(const std::string& root);
  // Whether someone holds the lock; creates nothing (false if there is no lock file).
  static Result<bool> IsLocked(const std::string& root);

  const std::string& root() const { return root_; }
  bool read_only() const { return read_only_; }
  std::string SlotPath(Slot slot) const;  // <root>/slots/<name>.vbundle, for logs and status
  std::string StatePath() const;          // <root>/state
  std::string BadDir() const;             // <root>/bad

  Result<std::string> ReadSlot(Slot slot) const;  // kNotFound if empty; bounded to kMaxSlotBytes
  bool HasSlot(Slot slot) const;
  // Atomic: temp file, fsync, rename over the slot, fsync of both directories.
  Status WriteSlot(Slot slot, std::string_view bundle_bytes);
  // candidate -> active by one rename; kNotFound if there is no candidate.
  Status PromoteCandidate();
  // Atomic copy of active over lkg; kNotFound if there is no active.
  Status CopyActiveToLkg();
  // Moves the slot's file to bad/<unix>-<slot>-v<version>.vbundle with a
  // .reason file beside it (`reason` sanitized to one line); keeps at most
  // kMaxBadEntries quarantined bundles, oldest removed first. `version` is
  // the caller's (0 = unknown): the store never parses bundles. Returns the
  // new path; kNotFound if the slot is empty.
  Result<std::string> Quarantine(Slot slot, uint64_t version, std::string_view reason);
  Result<std::vector<std::string>> ListBad() const;      // bundle names in bad/, oldest first
  Result<std::vector<BadEntry>> ListBadEntries() const;  // the same, with their reasons

  // A missing state file gives the defaults. A corrupt one gives an error
  // naming "<root>/state:<line>"; callers must then carry on with defaults
  // (and say so loudly), never stop: the state is bookkeeping, the content
  // is in the slots.
  Result<StoreState> ReadState() const;
  Status WriteState(const StoreState& state);  // atomic, like WriteSlot

  // The clock used to name quarantined bundles (default: time(nullptr)).
  void set_clock(std::function<int64_t()> now_unix) { now_ = std::move(now_unix); }

 private:
  ContentStore(StoreFs& fs, std::string root, bool read_only)
      : fs_(&fs), root_(std::move(root)), read_only_(read_only) {}
  static Result<ContentStore> OpenImpl(StoreFs& fs, std::string root, bool create, bool read_only);
  Status Initialise();
  Status RemoveTempFiles();
  Status CheckWritable() const;
  std::string TempPath(std::string_view what);
  // Writes `data` to a temp file in root, fsyncs it, renames it to `path`
  // and fsyncs `path`'s directory, then root (the temp name's removal).
  Status WriteAtomic(const std::string& path, std::string_view data);
  Status PruneBad();

  StoreFs* fs_;
  std::string root_;
  bool read_only_ = false;
  uint64_t temp_seq_ = 0;
  std::function<int64_t()> now_;
};

}  // namespace vigil::sensor
