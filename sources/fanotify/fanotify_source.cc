#include "sources/fanotify/fanotify_source.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace vigil::sources::fanotify {
namespace {

// One read(2) of this size holds ~250 small events. With FAN_REPORT_PIDFD the
// kernel opens a pidfd in our table for every event it copies out (FAN_EPIDFD
// once RLIMIT_NOFILE is hit), so the buffer also bounds those transient fds:
// 16 KiB / ~60 bytes per smallest event stays well under the usual 1024.
constexpr size_t kBufferBytes = 16 * 1024;
// Bounds how long one Poll call can keep the caller away from its loop.
constexpr int kMaxReadsPerPoll = 16;
// Longest path handed out: PATH_MAX including the terminator, as the kernel counts.
constexpr size_t kMaxPathBytes = PATH_MAX - 1;
constexpr std::string_view kDeletedSuffix = " (deleted)";

std::string ErrnoText(int err) { return std::strerror(err); }


Status MarkError(int err, const std::string& path) {
  switch (err) {
    case EPERM:
      return Status(Code::kIo, "fanotify needs CAP_SYS_ADMIN to mark " + path + " (" + ErrnoText(err) + ")");
    case ENOENT:
      return Status(Code::kNotFound, "fanotify mark path " + path + " does not exist");
    case ENODEV:
    case EOPNOTSUPP:
      return Status(Code::kUnsupported, "filesystem at " + path +
                                            " cannot report file handles to fanotify (no export support "
                                            "or no fsid): " + ErrnoText(err));
    case EXDEV:
      return Status(Code::kUnsupported, "filesystem at " + path +
                                            " has no unique fsid (e.g. a btrfs subvolume); mark its "
                                            "mount instead: " + ErrnoText(err));
    case ENOSPC:
      return Status(Code::kLimitExceeded, "fanotify mark on " + path + ": too many marks (fs.fanotify.max_user_marks)");
    default:
      return Status(Code::kIo, "fanotify_mark " + path + ": " + ErrnoText(err));
  }
}

uint64_t RealtimeNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// "Uid:\t1000\t1000\t1000\t1000" -> the second (effective) id.
bool ParseStatusId(std::string_view text, std::string_view key, uint32_t* out) {
  size_t at = text.find(key);
  if (at == std::string_view::npos) return false;
  const char* p = text.data() + at + key.size();
  const char* end = text.data() + text.size();
  for (int field = 0; field < 2; ++field) {
    while (p < end && (*p == ' ' || *p == '\t')) ++p;
    uint64_t v = 0;
    const char* digits = p;
    while (p < end && *p >= '0' && *p <= '9' && v <= UINT32_MAX) v = v * 10 + static_cast<uint64_t>(*p++ - '0');
    if (p == digits || v > UINT32_MAX) return false;
    if (field == 1) *out = static_cast<uint32_t>(v);
  }
  return true;
}

}  // namespace

FanotifySource::FanotifySource(FanotifyOptions options)
    : options_(std::move(options)),
      buffer_(new uint8_t[kBufferBytes]),
      dir_cache_(options_.dir_cache_entries) {
  path_.reserve(kMaxPathBytes + 1);
  path2_.reserve(kMaxPathBytes + 1);
  dir_.reserve(kMaxPathBytes + 1);
  pending_move_.path.reserve(kMaxPathBytes + 1);
}

FanotifySource::~FanotifySource() { Stop(); }

Status FanotifySource::Start() {
  if (fd_ >= 0) return Status(Code::kInvalidArgument, "fanotify: already started");
  Status s = Attach();
  if (!s.ok()) Stop();
  return s;
}

