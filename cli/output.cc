#include "cli/output.h"

#include "content/bundle_file.h"

namespace vigil::cli {

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

void AppendAlertJson(std::string& out, const content::Rule& rule, uint64_t content_version,
                     std::string_view raw_event) {
  out += "{\"rule_id\":";
  AppendJsonString(out, rule.id);
  out += ",\"rule_title\":";
  AppendJsonString(out, rule.title);
  out += ",\"level\":";
  AppendJsonString(out, content::LevelName(rule.level));
  out += ",\"tags\":[";
  for (size_t i = 0; i < rule.tags.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(out, rule.tags[i]);
  }
  out += "],\"content_version\":";
  out += std::to_string(content_version);
  out += ",\"event\":";
  out += raw_event;
  out += "}\n";
}

Result<content::Ruleset> LoadBundleFile(const std::string& path, content::Diagnostics& diags) {
  return content::LoadBundleFile(path, Schema::Builtin(), diags);
}

}  // namespace vigil::cli
