#include "content/ir.h"

#include "base/json.h"

namespace vigil::content {

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kInformational: return "informational";
    case Level::kLow: return "low";
    case Level::kMedium: return "medium";
    case Level::kHigh: return "high";
    case Level::kCritical: return "critical";
  }
  return "unknown";
}

std::string_view RuleActionName(const Rule& rule) { return rule.block ? "block" : "alert"; }

void AppendRuleJsonFields(std::string& out, const Rule& rule) {
  out += "\"rule_id\":";
  AppendJsonString(out, rule.id);
  out += ",\"rule_title\":";
  AppendJsonString(out, rule.title);
  out += ",\"level\":";
  AppendJsonString(out, LevelName(rule.level));
  out += ",\"tags\":[";
  for (size_t i = 0; i < rule.tags.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(out, rule.tags[i]);
  }
  out.push_back(']');
  // Only blocking rules say so: alert lines of the (far more common) alerting
  // rules stay exactly as they were.
  if (rule.block) out += ",\"action\":\"block\"";
}

}  // namespace vigil::content