Status FanotifySource::Attach() {
  if (options_.marks.empty()) return Status(Code::kInvalidArgument, "fanotify: no mark paths configured");
  stats_ = FanotifyStats{};
  const unsigned init_flags = FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_CLOEXEC | FAN_NONBLOCK;
  const unsigned event_flags = O_RDONLY | O_LARGEFILE | O_CLOEXEC;
  if (options_.use_pidfd) {
    fd_ = fanotify_init(init_flags | FAN_REPORT_PIDFD, event_flags);
    // EINVAL: a kernel before 5.15; go on without pidfds.
    if (fd_ < 0 && errno != EINVAL) return FanotifyInitError(errno, "kernel lacks fanotify FAN_REPORT_DFID_NAME (needs Linux 5.9+)");
    stats_.pidfd = fd_ >= 0;
  }
  if (fd_ < 0) fd_ = fanotify_init(init_flags, event_flags);
  if (fd_ < 0) return FanotifyInitError(errno, "kernel lacks fanotify FAN_REPORT_DFID_NAME (needs Linux 5.9+)");

  uint64_t base_mask = FAN_CREATE | FAN_DELETE | FAN_CLOSE_WRITE | FAN_ONDIR;
  if (options_.report_open) base_mask |= FAN_OPEN;
  if (options_.report_exec) base_mask |= FAN_OPEN_EXEC;
  bool fan_rename = options_.use_fan_rename;
  bool first_mark = true;
  for (const FanotifyMark& mark : options_.marks) {
    struct stat st{};
    if (stat(mark.path.c_str(), &st) != 0) return MarkError(errno, mark.path);
    struct statfs sfs{};
    if (statfs(mark.path.c_str(), &sfs) != 0) return MarkError(errno, mark.path);
    uint64_t fsid = 0;
    static_assert(sizeof(sfs.f_fsid) == sizeof(fsid));
    std::memcpy(&fsid, &sfs.f_fsid, sizeof(fsid));

    unsigned flags = FAN_MARK_ADD;
    uint64_t mask = base_mask;
    switch (mark.scope) {
      case MarkScope::kFilesystem: flags |= FAN_MARK_FILESYSTEM; break;
      case MarkScope::kMount: flags |= FAN_MARK_MOUNT; break;
      case MarkScope::kInode:
        if (S_ISDIR(st.st_mode)) mask |= FAN_EVENT_ON_CHILD;
        break;
    }
    auto add = [&](bool with_rename) {
      const uint64_t rename_bits = with_rename ? FAN_RENAME : (FAN_MOVED_FROM | FAN_MOVED_TO);
      return fanotify_mark(fd_, flags, mask | rename_bits, AT_FDCWD, mark.path.c_str());
    };
    int rc = add(fan_rename);
    // EINVAL on the first mark with FAN_RENAME: a kernel before 5.17.
    if (rc != 0 && errno == EINVAL && fan_rename && first_mark) {
      fan_rename = false;
      rc = add(false);
    }
    if (rc != 0) return MarkError(errno, mark.path);
    first_mark = false;

    // open_by_handle_at needs an fd on the same filesystem; the first marked
    // path of each filesystem provides it (and the mount paths resolve through).
    // It refuses O_PATH fds, and opening a device or FIFO could have side
    // effects, so a non-directory mark lends its parent directory instead.
    const bool have = std::any_of(mount_fds_.begin(), mount_fds_.end(),
                                  [&](const MountFd& m) { return m.fsid == fsid; });
    if (!have) {
      std::string dir = mark.path;
      if (!S_ISDIR(st.st_mode)) {
        const size_t slash = dir.find_last_of('/');
        dir = slash == std::string::npos ? "." : slash == 0 ? "/" : dir.substr(0, slash);
      }
      int mfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (mfd < 0) return MarkError(errno, mark.path);
      mount_fds_.push_back({fsid, mfd});
    }
  }
  stats_.fan_rename = fan_rename;

  excluded_pids_ = options_.excluded_pids;
  excluded_pids_.push_back(getpid());
  return Status::Ok();
}

void FanotifySource::Stop() {
  if (fd_ >= 0) {
    close(fd_);  // the last reference to the group: the kernel removes every mark
    fd_ = -1;
  }
  for (const MountFd& m : mount_fds_) close(m.fd);
  mount_fds_.clear();
  dir_cache_.Clear();
  pending_move_.present = false;
  actor_.looked_up = false;
}

SourceCounters FanotifySource::counters() const {
  SourceCounters c;
  c.received = received_.load(std::memory_order_relaxed);
  c.lost = lost_.load(std::memory_order_relaxed);
  c.errors = errors_.load(std::memory_order_relaxed);
  return c;
}

Result<size_t> FanotifySource::Poll(int timeout_ms, const RawEventHandler& handler) {
  if (fd_ < 0) return Error(Code::kInvalidArgument, "fanotify: Poll without a successful Start");
  pollfd p{fd_, POLLIN, 0};
  int ready = poll(&p, 1, timeout_ms);
  if (ready < 0) {
    if (errno == EINTR) return size_t{0};
    return Error(Code::kIo, "fanotify: poll: {}", ErrnoText(errno));
  }
  if (ready == 0) return size_t{0};
  SleepBatchDelay(options_.batch_delay_us);

  size_t delivered = 0;
  uint64_t now_ns = RealtimeNs();
  for (int i = 0; i < kMaxReadsPerPoll; ++i) {
    ssize_t n = read(fd_, buffer_.get(), kBufferBytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        // The queue is empty: a MOVED_FROM still unpaired has lost its MOVED_TO.
        delivered += FlushPendingMove(now_ns, handler);
        break;
      }
      return Error(Code::kIo, "fanotify: read: {}", ErrnoText(errno));
    }
    if (n == 0) break;
    now_ns = RealtimeNs();
    actor_.looked_up = false;  // /proc lookups are reused within one batch only
    delivered += DecodeBuffer(static_cast<size_t>(n), now_ns, handler);
  }
  return delivered;
}

