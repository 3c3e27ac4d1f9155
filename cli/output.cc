#include "cli/output.h"

#include <cstdio>

#include "content/bundle_file.h"

namespace vigil::cli {

void AppendAlertJson(std::string& out, const content::Rule& rule, uint64_t content_version,
                     std::string_view raw_event) {
  out.push_back('{');
  content::AppendRuleJsonFields(out, rule);
  out += ",\"content_version\":";
  out += std::to_string(content_version);
  out += ",\"event\":";
  out += raw_event;
  out += "}\n";
}

std::optional<content::Ruleset> LoadBundleOrReport(const std::string& path, std::string_view prefix) {
  content::Diagnostics diags;
  Result<content::Ruleset> rs = content::LoadBundleFile(path, Schema::Builtin(), diags);
  if (!rs) {
    std::fprintf(stderr, "%.*srefused: %s\n", static_cast<int>(prefix.size()), prefix.data(),
                 rs.error().ToString().c_str());
    std::fputs(diags.ToText().c_str(), stderr);
    return std::nullopt;
  }
  return std::move(*rs);
}

}  // namespace vigil::cli
