// The process table: what the sensor knows about every live process, so each
// event carries its actor's and parent's image, command line, user and cwd
// (ParentImage, ParentCommandLine, User, CurrentDirectory...).
//
// Seeded from /proc at start, then kept current from fork/exec/exit events.
// Bounded: at most `max_entries` processes; exited processes linger for a
// grace period (late file events of a dying process still resolve) and are
// evicted first; when full, the least recently updated entry goes and the
// eviction is counted. A lookup miss may load the entry from /proc (best
// effort: the process may be gone).
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
  uint64_t entries = 0;
  uint64_t evictions = 0;   // live entries dropped because the table was full
  uint64_t misses = 0;      // lookups of unknown pids
  uint64_t loaded = 0;      // misses resolved from /proc
};

class ProcessTable {
 public:
  explicit ProcessTable(ProcessTableOptions options = {});
  ~ProcessTable();

  // Reads every /proc/<pid> (image, cmdline, cwd, status: ppid/uid/gid,
  // loginuid). Unreadable entries are skipped (processes come and go).
  Status SeedFromProc();

  // Updates from a process event (kFork, kExec, kExit); other kinds are ignored.
  void Apply(const sources::RawEvent& event);

  // The entry for pid, or nullptr. The pointer is valid until the next
  // non-const call.
  const ProcessInfo* Lookup(int32_t pid);

  // Resolves a uid to a user name (cached, bounded).
  const std::string& UserName(uint32_t uid);

  ProcessTableStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::sensor
