#include "sensor/worker_content.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <utility>

#include "base/file.h"
#include "base/log.h"
#include "content/bundle.h"
#include "content/bundle_file.h"
#include "rules/builtin_content.h"
#include "sensor/fault_injection.h"
#include "update/bundle_signature.h"

namespace vigil::sensor {
namespace {

int64_t NowUnix() { return static_cast<int64_t>(::time(nullptr)); }

Result<std::shared_ptr<const engine::Engine>> EngineFromRuleset(Result<content::Ruleset> rs,
                                                                 const content::Diagnostics& diags) {
  if (!rs) {
    std::string first = diags.list().empty() ? "" : "; " + content::Diagnostics::Format(diags.list().front());
    return Error(rs.error().code(), "{}{}", rs.error().message(), first);
  }
  MaybeInjectFault(*rs);
  return engine::Engine::Create(*rs, Schema::Builtin());
}

// The version in a quarantined bundle's name: "<unix>-<slot>-v<version>.vbundle".
uint64_t VersionFromBadName(std::string_view name) {
  size_t v = name.rfind("-v");
  size_t dot = name.rfind(".vbundle");
  if (v == std::string_view::npos || dot == std::string_view::npos || dot <= v + 2) return 0;
  uint64_t version = 0;
  auto [end, ec] = std::from_chars(name.data() + v + 2, name.data() + dot, version);
  return ec == std::errc() && end == name.data() + dot ? version : 0;
}

}  // namespace

WorkerContent::WorkerContent(WorkerContentOptions options, std::unique_ptr<ContentStore> store,
                             std::optional<update::TrustRoot> trust_root, Reporter report)
    : options_(std::move(options)), store_(std::move(store)), trust_root_(std::move(trust_root)),
      report_(std::move(report)) {
  if (store_ == nullptr) return;
  Result<StoreState> st = store_->ReadState();
  if (st) {
    state_ = std::move(*st);
  } else {
    LogError("content store: {}; continuing with a fresh state (the slots are intact)", st.error().ToString());
  }
  uint64_t floor = state_.version_floor;
  if (Result<std::vector<std::string>> bad = store_->ListBad(); bad) {
    // A version that was quarantined is never taken again, even if the state
    // that recorded it was lost: a fix is published as a newer version.
    for (const std::string& name : *bad) floor = std::max(floor, VersionFromBadName(name));
  }
  state_.version_floor = floor;
  floor_.store(floor, std::memory_order_release);
}

bool WorkerContent::Skipped(ContentLevel level) const {
  const std::string_view name = ContentLevelName(level);
  return std::find(options_.skip_levels.begin(), options_.skip_levels.end(), name) != options_.skip_levels.end() ||
         std::find(state_.skipped_levels.begin(), state_.skipped_levels.end(), name) != state_.skipped_levels.end();
}

void WorkerContent::SaveState() {
  if (store_ == nullptr) return;
  state_.updated_unix = NowUnix();
  if (Status s = store_->WriteState(state_); !s.ok()) LogError("content store: {}", s.ToString());
}

void WorkerContent::RaiseFloor(uint64_t version) {
  if (version > state_.version_floor) state_.version_floor = version;
  if (version > floor_.load(std::memory_order_relaxed)) floor_.store(version, std::memory_order_release);
}

void WorkerContent::Trying(ContentLevel level, uint64_t version) {
  state_.trying_level = std::string(ContentLevelName(level));
  state_.trying_version = version;
  state_.trying_since = NowUnix();
  SaveState();  // on disk before the bytes are parsed: a crash now is attributed to them
  report_(fmt::format("trying {} {}", ContentLevelName(level), version));
}

void WorkerContent::Running(const LoadedContent& c) {
  running_ = c;
  running_since_ = NowUnix();
  state_.trying_level.clear();
  state_.trying_version = 0;
  state_.trying_since = 0;
  state_.running_level = std::string(ContentLevelName(c.level));
  state_.running_version = c.version;
  state_.running_since = running_since_;
  SaveState();
  report_(fmt::format("running {} {}", ContentLevelName(c.level), c.version));
}

Result<LoadedContent> WorkerContent::LoadStoreSlot(Slot slot, ContentLevel level) {
  if (store_ == nullptr) return Error(Code::kNotFound, "no content store");
  Result<std::string> bytes = store_->ReadSlot(slot);
  if (!bytes) return Error(bytes.error());
  const std::string where = store_->SlotPath(slot);
  if (!trust_root_) {
    // Not the bundle's fault: leave it for when a trust root is installed.
    return Error(Code::kVerifyFailed, "{}: no trust root (content.trust_root), so its signatures cannot be checked",
                 where);
  }
  const uint64_t version = content::PeekContentVersion(*bytes);
  Trying(level, version);
  Status refused;
  if (Status sig = update::VerifyBundleSignatures(*bytes, *trust_root_); !sig.ok()) {
    refused = Status(sig.code(), fmt::format("{}: {}", where, sig.message()));
  } else {
    content::Diagnostics diags;
    auto engine = EngineFromRuleset(content::LoadBundleBytes(*bytes, where, Schema::Builtin(), diags), diags);
    if (engine) return LoadedContent{std::move(*engine), level, version, where};
    refused = engine.error();
  }
  // Damaged, tampered, expired or unverifiable on this sensor: it can never
  // load here, so move it out of the way and say so.
  LogError("content: {} v{} refused: {}", where, version, refused.ToString());
  Result<std::string> moved = store_->Quarantine(slot, version, refused.message());
  if (moved) {
    LogError("content: quarantined {} v{} as {}", SlotName(slot), version, *moved);
    state_.last_event = SanitizeStateText(fmt::format("quarantined {} v{} at start: {}", SlotName(slot), version,
                                                      refused.message()));
  }
  if (slot == Slot::kActive) state_.active_version = 0;
  if (slot == Slot::kLkg) state_.lkg_version = 0;
  if (slot == Slot::kCandidate) state_.candidate_version = 0;
  state_.trying_level.clear();
  state_.trying_version = 0;
  SaveState();
  return Error(refused);
}

Result<LoadedContent> WorkerContent::LoadLevel(ContentLevel level) {
  switch (level) {
    case ContentLevel::kPath:
    case ContentLevel::kDefault: {
      std::vector<std::string> paths;
      if (level == ContentLevel::kPath) {
        paths = {options_.content_path};
      } else {
        paths = {options_.default_content_path, options_.build_tree_default};
      }
      Status last(Code::kNotFound, "no default bundle installed");
      for (const std::string& path : paths) {
        if (path.empty() || (level == ContentLevel::kDefault && ::access(path.c_str(), R_OK) != 0)) continue;
        Result<std::string> bytes = ReadFileBounded(path, content::kMaxBundleBytes);
        if (!bytes) {
          last = Status(bytes.error().code(), fmt::format("{}: {}", path, bytes.error().message()));
          continue;
        }
        const uint64_t version = content::PeekContentVersion(*bytes);
        Trying(level, version);
        content::Diagnostics diags;
        auto engine = EngineFromRuleset(content::LoadBundleBytes(*bytes, path, Schema::Builtin(), diags), diags);
        if (engine) return LoadedContent{std::move(*engine), level, version, path};
        last = engine.error();
      }
      return Error(last);
    }
    case ContentLevel::kActive: return LoadStoreSlot(Slot::kActive, level);
    case ContentLevel::kLkg: return LoadStoreSlot(Slot::kLkg, level);
    case ContentLevel::kCandidate: return LoadStoreSlot(Slot::kCandidate, level);
    case ContentLevel::kBuiltin: {
      const std::string_view bytes = BuiltinDefaultBundle();
      const uint64_t version = content::PeekContentVersion(bytes);
      Trying(level, version);
      content::Diagnostics diags;
      auto engine = EngineFromRuleset(content::LoadBundleBytes(bytes, "<built-in>", Schema::Builtin(), diags), diags);
      if (!engine) return Error(Code::kInternal, "the built-in content failed to load: {}", engine.error().ToString());
      return LoadedContent{std::move(*engine), level, version, "<built-in>"};
    }
  }
  return Error(Code::kInternal, "unknown content level");
}

Result<LoadedContent> WorkerContent::LoadInitial() {
  std::vector<ContentLevel> chain;
  if (!options_.content_path.empty()) chain.push_back(ContentLevel::kPath);
  chain.insert(chain.end(), {ContentLevel::kActive, ContentLevel::kLkg, ContentLevel::kDefault, ContentLevel::kBuiltin});
  for (ContentLevel level : chain) {
    if (level != ContentLevel::kBuiltin && Skipped(level)) {
      LogWarning("content: level {} skipped (the supervisor stopped using it after a crash loop)", ContentLevelName(level));
      continue;
    }
    if ((level == ContentLevel::kActive || level == ContentLevel::kLkg) &&
        (store_ == nullptr || !store_->HasSlot(level == ContentLevel::kActive ? Slot::kActive : Slot::kLkg))) {
      continue;
    }
    Result<LoadedContent> c = LoadLevel(level);
    if (!c) {
      if (level == ContentLevel::kBuiltin) return c;
      LogError("content: {} cannot be used: {}", ContentLevelName(level), c.error().ToString());
      continue;
    }
    if (level != chain.front()) {
      LogWarning("content: FALLING BACK to {} content ({}, version {}); vigil_content_level reports it",
                 ContentLevelName(level), c->where, c->version);
    }
    LogInfo("content: {} {} (version {}, {} rules)", ContentLevelName(level), c->where, c->version,
            c->engine->rules().size());
    if (level == ContentLevel::kActive) {
      state_.active_version = c->version;
      RaiseFloor(c->version);
    }
    if (level == ContentLevel::kLkg) state_.lkg_version = c->version;
    Running(*c);
    return c;
  }
  return Error(Code::kInternal, "no content level loaded");
}

Result<LoadedContent> WorkerContent::ReloadPath() {
  if (options_.content_path.empty()) return Error(Code::kInvalidArgument, "no content path configured");
  Result<LoadedContent> c = LoadLevel(ContentLevel::kPath);
  if (!c) {
    // The running content stays; so does the record of it.
    if (running_) Running(*running_);
    return c;
  }
  Running(*c);
  return c;
}

Status WorkerContent::StoreCandidate(std::string_view bundle_bytes) {
  if (store_ == nullptr) return Status(Code::kInvalidArgument, "no content store to hold the update");
  const uint64_t version = content::PeekContentVersion(bundle_bytes);
  if (Status s = store_->WriteSlot(Slot::kCandidate, bundle_bytes); !s.ok()) return s;
  state_.candidate_version = version;
  RaiseFloor(version);  // under evaluation: the agent must not fetch it again
  SaveState();
  return Status::Ok();
}

bool WorkerContent::HasCandidate() const { return store_ != nullptr && store_->HasSlot(Slot::kCandidate); }

Result<LoadedContent> WorkerContent::LoadCandidate() {
  Result<LoadedContent> c = LoadStoreSlot(Slot::kCandidate, ContentLevel::kCandidate);
  if (c) {
    state_.candidate_version = c->version;
    RaiseFloor(c->version);
    SaveState();
  } else if (running_) {
    Running(*running_);  // back to what runs
  }
  return c;
}

Result<LoadedContent> WorkerContent::AcceptCandidate(LoadedContent candidate, const std::string& report) {
  if (Status s = store_->PromoteCandidate(); !s.ok()) return Error(s);
  candidate.level = ContentLevel::kActive;
  candidate.where = store_->SlotPath(Slot::kActive);
  state_.active_version = candidate.version;
  state_.candidate_version = 0;
  RaiseFloor(candidate.version);
  state_.last_shadow_report = SanitizeStateText(report);
  state_.last_event = SanitizeStateText(fmt::format("activated v{} after shadow evaluation", candidate.version));
  Running(candidate);
  return candidate;
}

Status WorkerContent::RejectCandidate(uint64_t version, const std::string& report) {
  Result<std::string> moved = store_->Quarantine(Slot::kCandidate, version, report);
  state_.candidate_version = 0;
  state_.last_shadow_report = SanitizeStateText(report);
  state_.last_event = SanitizeStateText(fmt::format("rejected candidate v{} in shadow evaluation", version));
  if (running_) {
    Running(*running_);  // clears the candidate's trying marker
  } else {
    SaveState();
  }
  if (!moved) return moved.error();
  LogError("content: candidate v{} quarantined as {}", version, *moved);
  return Status::Ok();
}

void WorkerContent::Tick(int64_t now_unix) {
  if (!running_ || running_->level != ContentLevel::kActive || store_ == nullptr) return;
  if (state_.lkg_version == running_->version && store_->HasSlot(Slot::kLkg)) return;
  if (now_unix - running_since_ < static_cast<int64_t>(options_.health_window_seconds)) return;
  if (Status s = store_->CopyActiveToLkg(); !s.ok()) {
    LogError("content: cannot make v{} last-known-good: {}", running_->version, s.ToString());
    running_since_ = now_unix;  // try again after another window, not every tick
    return;
  }
  state_.lkg_version = running_->version;
  state_.last_event = SanitizeStateText(fmt::format("v{} is last-known-good after {} s without a crash",
                                                    running_->version, now_unix - running_since_));
  LogInfo("content: {}", state_.last_event);
  SaveState();
}

void WorkerContent::SetDegraded(bool degraded) {
  if (state_.degraded == degraded) return;
  state_.degraded = degraded;
  SaveState();
}

}  // namespace vigil::sensor
