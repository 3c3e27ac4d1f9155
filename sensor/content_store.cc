#include "sensor/content_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <limits>
#include <map>
#include <tuple>

namespace vigil::sensor {
namespace {

constexpr std::string_view kMarkerName = "VIGIL_STORE";
constexpr std::string_view kMarkerText = "vigil content store 1\n";
constexpr std::string_view kStateHeader = "vigil store state 1";
constexpr std::string_view kStateHeaderPrefix = "vigil store state ";
constexpr std::string_view kTempPrefix = "tmp-";
constexpr std::string_view kBundleSuffix = ".vbundle";
constexpr std::string_view kReasonSuffix = ".reason";
constexpr size_t kMaxReasonFileBytes = 4096;
constexpr size_t kMaxStateProblems = 10;

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }
bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// ---- state file: values ----

struct Problem {
  Code code;
  std::string message;
};

bool ParseU64(std::string_view text, uint64_t& out) {
  if (text.empty() || text.size() > 20) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool ParseTime(std::string_view text, int64_t& out) {
  uint64_t v = 0;
  if (!ParseU64(text, v) || v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
  out = static_cast<int64_t>(v);
  return true;
}

// Why `text` cannot be a state string; kOk if it can.
Problem TextProblem(std::string_view text) {
  if (text.size() > kMaxStateStringBytes) {
    return {Code::kLimitExceeded,
            fmt::format("{} bytes exceeds the limit of {} bytes", text.size(), kMaxStateStringBytes)};
  }
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) return {Code::kCorrupt, fmt::format("control character 0x{:02x} at byte {}", c, i)};
  }
  return {Code::kOk, ""};
}

std::string LevelList() {
  std::string out;
  for (std::string_view level : kContentLevels) {
    if (!out.empty()) out += ", ";
    out += level;
  }
  return out;
}

// A key as it may appear in a message: printable, short.
std::string Quoted(std::string_view text) { return "'" + SanitizeStateText(text, 64) + "'"; }

enum class Kind { kU64, kTime, kLevel, kBool, kText };

// Scalar keys, in the order the writer emits them.
struct ScalarField {
  std::string_view key;
  Kind kind;
  uint64_t StoreState::*u64 = nullptr;
  int64_t StoreState::*time = nullptr;
  std::string StoreState::*text = nullptr;
  bool StoreState::*flag = nullptr;
};
constexpr ScalarField U64(std::string_view key, uint64_t StoreState::*m) { return {key, Kind::kU64, m}; }
constexpr ScalarField Time(std::string_view key, int64_t StoreState::*m) { return {key, Kind::kTime, nullptr, m}; }
constexpr ScalarField Level(std::string_view key, std::string StoreState::*m) {
  return {key, Kind::kLevel, nullptr, nullptr, m};
}
constexpr ScalarField Text(std::string_view key, std::string StoreState::*m) {
  return {key, Kind::kText, nullptr, nullptr, m};
}
constexpr ScalarField Flag(std::string_view key, bool StoreState::*m) {
  return {key, Kind::kBool, nullptr, nullptr, nullptr, m};
}

const ScalarField kScalarFields[] = {
    U64("version_floor", &StoreState::version_floor),
    Level("trying_level", &StoreState::trying_level),
    U64("trying_version", &StoreState::trying_version),
    Time("trying_since", &StoreState::trying_since),
    Level("running_level", &StoreState::running_level),
    U64("running_version", &StoreState::running_version),
    Time("running_since", &StoreState::running_since),
    U64("active_version", &StoreState::active_version),
    U64("lkg_version", &StoreState::lkg_version),
    U64("candidate_version", &StoreState::candidate_version),
    Flag("degraded", &StoreState::degraded),
    Text("last_event", &StoreState::last_event),
    Text("last_shadow_report", &StoreState::last_shadow_report),
    Time("updated_unix", &StoreState::updated_unix),
};
constexpr std::string_view kSkippedKey = "skipped_level";
constexpr std::string_view kCrashKey = "crash";

class StateParser {
 public:
  explicit StateParser(std::string_view name) : name_(name) {}

