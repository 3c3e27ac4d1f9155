#include "sensor/enforcement.h"

#include <algorithm>

#include <fmt/format.h>

#include "content/verifier.h"

namespace vigil::sensor {
namespace {

bool Contains(const std::vector<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

// The policy entry (id or tag) that names `rule`, or nullptr.
const std::string* PolicyEntryFor(const content::Rule& rule, const BlockingPolicy& policy) {
  for (const std::string& id : policy.rule_ids) {
    if (id == rule.id) return &id;
  }
  for (const std::string& tag : policy.tags) {
    if (Contains(rule.tags, tag)) return &tag;
  }
  return nullptr;
}

}  // namespace

Result<BlockingSelection> SelectBlockingRules(const engine::Engine& content, const BlockingPolicy& policy) {
  BlockingSelection out;
  content::Ruleset blocking;
  blocking.info = content.info();
  std::vector<bool> id_used(policy.rule_ids.size(), false), tag_used(policy.tags.size(), false);
  for (const content::Rule& rule : content.rules()) {
    for (size_t i = 0; i < policy.rule_ids.size(); ++i) id_used[i] = id_used[i] || policy.rule_ids[i] == rule.id;
    for (size_t i = 0; i < policy.tags.size(); ++i) tag_used[i] = tag_used[i] || Contains(rule.tags, policy.tags[i]);
    if (rule.block) {
      blocking.rules.push_back(rule);
      ++out.from_content;
      continue;
    }
    const std::string* entry = PolicyEntryFor(rule, policy);
    if (entry == nullptr) continue;
    // The verifier checked this rule as an alerting one; as a blocking one it
    // must also be decidable at the permission check.
    if (Status s = content::CheckBlockingRule(rule, content.schema()); !s.ok()) {
      out.refused.push_back(fmt::format("rule {} ('{}'), named by enforce policy '{}', stays alerting: {}", rule.id,
                                        rule.title, *entry, s.message()));
      continue;
    }
    content::Rule copy = rule;
    copy.block = true;
    blocking.rules.push_back(std::move(copy));
    ++out.from_policy;
  }
  for (size_t i = 0; i < policy.rule_ids.size(); ++i) {
    if (!id_used[i]) out.unmatched.push_back(fmt::format("rule id '{}'", policy.rule_ids[i]));
  }
  for (size_t i = 0; i < policy.tags.size(); ++i) {
    if (!tag_used[i]) out.unmatched.push_back(fmt::format("tag '{}'", policy.tags[i]));
  }
  if (blocking.rules.empty()) return out;
  Result<std::shared_ptr<const engine::Engine>> e = engine::Engine::Create(blocking, content.schema());
  if (!e) {
    return Error(e.error().code(), "the blocking rules of content v{} cannot be built: {}",
                 content.info().content_version, e.error().message());
  }
  out.engine = std::move(*e);
  return out;
}

}  // namespace vigil::sensor
