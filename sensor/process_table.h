// The process table: what the sensor knows about every live process, so each
// event carries its actor's and parent's image, command line, user and cwd
// (ParentImage, ParentCommandLine, User, CurrentDirectory...).
//
// Seeded from /proc at start, then kept current from fork/exec/exit events.
// Bounded: at most `max_entries` processes (at least 2), in storage reserved
// at construction: once every slot has been used, updates reuse the slots'
// string capacity and do not allocate. Exited processes linger for a grace
// period (late file events of a dying process still resolve), measured in
// event time (RawEvent::time_ns), and are evicted first; when full, the least
// recently used live entry (updated or looked up) goes and the eviction is
// counted. A lookup miss may load the entry from /proc (best effort: the
// process may be gone). Every removal is counted in exactly one of
// `expired`, `exited_evicted`, `evictions`.
//
//   ProcessTable table({.max_entries = 65536});
//   table.SeedFromProc();
//   table.Apply(raw_event);                       // fork / exec / exit update it
//   const ProcessInfo* p = table.Lookup(pid);     // nullptr if unknown
//
// Thread-safety: not thread-safe; owned by the pipeline's evaluation thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "sources/source.h"

namespace vigil::sensor {

struct ProcessInfo {
  int32_t pid = 0;
  int32_t ppid = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t loginuid = 0xffffffff;  // 0xffffffff = unset
  std::string image;
  std::string command_line;
  std::string cwd;
  std::string user;  // name for uid, "" if unknown
  uint64_t exit_time_ns = 0;  // 0 while alive
};

struct ProcessTableOptions {
  size_t max_entries = 65536;
  uint64_t exited_grace_ns = 5'000'000'000;  // keep exited processes 5 s
  std::string proc_root = "/proc";           // tests point this at a fake tree
  bool load_on_miss = true;                  // read /proc/<pid> for unknown pids
};

struct ProcessTableStats {
  uint64_t entries = 0;         // live + exited entries held now
  uint64_t evictions = 0;       // live entries dropped because the table was full
  uint64_t exited_evicted = 0;  // exited entries dropped before their grace period ended (table full)
  uint64_t expired = 0;         // exited entries dropped after their grace period
  uint64_t misses = 0;          // lookups of unknown pids
  uint64_t loaded = 0;          // entries read from /proc (misses resolved, seeding, degraded execs)
  uint64_t user_cache_entries = 0;
};

class ProcessTable {
 public:
  explicit ProcessTable(ProcessTableOptions options = {});
  ~ProcessTable();

  // Reads every /proc/<pid> (image, cmdline, cwd, status: ppid/uid/gid,
  // loginuid). Unreadable entries are skipped (processes come and go).
  Status SeedFromProc();

  // Updates from a process event (kFork, kExec, kExit); other kinds only
  // advance the clock that ends exited entries' grace period.
  //   kFork: the child (pid) gets a copy of the parent's (ppid) entry.
  //   kExec: image, command line, cwd, uid, gid, loginuid from the event; ppid
  //          from the event when non-zero. An exec without command line and
  //          cwd (fanotify's degraded mode) reads them from /proc/<pid> when
  //          /proc/<pid>/exe is already the new image, else keeps the cwd.
  //   kExit: marks the entry exited; it is removed after the grace period.
  void Apply(const sources::RawEvent& event);

  // The entry for pid, or nullptr (pid <= 0, unknown and not loadable). The
  // pointer is valid until the next non-const call.
  const ProcessInfo* Lookup(int32_t pid);

  // Resolves a uid to a user name via getpwuid_r; "" if it has none. Cached
  // (names and misses), at most kMaxCachedUsers entries; the cache is cleared
  // when full, so a user added later resolves eventually. The reference is
  // valid until the next non-const call.
  static constexpr size_t kMaxCachedUsers = 4096;
  const std::string& UserName(uint32_t uid);

  ProcessTableStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::sensor
