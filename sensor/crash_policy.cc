#include "sensor/crash_policy.h"

#include <algorithm>

#include <fmt/format.h>

namespace vigil::sensor {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

// "850 ms", "12.4 s", "95 s": for log lines a human reads.
std::string Human(milliseconds d) {
  const int64_t ms = d.count();
  if (ms < 1000) return fmt::format("{} ms", ms);
  if (ms < 60'000) return fmt::format("{:.1f} s", static_cast<double>(ms) / 1000.0);
  return fmt::format("{} s", ms / 1000);
}

}  // namespace

std::string DescribeContent(const ContentRef& content) {
  return fmt::format("{} v{}", ContentLevelName(content.level), content.version);
}

Status CrashPolicy::Validate(const CrashPolicyOptions& o) {
  auto bad = [](std::string_view what) { return Status(Code::kInvalidArgument, std::string(what)); };
  if (o.crash_threshold < 1 || o.crash_threshold > 100) {
    return bad(fmt::format("crash_threshold {}: must be 1 to 100", o.crash_threshold));
  }
  if (o.crash_window.count() <= 0) return bad("crash_window: must be positive");
  if (o.healthy_run.count() <= 0) return bad("healthy_run: must be positive");
  if (o.first_delay.count() <= 0) return bad("first restart delay: must be positive");
  if (o.max_delay < o.first_delay) return bad("max restart delay: below the first delay");
  if (o.max_delay_builtin < o.max_delay) return bad("max restart delay on builtin: below the max delay");
  return Status::Ok();
}

CrashPolicy::CrashPolicy(CrashPolicyOptions options) : options_(options) {
  options_.crash_threshold = std::clamp(options_.crash_threshold, 1, 100);
  options_.crash_window = std::max(options_.crash_window, std::chrono::seconds(1));
  options_.first_delay = std::max(options_.first_delay, milliseconds(1));
  options_.max_delay = std::max(options_.max_delay, options_.first_delay);
  options_.max_delay_builtin = std::max(options_.max_delay_builtin, options_.max_delay);
}

void CrashPolicy::OnSpawn(Clock::time_point /*now*/) {
  suspect_.reset();
  running_since_.reset();
}

void CrashPolicy::OnMessage(Clock::time_point now, const WorkerMessage& m) {
  if (m.kind != WorkerMessage::Kind::kTrying && m.kind != WorkerMessage::Kind::kRunning) return;
  const ContentRef ref{m.level, m.version};
  if (suspect_ != ref) {
    suspect_ = ref;
    suspect_since_ = now;
  }
  if (m.kind == WorkerMessage::Kind::kRunning) {
    if (!running_since_) running_since_ = now;
    // Running other content: the count of the old one starts again.
    if (ref.level != ContentLevel::kCandidate && episode_ && episode_->content != ref) episode_.reset();
  }
}

milliseconds CrashPolicy::Backoff(bool on_builtin) const {
  const milliseconds cap = on_builtin ? options_.max_delay_builtin : options_.max_delay;
  milliseconds delay = options_.first_delay;
  for (int i = 1; i < streak_ && delay < cap; ++i) delay *= 2;
  return std::min(delay, cap);
}

CrashDecision CrashPolicy::OnDeath(const WorkerDeath& death) {
  CrashDecision d;
  d.content = death.content;
  const bool healthy = running_since_ && death.time - *running_since_ > options_.healthy_run;
  const Clock::time_point first_seen = death.content && suspect_ == death.content ? suspect_since_ : death.time;
  suspect_.reset();
  running_since_.reset();
  const std::string on = death.content ? DescribeContent(*death.content) : "no content yet";

  if (death.requested_stop) {
    d.summary = fmt::format("worker stopped on request ({}; was on {})", death.reason, on);
    return d;
  }
  d.counted = true;
  d.not_content_problem = !death.content || death.content->level == ContentLevel::kBuiltin;
  streak_ = healthy ? 0 : streak_ + 1;
  d.restart_delay = healthy ? milliseconds(0) : Backoff(d.not_content_problem);
  const std::string restart = fmt::format("restart in {}", Human(d.restart_delay));

  if (!death.content) {
    d.summary = fmt::format("worker died before loading any content: {}; not a content problem; {}", death.reason,
                            restart);
    return d;
  }
  const ContentRef content = *death.content;

  if (content.level == ContentLevel::kCandidate) {  // one strike: it is not active yet
    d.crashes = 1;
    d.since_first_try = duration_cast<milliseconds>(death.time - first_seen);
    d.quarantine = content;
    d.quarantine_reason =
        fmt::format("worker died while shadow-evaluating {}: {}", DescribeContent(content), death.reason);
    d.summary = fmt::format("quarantined {}: died during shadow evaluation ({}); {}", DescribeContent(content),
                            death.reason, restart);
    return d;
  }

  if (!episode_ || episode_->content != content || death.time - episode_->first_try > options_.crash_window) {
    episode_ = Episode{content, first_seen, 0};
  }
  d.crashes = ++episode_->crashes;
  d.since_first_try = duration_cast<milliseconds>(death.time - episode_->first_try);
  const int64_t window_s = options_.crash_window.count();

  if (content.level == ContentLevel::kBuiltin) {
    d.summary = fmt::format(
        "worker died on builtin content: {} (death {} within {} s); NOT A CONTENT PROBLEM: builtin is the last "
        "level, the bug is in the program or the host; {}",
        death.reason, d.crashes, window_s, restart);
    return d;
  }
  if (d.crashes >= options_.crash_threshold) {
    d.quarantine = content;
    d.quarantine_reason =
        fmt::format("{} worker deaths in {} after {} was first tried (threshold {} within {} s); last: {}", d.crashes,
                    Human(d.since_first_try), DescribeContent(content), options_.crash_threshold, window_s,
                    death.reason);
    d.summary = fmt::format("quarantined {}: {} crashes in {} (last: {}); {}", DescribeContent(content), d.crashes,
                            Human(d.since_first_try), death.reason, restart);
    episode_.reset();
    return d;
  }
  d.summary = fmt::format("worker died on {}: {} (crash {} of {} within {} s); {}", DescribeContent(content),
                          death.reason, d.crashes, options_.crash_threshold, window_s, restart);
  return d;
}

}  // namespace vigil::sensor
