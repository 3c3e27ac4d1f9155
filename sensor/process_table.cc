#include "sensor/process_table.h"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sensor/proc_text.h"

namespace vigil::sensor {
namespace {

constexpr int32_t kNone = -1;

// /proc/<pid>/cmdline is read up to this many bytes, the same bound the eBPF
// source puts on argv (VIGIL_ARGV_MAX), so both paths give the same text.
constexpr size_t kMaxCmdlineBytes = 4096;
// /proc/<pid>/status is a few hundred bytes before the lines we need.
constexpr size_t kMaxStatusBytes = 4096;

// Reads up to cap bytes of a small /proc file; -1 if it cannot be opened.
ssize_t ReadSmallFile(const char* path, char* buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t got = 0;
  while (got < cap) {
    ssize_t n = read(fd, buf + got, cap - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fd);
  return static_cast<ssize_t>(got);
}

// The readlink target as a view into buf; empty if unreadable.
std::string_view ReadLink(const char* path, char* buf, size_t cap) {
  ssize_t n = readlink(path, buf, cap);
  if (n <= 0 || static_cast<size_t>(n) >= cap) return {};
  return std::string_view(buf, static_cast<size_t>(n));
}

}  // namespace

struct ProcessTable::Impl {
  enum class List : uint8_t { kFree, kLive, kExited };

  // Entries live in `slots` (reserved to max_entries at construction, so
  // pointers stay valid and growth never reallocates), threaded on one of two
  // intrusive lists: live in least-recently-used order, exited in the order
  // they exited. `index` maps pid -> slot (open addressing, linear probing).
  struct Slot {
    ProcessInfo info;
    int32_t prev = kNone;
    int32_t next = kNone;
    List list = List::kFree;
  };
  struct ListEnds {
    int32_t head = kNone;  // oldest
    int32_t tail = kNone;  // newest
    size_t size = 0;
  };

  explicit Impl(ProcessTableOptions opts) : options(std::move(opts)) {
    if (options.max_entries < 2) options.max_entries = 2;  // a fork needs the parent and the child
    slots.reserve(options.max_entries);
    size_t buckets = 4;
    while (buckets < options.max_entries * 2) buckets <<= 1;
    index.assign(buckets, kNone);
    mask = buckets - 1;
    // The sysconf value is only a suggestion (often 1024); large passwd or
    // LDAP entries need more, and a too-small buffer reads as "no such user".
    long pw = sysconf(_SC_GETPW_R_SIZE_MAX);
    pw_buffer.resize(pw > 16384 ? static_cast<size_t>(pw) : 16384);
    users.reserve(ProcessTable::kMaxCachedUsers);
  }

  ListEnds& Ends(List list) { return list == List::kLive ? live : exited; }

  void Unlink(int32_t s) {
    Slot& slot = slots[s];
    ListEnds& ends = Ends(slot.list);
    if (slot.prev != kNone) slots[slot.prev].next = slot.next; else ends.head = slot.next;
    if (slot.next != kNone) slots[slot.next].prev = slot.prev; else ends.tail = slot.prev;
    slot.prev = slot.next = kNone;
    --ends.size;
    slot.list = List::kFree;
  }

  void PushBack(int32_t s, List list) {
    Slot& slot = slots[s];
    ListEnds& ends = Ends(list);
    slot.list = list;
    slot.prev = ends.tail;
    slot.next = kNone;
    if (ends.tail != kNone) slots[ends.tail].next = s; else ends.head = s;
    ends.tail = s;
    ++ends.size;
  }

  void Touch(int32_t s) {
    if (slots[s].list != List::kLive || live.tail == s) return;
    Unlink(s);
    PushBack(s, List::kLive);
  }

  size_t Home(int32_t pid) const {
    return (static_cast<uint32_t>(pid) * 0x9E3779B1u) & mask;
  }

  int32_t Find(int32_t pid) const {
    for (size_t b = Home(pid);; b = (b + 1) & mask) {
      int32_t s = index[b];
      if (s == kNone) return kNone;
      if (slots[s].info.pid == pid) return s;
    }
  }

  void IndexInsert(int32_t s) {
    size_t b = Home(slots[s].info.pid);
    while (index[b] != kNone) b = (b + 1) & mask;
    index[b] = s;
  }

  // Backward-shift deletion keeps probe chains intact without tombstones.
  void IndexErase(int32_t pid) {
    size_t hole = Home(pid);
    while (slots[index[hole]].info.pid != pid) hole = (hole + 1) & mask;
    for (size_t b = (hole + 1) & mask; index[b] != kNone; b = (b + 1) & mask) {
      size_t home = Home(slots[index[b]].info.pid);
      // Move the entry into the hole unless its home lies cyclically in (hole, b].
      bool stays = hole <= b ? (hole < home && home <= b) : (hole < home || home <= b);
      if (!stays) {
        index[hole] = index[b];
        hole = b;
      }
    }
    index[hole] = kNone;
  }

  void Remove(int32_t s) {
    IndexErase(slots[s].info.pid);
    Unlink(s);
    slots[s].next = free_head;
    free_head = s;
  }

