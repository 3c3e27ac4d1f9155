// The default bundle compiled into the binary: the content vigild falls back
// to when neither the configured nor the installed default bundle can be
// loaded. It is verified like any other bundle before use.
//
//   Result<Ruleset> rs = content::LoadBundleBytes(BuiltinDefaultBundle(), "<built-in>", schema, diags);
//
// Thread-safety: returns a view of immutable static data.
#pragma once

#include <string_view>

namespace vigil {

std::string_view BuiltinDefaultBundle();

}  // namespace vigil
