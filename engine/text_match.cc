#include "engine/text_match.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace vigil::engine {
namespace {

bool EqualFoldN(const char* text, const char* folded, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (FoldByte(static_cast<unsigned char>(text[i])) != static_cast<unsigned char>(folded[i])) {
      return false;
    }
  }
  return true;
}

// Parses an address of either family into 16 bytes; false when it is not one.
// inet_pton needs a terminated string: addresses are short, so a stack copy.
bool ParseAddress(std::string_view text, std::array<uint8_t, 16>& out, bool& v6) {
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof(buf)) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  out.fill(0);
  v6 = std::memchr(buf, ':', text.size()) != nullptr;
  return inet_pton(v6 ? AF_INET6 : AF_INET, buf, out.data()) == 1;
}

}  // namespace

std::string FoldAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(FoldByte(static_cast<unsigned char>(c)));
  return out;
}

bool EqualsFold(std::string_view text, std::string_view needle) {
  return text.size() == needle.size() && EqualFoldN(text.data(), needle.data(), needle.size());
}

bool StartsWithFold(std::string_view text, std::string_view needle) {
  return text.size() >= needle.size() && EqualFoldN(text.data(), needle.data(), needle.size());
}

bool EndsWithFold(std::string_view text, std::string_view needle) {
  return text.size() >= needle.size() &&
         EqualFoldN(text.data() + text.size() - needle.size(), needle.data(), needle.size());
}

bool ContainsFold(std::string_view text, std::string_view needle) {
  if (needle.empty()) return true;
  if (text.size() < needle.size()) return false;
  // Most needles hold a byte that folding leaves alone ('-', ' ', '/', '.'):
  // find it with memchr (vectorized in libc) and verify around it.
  for (size_t j = 0; j < needle.size(); ++j) {
    const unsigned char c = static_cast<unsigned char>(needle[j]);
    if (c >= 'a' && c <= 'z') continue;
    const char* p = text.data() + j;
    const char* const last = text.data() + (text.size() - needle.size()) + j;  // inclusive
    while (p <= last) {
      p = static_cast<const char*>(std::memchr(p, c, static_cast<size_t>(last - p) + 1));
      if (p == nullptr) return false;
      if (EqualFoldN(p - j, needle.data(), needle.size())) return true;
      ++p;
    }
    return false;
  }
  // All letters: look for the first byte in both cases, then verify.
  const unsigned char lower = static_cast<unsigned char>(needle[0]);
  const unsigned char upper = (lower >= 'a' && lower <= 'z') ? lower - 32 : lower;
  const size_t last = text.size() - needle.size();
  for (size_t i = 0; i <= last; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c == lower || c == upper) &&
        EqualFoldN(text.data() + i + 1, needle.data() + 1, needle.size() - 1)) {
      return true;
    }
  }
  return false;
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (FoldByte(static_cast<unsigned char>(a[i])) != FoldByte(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

Glob Glob::Compile(std::string_view pattern, bool cased) {
  Glob g;
  g.cased_ = cased;
  std::string run;
  auto end_run = [&] {
    if (run.size() > g.longest_literal_.size()) g.longest_literal_ = run;
    run.clear();
  };
  for (size_t i = 0; i < pattern.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(pattern[i]);
    if (c == '*') {
      // Consecutive stars mean the same as one; keeping one keeps matching linear-ish.
      if (g.tokens_.empty() || g.tokens_.back() != kStar) g.tokens_.push_back(kStar);
      end_run();
      continue;
    }
    if (c == '?') {
      g.tokens_.push_back(kAnyByte);
      end_run();
      continue;
    }
    if (c == '\\' && i + 1 < pattern.size()) c = static_cast<unsigned char>(pattern[++i]);
    if (!cased) c = FoldByte(c);
    g.tokens_.push_back(c);
    run.push_back(static_cast<char>(c));
  }
  end_run();
  return g;
}

bool Glob::Matches(std::string_view text) const {
  // Greedy matching that remembers only the last star: when a later literal
  // fails, the last star absorbs one more byte. That is complete for globs
  // (a star can always take over what an earlier star took), and O(n*m).
  const size_t n = text.size(), m = tokens_.size();
  size_t t = 0, p = 0, star = SIZE_MAX, mark = 0;
  while (t < n) {
    if (p < m && tokens_[p] != kStar) {
      const unsigned char c = static_cast<unsigned char>(text[t]);
      const int16_t tok = tokens_[p];
      if (tok == kAnyByte || tok == (cased_ ? c : FoldByte(c))) {
        ++p;
        ++t;
        continue;
      }
    } else if (p < m) {  // a star: first try it empty
      star = p++;
      mark = t;
      continue;
    }
    if (star == SIZE_MAX) return false;
    p = star + 1;
    t = ++mark;
  }
  while (p < m && tokens_[p] == kStar) ++p;
  return p == m;
}

std::optional<Cidr> Cidr::Parse(std::string_view text) {
  Cidr c;
  std::string_view addr = text;
  size_t slash = text.find('/');
  int max_bits = 0;
  int bits = -1;
  if (slash != std::string_view::npos) {
    addr = text.substr(0, slash);
    std::string_view len = text.substr(slash + 1);
    if (len.empty() || len.size() > 3 || len[0] < '0' || len[0] > '9') return std::nullopt;
    auto [ptr, ec] = std::from_chars(len.data(), len.data() + len.size(), bits);
    if (ec != std::errc() || ptr != len.data() + len.size()) return std::nullopt;
  }
  if (!ParseAddress(addr, c.bytes_, c.v6_)) return std::nullopt;
  max_bits = c.v6_ ? 128 : 32;
  if (bits == -1) bits = max_bits;
  if (bits < 0 || bits > max_bits) return std::nullopt;
  c.prefix_bits_ = bits;
  return c;
}

bool Cidr::Contains(std::string_view address_text) const {
  std::array<uint8_t, 16> a;
  bool v6 = false;
  if (!ParseAddress(address_text, a, v6) || v6 != v6_) return false;
  const int full = prefix_bits_ / 8, rest = prefix_bits_ % 8;
  if (std::memcmp(a.data(), bytes_.data(), full) != 0) return false;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[full] & mask) == (bytes_[full] & mask);
}

}  // namespace vigil::engine
