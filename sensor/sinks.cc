#include "sensor/sinks.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace vigil::sensor {
namespace {

void AppendRfc3339(std::string& out, uint64_t time_ns) {
  time_t seconds = static_cast<time_t>(time_ns / 1'000'000'000);
  auto micros = static_cast<unsigned>((time_ns % 1'000'000'000) / 1000);
  struct tm tm {};
  ::gmtime_r(&seconds, &tm);
  out += fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
}

}  // namespace

// Strings go through AppendJsonString (base/json.h), the escaper the embedded
// event uses, so the whole line follows one set of rules.
void AppendAlertLine(std::string& out, const AlertContext& ctx, const content::Rule& rule, const OwnedEvent& event,
                     const Schema& schema) {
  out += "{\"time\":\"";
  AppendRfc3339(out, event.time_ns());
  out += "\",\"host\":";
  AppendJsonString(out, ctx.host);
  out += fmt::format(",\"content_version\":{},", ctx.content_version);
  content::AppendRuleJsonFields(out, rule);
  if (!ctx.decision.empty()) {
    out += ",\"decision\":";
    AppendJsonString(out, ctx.decision);
  }
  out += ",\"event\":";
  AppendEventJson(out, event, schema);
  out += "}\n";
}

// ---- StdoutSink ----

void StdoutSink::Write(std::string_view line) {
  bool ok = std::fwrite(line.data(), 1, line.size(), stdout) == line.size();
  ok = std::fflush(stdout) == 0 && ok;
  if (ok) {
    ++stats_.written;
  } else {
    ++stats_.failed;
    std::clearerr(stdout);  // so the next line is judged on its own
  }
}

void StdoutSink::Flush() {
  if (std::fflush(stdout) != 0) std::clearerr(stdout);
}

// ---- JsonlFileSink ----

namespace {

constexpr int kOpenFlags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
constexpr mode_t kFileMode = 0640;

}  // namespace

Result<std::unique_ptr<JsonlFileSink>> JsonlFileSink::Open(JsonlOptions options) {
  if (options.path.empty()) return Error(Code::kInvalidArgument, "jsonl sink: empty path");
  if (options.max_bytes == 0) return Error(Code::kInvalidArgument, "jsonl sink {}: max_bytes is 0", options.path);
  if (options.keep < 1 || options.keep > 100) {
    return Error(Code::kInvalidArgument, "jsonl sink {}: keep {} is outside 1..100", options.path, options.keep);
  }
  int fd = ::open(options.path.c_str(), kOpenFlags, kFileMode);
  if (fd < 0) return Error(Code::kIo, "jsonl sink: cannot open {}: {}", options.path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Error(Code::kIo, "jsonl sink: cannot stat {}: {}", options.path, std::strerror(err));
  }
  uint64_t size = S_ISREG(st.st_mode) ? static_cast<uint64_t>(st.st_size) : 0;
  return std::unique_ptr<JsonlFileSink>(new JsonlFileSink(std::move(options), fd, size));
}

JsonlFileSink::JsonlFileSink(JsonlOptions options, int fd, uint64_t size)
    : options_(std::move(options)), fd_(fd), size_(size) {}

JsonlFileSink::~JsonlFileSink() { ::close(fd_); }

void JsonlFileSink::Write(std::string_view line) {
  if (size_ > 0 && size_ + line.size() > options_.max_bytes) Rotate();
  if (WriteWhole(line)) {
    ++stats_.written;
    size_ += line.size();
  } else {
    ++stats_.failed;
  }
}

bool JsonlFileSink::WriteWhole(std::string_view line) {
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // Cut a partial line back off so the next line starts on a line of its
      // own. Fails harmlessly on files that cannot be truncated (/dev/full).
      if (done > 0 && ::ftruncate(fd_, static_cast<off_t>(size_)) != 0) size_ += done;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

void JsonlFileSink::Rotate() {
  const std::string& base = options_.path;
  for (uint32_t i = options_.keep - 1; i >= 1; --i) {
    // ENOENT for numbers not reached yet is expected; any other failure
    // leaves that file where it is and the chain goes on.
    ::rename(fmt::format("{}.{}", base, i).c_str(), fmt::format("{}.{}", base, i + 1).c_str());
  }
  if (::rename(base.c_str(), (base + ".1").c_str()) != 0) return;  // keep appending to the current file
  int fd = ::open(base.c_str(), kOpenFlags, kFileMode);
  if (fd < 0) return;  // fd_ still points at the file, now named path.1: lines keep landing there
  ::close(fd_);
  fd_ = fd;
  size_ = 0;
  ++stats_.rotations;
}

void JsonlFileSink::Flush() {}

// ---- SyslogSink ----

SyslogSink::SyslogSink() { ::openlog("vigild", LOG_PID, LOG_AUTHPRIV); }

SyslogSink::~SyslogSink() { ::closelog(); }

void SyslogSink::Write(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (line.size() > kMaxSyslogLineBytes) line = line.substr(0, kMaxSyslogLineBytes);
  // syslog() reports nothing back; a message the daemon drops is not seen here.
  ::syslog(LOG_WARNING, "%.*s", static_cast<int>(line.size()), line.data());
  ++stats_.written;
}

}  // namespace vigil::sensor
