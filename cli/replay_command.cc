#include <chrono>
#include <cstdio>
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "base/line_reader.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "engine/engine.h"
#include "sources/replay/event_json.h"

namespace vigil::cli {
namespace {

// Bad lines are reported one by one up to this many, then only counted, so a
// garbage input cannot flood the terminal.
constexpr uint64_t kMaxReportedBadLines = 100;
constexpr size_t kFlushBytes = 1 << 16;

}  // namespace

int RunReplay(const ReplayArgs& args) {
  std::optional<content::Ruleset> rs = LoadBundleOrReport(args.bundle, "vigil replay: bundle ");
  if (!rs) return 1;
  auto engine = engine::Engine::Create(*rs, Schema::Builtin());
  if (!engine) {
    std::fprintf(stderr, "vigil replay: %s\n", engine.error().ToString().c_str());
    return 1;
  }
  int fd = 0;
  if (args.input != "-") {
    fd = ::open(args.input.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      std::perror(("vigil replay: " + args.input).c_str());
      return 1;
    }
  }
  const std::string input_name = args.input == "-" ? "<stdin>" : args.input;
  LineReader reader(fd, replay::kMaxLineBytes);
  replay::EventDecoder decoder(Schema::Builtin());
  auto scratch = (*engine)->NewScratch();
  const uint64_t content_version = (*engine)->info().content_version;

  uint64_t events = 0, bad = 0, alerts = 0, unknown_keys = 0;
  std::string out;
  out.reserve(kFlushBytes * 2);
  auto report_bad = [&](uint64_t line, std::string_view why) {
    ++bad;
    if (bad <= kMaxReportedBadLines) {
      std::fprintf(stderr, "vigil replay: %s:%llu: %.*s\n", input_name.c_str(),
                   static_cast<unsigned long long>(line), static_cast<int>(why.size()), why.data());
    } else if (bad == kMaxReportedBadLines + 1) {
      std::fprintf(stderr, "vigil replay: further bad lines are counted, not shown\n");
    }
  };

  auto start = std::chrono::steady_clock::now();
  std::string_view line;
  bool read_error = false;
  for (;;) {
    LineReader::Next next = reader.Read(&line);
    if (next == LineReader::Next::kEof) break;
    if (next == LineReader::Next::kError) {
      read_error = true;
      break;
    }
    if (next == LineReader::Next::kTooLong) {
      report_bad(reader.line_number(), fmt::format("line longer than {} bytes", replay::kMaxLineBytes));
      continue;
    }
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;  // blank lines are not events
    if (Status s = decoder.Decode(line); !s.ok()) {
      report_bad(reader.line_number(), s.message());
      continue;
    }
    ++events;
    unknown_keys += decoder.unknown_keys();
    for (uint32_t idx : (*engine)->Evaluate(decoder.event(), *scratch)) {
      ++alerts;
      AppendAlertJson(out, (*engine)->rules()[idx], content_version, decoder.raw_object());
    }
    if (out.size() >= kFlushBytes) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (fd > 0) ::close(fd);
  if (args.stats) {
    std::fprintf(stderr,
                 "events read %llu, bad lines %llu, alerts %llu, unknown keys %llu, %.3f s, %.0f events/s\n",
                 static_cast<unsigned long long>(events), static_cast<unsigned long long>(bad),
                 static_cast<unsigned long long>(alerts), static_cast<unsigned long long>(unknown_keys), seconds,
                 seconds > 0 ? static_cast<double>(events) / seconds : 0.0);
  }
  if (read_error) {
    std::fprintf(stderr, "vigil replay: read error on %s\n", input_name.c_str());
    return 1;
  }
  return 0;
}

}  // namespace vigil::cli
