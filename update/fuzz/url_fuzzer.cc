// The update path's URL handling on arbitrary text (manifest bundle-urls and
// redirect Locations come from the network): ParseHttpUrl must accept only
// what it documents and be stable (what it returns, put back together,
// parses to the same parts); ResolveUrl must never crash and stay bounded.
// The first byte splits the input into a base and a reference.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "update/url.h"

using vigil::update::kMaxUrlBytes;
using vigil::update::ParseHttpUrl;
using vigil::update::ResolveUrl;

namespace {

void CheckParsed(std::string_view text) {
  auto u = ParseHttpUrl(text);
  if (!u) return;
  if (u->scheme != "http" && u->scheme != "https") std::abort();
  if (u->authority.empty() || u->path.empty() || u->path[0] != '/') std::abort();
  for (char c : u->authority + u->path) {
    if (c <= 0x20 || c >= 0x7f || c == '#') std::abort();
  }
  if (u->authority.find('@') != std::string::npos) std::abort();
  const std::string again = u->scheme + "://" + u->authority + u->path;
  if (again.size() > kMaxUrlBytes) return;
  auto v = ParseHttpUrl(again);
  if (!v || v->scheme != u->scheme || v->authority != u->authority || v->path != u->path) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  CheckParsed(all);
  if (size == 0) return 0;
  const size_t split = std::min<size_t>(data[0], size - 1);
  std::string_view base = all.substr(1, split), ref = all.substr(1 + split);
  CheckParsed(base);
  CheckParsed(ref);
  auto r = ResolveUrl(base, ref);
  if (r && r->size() > base.size() + ref.size() + 1) std::abort();
  return 0;
}
