// Signatures in a bundle's signature area (docs/signing.md,
// docs/bundle-format.md "Signature area").
//
//   std::vector<SecretKey> keys;  keys.push_back(*ReadSecretKeyFile("release-1.key"));
//   Result<std::string> signed_bundle = SignBundle(bundle, keys);
//   Status s = VerifyBundleSignatures(*signed_bundle, trust_root);
//   if (!s.ok()) refuse(s.message());   // "below threshold: 1 valid signature of 2 required"
//
// The signed message is kBundleSignatureDomain followed by the 32-byte
// BLAKE2b-256 checksum of the body, recomputed from the bytes (the stored
// checksum field is compared with it, never trusted). The checksum covers
// every body byte except itself, so a signature covers the whole content;
// signing rewrites only the signature area, never a checksummed byte.
//
// These functions read the bundle's framing (header, body size, signature
// area) and nothing of its content: they do not decode rules and do not run
// the verifier. A host must still load the bundle with
// content::LoadBundleBytes(); see update/agent.h for the full order.
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "update/keys.h"
#include "update/trust_root.h"

namespace vigil::update {

inline constexpr std::string_view kBundleSignatureDomain = "vigil bundle signature v1\n";
inline constexpr size_t kMaxBundleSignatures = 16;
inline constexpr uint32_t kSignaturePayloadVersion = 1;
// Payload: u32 version, u32 count, count x (8-byte key id, 64-byte signature).
inline constexpr size_t kSignaturePayloadHeaderBytes = 8;
inline constexpr size_t kSignatureEntryBytes = kKeyIdBytes + kSignatureBytes;

// The payload codec. An empty payload means "no signatures" (what the bundle
// writer emits); otherwise the version must be 1, the count 1..16 and the
// length exactly header + count entries (Code::kCorrupt otherwise).
Result<std::vector<Signature>> ParseSignaturePayload(std::string_view payload);
std::string EncodeSignaturePayload(std::span<const Signature> signatures);

// The bytes a bundle signature signs, for the checksum of a body.
std::string BundleSignedMessage(const Digest& body_checksum);

// The signatures in `bundle`, after checking its framing (Code::kCorrupt:
// "not a bundle: ..."). Does not check them; for `vigil content inspect`.
Result<std::vector<Signature>> ListBundleSignatures(std::string_view bundle);

// Returns `bundle` with a signature by each key added; an existing signature
// by the same key is replaced (so re-signing is idempotent), others are kept.
// Refuses a bundle with bad framing or whose stored checksum differs from the
// recomputed one (Code::kCorrupt: signing damaged bytes would bless them),
// no keys, and more than kMaxBundleSignatures signatures in all
// (kLimitExceeded). The result differs from `bundle` only after body_size.
Result<std::string> SignBundle(std::string_view bundle, std::span<const SecretKey> keys);

// Checks framing, then that the stored checksum equals the recomputed one
// ("checksum mismatch: ..." Code::kCorrupt), then the payload, then the
// k-of-n rule of VerifyThreshold() ("unsigned", "signed only by unknown
// key(s) ...", "below threshold: ...", "bad signature from key <id> (bundle
// tampered or wrong key)", Code::kVerifyFailed).
Status VerifyBundleSignatures(std::string_view bundle, const TrustRoot& root);

// What the update path compares with a manifest before it decodes a bundle:
// header fields read after the framing checks above, without the checksum.
struct BundleIdentity {
  uint64_t content_version = 0;
  std::string channel;  // at most 1024 bytes (the format's text limit)
  int64_t created_unix = 0;
  int64_t expires_unix = 0;
};
Result<BundleIdentity> ReadBundleIdentity(std::string_view bundle);

}  // namespace vigil::update
