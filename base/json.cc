#include "base/json.h"

#include <cstdint>

namespace vigil {
namespace {

// Length of the well-formed UTF-8 sequence at the start of s (RFC 3629:
// shortest form, no surrogates, at most U+10FFFF); 0 if ill-formed. `*bad`
// is then the length of the maximal ill-formed prefix to replace with one
// U+FFFD (Unicode's "maximal subpart" practice, as WHATWG decoders do).
size_t Utf8Sequence(std::string_view s, size_t* bad) {
  auto b = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  uint8_t lead = b(0);
  size_t len = 0;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    len = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    len = 3;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    len = 4;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    *bad = 1;
    return 0;
  }
  for (size_t i = 1; i < len; ++i) {
    uint8_t c = i < s.size() ? b(i) : 0;
    bool ok = i < s.size() && (i == 1 ? (c >= lo && c <= hi) : (c >= 0x80 && c <= 0xBF));
    if (!ok) {
      *bad = i;
      return 0;
    }
  }
  return len;
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t i = 0;
  while (i < text.size()) {
    uint8_t c = static_cast<uint8_t>(text[i]);
    if (c >= 0x80) {
      size_t bad = 0;
      size_t len = Utf8Sequence(text.substr(i), &bad);
      if (len == 0) {
        out.append("\xEF\xBF\xBD");  // U+FFFD
        i += bad;
      } else {
        out.append(text.substr(i, len));
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      default:
        if (c < 0x20) {
          const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
          out.append(esc, sizeof(esc));
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
}

}  // namespace vigil
