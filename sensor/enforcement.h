// Which rules block: the blocking engine vigild hands to the permission
// responder (sensor/responder.h), chosen from the running content and the
// [enforce] policy of the configuration (docs/enforce.md, docs/config.md).
//
//   BlockingPolicy policy{config.enforce_rule_ids, config.enforce_tags};
//   Result<BlockingSelection> s = SelectBlockingRules(*content_engine, policy);
//   if (!s) ... the content's blocking rules cannot be built: nothing blocks ...
//   for (const std::string& r : s->refused) LogError("enforce: {}", r);
//   responder.SetEngine(s->engine);   // nullptr when no rule blocks
//
// A rule blocks when the content marks it (`vigil: {action: block}`, already
// checked by the verifier) or when the policy names its id or one of its tags.
// A rule the policy names must pass the verifier's own blocking check
// (content::CheckBlockingRule) here, at run time: one that reads a field the
// sensor does not know at the permission check (CommandLine at exec time), or
// whose event type has no permission check, stays an alerting rule and is
// reported in `refused`. Policy entries that name nothing in the content are
// reported in `unmatched`, so a typo does not silently enforce nothing.
//
// Thread-safety: pure function; the engine it returns is immutable.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/engine.h"

namespace vigil::sensor {

struct BlockingPolicy {
  std::vector<std::string> rule_ids;  // alerting rules made blocking by id
  std::vector<std::string> tags;      // ... and every rule with one of these tags
};

struct BlockingSelection {
  // Only the blocking rules, each with `block` set, under the content's
  // header (version, schema); nullptr when no rule blocks.
  std::shared_ptr<const engine::Engine> engine;
  size_t from_content = 0;          // rules the content marks blocking
  size_t from_policy = 0;           // alerting rules the policy made blocking
  std::vector<std::string> refused;    // policy rules that cannot block, with the verifier's reason
  std::vector<std::string> unmatched;  // policy ids and tags that name no rule of this content
};

// Errors only if the engine for the selected rules cannot be built (it was
// built from the same, verified rules, so this means resource exhaustion).
Result<BlockingSelection> SelectBlockingRules(const engine::Engine& content, const BlockingPolicy& policy);

}  // namespace vigil::sensor
