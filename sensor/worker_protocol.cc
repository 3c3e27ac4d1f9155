#include "sensor/worker_protocol.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <iterator>
#include <utility>

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

namespace vigil::sensor {
namespace {

constexpr std::string_view kLevelNames[] = {"path", "candidate", "active", "lkg", "default", "builtin"};
static_assert(std::size(kLevelNames) == std::size(kAllContentLevels));

// The text of a refused line for an error message: printable ASCII kept,
// everything else as \xNN, cut to 64 bytes of input.
std::string Quote(std::string_view text) {
  constexpr size_t kMax = 64;
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  out += text.size() > kMax ? "\"..." : "\"";
  return out;
}

// Canonical decimal: 1-20 digits, no leading zero unless "0", fits uint64.
std::optional<uint64_t> ParseVersion(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  if (text.size() > 1 && text[0] == '0') return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

tl::unexpected<Status> Refuse(std::string_view line, std::string_view why) {
  return Error(Code::kInvalidArgument, "worker protocol: {}: {}", why, Quote(line));
}

}  // namespace

std::string_view ContentLevelName(ContentLevel level) {
  const auto i = static_cast<size_t>(level);
  return i < std::size(kLevelNames) ? kLevelNames[i] : "?";
}

Result<ContentLevel> ParseContentLevel(std::string_view name) {
  for (ContentLevel level : kAllContentLevels) {
    if (ContentLevelName(level) == name) return level;
  }
  return Error(Code::kInvalidArgument,
               "unknown content level {} (expected path, candidate, active, lkg, default or builtin)", Quote(name));
}

Result<std::vector<ContentLevel>> ParseContentLevelList(std::string_view list) {
  std::vector<ContentLevel> levels;
  if (list.empty()) return levels;
  for (;;) {
    const size_t comma = list.find(',');
    Result<ContentLevel> level = ParseContentLevel(list.substr(0, comma));
    if (!level) return Error(level.error());
    for (ContentLevel seen : levels) {
      if (seen == *level) return Error(Code::kInvalidArgument, "content level {} listed twice", ContentLevelName(seen));
    }
    levels.push_back(*level);
    if (comma == std::string_view::npos) return levels;
    list.remove_prefix(comma + 1);
  }
}

std::string FormatContentLevelList(const std::vector<ContentLevel>& levels) {
  std::string out;
  for (ContentLevel level : levels) {
    if (!out.empty()) out += ',';
    out += ContentLevelName(level);
  }
  return out;
}

std::string FormatWorkerMessage(const WorkerMessage& m) {
  switch (m.kind) {
    case WorkerMessage::Kind::kHeartbeat:
      return "hb";
    case WorkerMessage::Kind::kTrying:
      return fmt::format("trying {} {}", ContentLevelName(m.level), m.version);
    case WorkerMessage::Kind::kRunning:
      return fmt::format("running {} {}", ContentLevelName(m.level), m.version);
    case WorkerMessage::Kind::kDegraded:
      return m.degraded ? "degraded 1" : "degraded 0";
  }
  return "hb";  // unreachable: every kind is handled above
}

Result<WorkerMessage> ParseWorkerMessage(std::string_view line) {
  if (line.size() >= kMaxProtocolLine) {
    return Error(Code::kLimitExceeded, "worker protocol: line of {} bytes (at most {} before the newline): {}",
                 line.size(), kMaxProtocolLine - 1, Quote(line));
  }
  for (size_t i = 0; i < line.size(); ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c < 0x20 || c >= 0x7f) {
      return Refuse(line, fmt::format("byte 0x{:02x} at offset {} is not printable ASCII", c, i));
    }
  }
  std::string_view words[4];
  size_t count = 0;
  for (std::string_view rest = line;;) {
    const size_t space = rest.find(' ');
    std::string_view word = rest.substr(0, space);
    if (word.empty()) return Refuse(line, "empty line or stray space");
    if (count == std::size(words)) return Refuse(line, "too many words");
    words[count++] = word;
    if (space == std::string_view::npos) break;
    rest.remove_prefix(space + 1);
  }
  const std::string_view verb = words[0];
  if (verb == "hb") {
    if (count != 1) return Refuse(line, "hb takes no arguments");
    return WorkerMessage::Heartbeat();
  }
  if (verb == "trying" || verb == "running") {
    if (count != 3) return Refuse(line, fmt::format("{} takes a level and a version", verb));
    Result<ContentLevel> level = ParseContentLevel(words[1]);
    if (!level) return Refuse(line, level.error().message());
    std::optional<uint64_t> version = ParseVersion(words[2]);
    if (!version) return Refuse(line, fmt::format("bad version {} (a decimal number below 2^64)", Quote(words[2])));
    return verb == "trying" ? WorkerMessage::Trying(*level, *version) : WorkerMessage::Running(*level, *version);
  }
  if (verb == "degraded") {
    if (count != 2 || (words[1] != "0" && words[1] != "1")) return Refuse(line, "degraded takes 0 or 1");
    return WorkerMessage::Degraded(words[1] == "1");
  }
  return Refuse(line, "unknown message");
}

std::vector<Result<WorkerMessage>> ProtocolParser::Feed(std::string_view bytes) {
  std::vector<Result<WorkerMessage>> out;
  while (!bytes.empty()) {
    const size_t newline = bytes.find('\n');
    const std::string_view piece = bytes.substr(0, newline);
    if (skipping_) {  // the rest of an overlong line, already reported
      if (newline == std::string_view::npos) break;
      skipping_ = false;
    } else if (partial_.size() + piece.size() + 1 > kMaxProtocolLine) {
      ++lines_;
      out.push_back(Error(Code::kLimitExceeded, "worker protocol: line {} longer than {} bytes: {}", lines_,
                          kMaxProtocolLine, Quote(partial_ + std::string(piece))));
      partial_.clear();
      if (newline == std::string_view::npos) {
        skipping_ = true;
        break;
      }
    } else if (newline == std::string_view::npos) {
      partial_.append(piece);
      break;
    } else {
      partial_.append(piece);
      ++lines_;
      out.push_back(ParseWorkerMessage(partial_));
      partial_.clear();
    }
    bytes.remove_prefix(newline + 1);
  }
  return out;
}

std::optional<Status> ProtocolParser::Finish() {
  const bool had_partial = !partial_.empty();
  std::string partial = std::move(partial_);
  partial_.clear();
  skipping_ = false;
  if (!had_partial) return std::nullopt;
  ++lines_;
  return Status(Code::kInvalidArgument, fmt::format("worker protocol: last line has no newline: {}", Quote(partial)));
}

Result<WorkerChannel> WorkerChannel::Adopt(int fd) {
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0) {
    return Error(Code::kInvalidArgument, "heartbeat fd {} is not open", fd);
  }
  if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode)) {
    return Error(Code::kInvalidArgument, "heartbeat fd {} is not a pipe", fd);
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || (flags & O_ACCMODE) == O_RDONLY) {
    return Error(Code::kInvalidArgument, "heartbeat fd {} is not open for writing", fd);
  }
  if (::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 || ::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
    return Error(Code::kIo, "heartbeat fd {}: fcntl: {}", fd, std::strerror(errno));
  }
  return WorkerChannel(fd);
}

