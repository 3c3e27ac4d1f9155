// Text tests the engine runs directly on one field value: ASCII case folding,
// literal comparisons, globs and CIDR networks. The engine uses them for atoms
// that the literal index does not settle; they define the semantics that
// content/ir.h describes, byte for byte.
//
//   Glob g = Glob::Compile("*/bin/?ash", /*cased=*/false);
//   g.Matches("/USR/BIN/bash");                        // true
//   std::optional<Cidr> net = Cidr::Parse("10.0.0.0/8");
//   net->Contains("10.1.2.3");                         // true
//
// Thread-safety: compiled objects are immutable; share freely. Nothing here
// allocates after construction.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::engine {

// 'A'..'Z' -> 'a'..'z'; every other byte (including bytes >= 0x80) unchanged.
inline unsigned char FoldByte(unsigned char c) {
  return static_cast<unsigned char>(c - 'A') < 26 ? static_cast<unsigned char>(c + 32) : c;
}
std::string FoldAscii(std::string_view s);

// `needle` must already be folded (FoldAscii) for the *Fold functions.
bool EqualsFold(std::string_view text, std::string_view needle);
bool StartsWithFold(std::string_view text, std::string_view needle);
bool EndsWithFold(std::string_view text, std::string_view needle);
bool ContainsFold(std::string_view text, std::string_view needle);
// Both sides arbitrary (neither folded): kFieldRef compares two field values.
bool EqualsIgnoringCase(std::string_view a, std::string_view b);

// A glob from content/ir.h: '*' any run of bytes (also empty), '?' exactly one
// byte, '\' makes the next byte literal. A '\' at the very end of the
// pattern has nothing to escape and stands for itself.
class Glob {
 public:
  static Glob Compile(std::string_view pattern, bool cased);
  bool Matches(std::string_view text) const;

  // The longest run of literal bytes the text must contain for a match
  // (folded unless cased), e.g. "/bin/" for "*/bin/?ash". Used by the
  // prefilter; empty when the glob has no literal byte.
  const std::string& longest_literal() const { return longest_literal_; }

 private:
  static constexpr int16_t kAnyByte = 256;
  static constexpr int16_t kStar = 257;
  std::vector<int16_t> tokens_;  // a (folded) byte, kAnyByte or kStar
  std::string longest_literal_;
  bool cased_ = false;
};

// An IPv4 or IPv6 network. A text address matches only a network of its own
// family: "::ffff:10.0.0.1" is an IPv6 address and is not in 10.0.0.0/8.
class Cidr {
 public:
  // "10.0.0.0/8", "fe80::/10", or a bare address (a /32 or /128). Host bits
  // below the prefix are ignored. nullopt when `text` is not one of these.
  static std::optional<Cidr> Parse(std::string_view text);
  // False for text that is not an address (inet_pton rejects it).
  bool Contains(std::string_view address_text) const;

 private:
  std::array<uint8_t, 16> bytes_{};
  int prefix_bits_ = 0;
  bool v6_ = false;
};

}  // namespace vigil::engine