size_t FanotifySource::DecodeBuffer(size_t length, uint64_t now_ns, const RawEventHandler& handler) {
  std::span<const uint8_t> rest(buffer_.get(), length);
  size_t delivered = 0;
  while (!rest.empty()) {
    ParsedEvent ev;
    const ParseStep step = ParseEvent(rest, &ev);
    if (step.status == ParseStatus::kBadStream) {
      errors_.fetch_add(1, std::memory_order_relaxed);
      break;
    }
    ++stats_.kernel_events;
    if (step.status == ParseStatus::kOk) {
      delivered += HandleEvent(ev, now_ns, handler);
    } else {
      errors_.fetch_add(1, std::memory_order_relaxed);
    }
    // Every event's fds are ours to close, whatever became of the event.
    if (ev.fd >= 0) close(ev.fd);
    if (ev.pidfd >= 0) close(ev.pidfd);
    rest = rest.subspan(step.consumed);
  }
  return delivered;
}

size_t FanotifySource::HandleEvent(const ParsedEvent& ev, uint64_t now_ns, const RawEventHandler& handler) {
  if (ev.mask & FAN_Q_OVERFLOW) {
    // fanotify queues one overflow event however many it dropped.
    lost_.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  uint64_t mask = ev.mask;
  const bool on_dir = (mask & FAN_ONDIR) != 0;
  // FAN_ONDIR is per mark, not per event type: it also brings every readdir's open.
  if (on_dir) mask &= ~static_cast<uint64_t>(FAN_OPEN | FAN_OPEN_EXEC);
  constexpr uint64_t kDirGone = FAN_DELETE | FAN_RENAME | FAN_MOVED_FROM;
  if (std::find(excluded_pids_.begin(), excluded_pids_.end(), ev.pid) != excluded_pids_.end()) {
    ++stats_.excluded;
    // Even our own directory renames and deletes make cached paths stale.
    if (on_dir && (mask & kDirGone)) {
      const DirRecord& gone = (mask & FAN_RENAME) ? ev.old_dir : ev.dir;
      if (gone.present && ResolvePath(gone, &path_)) dir_cache_.InvalidatePrefix(path_);
    }
    return 0;
  }
  constexpr uint64_t kHandled =
      FAN_CREATE | FAN_OPEN | FAN_OPEN_EXEC | FAN_CLOSE_WRITE | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_RENAME |
      FAN_DELETE;
  if ((mask & kHandled) == 0) return 0;

  if (mask & FAN_RENAME) {
    if (!ev.old_dir.present || !ev.new_dir.present || !ResolvePath(ev.old_dir, &path_) ||
        !ResolvePath(ev.new_dir, &path2_)) {
      errors_.fetch_add(1, std::memory_order_relaxed);
      return 0;
    }
    if (on_dir) dir_cache_.InvalidatePrefix(path_);
    // Moving a file out of an excluded directory is exactly what must be seen.
    if (Excluded(path_) && Excluded(path2_)) {
      ++stats_.excluded;
      return 0;
    }
    return Emit(RawKind::kFileRename, ev.pid, LookupActor(ev.pid, ev.pidfd), path_, path2_, now_ns, handler);
  }

  if (!ev.dir.present || !ResolvePath(ev.dir, &path_)) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  if (on_dir && (mask & kDirGone)) dir_cache_.InvalidatePrefix(path_);
  const bool excluded = Excluded(path_);
  size_t delivered = 0;
  // A merged record (same file, same process, still queued) carries several
  // bits; they come out in the order they usually happen.
  auto emit = [&](RawKind kind) {
    if (excluded) {
      ++stats_.excluded;
      return;
    }
    delivered += Emit(kind, ev.pid, LookupActor(ev.pid, ev.pidfd), path_, {}, now_ns, handler);
  };
  if (mask & FAN_CREATE) emit(RawKind::kFileCreate);
  if (mask & FAN_OPEN) emit(RawKind::kFileOpen);
  if ((mask & FAN_OPEN_EXEC) && !IsElfLoader(path_)) {
    if (excluded) {
      ++stats_.excluded;
    } else {
      RawEvent e;
      e.kind = RawKind::kExec;
      e.time_ns = now_ns;
      e.pid = ev.pid;
      e.image = path_;  // the executed file; argv, cwd and parent come from /proc later
      const Actor& actor = LookupActor(ev.pid, ev.pidfd);
      if (actor.known) {
        e.uid = actor.uid;
        e.gid = actor.gid;
      }
      handler(e);
      received_.fetch_add(1, std::memory_order_relaxed);
      ++delivered;
    }
  }
  if (mask & FAN_CLOSE_WRITE) emit(RawKind::kFileCloseWrite);
  if (mask & FAN_MOVED_FROM) {
    delivered += FlushPendingMove(now_ns, handler);
    const Actor& actor = LookupActor(ev.pid, ev.pidfd);
    pending_move_.present = true;
    pending_move_.pid = ev.pid;
    pending_move_.path.assign(path_);
    pending_move_.actor = actor;
  }
  if (mask & FAN_MOVED_TO) {
    if (pending_move_.present && pending_move_.pid == ev.pid) {
      pending_move_.present = false;
      if (Excluded(pending_move_.path) && excluded) {
        ++stats_.excluded;
      } else {
        delivered += Emit(RawKind::kFileRename, ev.pid, LookupActor(ev.pid, ev.pidfd), pending_move_.path,
                          path_, now_ns, handler);
      }
    } else if (excluded) {
      ++stats_.excluded;
    } else {
      // The other half never came (or came from elsewhere): old path unknown.
      delivered += Emit(RawKind::kFileRename, ev.pid, LookupActor(ev.pid, ev.pidfd), {}, path_, now_ns, handler);
    }
  }
  if (mask & FAN_DELETE) emit(RawKind::kFileDelete);
  return delivered;
}

size_t FanotifySource::FlushPendingMove(uint64_t now_ns, const RawEventHandler& handler) {
  if (!pending_move_.present) return 0;
  pending_move_.present = false;
  if (Excluded(pending_move_.path)) {
    ++stats_.excluded;
    return 0;
  }
  // New path unknown: moved where we could not see (another mark, or lost).
  return Emit(RawKind::kFileRename, pending_move_.pid, pending_move_.actor, pending_move_.path, {}, now_ns,
              handler);
}

size_t FanotifySource::Emit(RawKind kind, int32_t pid, const Actor& actor, std::string_view path,
                            std::string_view path2, uint64_t now_ns, const RawEventHandler& handler) {
  RawEvent e;
  e.kind = kind;
  e.time_ns = now_ns;
  e.pid = pid;
  if (actor.known) {
    e.image = actor.image;
    e.uid = actor.uid;
    e.gid = actor.gid;
  }
  e.path = path;
  e.path2 = path2;
  handler(e);
  received_.fetch_add(1, std::memory_order_relaxed);
  return 1;
}

// The dynamic loader (ld-linux-x86-64.so.2, ld-musl-*.so.1, ...) is opened by
// every dynamically linked exec; it is not the program being run.
bool FanotifySource::IsElfLoader(std::string_view path) {
  size_t slash = path.rfind('/');
  std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  return base.starts_with("ld-") && base.find(".so") != std::string_view::npos;
}

bool FanotifySource::Excluded(std::string_view path) const {
  for (const std::string& prefix : options_.excluded_prefixes) {
    if (PathIsUnder(path, prefix)) return true;
  }
  return false;
}

bool FanotifySource::ResolvePath(const DirRecord& rec, std::string* out) {
  switch (ResolveDir(rec, &dir_)) {
    case DirResolution::kUnknownFilesystem:
      return false;
    case DirResolution::kGone:
      // Keep the name: a rule on the file name can still match, and a missing
      // leading '/' tells consumers the directory is unknown.
      ++stats_.unresolved_dirs;
      out->assign(rec.name);
      return true;
    case DirResolution::kResolved:
      break;
  }
  out->assign(dir_);
  if (!rec.name.empty() && rec.name != ".") {
    if (out->empty() || out->back() != '/') out->push_back('/');
    out->append(rec.name);
  }
  if (out->size() > kMaxPathBytes) out->resize(kMaxPathBytes);
  return true;
}

FanotifySource::DirResolution FanotifySource::ResolveDir(const DirRecord& rec, std::string* out) {
  const DirKey key = DirKey::From(rec.fsid, rec.handle_type, rec.handle);
  if (const std::string* cached = dir_cache_.Find(key)) {
    ++stats_.dir_cache_hits;
    out->assign(*cached);
    return DirResolution::kResolved;
  }
  ++stats_.dir_cache_misses;
  auto mount = std::find_if(mount_fds_.begin(), mount_fds_.end(),
                            [&](const MountFd& m) { return m.fsid == rec.fsid; });
  if (mount == mount_fds_.end()) return DirResolution::kUnknownFilesystem;

  alignas(file_handle) uint8_t storage[sizeof(file_handle) + kMaxHandleBytes];
  auto* fh = reinterpret_cast<file_handle*>(storage);
  fh->handle_bytes = static_cast<unsigned>(rec.handle.size());
  fh->handle_type = rec.handle_type;
  std::memcpy(fh->f_handle, rec.handle.data(), rec.handle.size());
  const int dfd = open_by_handle_at(mount->fd, fh, O_PATH | O_CLOEXEC);
  if (dfd < 0) return DirResolution::kGone;  // ESTALE: deleted before we looked

  char link[32];
  std::snprintf(link, sizeof(link), "/proc/self/fd/%d", dfd);
  char target[PATH_MAX];
  const ssize_t n = readlink(link, target, sizeof(target));
  if (n <= 0 || static_cast<size_t>(n) >= sizeof(target) || target[0] != '/') {
    // Too long, or not reachable from our root (another mount namespace's
    // private mount): no trustworthy path.
    close(dfd);
    return DirResolution::kGone;
  }
  std::string_view path(target, static_cast<size_t>(n));
  bool cacheable = true;
  if (path.ends_with(kDeletedSuffix)) {
    // A real name may end in " (deleted)"; only a directory with no links is gone.
    struct stat st{};
    if (fstat(dfd, &st) == 0 && st.st_nlink == 0) {
      path.remove_suffix(kDeletedSuffix.size());
      cacheable = false;
    }
  }
  close(dfd);
  out->assign(path);
  if (cacheable) dir_cache_.Insert(key, path);
  return DirResolution::kResolved;
}

const FanotifySource::Actor& FanotifySource::LookupActor(int32_t pid, int pidfd) {
  if (actor_.looked_up && actor_.pid == pid) return actor_;
  actor_.looked_up = true;
  actor_.pid = pid;
  actor_.known = false;
  actor_.image.clear();
  actor_.uid = 0;
  actor_.gid = 0;
  if (!options_.lookup_actor) return actor_;  // unknown here; the consumer resolves the pid
  // With pidfds, none (FAN_NOPIDFD) means the process had exited when the
  // event was read: its pid may already name someone else.
  if (stats_.pidfd && pidfd < 0) {
    ++stats_.actor_unknown;
    return actor_;
  }
  char proc[64];
  std::snprintf(proc, sizeof(proc), "/proc/%d/exe", pid);
  char image[PATH_MAX];
  const ssize_t n = readlink(proc, image, sizeof(image));
  if (n <= 0 || static_cast<size_t>(n) >= sizeof(image)) {
    ++stats_.actor_unknown;
    return actor_;
  }
  std::snprintf(proc, sizeof(proc), "/proc/%d/status", pid);
  const int sfd = open(proc, O_RDONLY | O_CLOEXEC);
  if (sfd >= 0) {
    char status[2048];  // Uid/Gid are in the first ~600 bytes
    const ssize_t got = read(sfd, status, sizeof(status));
    close(sfd);
    if (got > 0) {
      std::string_view text(status, static_cast<size_t>(got));
      ParseStatusId(text, "\nUid:", &actor_.uid);
      ParseStatusId(text, "\nGid:", &actor_.gid);
    }
  }
  if (pidfd >= 0) {
    // Still running after the reads: the pid could not have been reused, so
    // what /proc said was this process.
    pollfd p{pidfd, POLLIN, 0};
    if (poll(&p, 1, 0) != 0) {
      actor_.uid = 0;
      actor_.gid = 0;
      ++stats_.actor_unknown;
      return actor_;
    }
  }
  actor_.image.assign(image, static_cast<size_t>(n));
  actor_.known = true;
  return actor_;
}

Status FanotifyInitError(int err, std::string_view einval_means, std::string_view what) {
  const std::string detail = "fanotify_init: " + ErrnoText(err);
  switch (err) {
    case EPERM:
      return Status(Code::kIo, fmt::format("{} needs CAP_SYS_ADMIN ({})", what, detail));
    case EINVAL:
      return Status(Code::kUnsupported, fmt::format("{}: {}", einval_means, detail));
    case ENOSYS:
      return Status(Code::kUnsupported, "kernel built without fanotify (CONFIG_FANOTIFY)");
    case EMFILE:
      return Status(Code::kLimitExceeded,
                    "fanotify_init: too many fanotify groups (fs.fanotify.max_user_groups) or open files");
    default:
      return Status(Code::kIo, detail);
  }
}

}  // namespace vigil::sources::fanotify
