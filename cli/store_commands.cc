#include "cli/store_commands.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "content/bundle_file.h"
#include "rules/builtin_content.h"
#include "schema/schema.h"
#include "sensor/content_store.h"
#include "sensor/store_fs.h"
#include "base/log.h"

namespace vigil::cli {
namespace {

using sensor::ContentStore;
using sensor::Slot;
using sensor::SlotName;
using sensor::StoreState;

constexpr std::string_view kRecoverReason = "vigil recover";

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

std::string TimeText(int64_t unix_time) { return unix_time == 0 ? "never" : UtcTimeText(unix_time); }

// 45s, 12m 03s, 3h 02m, 2d 04h
std::string DurationText(int64_t seconds) {
  if (seconds < 0) return fmt::format("{}s in the future (clock skew?)", -seconds);
  if (seconds < 60) return fmt::format("{}s", seconds);
  if (seconds < 3600) return fmt::format("{}m {:02}s", seconds / 60, seconds % 60);
  if (seconds < 86400) return fmt::format("{}h {:02}m", seconds / 3600, seconds % 3600 / 60);
  return fmt::format("{}d {:02}h", seconds / 86400, seconds % 86400 / 3600);
}

// What a slot holds, as the sensor would see it: the CLI may parse bundles
// (the supervisor may not), with the same loader vigild uses.
struct SlotReport {
  Slot slot = Slot::kActive;
  bool present = false;
  std::string bytes;
  std::string problem;  // a read error, or why the bundle does not load; "" if it loads
  content::RulesetInfo info;
  size_t rules = 0;

