#include "update/url.h"

namespace vigil::update {
namespace {

bool HasHttpScheme(std::string_view url) { return url.starts_with("http://") || url.starts_with("https://"); }

bool PrintableNoSpace(std::string_view s) {
  for (char c : s) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

bool ValidPort(std::string_view p) {
  if (p.empty() || p.size() > 5) return false;
  unsigned v = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  return v >= 1 && v <= 65535;
}

}  // namespace

Result<ParsedUrl> ParseHttpUrl(std::string_view url) {
  if (url.empty() || url.size() > kMaxUrlBytes) {
    return Error(Code::kInvalidArgument, "URL of {} bytes (must be 1..{})", url.size(), kMaxUrlBytes);
  }
  if (!PrintableNoSpace(url)) return Error(Code::kInvalidArgument, "URL {}: only printable ASCII without spaces", url);
  if (!HasHttpScheme(url)) return Error(Code::kInvalidArgument, "URL {}: only http:// and https:// are supported", url);
  ParsedUrl out;
  size_t colon = url.find("://");
  out.scheme = url.substr(0, colon);
  std::string_view rest = url.substr(colon + 3);
  rest = rest.substr(0, rest.find('#'));
  size_t end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, end);
  std::string_view path = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (authority.find('@') != std::string_view::npos) {
    return Error(Code::kInvalidArgument, "URL {}: user info (user@host) is not supported", url);
  }
  std::string_view host = authority, port;
  if (authority.starts_with("[")) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos || close == 1) {
      return Error(Code::kInvalidArgument, "URL {}: bad IPv6 host", url);
    }
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Error(Code::kInvalidArgument, "URL {}: bad host", url);
      port = after.substr(1);
      if (!ValidPort(port)) return Error(Code::kInvalidArgument, "URL {}: bad port", url);
    }
  } else if (size_t c = authority.find(':'); c != std::string_view::npos) {
    host = authority.substr(0, c);
    port = authority.substr(c + 1);
    if (!ValidPort(port)) return Error(Code::kInvalidArgument, "URL {}: bad port", url);
  }
  if (host.empty()) return Error(Code::kInvalidArgument, "URL {}: no host", url);
  out.authority = authority;
  out.path = path.empty() ? "/" : (path[0] == '?' ? "/" + std::string(path) : std::string(path));
  return out;
}

Result<std::string> ResolveUrl(std::string_view base, std::string_view ref) {
  if (ref.empty() || ref.size() > kMaxUrlBytes || !PrintableNoSpace(ref)) {
    return Error(Code::kInvalidArgument, "reference {}: must be 1..{} printable ASCII bytes without spaces", ref,
                 kMaxUrlBytes);
  }
  if (HasHttpScheme(ref)) return std::string(ref);
  size_t colon = ref.find(':'), slash = ref.find('/');
  if (ref.starts_with("//") || (colon != std::string_view::npos && colon < slash)) {
    return Error(Code::kInvalidArgument, "reference {}: only http://, https:// or a relative URL", ref);
  }
  Result<ParsedUrl> b = ParseHttpUrl(base);
  if (!b) return Error(b.error());
  std::string origin = b->scheme + "://" + b->authority;
  if (ref.starts_with("/")) return origin + std::string(ref);
  std::string_view path = b->path;
  path = path.substr(0, path.find('?'));
  return origin + std::string(path.substr(0, path.rfind('/') + 1)) + std::string(ref);
}

}  // namespace vigil::update