  void Expire(uint64_t now_ns) {
    while (exited.head != kNone &&
           slots[exited.head].info.exit_time_ns + options.exited_grace_ns <= now_ns) {
      Remove(exited.head);
      ++stats.expired;
    }
  }

  // A slot for pid (which must not be in the table), linked as the newest live
  // entry and indexed; its strings keep the capacity of their last owner.
  // `keep` is never evicted (the parent a child is being copied from).
  int32_t Acquire(int32_t pid, int32_t keep) {
    int32_t s = kNone;
    if (free_head != kNone) {
      s = free_head;
      free_head = slots[s].next;
    } else if (slots.size() < options.max_entries) {
      slots.emplace_back();
      s = static_cast<int32_t>(slots.size() - 1);
    } else {
      int32_t victim = exited.head;
      if (victim != kNone) {
        ++stats.exited_evicted;
      } else {
        victim = live.head != keep ? live.head : slots[live.head].next;
        ++stats.evictions;
      }
      IndexErase(slots[victim].info.pid);
      Unlink(victim);
      s = victim;
    }
    ProcessInfo& info = slots[s].info;
    info.pid = pid;
    info.ppid = 0;
    info.uid = info.gid = 0;
    info.loginuid = 0xffffffff;
    info.image.clear();
    info.command_line.clear();
    info.cwd.clear();
    info.user.clear();
    info.exit_time_ns = 0;
    PushBack(s, List::kLive);
    IndexInsert(s);
    return s;
  }

  // Builds "<proc_root>/<pid>/<name>" in path_buf.
  const char* ProcPath(int32_t pid, const char* name) {
    snprintf(path_buf, sizeof(path_buf), "%s/%d/%s", options.proc_root.c_str(), pid, name);
    return path_buf;
  }

  // /proc/<pid>/cmdline with NULs as spaces, trailing NULs dropped.
  void ReadCmdline(int32_t pid, std::string& out) {
    ssize_t n = ReadSmallFile(ProcPath(pid, "cmdline"), io_buf, kMaxCmdlineBytes);
    out.clear();
    if (n <= 0) return;
    std::string_view text(io_buf, static_cast<size_t>(n));
    while (!text.empty() && text.back() == '\0') text.remove_suffix(1);
    out.assign(text);
    for (char& c : out) {
      if (c == '\0') c = ' ';
    }
  }

  void ReadCwd(int32_t pid, std::string& out) {
    out.assign(ReadLink(ProcPath(pid, "cwd"), io_buf, sizeof(io_buf)));
  }

  // Reads /proc/<pid> into a new entry; kNone if the process is not there.
  // Status first: a process without a readable status is gone (or was never
  // there), and reading nothing else avoids a half-filled entry.
  int32_t Load(int32_t pid, int32_t keep) {
    ssize_t n = ReadSmallFile(ProcPath(pid, "status"), io_buf, kMaxStatusBytes);
    if (n <= 0) return kNone;
    std::string_view status(io_buf, static_cast<size_t>(n));
    int32_t ppid = 0;
    uint32_t uid = 0, gid = 0;
    if (!StatusField(status, "PPid:", ppid) || !StatusField(status, "Uid:", uid) ||
        !StatusField(status, "Gid:", gid)) {
      return kNone;
    }
    int32_t s = Acquire(pid, keep);
    ProcessInfo& info = slots[s].info;
    info.ppid = ppid;
    info.uid = uid;
    info.gid = gid;
    n = ReadSmallFile(ProcPath(pid, "loginuid"), io_buf, 32);
    if (n > 0) (void)ParseNumber(std::string_view(io_buf, static_cast<size_t>(n)), info.loginuid);
    info.image.assign(ReadLink(ProcPath(pid, "exe"), io_buf, sizeof(io_buf)));
    ReadCmdline(pid, info.command_line);
    ReadCwd(pid, info.cwd);
    info.user.assign(UserName(uid));
    ++stats.loaded;
    return s;
  }

  // The slot for pid, loading it from /proc on a miss when allowed.
  int32_t FindOrLoad(int32_t pid, int32_t keep) {
    if (pid <= 0) return kNone;
    int32_t s = Find(pid);
    if (s != kNone) return s;
    ++stats.misses;
    return options.load_on_miss ? Load(pid, keep) : kNone;
  }

  void ApplyFork(const sources::RawEvent& e) {
    if (e.pid <= 0 || e.pid == e.ppid) return;
    int32_t parent = FindOrLoad(e.ppid, kNone);
    if (parent != kNone) Touch(parent);
    int32_t s = Find(e.pid);
    if (s != kNone) Remove(s);  // pid reuse: the old process is gone for good
    s = Acquire(e.pid, parent);
    ProcessInfo& child = slots[s].info;
    child.ppid = e.ppid;
    if (parent != kNone) {
      const ProcessInfo& p = slots[parent].info;
      child.uid = p.uid;
      child.gid = p.gid;
      child.loginuid = p.loginuid;
      child.image.assign(p.image);
      child.command_line.assign(p.command_line);
      child.cwd.assign(p.cwd);
      child.user.assign(p.user);
    } else {
      // The fork record carries the child's (= parent's) credentials.
      child.uid = e.uid;
      child.gid = e.gid;
      child.loginuid = e.loginuid;
      child.image.assign(e.image);
      child.user.assign(UserName(e.uid));
    }
  }

