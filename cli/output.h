// Output helpers shared by the CLI commands: JSON string escaping, the alert
// line format (docs/alerts.md), and loading a bundle file.
//
// Thread-safety: stateless functions.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "content/diagnostic.h"
#include "content/ir.h"

namespace vigil::cli {

// Appends `s` as a JSON string literal (quotes included).
void AppendJsonString(std::string& out, std::string_view s);

// Appends one alert line ending in '\n':
// {"rule_id":..,"rule_title":..,"level":..,"tags":[..],"content_version":N,"event":<raw_event>}
// `raw_event` must already be a valid JSON object (the decoder guarantees it).
void AppendAlertJson(std::string& out, const content::Rule& rule, uint64_t content_version,
                     std::string_view raw_event);

// Reads (bounded by content::kMaxBundleBytes) and verifies a bundle against
// the builtin schema; refuses one whose expiry has passed.
Result<content::Ruleset> LoadBundleFile(const std::string& path, content::Diagnostics& diags);

}  // namespace vigil::cli
