// The `vigil` subcommands for signing and publishing content
// (docs/signing.md, docs/manifest.md):
//   vigil keygen --out PREFIX                         PREFIX.key (0600) + PREFIX.pub
//   vigil trust --threshold K PUB... [--out FILE]     a trust root
//   vigil sign --key KEY... BUNDLE [--out FILE]       sign a bundle (in place by default)
//   vigil manifest --bundle B --url URL --expires-in 7d --key KEY... --out FILE
//   vigil content verify --trust-root FILE BUNDLE     also checks the signatures
// Each returns the process exit code: 0 success, 1 the operation failed
// (reason on stderr), 2 bad usage.
//
// Thread-safety: run from main() only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::cli {

int RunKeygen(const std::string& out_prefix);

struct TrustArgs {
  uint32_t threshold = 1;
  std::vector<std::string> public_keys;  // .pub files
  std::string out;                       // "" = stdout
};
int RunTrust(const TrustArgs& args);

struct SignArgs {
  std::vector<std::string> keys;  // .key files
  std::string bundle;
  std::string out;  // "" = replace `bundle` atomically
};
int RunSign(const SignArgs& args);

struct ManifestArgs {
  std::string bundle;
  std::string url;         // where hosts fetch the bundle: absolute, or relative to the manifest's URL
  std::string expires_in;  // a duration: "7d", "12h", "90m", "3600s"
  std::vector<std::string> keys;
  std::string trust_root;  // optional: also check the bundle's signatures against it
  std::string out;
};
int RunManifest(const ManifestArgs& args);

// `vigil content verify` with --trust-root: the signatures, then what
// RunContentVerify checks.
int RunContentVerifySigned(const std::string& bundle_path, const std::string& trust_root_path);

// "7d" -> 604800. Units s, m, h, d; a positive whole number; at most 3650 days.
std::optional<int64_t> ParseDuration(std::string_view text);

}  // namespace vigil::cli