  Result<StoreState> Parse(std::string_view text) {
    if (text.size() > kMaxStateFileBytes) {
      return Error(Code::kLimitExceeded, "{}: {} bytes exceeds the limit of {} bytes", name_, text.size(),
                   kMaxStateFileBytes);
    }
    size_t line_no = 0;
    size_t pos = 0;
    while (pos < text.size() && problems_.size() < kMaxStateProblems) {
      size_t end = text.find('\n', pos);
      if (end == std::string_view::npos) end = text.size();
      std::string_view line = text.substr(pos, end - pos);
      pos = end + 1;
      ++line_no;
      if (line_no == 1) {
        if (!Header(line)) break;  // not a state file: the rest would be noise
        continue;
      }
      Line(line_no, line);
    }
    if (line_no == 0) Add(1, Code::kCorrupt, fmt::format("empty file; expected '{}'", kStateHeader));
    if (problems_.empty()) return std::move(state_);
    std::string message;
    for (const Problem& p : problems_) {
      if (!message.empty()) message += "; ";
      message += p.message;
    }
    return Error(Status(problems_.front().code, std::move(message)));
  }

 private:
  void Add(size_t line, Code code, std::string reason) {
    if (problems_.size() < kMaxStateProblems)
      problems_.push_back({code, fmt::format("{}:{}: {}", name_, line, reason)});
  }

  bool Header(std::string_view line) {
    if (line == kStateHeader) return true;
    if (StartsWith(line, kStateHeaderPrefix)) {
      Add(1, Code::kUnsupported,
          fmt::format("unsupported state format {}; this vigil reads '{}'", Quoted(line), kStateHeader));
    } else {
      Add(1, Code::kCorrupt,
          fmt::format("expected '{}', found {}; not a store state file", kStateHeader, Quoted(line)));
    }
    return false;
  }

  void Line(size_t line_no, std::string_view line) {
    if (line.empty() || line[0] == '#') return;
    size_t space = line.find(' ');
    std::string_view key = line.substr(0, space);
    std::string_view value = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    if (key == kCrashKey) return Crash(line_no, value);
    if (key == kSkippedKey) return Skipped(line_no, value);
    for (const ScalarField& field : kScalarFields) {
      if (field.key != key) continue;
      auto [it, fresh] = seen_.emplace(std::string(key), line_no);
      if (!fresh) {
        return Add(line_no, Code::kCorrupt, fmt::format("{}: duplicate key (first on line {})", key, it->second));
      }
      return Scalar(line_no, field, value);
    }
    Add(line_no, Code::kCorrupt, fmt::format("unknown key {}", Quoted(key)));
  }

  void Scalar(size_t line_no, const ScalarField& f, std::string_view value) {
    auto bad = [&](std::string why) { Add(line_no, Code::kCorrupt, fmt::format("{}: {}", f.key, why)); };
    switch (f.kind) {
      case Kind::kU64:
        if (!ParseU64(value, state_.*f.u64)) bad(fmt::format("{} is not an unsigned 64-bit integer", Quoted(value)));
        return;
      case Kind::kTime:
        if (!ParseTime(value, state_.*f.time)) bad(fmt::format("{} is not a unix time in seconds", Quoted(value)));
        return;
      case Kind::kLevel:
        if (!value.empty() && !IsContentLevel(value)) {
          return bad(fmt::format("{} is not a content level ({})", Quoted(value), LevelList()));
        }
        state_.*f.text = std::string(value);
        return;
      case Kind::kBool:
        if (value == "true") {
          state_.*f.flag = true;
        } else if (value == "false") {
          state_.*f.flag = false;
        } else {
          bad(fmt::format("{} is not true or false", Quoted(value)));
        }
        return;
      case Kind::kText:
        if (Problem p = TextProblem(value); p.code != Code::kOk) {
          return Add(line_no, p.code, fmt::format("{}: {}", f.key, p.message));
        }
        state_.*f.text = std::string(value);
        return;
    }
  }

  void Skipped(size_t line_no, std::string_view value) {
    if (state_.skipped_levels.size() == kMaxSkippedLevels) {
      return Add(line_no, Code::kLimitExceeded,
                 fmt::format("{}: more than {} skipped levels", kSkippedKey, kMaxSkippedLevels));
    }
    if (!IsContentLevel(value)) {
      return Add(line_no, Code::kCorrupt,
                 fmt::format("{}: {} is not a content level ({})", kSkippedKey, Quoted(value), LevelList()));
    }
    state_.skipped_levels.emplace_back(value);
  }

