// Loading a bundle from a file or from memory the way every consumer must:
// bounded read, structural decode, checksum, Verify() against the schema,
// expiry check. The CLI and vigild both load content only through here.
//
//   Diagnostics d;
//   Result<Ruleset> rs = LoadBundleFile("/var/lib/vigil/content/active.vbundle", Schema::Builtin(), d);
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "content/diagnostic.h"
#include "content/ir.h"

namespace vigil::content {

// `now_unix` 0 means the current time.
Result<Ruleset> LoadBundleBytes(std::string_view bytes, std::string_view name, const Schema& schema,
                                Diagnostics& diags, int64_t now_unix = 0);
Result<Ruleset> LoadBundleFile(const std::string& path, const Schema& schema, Diagnostics& diags,
                               int64_t now_unix = 0);

}  // namespace vigil::content
