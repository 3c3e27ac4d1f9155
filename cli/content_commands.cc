#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/line_reader.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "content/bundle.h"
#include "content/compiler.h"
#include "content/pretty.h"
#include "engine/engine.h"
#include "sources/replay/event_json.h"
#include "update/bundle_signature.h"
#include "base/log.h"

namespace vigil::cli {
namespace {

namespace fs = std::filesystem;
using content::DiagCode;
using content::Diagnostics;

constexpr size_t kMaxRuleFiles = 100'000;

bool IsRuleFile(const fs::path& p) {
  auto ext = p.extension().string();
  return ext == ".yml" || ext == ".yaml";
}

// Expands directories (recursively, sorted, symlinked dirs not followed so a
// loop cannot trap us) into rule files; missing paths become diagnostics.
std::vector<std::string> CollectRuleFiles(const std::vector<std::string>& inputs, Diagnostics& diags) {
  std::vector<std::string> files;
  for (const auto& input : inputs) {
    std::error_code ec;
    fs::file_status st = fs::status(input, ec);
    if (ec || !fs::exists(st)) {
      diags.Error(DiagCode::kIo, {input, 0, ""}, "no such file or directory");
      continue;
    }
    if (!fs::is_directory(st)) {
      files.push_back(input);
      continue;
    }
    std::vector<std::string> found;
    fs::recursive_directory_iterator it(input, fs::directory_options::skip_permission_denied, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file(ec) && IsRuleFile(it->path())) found.push_back(it->path().string());
      if (found.size() + files.size() > kMaxRuleFiles) break;
    }
    if (ec) diags.Error(DiagCode::kIo, {input, 0, ""}, fmt::format("cannot walk directory: {}", ec.message()));
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  if (files.size() > kMaxRuleFiles) {
    diags.Error(DiagCode::kTooComplex, {"", 0, ""},
                fmt::format("more than {} rule files; the rest were not read", kMaxRuleFiles));
    files.resize(kMaxRuleFiles);
  }
  return files;
}

std::string TimeString(int64_t unix_time) { return unix_time == 0 ? "never" : UtcTimeText(unix_time); }

// The key ids in the bundle's signature area (update/bundle_signature.h),
// unchecked: inspect shows, `content verify --trust-root` judges.
std::vector<std::string> SignatureKeyIds(const std::string& path) {
  std::vector<std::string> ids;
  Result<std::string> bytes = ReadFileBounded(path, content::kMaxBundleBytes);
  if (!bytes) return ids;
  auto sigs = update::ListBundleSignatures(*bytes);
  if (!sigs) return {"unreadable: " + sigs.error().message()};
  for (const auto& s : *sigs) ids.push_back(update::KeyIdToHex(s.key_id));
  return ids;
}

}  // namespace

int RunContentBuild(const BuildArgs& args) {
  content::Compiler compiler(Schema::Builtin());
  Diagnostics& diags = compiler.diagnostics();
  for (const auto& file : CollectRuleFiles(args.inputs, diags)) {
    Result<std::string> text = ReadFileBounded(file, content::kMaxRuleFileBytes);
    if (!text) {
      diags.Error(text.error().code() == Code::kLimitExceeded ? DiagCode::kFileTooLarge : DiagCode::kIo,
                  {file, 0, ""}, text.error().message());
      continue;
    }
    compiler.AddFile(*text, file);
  }
  content::RulesetInfo info;
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  info.content_version = args.content_version != 0 ? args.content_version : static_cast<uint64_t>(now);
  info.created_unix = now;
  info.expires_unix = args.expires_in_days == 0 ? 0 : now + int64_t{args.expires_in_days} * 86400;
  info.channel = args.channel;
  content::Ruleset rs = compiler.Finish(info);
  const auto& stats = compiler.stats();

  if (args.json) {
    std::printf("%s\n", diags.ToJson().c_str());
  } else {
    std::fputs(diags.ToText().c_str(), stderr);
  }
  std::fprintf(stderr, "compiled %zu of %zu rules (%zu skipped: unsupported logsource, %zu refused)\n",
               stats.rules_compiled, stats.rules_seen, stats.rules_skipped, stats.rules_refused);

  if (rs.rules.empty()) {
    std::fprintf(stderr, "vigil content build: no rule compiled; %s not written\n", args.output.c_str());
    return 1;
  }
  if (args.strict && diags.has_errors()) {
    std::fprintf(stderr, "vigil content build: --strict and %zu error(s); %s not written\n", diags.error_count(),
                 args.output.c_str());
    return 1;
  }
  Status written = WriteFileAtomic(args.output, content::WriteBundle(rs));
  if (!written.ok()) {
    std::fprintf(stderr, "vigil content build: %s\n", written.ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "wrote %s: %zu rules, content version %llu\n", args.output.c_str(), rs.rules.size(),
               static_cast<unsigned long long>(rs.info.content_version));
  return 0;
}

int RunContentVerify(const std::string& bundle_path) {
  std::optional<content::Ruleset> rs = LoadBundleOrReport(bundle_path);
  if (!rs) return 1;
  std::printf("ok: %s: %zu rules, content version %llu, channel %s, schema %s, expires %s\n",
              bundle_path.c_str(), rs->rules.size(), static_cast<unsigned long long>(rs->info.content_version),
              rs->info.channel.c_str(), HashToHex(rs->info.schema_hash).substr(0, 16).c_str(),
              TimeString(rs->info.expires_unix).c_str());
  return 0;
}

int RunContentInspect(const InspectArgs& args) {
  std::optional<content::Ruleset> rs = LoadBundleOrReport(args.bundle);
  if (!rs) return 1;
  const auto& info = rs->info;
  const Schema& schema = Schema::Builtin();
  if (args.json) {
    nlohmann::json out;
    out["schema_version"] = info.schema_version;
    out["schema_hash"] = HashToHex(info.schema_hash);
    out["content_version"] = info.content_version;
    out["created"] = TimeString(info.created_unix);
    out["expires"] = TimeString(info.expires_unix);
    out["channel"] = info.channel;
    out["signatures"] = SignatureKeyIds(args.bundle);
    out["rules"] = nlohmann::json::array();
    for (const auto& r : rs->rules) {
      out["rules"].push_back({{"id", r.id},
                              {"title", r.title},
                              {"level", content::LevelName(r.level)},
                              {"action", content::RuleActionName(r)},
                              {"status", r.status},
                              {"event_type", schema.event_type(r.event_type).name},
                              {"tags", r.tags},
                              {"source", r.source},
                              {"atoms", r.atoms.size()},
                              {"program_length", r.program.size()},
                              {"condition", content::PrettyCondition(r)}});
    }
    std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  std::printf("bundle          %s\n", args.bundle.c_str());
  std::printf("schema          v%u %s\n", info.schema_version, HashToHex(info.schema_hash).c_str());
  std::printf("content version %llu\n", static_cast<unsigned long long>(info.content_version));
  std::printf("channel         %s\n", info.channel.c_str());
  std::printf("created         %s\n", TimeString(info.created_unix).c_str());
  std::printf("expires         %s\n", TimeString(info.expires_unix).c_str());
  std::string signers;
  for (const auto& id : SignatureKeyIds(args.bundle)) signers += (signers.empty() ? "" : ", ") + id;
  std::printf("signed by       %s\n", signers.empty() ? "nobody (unsigned)" : signers.c_str());
  std::printf("rules           %zu\n\n", rs->rules.size());
  for (const auto& r : rs->rules) {
    std::printf("%s  %s\n  level %s, action %s, %s, %zu atoms, %zu instructions%s%s\n  %s\n\n", r.id.c_str(),
                r.title.c_str(), std::string(content::LevelName(r.level)).c_str(),
                std::string(content::RuleActionName(r)).c_str(), schema.event_type(r.event_type).name.c_str(),
                r.atoms.size(), r.program.size(),
                r.source.empty() ? "" : ", from ", r.source.c_str(), content::PrettyCondition(r).c_str());
  }
  return 0;
}

int RunContentTest(const TestArgs& args) {
  std::optional<content::Ruleset> rs = LoadBundleOrReport(args.bundle);
  if (!rs) return 1;
  auto engine = engine::Engine::Create(*rs, Schema::Builtin());
  if (!engine) {
    std::fprintf(stderr, "vigil content test: %s\n", engine.error().ToString().c_str());
    return 1;
  }
  std::set<std::string> known_ids;
  for (const auto& r : rs->rules) known_ids.insert(r.id);
  auto scratch = (*engine)->NewScratch();
  replay::EventDecoder decoder(Schema::Builtin());
  size_t passed = 0, failed = 0;
  for (const auto& path : args.cases) {
    Result<std::string> text = ReadFileBounded(path, 64 << 20);
    if (!text) {
      std::fprintf(stderr, "%s\n", text.error().ToString().c_str());
      ++failed;
      continue;
    }
    size_t line_no = 0, pos = 0;
    while (pos < text->size()) {
      size_t nl = text->find('\n', pos);
      std::string_view line(text->data() + pos, (nl == std::string::npos ? text->size() : nl) - pos);
      pos = nl == std::string::npos ? text->size() : nl + 1;
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      auto fail = [&](const std::string& why) {
        std::printf("FAIL %s:%zu: %s\n", path.c_str(), line_no, why.c_str());
        ++failed;
      };
      nlohmann::json c = nlohmann::json::parse(line, nullptr, false);
      if (c.is_discarded() || !c.is_object() || !c.contains("rule_id") || !c["rule_id"].is_string() ||
          !c.contains("expect") || !c["expect"].is_boolean() || !c.contains("event") || !c["event"].is_object()) {
        fail("expected {\"rule_id\": string, \"expect\": bool, \"event\": object}");
        continue;
      }
      std::string rule_id = c["rule_id"];
      if (!known_ids.count(rule_id)) {
        fail(fmt::format("rule {} is not in the bundle", rule_id));
        continue;
      }
      std::string event_text = c["event"].dump();
      if (Status s = decoder.Decode(event_text); !s.ok()) {
        fail(fmt::format("event: {}", s.message()));
        continue;
      }
      bool matched = false;
      for (uint32_t idx : (*engine)->Evaluate(decoder.event(), *scratch)) {
        if ((*engine)->rules()[idx].id == rule_id) matched = true;
      }
      bool expect = c["expect"];
      if (matched != expect) {
        fail(fmt::format("rule {} {} but the case expects {}{}", rule_id, matched ? "matched" : "did not match",
                         expect ? "a match" : "no match",
                         c.contains("note") && c["note"].is_string() ? " (" + c["note"].get<std::string>() + ")" : ""));
      } else {
        ++passed;
      }
    }
  }
  std::printf("%zu passed, %zu failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace vigil::cli
