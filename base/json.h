// JSON text output helpers shared by everything that writes JSON lines
// (alerts, recorded events, CLI output).
//
//   std::string out;
//   AppendJsonString(out, path);   // "\"/tmp/a\\u0001b\"", invalid UTF-8 -> U+FFFD
//
// Thread-safety: stateless functions.
#pragma once

#include <string>
#include <string_view>

namespace vigil {

// Appends `text` as a JSON string literal, quotes included. Control
// characters are escaped (\n, \t, \u00XX...); bytes that are not well-formed
// UTF-8 (file names on Linux are arbitrary bytes) become U+FFFD, one per
// maximal ill-formed subsequence, so the output is always valid JSON.
void AppendJsonString(std::string& out, std::string_view text);

}  // namespace vigil