  // crash <unix_time> <level> <content_version>[ <reason>]
  void Crash(size_t line_no, std::string_view value) {
    if (state_.crashes.size() == kMaxCrashRecords) {
      return Add(line_no, Code::kLimitExceeded, fmt::format("crash: more than {} crash records", kMaxCrashRecords));
    }
    auto next = [&value]() {
      size_t space = value.find(' ');
      std::string_view token = value.substr(0, space);
      value = space == std::string_view::npos ? std::string_view() : value.substr(space + 1);
      return token;
    };
    std::string_view time = next(), level = next(), version = next();
    CrashRecord record;
    auto bad = [&](std::string why) { Add(line_no, Code::kCorrupt, "crash: " + why); };
    if (!ParseTime(time, record.unix_time)) {
      return bad(fmt::format(
          "time {} is not a unix time in seconds (expected 'crash <time> <level> <version> <reason>')", Quoted(time)));
    }
    if (!IsContentLevel(level))
      return bad(fmt::format("level {} is not a content level ({})", Quoted(level), LevelList()));
    if (!ParseU64(version, record.content_version)) {
      return bad(fmt::format("version {} is not an unsigned 64-bit integer", Quoted(version)));
    }
    if (Problem p = TextProblem(value); p.code != Code::kOk) {
      return Add(line_no, p.code, "crash: reason: " + p.message);
    }
    record.reason = std::string(value);
    record.level = std::string(level);
    state_.crashes.push_back(std::move(record));
  }

  std::string_view name_;
  StoreState state_;
  std::map<std::string, size_t> seen_;  // scalar key -> first line
  std::vector<Problem> problems_;
};

// ---- files ----

std::string Join(std::string_view dir, std::string_view name) { return fmt::format("{}/{}", dir, name); }

// Orders quarantined bundles: "<unix>-<slot>-v<version>[-<k>].vbundle" by
// (unix, k, name), where no suffix is k = 1; a name not of that shape
// sorts first (is removed first). Works on .reason names too.
std::tuple<int64_t, uint64_t, std::string> BadOrderKey(const std::string& name) {
  std::string_view stem(name);
  if (EndsWith(stem, kBundleSuffix)) stem.remove_suffix(kBundleSuffix.size());
  if (EndsWith(stem, kReasonSuffix)) stem.remove_suffix(kReasonSuffix.size());
  int64_t unix_time = 0;
  size_t dash = stem.find('-');
  if (dash == std::string_view::npos || !ParseTime(stem.substr(0, dash), unix_time)) return {0, 0, name};
  // <slot>-v<version>[-<k>]: a third dash carries the counter.
  std::string_view rest = stem.substr(dash + 1);
  size_t d1 = rest.find('-');
  size_t d2 = d1 == std::string_view::npos ? d1 : rest.find('-', d1 + 1);
  uint64_t k = 1;
  if (d2 != std::string_view::npos && !ParseU64(rest.substr(d2 + 1), k)) k = 0;
  return {unix_time, k, name};
}

std::string Stem(std::string_view bundle_name) {
  return std::string(bundle_name.substr(0, bundle_name.size() - kBundleSuffix.size()));
}

}  // namespace

// ---- slots, levels, state text ----

std::string_view SlotName(Slot slot) {
  switch (slot) {
    case Slot::kActive:
      return "active";
    case Slot::kLkg:
      return "lkg";
    case Slot::kCandidate:
      return "candidate";
  }
  return "?";
}

Result<Slot> ParseSlot(std::string_view name) {
  for (Slot slot : kAllSlots) {
    if (SlotName(slot) == name) return slot;
  }
  return Error(Code::kInvalidArgument, "{} is not a slot (active, lkg, candidate)", Quoted(name));
}

bool IsContentLevel(std::string_view level) {
  return std::find(std::begin(kContentLevels), std::end(kContentLevels), level) != std::end(kContentLevels);
}

