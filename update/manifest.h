// The signed manifest: what a publisher says the current content of a
// channel is, and where to get it. Format in docs/manifest.md.
//
//   vigil-manifest 1
//   channel stable
//   content-version 1767225600
//   bundle-url stable-1767225600.vbundle
//   bundle-size 48213
//   bundle-blake2b 5f0c...(64 hex)
//   created 1767225600
//   expires 1767830400
//   signature 3f0a9c1d2e4b5a67 9b1e...(128 hex)
//
// The signed bytes are exactly the text before the first "signature" line
// (the body), prefixed with kManifestSignatureDomain: there is nothing to
// canonicalize, and the verifier checks the very bytes it then parses.
//
//   Result<std::string> text = SignManifest(manifest, keys);
//   Result<Manifest> m = VerifyManifest(*text, url, trust_root, time(nullptr));
//   if (!m) refuse(m.error().message());   // "manifest expired at 2026-01-08T00:00:00Z ..."
//
// Thread-safety: stateless functions; Manifest is a plain value.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "update/keys.h"
#include "update/trust_root.h"
#include "update/url.h"

namespace vigil::update {

inline constexpr std::string_view kManifestSignatureDomain = "vigil manifest signature v1\n";
inline constexpr size_t kMaxManifestBytes = 64 << 10;
inline constexpr size_t kMaxManifestSignatures = 16;
inline constexpr size_t kMaxChannelBytes = 64;

struct Manifest {
  std::string channel;           // [A-Za-z0-9._-], 1..64 bytes
  uint64_t content_version = 0;  // >= 1
  std::string bundle_url;        // absolute http(s) URL, or relative to the manifest's URL
  uint64_t bundle_size = 0;      // bytes of the whole bundle file, 1..64 MiB
  Digest bundle_blake2b{};       // BLAKE2b-256 of the whole bundle file (signature area included)
  int64_t created_unix = 0;
  int64_t expires_unix = 0;  // > created_unix
  // Filled by ParseManifest(); ignored by SignManifest().
  std::vector<Signature> signatures;
  size_t body_bytes = 0;  // length of the signed prefix of the text

  bool operator==(const Manifest&) const = default;
};

// A channel name a manifest can carry: 1..64 bytes of [A-Za-z0-9._-].
bool IsValidChannel(std::string_view channel);

// Structure only: no signature or expiry check. Bounded to kMaxManifestBytes;
// every key exactly once, unknown keys refused, then 1..16 signature lines and
// nothing after them. Errors name "<name>:<line>: <reason>"
// (Code::kInvalidArgument; kLimitExceeded for size, kUnsupported for another
// format version).
Result<Manifest> ParseManifest(std::string_view text, std::string_view name);

// The body text of `m` (what is signed), and the body followed by one
// signature line per key. Refuses a manifest that ParseManifest would refuse
// (bad channel, URL, sizes, times) and more than 16 or no keys.
Result<std::string> FormatManifestBody(const Manifest& m);
Result<std::string> SignManifest(const Manifest& m, std::span<const SecretKey> keys);

// The steps of VerifyManifest, for callers that count refusals by reason.
// Signatures: VerifyThreshold() over the body (Code::kVerifyFailed, messages
// as there, with "manifest tampered or wrong key").
Status CheckManifestSignatures(std::string_view text, const Manifest& parsed, const TrustRoot& root);
// Expiry: "manifest expired at <ISO time> (unix N; now M)", Code::kVerifyFailed.
// This is the defence against a freeze attack (a mirror replaying an old,
// validly signed manifest to keep hosts on old content).
Status CheckManifestFresh(const Manifest& m, int64_t now_unix);

// ParseManifest + CheckManifestSignatures + CheckManifestFresh.
Result<Manifest> VerifyManifest(std::string_view text, std::string_view name, const TrustRoot& root, int64_t now_unix);

// The absolute URL of the bundle: ResolveUrl(manifest_url, bundle_url)
// (update/url.h), after the manifest's own bundle-url checks.
Result<std::string> ResolveBundleUrl(std::string_view manifest_url, std::string_view bundle_url);

}  // namespace vigil::update
