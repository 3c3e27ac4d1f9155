// The trust root: the public keys whose signatures a host accepts on content
// and manifests, and how many of them must agree (k of n). Format and
// semantics in docs/signing.md.
//
//   Result<TrustRoot> root = LoadTrustRoot("/etc/vigil/trust.root");
//   if (!root) { LogError("{}", root.error().ToString()); ... }
//   Status s = VerifyThreshold(*root, message, signatures, "manifest");
//
// Thread-safety: TrustRoot is a plain value; the functions are stateless.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "update/keys.h"

namespace vigil::update {

inline constexpr size_t kMaxTrustedKeys = 16;
inline constexpr size_t kMaxTrustRootBytes = 16 << 10;

struct TrustRoot {
  uint32_t threshold = 0;       // 1 <= threshold <= keys.size() <= kMaxTrustedKeys
  std::vector<PublicKey> keys;  // distinct keys with distinct ids

  // The key with this id, or nullptr.
  const PublicKey* Find(const KeyId& id) const;
};

// Checks the invariants above (used by the parser and by `vigil trust`).
Result<TrustRoot> MakeTrustRoot(uint32_t threshold, std::vector<PublicKey> keys);

// The text form. Every error names "<name>:<line>: <reason>" (or "<name>: "
// for a missing line) with Code::kInvalidArgument; oversize text is
// kLimitExceeded, an unknown format version kUnsupported.
std::string FormatTrustRoot(const TrustRoot& root);
Result<TrustRoot> ParseTrustRoot(std::string_view text, std::string_view name);
Result<TrustRoot> LoadTrustRoot(const std::string& path);

// The k-of-n rule shared by bundles and manifests: `signatures` over
// `message` are accepted when at least root.threshold DISTINCT trusted keys
// made a valid signature. Refusals (Code::kVerifyFailed), checked in this
// order:
//   "bad signature from key <id> (<what> tampered or wrong key)"
//       a trusted key's entry does not verify: someone changed the signed
//       bytes or the signature, which is never an innocent accident;
//   "unsigned"  no signature at all;
//   "signed only by unknown key(s) <id>, <id>"  none from a trusted key;
//   "below threshold: 1 valid signature of 2 required"  (also naming any
//       ignored unknown keys).
// Signatures from keys not in the root are ignored; several signatures by one
// key count once.
Status VerifyThreshold(const TrustRoot& root, std::string_view message, std::span<const Signature> signatures,
                       std::string_view what);

}  // namespace vigil::update