  void ApplyExec(const sources::RawEvent& e) {
    if (e.pid <= 0) return;
    int32_t s = Find(e.pid);
    // A process we never saw (started before the sensor, or its fork was
    // lost): /proc has its parent, which the exec record may not.
    if (s == kNone && options.load_on_miss && e.ppid == 0) s = Load(e.pid, kNone);
    if (s == kNone) s = Acquire(e.pid, kNone);
    if (slots[s].list == List::kExited) {  // an exec after exit is a reused pid
      Unlink(s);
      PushBack(s, List::kLive);
      slots[s].info.exit_time_ns = 0;
    } else {
      Touch(s);
    }
    ProcessInfo& info = slots[s].info;
    if (e.ppid != 0) info.ppid = e.ppid;
    info.uid = e.uid;
    info.gid = e.gid;
    info.loginuid = e.loginuid;
    info.user.assign(UserName(e.uid));
    info.image.assign(e.image);
    if (!e.command_line.empty() || !e.cwd.empty()) {
      info.command_line.assign(e.command_line);
      info.cwd.assign(e.cwd);
      return;
    }
    // Degraded source: only the image. The old argv is not this program's;
    // /proc has the new one once exe points at the new image. The cwd
    // survives exec, so the old one stays unless /proc says otherwise.
    info.command_line.clear();
    if (!options.load_on_miss) return;
    std::string_view exe = ReadLink(ProcPath(e.pid, "exe"), io_buf, sizeof(io_buf));
    if (exe.empty() || exe != e.image) return;
    ReadCmdline(e.pid, info.command_line);
    ReadCwd(e.pid, info.cwd);
    ++stats.loaded;
  }

  void ApplyExit(const sources::RawEvent& e) {
    int32_t s = e.pid > 0 ? Find(e.pid) : kNone;
    if (s == kNone || slots[s].list == List::kExited) return;
    Unlink(s);
    PushBack(s, List::kExited);
    // 0 means "alive"; an event without a clock still exits.
    slots[s].info.exit_time_ns = e.time_ns != 0 ? e.time_ns : 1;
  }

  const std::string& UserName(uint32_t uid) {
    auto it = users.find(uid);
    if (it != users.end()) return it->second;
    if (users.size() >= ProcessTable::kMaxCachedUsers) users.clear();
    passwd pw;
    passwd* result = nullptr;
    std::string name;
    if (getpwuid_r(uid, &pw, pw_buffer.data(), pw_buffer.size(), &result) == 0 && result != nullptr &&
        result->pw_name != nullptr) {
      name = result->pw_name;
    }
    return users.emplace(uid, std::move(name)).first->second;
  }

  ProcessTableOptions options;
  std::vector<Slot> slots;
  std::vector<int32_t> index;
  size_t mask = 0;
  int32_t free_head = kNone;
  ListEnds live;
  ListEnds exited;
  ProcessTableStats stats;
  std::unordered_map<uint32_t, std::string> users;
  std::vector<char> pw_buffer;
  char path_buf[512];
  char io_buf[kMaxCmdlineBytes + 4096];
};

ProcessTable::ProcessTable(ProcessTableOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

ProcessTable::~ProcessTable() = default;

Status ProcessTable::SeedFromProc() {
  DIR* dir = opendir(impl_->options.proc_root.c_str());
  if (dir == nullptr) {
    return Status(Code::kIo, fmt::format("process table: cannot read {}: {}", impl_->options.proc_root,
                                         std::strerror(errno)));
  }
  while (dirent* entry = readdir(dir)) {
    int32_t pid = 0;
    std::string_view name(entry->d_name);
    auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (ec != std::errc() || ptr != name.data() + name.size() || pid <= 0) continue;
    if (impl_->Find(pid) == kNone) (void)impl_->Load(pid, kNone);
  }
  closedir(dir);
  return Status::Ok();
}

void ProcessTable::Apply(const sources::RawEvent& event) {
  if (event.time_ns != 0) impl_->Expire(event.time_ns);
  switch (event.kind) {
    case sources::RawKind::kFork: impl_->ApplyFork(event); break;
    case sources::RawKind::kExec: impl_->ApplyExec(event); break;
    case sources::RawKind::kExit: impl_->ApplyExit(event); break;
    default: break;
  }
}

const ProcessInfo* ProcessTable::Lookup(int32_t pid) {
  int32_t s = impl_->FindOrLoad(pid, kNone);
  if (s == kNone) return nullptr;
  impl_->Touch(s);
  return &impl_->slots[s].info;
}

const std::string& ProcessTable::UserName(uint32_t uid) { return impl_->UserName(uid); }

ProcessTableStats ProcessTable::stats() const {
  ProcessTableStats s = impl_->stats;
  s.entries = impl_->live.size + impl_->exited.size;
  s.user_cache_entries = impl_->users.size();
  return s;
}

}  // namespace vigil::sensor