std::string SanitizeStateText(std::string_view text, size_t max_bytes) {
  std::string out(text.substr(0, max_bytes));
  if (text.size() > max_bytes) {
    // Do not leave half a UTF-8 sequence: drop continuation bytes and the
    // lead byte they belong to.
    size_t end = out.size();
    size_t cut = end;
    while (cut > 0 && (static_cast<unsigned char>(out[cut - 1]) & 0xC0) == 0x80) --cut;
    if (cut > 0 && static_cast<unsigned char>(out[cut - 1]) >= 0xC0) {
      unsigned char lead = static_cast<unsigned char>(out[cut - 1]);
      size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
      if (end - (cut - 1) < need) out.resize(cut - 1);
    }
  }
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  return out;
}

Result<StoreState> ParseStoreState(std::string_view text, std::string_view name) {
  return StateParser(name).Parse(text);
}

Result<std::string> FormatStoreState(const StoreState& state) {
  auto check_level = [](std::string_view what, std::string_view level, bool empty_ok) -> Status {
    if ((empty_ok && level.empty()) || IsContentLevel(level)) return Status::Ok();
    return Status(Code::kInvalidArgument,
                  fmt::format("store state: {}: {} is not a content level ({})", what, Quoted(level), LevelList()));
  };
  auto check_time = [](std::string_view what, int64_t t) -> Status {
    if (t >= 0) return Status::Ok();
    return Status(Code::kInvalidArgument, fmt::format("store state: {}: negative time {}", what, t));
  };
  if (state.skipped_levels.size() > kMaxSkippedLevels) {
    return Error(Code::kInvalidArgument, "store state: {} skipped levels exceeds the limit of {}",
                 state.skipped_levels.size(), kMaxSkippedLevels);
  }
  for (const std::string& level : state.skipped_levels) {
    if (Status s = check_level(kSkippedKey, level, false); !s.ok()) return Error(s);
  }
  size_t first_crash = state.crashes.size() > kMaxCrashRecords ? state.crashes.size() - kMaxCrashRecords : 0;
  for (size_t i = first_crash; i < state.crashes.size(); ++i) {
    if (Status s = check_level("crash level", state.crashes[i].level, false); !s.ok()) return Error(s);
    if (Status s = check_time("crash time", state.crashes[i].unix_time); !s.ok()) return Error(s);
  }

  std::string out;
  out += kStateHeader;
  out += "\n# vigil content store state (docs/content-store.md); written atomically by vigild\n";
  for (const ScalarField& f : kScalarFields) {
    switch (f.kind) {
      case Kind::kU64:
        out += fmt::format("{} {}\n", f.key, state.*f.u64);
        break;
      case Kind::kTime:
        if (Status s = check_time(f.key, state.*f.time); !s.ok()) return Error(s);
        out += fmt::format("{} {}\n", f.key, state.*f.time);
        break;
      case Kind::kLevel:
        if (Status s = check_level(f.key, state.*f.text, true); !s.ok()) return Error(s);
        if (!(state.*f.text).empty()) out += fmt::format("{} {}\n", f.key, state.*f.text);
        break;
      case Kind::kBool:
        out += fmt::format("{} {}\n", f.key, state.*f.flag ? "true" : "false");
        break;
      case Kind::kText:
        if (!(state.*f.text).empty()) out += fmt::format("{} {}\n", f.key, SanitizeStateText(state.*f.text));
        break;
    }
  }
  for (const std::string& level : state.skipped_levels) out += fmt::format("{} {}\n", kSkippedKey, level);
  for (size_t i = first_crash; i < state.crashes.size(); ++i) {
    const CrashRecord& c = state.crashes[i];
    out += fmt::format("{} {} {} {}", kCrashKey, c.unix_time, c.level, c.content_version);
    if (!c.reason.empty()) out += " " + SanitizeStateText(c.reason);
    out += '\n';
  }
  return out;
}

// ---- lock ----

