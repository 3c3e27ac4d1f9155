// FanotifySource: the "fanotify" EventSource. File notification events
// (create, write-close, rename, delete, optionally open) with full paths and
// the acting process, from a fanotify group in FAN_REPORT_DFID_NAME mode.
// Notification only: it never blocks a file operation (permission events are
// a separate, later responder). Details: docs/fanotify-source.md.
//
//   FanotifyOptions opt;                                   // default: the "/" filesystem
//   opt.excluded_prefixes = {"/var/log/vigil"};
//   FanotifySource src(std::move(opt));
//   if (Status s = src.Start(); !s.ok()) die(s.ToString());  // "fanotify needs CAP_SYS_ADMIN"
//   while (running) {
//     Result<size_t> n = src.Poll(100, [&](const RawEvent& e) { queue.TryPush(e); });
//     if (!n) die(n.error().ToString());
//   }
//   src.Stop();                                           // closes the group: the kernel drops the marks
//
// Thread-safety: Start/Poll/Stop (and stats()) from one thread, the source's
// own; counters() from any thread. RawEvent strings point into the source and
// are valid only during the handler call.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "sources/fanotify/dir_cache.h"
#include "sources/fanotify/event_parser.h"
#include "sources/source.h"

namespace vigil::sources::fanotify {

enum class MarkScope : uint8_t {
  kFilesystem,  // FAN_MARK_FILESYSTEM: every mount of the filesystem holding `path`
  kMount,       // FAN_MARK_MOUNT: the mount at `path` only
  kInode,       // an inode mark: `path` itself and, if a directory, its direct children
};

struct FanotifyMark {
  std::string path;
  MarkScope scope = MarkScope::kFilesystem;
};

struct FanotifyOptions {
  std::vector<FanotifyMark> marks = {{"/", MarkScope::kFilesystem}};
  // FAN_OPEN: every open on the marked filesystems. Off by default: it is the
  // noisiest event there is, and directory opens are dropped anyway.
  bool report_open = false;
  // FAN_OPEN_EXEC as RawKind::kExec (image = the executed file), for the
  // degraded mode that keeps process events flowing without eBPF. The kernel
  // reports every file execve opens: the program, a script's interpreter and
  // the ELF loader; the loader (ld-*.so) is dropped here, the rest reported.
  bool report_exec = false;
  // Read the acting process's image and uid from /proc for every event.
  // vigild turns this off when eBPF runs: its process table already knows
  // every process, and these /proc reads were most of the source's cost.
  bool lookup_actor = true;
  // FAN_RENAME (Linux 5.17+) reports both paths in one event. false forces
  // the FAN_MOVED_FROM/FAN_MOVED_TO pairing older kernels need (tests use it).
  bool use_fan_rename = true;
  // FAN_REPORT_PIDFD (Linux 5.15+) lets the source tell whether the acting
  // process was still the same one when /proc/<pid>/exe was read.
  bool use_pidfd = true;
  // Events from these processes are dropped; our own pid always is.
  std::vector<int32_t> excluded_pids;
  // Events on paths under these directories are dropped (a rename only when
  // both its paths are), e.g. the sensor's own log and spool directories.
  std::vector<std::string> excluded_prefixes;
  // Directory handle -> path LRU entries; 0 turns the cache off.
  size_t dir_cache_entries = 1024;
  // After poll() reports events, wait this long before reading them, so a
  // storm is read in batches: while the reader sleeps outside the group's wait
  // queue, queueing an event wakes nobody, which is most of what a listener
  // costs the writing process. Adds at most this much latency (capped at 100 ms); 0 reads at once.
  uint32_t batch_delay_us = 1000;
};

// Source-specific numbers beyond SourceCounters, for tuning and tests.
struct FanotifyStats {
  uint64_t kernel_events = 0;     // event records read (a merged record may yield several RawEvents)
  uint64_t excluded = 0;          // dropped: records by pid, RawEvents by path prefix
  uint64_t unresolved_dirs = 0;   // directory handles that could not be opened (gone by read time)
  uint64_t dir_cache_hits = 0;
  uint64_t dir_cache_misses = 0;
  uint64_t actor_unknown = 0;     // events whose process had exited before we could look at it
  bool fan_rename = false;        // FAN_RENAME in use (else the MOVED_FROM/MOVED_TO pairing)
  bool pidfd = false;             // FAN_REPORT_PIDFD in use
};

class FanotifySource final : public EventSource {
 public:
  explicit FanotifySource(FanotifyOptions options);
  ~FanotifySource() override;
  FanotifySource(const FanotifySource&) = delete;
  FanotifySource& operator=(const FanotifySource&) = delete;

  std::string_view name() const override { return "fanotify"; }
  Status Start() override;
  Result<size_t> Poll(int timeout_ms, const RawEventHandler& handler) override;
  void Stop() override;
  SourceCounters counters() const override;
  const FanotifyStats& stats() const { return stats_; }

 private:
  struct MountFd {
    uint64_t fsid;
    int fd;
  };
  struct Actor {
    bool looked_up = false;  // pid below was looked up in the current read batch
    int32_t pid = 0;
    bool known = false;      // image/uid/gid are this process's
    std::string image;
    uint32_t uid = 0;
    uint32_t gid = 0;
  };
  // One end of a FAN_MOVED_FROM waiting for its FAN_MOVED_TO (legacy renames).
  struct PendingMove {
    bool present = false;
    int32_t pid = 0;
    std::string path;
    Actor actor;
  };
  enum class DirResolution { kResolved, kGone, kUnknownFilesystem };

  // Start without the cleanup: on failure the caller Stops.
  Status Attach();
  size_t DecodeBuffer(size_t length, uint64_t now_ns, const RawEventHandler& handler);
  size_t HandleEvent(const ParsedEvent& ev, uint64_t now_ns, const RawEventHandler& handler);
  // Writes the full path of `rec` (directory + name) into `*out`; false if the
  // record's filesystem is not one we marked. Unresolvable directories give
  // the bare name (no leading '/').
  bool ResolvePath(const DirRecord& rec, std::string* out);
  DirResolution ResolveDir(const DirRecord& rec, std::string* out);
  const Actor& LookupActor(int32_t pid, int pidfd);
  bool Excluded(std::string_view path) const;
  static bool IsElfLoader(std::string_view path);
  size_t Emit(RawKind kind, int32_t pid, const Actor& actor, std::string_view path, std::string_view path2,
              uint64_t now_ns, const RawEventHandler& handler);
  size_t FlushPendingMove(uint64_t now_ns, const RawEventHandler& handler);

  FanotifyOptions options_;
  int fd_ = -1;
  std::vector<MountFd> mount_fds_;
  std::vector<int32_t> excluded_pids_;  // options_.excluded_pids + getpid()
  std::unique_ptr<uint8_t[]> buffer_;
  DirCache dir_cache_;
  Actor actor_;                          // the last actor looked up in the current read batch
  PendingMove pending_move_;
  // Scratch for paths; reserved once so the hot path does not allocate.
  std::string path_, path2_, dir_;
  FanotifyStats stats_;
  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> lost_{0};
  std::atomic<uint64_t> errors_{0};
};

// The Status for a failed fanotify_init(2): names the missing privilege or
// kernel feature. `einval_means` says what EINVAL means for the flags the
// caller asked for ("kernel lacks ... (needs Linux 5.9+)").
Status FanotifyInitError(int err, std::string_view einval_means, std::string_view what = "fanotify");

}  // namespace vigil::sources::fanotify