  bool loads() const { return present && problem.empty(); }
  std::string Summary() const {
    if (!present) return problem.empty() ? "empty" : "unreadable: " + problem;
    std::string size = fmt::format("{} bytes", bytes.size());
    if (!problem.empty()) return fmt::format("present  {}  invalid: {}", size, problem);
    return fmt::format("present  {}  content v{}, channel {}, {} rules, created {}{}", size, info.content_version,
                       info.channel, rules, TimeText(info.created_unix),
                       info.expires_unix ? ", expires " + TimeText(info.expires_unix) : "");
  }
};

SlotReport InspectSlot(const ContentStore& store, Slot slot) {
  SlotReport r;
  r.slot = slot;
  Result<std::string> bytes = store.ReadSlot(slot);
  if (!bytes) {
    if (bytes.error().code() != Code::kNotFound) r.problem = bytes.error().ToString();
    return r;
  }
  r.present = true;
  r.bytes = std::move(*bytes);
  content::Diagnostics diags;
  Result<content::Ruleset> rs = content::LoadBundleBytes(r.bytes, store.SlotPath(slot), Schema::Builtin(), diags);
  if (!rs) {
    r.problem = rs.error().ToString();
    return r;
  }
  r.info = rs->info;
  r.rules = rs->rules.size();
  return r;
}

nlohmann::json SlotJson(const SlotReport& r) {
  nlohmann::json j;
  j["present"] = r.present;
  if (!r.present) {
    if (!r.problem.empty()) j["error"] = r.problem;
    return j;
  }
  j["bytes"] = r.bytes.size();
  j["valid"] = r.problem.empty();
  if (!r.problem.empty()) {
    j["invalid"] = r.problem;
    return j;
  }
  j["content_version"] = r.info.content_version;
  j["channel"] = r.info.channel;
  j["rules"] = r.rules;
  j["created_unix"] = r.info.created_unix;
  j["expires_unix"] = r.info.expires_unix;
  return j;
}

nlohmann::json StateJson(const StoreState& s, int64_t now) {
  nlohmann::json j;
  j["version_floor"] = s.version_floor;
  j["trying"] = {{"level", s.trying_level}, {"version", s.trying_version}, {"since_unix", s.trying_since}};
  j["running"] = {{"level", s.running_level}, {"version", s.running_version}, {"since_unix", s.running_since}};
  j["health_seconds"] =
      s.running_level.empty() || s.running_since == 0 ? nlohmann::json(nullptr) : nlohmann::json(now - s.running_since);
  j["slot_versions"] = {{"active", s.active_version}, {"lkg", s.lkg_version}, {"candidate", s.candidate_version}};
  j["skipped_levels"] = s.skipped_levels;
  j["crashes"] = nlohmann::json::array();
  for (const auto& c : s.crashes) {
    j["crashes"].push_back(
        {{"unix_time", c.unix_time}, {"level", c.level}, {"content_version", c.content_version}, {"reason", c.reason}});
  }
  j["degraded"] = s.degraded;
  j["last_event"] = s.last_event;
  j["last_shadow_report"] = s.last_shadow_report;
  j["updated_unix"] = s.updated_unix;
  return j;
}

void PrintState(const StoreState& s, int64_t now) {
  std::printf("version floor   %llu\n", static_cast<unsigned long long>(s.version_floor));
  if (s.running_level.empty()) {
    std::printf("running         nothing recorded\n");
  } else {
    std::printf("running         %s v%llu since %s\n", s.running_level.c_str(),
                static_cast<unsigned long long>(s.running_version), TimeText(s.running_since).c_str());
    if (s.running_since != 0) {
      std::printf("health          %s on this content\n", DurationText(now - s.running_since).c_str());
    }
  }
  if (s.trying_level.empty()) {
    std::printf("trying          none\n");
  } else {
    std::printf("trying          %s v%llu since %s (the worker had not yet reported it running)\n",
                s.trying_level.c_str(), static_cast<unsigned long long>(s.trying_version),
                TimeText(s.trying_since).c_str());
  }
  if (s.crashes.empty()) {
    std::printf("crashes         none recorded\n");
  } else {
    std::printf("crashes         %zu recorded, newest last\n", s.crashes.size());
    for (const auto& c : s.crashes) {
      std::printf("  %s  %s v%llu  %s\n", TimeText(c.unix_time).c_str(), c.level.c_str(),
                  static_cast<unsigned long long>(c.content_version), c.reason.c_str());
    }
  }
  std::string skipped;
  for (const auto& level : s.skipped_levels) skipped += (skipped.empty() ? "" : ", ") + level;
  std::printf("skipped levels  %s\n", skipped.empty() ? "none" : skipped.c_str());
  std::printf("degraded        %s\n", s.degraded ? "yes" : "no");
  std::printf("last event      %s\n", s.last_event.empty() ? "none" : s.last_event.c_str());
  std::printf("last shadow     %s\n", s.last_shadow_report.empty() ? "none" : s.last_shadow_report.c_str());
  std::printf("state updated   %s\n", TimeText(s.updated_unix).c_str());
}

}  // namespace

int RunStatus(const StatusArgs& args) {
  std::string root = std::filesystem::absolute(args.store).lexically_normal().string();
  Result<ContentStore> store = ContentStore::OpenReadOnly(sensor::PosixStoreFs(), root);
  if (!store) {
    std::fprintf(stderr, "vigil status: %s\n", store.error().ToString().c_str());
    return 1;
  }
  int64_t now = Now();
  std::vector<SlotReport> slots;
  for (Slot slot : sensor::kAllSlots) slots.push_back(InspectSlot(*store, slot));
  Result<bool> locked = ContentStore::IsLocked(store->root());
  Result<StoreState> state = store->ReadState();
  Result<std::vector<sensor::BadEntry>> bad = store->ListBadEntries();

  if (args.json) {
    nlohmann::json out;
    out["store"] = store->root();
    out["locked"] = locked ? nlohmann::json(*locked) : nlohmann::json(nullptr);
    out["slots"] = nlohmann::json::object();
    for (const SlotReport& r : slots) out["slots"][std::string(SlotName(r.slot))] = SlotJson(r);
    if (state) {
      out["state"] = StateJson(*state, now);
    } else {
      out["state"] = nullptr;
      out["state_error"] = state.error().ToString();
    }
    out["quarantined"] = nlohmann::json::array();
    if (bad) {
      for (const auto& e : *bad) {
        out["quarantined"].push_back({{"name", e.name}, {"unix_time", e.unix_time}, {"reason", e.reason}});
      }
    } else {
      out["quarantined_error"] = bad.error().ToString();
    }
    std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }

  std::printf("store           %s\n", store->root().c_str());
  std::printf("lock            %s\n", !locked   ? ("unknown: " + locked.error().ToString()).c_str()
                                      : *locked ? "held (a vigild is running)"
                                                : "free");
  std::printf("slots\n");
  for (const SlotReport& r : slots)
    std::printf("  %-10s %s\n", std::string(SlotName(r.slot)).c_str(), r.Summary().c_str());
  if (state) {
    PrintState(*state, now);
  } else {
    std::printf("state           unreadable: %s (vigild carries on with defaults)\n", state.error().ToString().c_str());
  }
  if (!bad) {
    std::printf("quarantined     unreadable: %s\n", bad.error().ToString().c_str());
  } else if (bad->empty()) {
    std::printf("quarantined     none\n");
  } else {
    std::printf("quarantined     %zu, oldest first\n", bad->size());
    for (const auto& e : *bad) {
      std::printf("  %s  %s  %s\n", e.name.c_str(), TimeText(e.unix_time).c_str(),
                  e.reason.empty() ? "(no reason recorded)" : e.reason.c_str());
    }
  }
  return 0;
}

namespace {

// The version to name a quarantined bundle by: its header if it loads, else
// what the state recorded for the slot.
uint64_t VersionOf(const SlotReport& r, const StoreState& s) {
  if (r.loads()) return r.info.content_version;
  switch (r.slot) {
    case Slot::kActive:
      return s.active_version;
    case Slot::kLkg:
      return s.lkg_version;
    case Slot::kCandidate:
      return s.candidate_version;
  }
  return 0;
}

}  // namespace

int RunRecover(const RecoverArgs& args) {
  namespace fs = std::filesystem;
  if (args.root.empty()) {
    std::fprintf(stderr, "vigil recover: --root is required (the mounted system image, e.g. /mnt)\n");
    return 2;
  }
  fs::path store_path = fs::path(args.store_path).relative_path();  // inside the image, even if given as /var/...
  std::string root = (fs::absolute(args.root) / store_path).lexically_normal().string();
  const char* would = args.dry_run ? "would " : "";
  std::printf("vigil recover: store %s%s\n", root.c_str(), args.dry_run ? " (dry run: nothing will change)" : "");

  // 1. A store, and nobody using it.
  Result<ContentStore> ro = ContentStore::OpenReadOnly(sensor::PosixStoreFs(), root);
  if (!ro) {
    std::fprintf(stderr, "vigil recover: %s\n", ro.error().ToString().c_str());
    return 1;
  }
  std::optional<sensor::StoreLock> lock;
  if (args.dry_run) {
    Result<bool> locked = ContentStore::IsLocked(root);
    if (locked && *locked) {
      std::printf("lock: held by a running vigild; a real run %s\n",
                  args.force ? "would go ahead (--force)" : "would refuse without --force");
    }
  } else {
    Result<sensor::StoreLock> taken = ContentStore::Lock(root);
    if (taken) {
      lock = std::move(*taken);
    } else if (!args.force) {
      std::fprintf(stderr,
                   "vigil recover: %s; stop it first (systemctl stop vigild), or use --force if it is a stale "
                   "lock of another system\n",
                   taken.error().message().c_str());
      return 1;
    } else {
      std::printf("warning: %s; going ahead because of --force\n", taken.error().message().c_str());
    }
  }
  Result<ContentStore> opened =
      args.dry_run ? std::move(ro) : ContentStore::Open(sensor::PosixStoreFs(), root, /*create=*/false);
  if (!opened) {
    std::fprintf(stderr, "vigil recover: %s\n", opened.error().ToString().c_str());
    return 1;
  }
  ContentStore& store = *opened;

  // 2. What is there.
  SlotReport candidate = InspectSlot(store, Slot::kCandidate);
  SlotReport active = InspectSlot(store, Slot::kActive);
  SlotReport lkg = InspectSlot(store, Slot::kLkg);
  std::printf("slots:\n");
  for (const SlotReport* r : {&active, &lkg, &candidate}) {
    std::printf("  %-10s %s\n", std::string(SlotName(r->slot)).c_str(), r->Summary().c_str());
  }
  Result<StoreState> read_state = store.ReadState();
  StoreState state;
  if (read_state) {
    state = *read_state;
  } else {
    std::printf("state: unreadable: %s\n  %sstart from a fresh state (version floor 0)\n",
                read_state.error().ToString().c_str(), would);
  }

  // 3. The new active content: lkg if it loads, else the built-in default.
  std::string_view new_active;
  uint64_t new_version = 0;
  std::string source;
  std::string why_not_lkg;
  if (lkg.loads()) {
    new_active = lkg.bytes;
    new_version = lkg.info.content_version;
    source = fmt::format("lkg (content v{})", new_version);
  } else {
    content::Diagnostics diags;
    Result<content::Ruleset> builtin =
        content::LoadBundleBytes(BuiltinDefaultBundle(), "<built-in>", Schema::Builtin(), diags);
    if (!builtin) {
      std::fprintf(stderr, "vigil recover: the built-in default content does not load: %s\n",
                   builtin.error().ToString().c_str());
      return 1;
    }
    new_active = BuiltinDefaultBundle();
    new_version = builtin->info.content_version;
    source = fmt::format("the built-in default content (content v{})", new_version);
    why_not_lkg = lkg.present ? " (lkg does not load)" : " (there is no lkg)";
  }

  // 4. The plan, then (unless dry) each step. Every step is atomic on its
  // own, so an interrupted recover leaves a consistent store: run it again.
  std::printf("%s:\n", args.dry_run ? "plan" : "steps");
  int step = 0;
  auto fail = [&](const Status& s) {
    std::fprintf(stderr,
                 "vigil recover: step %d failed: %s\nthe store is consistent (each step is atomic); fix the cause "
                 "and run vigil recover again\n",
                 step, s.ToString().c_str());
    return 1;
  };
  for (const SlotReport* r : {&candidate, &active}) {
    if (!r->present) continue;
    ++step;
    uint64_t version = VersionOf(*r, state);
    std::string version_text = version ? fmt::format("v{}", version) : "version unknown";
    std::printf("  %d. %squarantine %s (%s) into %s/ (reason \"%.*s\")\n", step, would,
                std::string(SlotName(r->slot)).c_str(), version_text.c_str(), store.BadDir().c_str(),
                static_cast<int>(kRecoverReason.size()), kRecoverReason.data());
    if (args.dry_run) continue;
    Result<std::string> moved = store.Quarantine(r->slot, version, kRecoverReason);
    if (!moved) return fail(moved.error());
    std::printf("     done: %s\n", moved->c_str());
  }
  ++step;
  std::printf("  %d. %swrite %s into active%s\n", step, would, source.c_str(), why_not_lkg.c_str());
  if (!args.dry_run) {
    if (Status s = store.WriteSlot(Slot::kActive, new_active); !s.ok()) return fail(s);
    std::printf("     done: %s\n", store.SlotPath(Slot::kActive).c_str());
  }
  ++step;
  std::printf(
      "  %d. %sreset the state: clear the trying marker, the running fields, %zu crash record(s) and %zu "
      "skipped level(s); keep the version floor %llu\n",
      step, would, state.crashes.size(), state.skipped_levels.size(),
      static_cast<unsigned long long>(state.version_floor));
  if (!args.dry_run) {
    state.trying_level.clear();
    state.trying_version = 0;
    state.trying_since = 0;
    state.running_level.clear();
    state.running_version = 0;
    state.running_since = 0;
    state.crashes.clear();
    state.skipped_levels.clear();
    state.active_version = new_version;
    state.candidate_version = 0;
    state.lkg_version = lkg.loads() ? lkg.info.content_version : 0;
    state.last_event = fmt::format("vigil recover: active := {}", source);
    state.updated_unix = Now();
    if (Status s = store.WriteState(state); !s.ok()) return fail(s);
    std::printf("     done: %s\n", store.StatePath().c_str());
  }
  if (args.dry_run) {
    std::printf("dry run: nothing changed\n");
  } else {
    std::printf("recovered: active is now %s; vigild will start on it\n", source.c_str());
  }
  return 0;
}

StoreCommands AddStoreCommands(CLI::App& app) {
  StoreCommands c;
  c.status_ = app.add_subcommand("status", "Show the content store: slots, versions, health, crashes, quarantine");
  c.status_->add_option("--store", c.status_args_->store, "Store directory")->capture_default_str();
  c.status_->add_flag("--json", c.status_args_->json, "JSON output");

  c.recover_ = app.add_subcommand(
      "recover",
      "Offline repair of a mounted system image: quarantine candidate and active, restore lkg or the "
      "built-in default content");
  c.recover_->add_option("--root", c.recover_args_->root, "Where the system image is mounted")->required();
  c.recover_->add_option("--store-path", c.recover_args_->store_path, "The store inside the image")
      ->capture_default_str();
  c.recover_->add_flag("--dry-run", c.recover_args_->dry_run, "Print the plan, change nothing");
  c.recover_->add_flag("--force", c.recover_args_->force, "Go ahead even if the store is locked");
  return c;
}

std::optional<int> StoreCommands::Run() const {
  if (status_ && *status_) return RunStatus(*status_args_);
  if (recover_ && *recover_) return RunRecover(*recover_args_);
  return std::nullopt;
}

}  // namespace vigil::cli