StoreLock::StoreLock(StoreLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

StoreLock& StoreLock::operator=(StoreLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

StoreLock::~StoreLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last fd of the description releases the flock
}

Result<StoreLock> ContentStore::Lock(const std::string& root) {
  std::string path = Join(root, "lock");
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return Error(Code::kNotFound, "store {} does not exist", root);
    return Error(Code::kIo, "cannot open {}: {}", path, std::strerror(err));
  }
  StoreLock lock(fd, path);
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return Error(Code::kIo, "store {} is in use (locked by another vigild)", root);
    return Error(Code::kIo, "cannot lock {}: {}", path, std::strerror(errno));
  }
  return lock;
}

Result<bool> ContentStore::IsLocked(const std::string& root) {
  std::string path = Join(root, "lock");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return false;
    return Error(Code::kIo, "cannot open {}: {}", path, std::strerror(errno));
  }
  // A shared lock conflicts with the holder's exclusive one and, released at
  // once, barely delays a vigild starting at this instant.
  int rc;
  do {
    rc = ::flock(fd, LOCK_SH | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  int err = errno;
  ::close(fd);
  if (rc == 0) return false;
  if (err == EWOULDBLOCK) return true;
  return Error(Code::kIo, "cannot test the lock {}: {}", path, std::strerror(err));
}

// ---- open ----

Result<ContentStore> ContentStore::Open(StoreFs& fs, std::string root, bool create) {
  return OpenImpl(fs, std::move(root), create, /*read_only=*/false);
}

Result<ContentStore> ContentStore::OpenReadOnly(StoreFs& fs, std::string root) {
  return OpenImpl(fs, std::move(root), /*create=*/false, /*read_only=*/true);
}

namespace {

// Makes `dir` and its missing parents (0755; the store itself 0700) and
// syncs each parent so the new entries are durable.
Status MakeDirs(StoreFs& fs, const std::string& dir, uint32_t mode) {
  if (fs.Exists(dir)) return Status::Ok();
  std::string parent = DirName(dir);
  if (parent != dir && parent != "." && parent != "/") {
    if (Status s = MakeDirs(fs, parent, 0755); !s.ok()) return s;
  }
  if (Status s = fs.MakeDir(dir, mode); !s.ok()) return s;
  return fs.SyncDir(parent);
}

Status CheckRoot(const std::string& root, const FileStat& st) {
  if (st.type == FileStat::Type::kSymlink) {
    return Status(Code::kInvalidArgument,
                  fmt::format("store {}: is a symbolic link; refusing it (the store must be a real directory)", root));
  }
  if (st.type != FileStat::Type::kDirectory) {
    return Status(Code::kInvalidArgument, fmt::format("store {}: not a directory", root));
  }
  auto euid = static_cast<uint32_t>(::geteuid());
  if (st.uid != euid) {
    return Status(
        Code::kInvalidArgument,
        fmt::format("store {}: owned by uid {}, not by uid {} which runs this; refusing it", root, st.uid, euid));
  }
  if ((st.mode & 022) != 0) {
    return Status(Code::kInvalidArgument,
                  fmt::format("store {}: mode {:04o} is group or world writable; refusing it (chmod 0700 {})", root,
                              st.mode, root));
  }
  return Status::Ok();
}

}  // namespace

Result<ContentStore> ContentStore::OpenImpl(StoreFs& fs, std::string root, bool create, bool read_only) {
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (root.empty() || root == "/") return Error(Code::kInvalidArgument, "store root {} refused", Quoted(root));
  Result<FileStat> st = fs.Stat(root);
  if (!st && st.error().code() == Code::kNotFound) {
    if (!create) return Error(Code::kNotFound, "store {}: no such directory (not a vigil content store)", root);
    if (Status s = MakeDirs(fs, root, 0700); !s.ok()) return Error(s);
    st = fs.Stat(root);
  }
  if (!st) return Error(st.error());
  if (Status s = CheckRoot(root, *st); !s.ok()) return Error(s);

  ContentStore store(fs, root, read_only);
  Result<std::string> marker = fs.ReadFile(Join(root, kMarkerName), kMarkerText.size() + 64);
  if (!marker) {
    if (marker.error().code() != Code::kNotFound) return Error(marker.error());
    if (!create) {
      return Error(Code::kInvalidArgument, "{} is not a vigil content store (no {} marker); refusing to use it", root,
                   kMarkerName);
    }
    if (Status s = store.Initialise(); !s.ok()) return Error(s);
  } else if (*marker != kMarkerText) {
    return Error(Code::kUnsupported, "{}/{}: {} is not '{}'; a newer or damaged store, refusing it", root, kMarkerName,
                 Quoted(*marker), kMarkerText.substr(0, kMarkerText.size() - 1));
  }

  bool made = false;
  for (std::string_view sub : {"slots", "bad"}) {
    std::string dir = Join(root, sub);
    Result<FileStat> sst = fs.Stat(dir);
    if (sst) {
      if (sst->type != FileStat::Type::kDirectory) {
        return Error(Code::kCorrupt, "store {}: {} is not a directory", root, dir);
      }
      continue;
    }
    if (sst.error().code() != Code::kNotFound) return Error(sst.error());
    if (read_only) continue;  // reads of a missing directory find nothing
    if (Status s = fs.MakeDir(dir, 0700); !s.ok()) return Error(s);
    made = true;
  }
  if (made) {
    if (Status s = fs.SyncDir(root); !s.ok()) return Error(s);
  }
  if (!read_only) {
    if (Status s = store.RemoveTempFiles(); !s.ok()) return Error(s);
  }
  return store;
}

Status ContentStore::Initialise() {
  Result<std::vector<std::string>> names = fs_->ListDir(root_);
  if (!names) return names.error();
  for (const std::string& name : *names) {
    // What an interrupted Initialise or an early Lock leaves; anything else
    // means this directory is something else's.
    if (name == "lock" || name == "slots" || name == "bad" || StartsWith(name, kTempPrefix)) continue;
    return Status(Code::kInvalidArgument,
                  fmt::format("{} is not empty and not a vigil content store (it holds {}); refusing to initialise it",
                              root_, Quoted(name)));
  }
  for (std::string_view sub : {"slots", "bad"}) {
    if (Status s = fs_->MakeDir(Join(root_, sub), 0700); !s.ok()) return s;
  }
  if (Status s = fs_->SyncDir(root_); !s.ok()) return s;
  // The marker last: a directory with a marker always has its layout.
  return WriteAtomic(Join(root_, kMarkerName), kMarkerText);
}

Status ContentStore::RemoveTempFiles() {
  Result<std::vector<std::string>> names = fs_->ListDir(root_);
  if (!names) return names.error();
  bool removed = false;
  for (const std::string& name : *names) {
    if (!StartsWith(name, kTempPrefix)) continue;
    Status s = fs_->Remove(Join(root_, name));
    if (!s.ok() && s.code() != Code::kNotFound) return s;
    removed = true;
  }
  return removed ? fs_->SyncDir(root_) : Status::Ok();
}

Status ContentStore::CheckWritable() const {
  if (read_only_) return Status(Code::kInvalidArgument, fmt::format("store {} is open read-only", root_));
  return Status::Ok();
}

// ---- paths ----

std::string ContentStore::SlotPath(Slot slot) const {
  return fmt::format("{}/slots/{}{}", root_, SlotName(slot), kBundleSuffix);
}
std::string ContentStore::StatePath() const { return Join(root_, "state"); }
std::string ContentStore::BadDir() const { return Join(root_, "bad"); }

std::string ContentStore::TempPath(std::string_view what) {
  return fmt::format("{}/{}{}-{}-{}", root_, kTempPrefix, ::getpid(), ++temp_seq_, what);
}

// ---- writes ----

Status ContentStore::WriteAtomic(const std::string& path, std::string_view data) {
  std::string tmp = TempPath(path.substr(path.rfind('/') + 1));
  auto fail = [&](Status s) {
    (void)fs_->Remove(tmp);  // best effort; Open removes what is left
    return s;
  };
  if (Status s = fs_->WriteFile(tmp, data, 0600); !s.ok()) return fail(std::move(s));
  if (Status s = fs_->SyncFile(tmp); !s.ok()) return fail(std::move(s));
  if (Status s = fs_->Rename(tmp, path); !s.ok()) return fail(std::move(s));
  // Only the new name needs to be durable. If the temp name's removal from
  // root is lost in a crash, it comes back as a second link to the same
  // complete file, and Open removes it.
  return fs_->SyncDir(DirName(path));
}

Result<std::string> ContentStore::ReadSlot(Slot slot) const {
  std::string path = SlotPath(slot);
  Result<std::string> bytes = fs_->ReadFile(path, kMaxSlotBytes);
  if (!bytes && bytes.error().code() == Code::kNotFound) {
    return Error(Code::kNotFound, "slot {} is empty ({})", SlotName(slot), path);
  }
  return bytes;
}

bool ContentStore::HasSlot(Slot slot) const { return fs_->Exists(SlotPath(slot)); }

Status ContentStore::WriteSlot(Slot slot, std::string_view bundle_bytes) {
  if (Status s = CheckWritable(); !s.ok()) return s;
  if (bundle_bytes.size() > kMaxSlotBytes) {
    return Status(Code::kLimitExceeded, fmt::format("slot {}: {} bytes exceeds the limit of {} bytes", SlotName(slot),
                                                    bundle_bytes.size(), kMaxSlotBytes));
  }
  return WriteAtomic(SlotPath(slot), bundle_bytes);
}

Status ContentStore::PromoteCandidate() {
  if (Status s = CheckWritable(); !s.ok()) return s;
  std::string from = SlotPath(Slot::kCandidate);
  if (!fs_->Exists(from)) return Status(Code::kNotFound, fmt::format("no candidate to promote ({})", from));
  if (Status s = fs_->Rename(from, SlotPath(Slot::kActive)); !s.ok()) return s;
  return fs_->SyncDir(Join(root_, "slots"));
}

Status ContentStore::CopyActiveToLkg() {
  if (Status s = CheckWritable(); !s.ok()) return s;
  Result<std::string> bytes = ReadSlot(Slot::kActive);
  if (!bytes) return bytes.error();
  return WriteAtomic(SlotPath(Slot::kLkg), *bytes);
}

Status ContentStore::PruneBad() {
  std::string dir = BadDir();
  Result<std::vector<std::string>> names = fs_->ListDir(dir);
  if (!names) return names.error();
  std::vector<std::string> bundles;
  std::vector<std::string> orphans;  // .reason files whose bundle never arrived (a crash mid-quarantine)
  for (const std::string& name : *names) {
    if (EndsWith(name, kBundleSuffix)) bundles.push_back(name);
  }
  for (const std::string& name : *names) {
    if (!EndsWith(name, kReasonSuffix)) continue;
    std::string bundle = name.substr(0, name.size() - kReasonSuffix.size()) + std::string(kBundleSuffix);
    if (!std::binary_search(names->begin(), names->end(), bundle)) orphans.push_back(name);
  }
  std::sort(bundles.begin(), bundles.end(),
            [](const std::string& a, const std::string& b) { return BadOrderKey(a) < BadOrderKey(b); });
  // Room for the one about to arrive.
  std::vector<std::string> doomed = orphans;
  for (size_t i = 0; i + kMaxBadEntries <= bundles.size(); ++i) {
    doomed.push_back(bundles[i]);
    doomed.push_back(Stem(bundles[i]) + std::string(kReasonSuffix));
  }
  // No fsync here: the quarantine that follows syncs bad/, and until then a
  // power cut merely brings the removed entries back.
  for (const std::string& name : doomed) {
    Status s = fs_->Remove(Join(dir, name));
    if (!s.ok() && s.code() != Code::kNotFound) return s;
  }
  return Status::Ok();
}

Result<std::string> ContentStore::Quarantine(Slot slot, uint64_t version, std::string_view reason) {
  if (Status s = CheckWritable(); !s.ok()) return Error(s);
  std::string from = SlotPath(slot);
  if (!fs_->Exists(from)) return Error(Code::kNotFound, "slot {} is empty; nothing to quarantine", SlotName(slot));
  // Make room first: if that fails, the slot is untouched.
  if (Status s = PruneBad(); !s.ok()) return Error(s);

  int64_t now = now_ ? now_() : static_cast<int64_t>(::time(nullptr));
  std::string dir = BadDir();
  // Within one second, a counter above every name of that second keeps the
  // names unique and in arrival order, even after the oldest were pruned.
  Result<std::vector<std::string>> names = fs_->ListDir(dir);
  if (!names) return Error(names.error());
  uint64_t k = 1;
  for (const std::string& name : *names) {
    auto key = BadOrderKey(name);
    if (std::get<0>(key) == now) k = std::max(k, std::get<1>(key) + 1);
  }
  std::string stem = k == 1 ? fmt::format("{}-{}-v{}", now, SlotName(slot), version)
                            : fmt::format("{}-{}-v{}-{}", now, SlotName(slot), version, k);
  std::string bundle_path = Join(dir, stem + std::string(kBundleSuffix));
  std::string reason_path = Join(dir, stem + std::string(kReasonSuffix));
  std::string text =
      fmt::format("slot {}\nversion {}\ntime {}\nreason {}\n", SlotName(slot), version, now, SanitizeStateText(reason));

  std::string tmp = TempPath(stem + std::string(kReasonSuffix));
  auto fail = [&](Status s) {
    (void)fs_->Remove(tmp);
    return Error(std::move(s));
  };
  if (Status s = fs_->WriteFile(tmp, text, 0600); !s.ok()) return fail(std::move(s));
  if (Status s = fs_->SyncFile(tmp); !s.ok()) return fail(std::move(s));
  if (Status s = fs_->Rename(tmp, reason_path); !s.ok()) return fail(std::move(s));
  if (Status s = fs_->Rename(from, bundle_path); !s.ok()) {
    (void)fs_->Remove(reason_path);
    return Error(std::move(s));
  }
  // bad/ first: a crash between the two syncs leaves the bundle in both
  // places (a retry quarantines it again), never in neither.
  if (Status s = fs_->SyncDir(dir); !s.ok()) return Error(s);
  if (Status s = fs_->SyncDir(Join(root_, "slots")); !s.ok()) return Error(s);
  return bundle_path;
}

Result<std::vector<std::string>> ContentStore::ListBad() const {
  Result<std::vector<std::string>> names = fs_->ListDir(BadDir());
  if (!names) {
    if (names.error().code() == Code::kNotFound) return std::vector<std::string>{};
    return Error(names.error());
  }
  std::vector<std::string> bundles;
  for (std::string& name : *names) {
    if (EndsWith(name, kBundleSuffix)) bundles.push_back(std::move(name));
  }
  std::sort(bundles.begin(), bundles.end(),
            [](const std::string& a, const std::string& b) { return BadOrderKey(a) < BadOrderKey(b); });
  return bundles;
}

Result<std::vector<BadEntry>> ContentStore::ListBadEntries() const {
  Result<std::vector<std::string>> names = ListBad();
  if (!names) return Error(names.error());
  std::vector<BadEntry> entries;
  for (const std::string& name : *names) {
    BadEntry e;
    e.name = name;
    e.path = Join(BadDir(), name);
    e.unix_time = std::get<0>(BadOrderKey(name));
    Result<std::string> text =
        fs_->ReadFile(Join(BadDir(), Stem(name) + std::string(kReasonSuffix)), kMaxReasonFileBytes);
    if (text) {
      std::string_view rest = *text;
      while (!rest.empty()) {
        size_t nl = rest.find('\n');
        std::string_view line = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
        if (StartsWith(line, "reason ")) e.reason = SanitizeStateText(line.substr(7));
      }
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

// ---- state ----

Result<StoreState> ContentStore::ReadState() const {
  std::string path = StatePath();
  Result<std::string> text = fs_->ReadFile(path, kMaxStateFileBytes);
  if (!text) {
    if (text.error().code() == Code::kNotFound) return StoreState{};
    return Error(text.error());
  }
  return ParseStoreState(*text, path);
}

Status ContentStore::WriteState(const StoreState& state) {
  if (Status s = CheckWritable(); !s.ok()) return s;
  Result<std::string> text = FormatStoreState(state);
  if (!text) return text.error();
  if (text->size() > kMaxStateFileBytes) {
    return Status(Code::kLimitExceeded,
                  fmt::format("store state: {} bytes exceeds the limit of {} bytes", text->size(), kMaxStateFileBytes));
  }
  return WriteAtomic(StatePath(), *text);
}

}  // namespace vigil::sensor
