// The little URL handling the update path needs: http(s) URLs split for the
// HTTP client, and references resolved against a base (a manifest's
// bundle-url, a redirect's Location).
//
//   Result<ParsedUrl> u = ParseHttpUrl("https://cdn.example:8443/vigil/manifest?x=1");
//   // u->scheme "https", u->authority "cdn.example:8443", u->path "/vigil/manifest?x=1"
//   Result<std::string> b = ResolveUrl("https://cdn.example/vigil/manifest", "b-7.vbundle");
//   // "https://cdn.example/vigil/b-7.vbundle"
//
// Deliberately narrow: lowercase "http://" and "https://" only, no user info,
// printable ASCII without spaces, no normalization of "." or "..".
//
// Thread-safety: stateless functions.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace vigil::update {

inline constexpr size_t kMaxUrlBytes = 2048;

struct ParsedUrl {
  std::string scheme;     // "http" or "https"
  std::string authority;  // host[:port]; IPv6 as [addr][:port]
  std::string path;       // path and query, "/" when empty; the fragment is dropped
};

// Refuses (Code::kInvalidArgument, naming the URL) other schemes, an empty or
// malformed host or port, user info, and bytes outside 0x21..0x7e.
Result<ParsedUrl> ParseHttpUrl(std::string_view url);

// `ref` itself when it is an http(s) URL; "/x" against the base's origin;
// "x" against the base's directory (its path up to the last '/', without
// query). Refuses other schemes and network-path references ("//host/x").
Result<std::string> ResolveUrl(std::string_view base, std::string_view ref);

}  // namespace vigil::update
