// Stage 1 of the Sigma compiler: YAML text -> SigmaRule, the structure of a
// rule document with source lines and no semantics (no schema, no modifier
// meaning, no condition parsing). See docs/sigma.md.
//
//   Diagnostics diags;
//   ReadResult r = ReadSigma(yaml_text, "rules/foo.yml", diags);
//   for (const SigmaRule& rule : r.rules) Lower(rule, ...);
//
// The input is untrusted: the file size, the number of YAML nodes visited per
// document (aliases included, so an alias bomb is refused) and the nesting
// depth are bounded, and yaml-cpp's exceptions never leave ReadSigma.
//
// Thread-safety: stateless functions; the result is a plain value.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "content/diagnostic.h"

namespace vigil::content {

// Bounds on one YAML document (STYLE item 4).
inline constexpr size_t kMaxYamlNodesPerDocument = 100'000;  // visits, aliases counted each time
inline constexpr size_t kMaxYamlDepth = 64;                  // SigmaHQ rules nest at most 5 deep
inline constexpr size_t kMaxYamlFlowNesting = 64;            // '[' / '{' checked before yaml-cpp runs

// One scalar as written: its text, and whether it was the YAML null
// (`null`, `~` or nothing) and whether it was plain (unquoted).
struct SigmaScalar {
  std::string text;
  bool is_null = false;
  bool plain = true;
  int line = 0;
};

// One `Field|mod|mod: value(s)` entry of a selection map.
struct SigmaFieldSpec {
  std::string key;  // as written, modifiers included
  std::vector<SigmaScalar> values;
  bool is_list = false;  // the value was a YAML list (possibly empty)
  int line = 0;
};

struct SigmaMap {
  std::vector<SigmaFieldSpec> fields;  // document order
  int line = 0;
};

// A named detection item. Either maps (one map, or a list of maps meaning OR)
// or keywords (a plain value or list of values matched in any field).
struct SigmaSelection {
  enum class Kind { kMaps, kKeywords };
  std::string name;
  Kind kind = Kind::kMaps;
  std::vector<SigmaMap> maps;
  std::vector<SigmaScalar> keywords;
  int line = 0;
};

struct SigmaText {
  std::string text;
  int line = 0;
};

struct SigmaRule {
  std::string file;
  int line = 0;  // first line of the document
  std::string id;
  std::string title;
  std::string status;
  std::optional<SigmaText> level;
  std::vector<std::string> tags;
  std::optional<SigmaText> product, category, service;
  int logsource_line = 0;
  std::vector<SigmaSelection> selections;  // detection order, `condition` excluded
  std::vector<SigmaText> conditions;       // a list under `condition` means OR
  std::optional<SigmaText> timeframe;      // only meaningful with aggregations
  int detection_line = 0;
  // vigil's own attributes, the top-level `vigil:` map (docs/sigma.md). Only
  // `action` exists; its value is checked when the rule is lowered.
  std::optional<SigmaText> action;
};

struct ReadResult {
  std::vector<SigmaRule> rules;  // documents that were read without error
  size_t rules_seen = 0;         // documents that looked like rules
  size_t rules_refused = 0;      // of those, refused here (reported in diags)
};

// Reads every YAML document of `text`. Empty documents are ignored; each
// problem is an error diagnostic located in `filename`.
ReadResult ReadSigma(std::string_view text, std::string_view filename, Diagnostics& diags);

}  // namespace vigil::content
