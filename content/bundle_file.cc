#include "content/bundle_file.h"

#include <ctime>

#include "base/file.h"
#include "content/bundle.h"

namespace vigil::content {

Result<Ruleset> LoadBundleBytes(std::string_view bytes, std::string_view name, const Schema& schema,
                                Diagnostics& diags, int64_t now_unix) {
  Result<Ruleset> rs = ReadBundle(bytes, schema, diags, {std::string(name), true});
  if (!rs) return rs;
  int64_t now = now_unix != 0 ? now_unix : static_cast<int64_t>(std::time(nullptr));
  if (rs->info.expires_unix != 0 && now > rs->info.expires_unix) {
    return Error(Code::kVerifyFailed, "{}: expired at unix time {} (now {})", name, rs->info.expires_unix, now);
  }
  return rs;
}

Result<Ruleset> LoadBundleFile(const std::string& path, const Schema& schema, Diagnostics& diags,
                               int64_t now_unix) {
  Result<std::string> bytes = ReadFileBounded(path, kMaxBundleBytes);
  if (!bytes) return Error(bytes.error());
  return LoadBundleBytes(*bytes, path, schema, diags, now_unix);
}

}  // namespace vigil::content
