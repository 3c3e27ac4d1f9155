// Output helpers shared by the CLI commands: JSON string escaping, the alert
// line format (docs/alerts.md), and loading a bundle file.
//
// Thread-safety: stateless functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/json.h"
#include "base/status.h"
#include "content/diagnostic.h"
#include "content/ir.h"

namespace vigil::cli {

// Appends one alert line ending in '\n':
// {"rule_id":..,"rule_title":..,"level":..,"tags":[..],"content_version":N,"event":<raw_event>}
// `raw_event` must already be a valid JSON object (the decoder guarantees it).
void AppendAlertJson(std::string& out, const content::Rule& rule, uint64_t content_version,
                     std::string_view raw_event);

// Loads a bundle the one way every consumer must (content/bundle_file.h:
// bounded read, checksum, verifier, expiry) against the builtin schema. On
// refusal prints "<prefix>refused: <reason>" and every diagnostic to stderr
// and returns nullopt.
std::optional<content::Ruleset> LoadBundleOrReport(const std::string& path, std::string_view prefix = "");

}  // namespace vigil::cli