WorkerChannel::WorkerChannel(int fd)
    : fd_(fd), sent_(std::make_unique<std::atomic<uint64_t>>(0)), dropped_(std::make_unique<std::atomic<uint64_t>>(0)) {}

WorkerChannel::WorkerChannel(WorkerChannel&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), sent_(std::move(other.sent_)), dropped_(std::move(other.dropped_)) {}

WorkerChannel& WorkerChannel::operator=(WorkerChannel&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    sent_ = std::move(other.sent_);
    dropped_ = std::move(other.dropped_);
  }
  return *this;
}

WorkerChannel::~WorkerChannel() {
  if (fd_ >= 0) ::close(fd_);
}

Status WorkerChannel::Send(const WorkerMessage& message) { return Write(FormatWorkerMessage(message)); }

Status WorkerChannel::SendLine(std::string_view line) {
  Result<WorkerMessage> m = ParseWorkerMessage(line);
  if (!m) return m.error();
  return Write(std::string(line));
}

Status WorkerChannel::Write(std::string line) {
  if (fd_ < 0) return Status(Code::kInvalidArgument, "worker channel: moved from");
  line += '\n';
  // A write to a pipe nobody reads raises SIGPIPE, which would kill a worker
  // that did not ignore it: block it for this thread around the write and
  // consume the one our write raised (not one that was already pending).
  sigset_t pipe_only, old_mask, pending;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &old_mask);
  sigemptyset(&pending);
  sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  ssize_t n;
  do {
    n = ::write(fd_, line.data(), line.size());
  } while (n < 0 && errno == EINTR);
  const int err = errno;
  if (n < 0 && err == EPIPE && !was_pending) {
    const timespec zero{0, 0};
    while (sigtimedwait(&pipe_only, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);

  if (n == static_cast<ssize_t>(line.size())) {
    sent_->fetch_add(1, std::memory_order_relaxed);
    return Status::Ok();
  }
  line.pop_back();
  if (n < 0 && err == EPIPE) {  // no supervisor: nothing to tell, keep working
    dropped_->fetch_add(1, std::memory_order_relaxed);
    return Status::Ok();
  }
  if (n < 0 && (err == EAGAIN || err == EWOULDBLOCK)) {
    dropped_->fetch_add(1, std::memory_order_relaxed);
    return Status(Code::kLimitExceeded, fmt::format("supervisor pipe full: dropped \"{}\"", line));
  }
  dropped_->fetch_add(1, std::memory_order_relaxed);
  if (n >= 0) {  // cannot happen for a pipe write below PIPE_BUF, which is all or nothing
    return Status(Code::kIo, fmt::format("supervisor pipe: short write of \"{}\" ({} bytes)", line, n));
  }
  return Status(Code::kIo, fmt::format("supervisor pipe: write \"{}\": {}", line, std::strerror(err)));
}

}  // namespace vigil::sensor
