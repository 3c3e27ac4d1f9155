#include "cli/update_commands.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>

#include <fmt/format.h>

#include "base/file.h"
#include "content/bundle.h"
#include "content/bundle_file.h"
#include "update/bundle_signature.h"
#include "update/keys.h"
#include "update/manifest.h"
#include "update/trust_root.h"

namespace vigil::cli {
namespace {

using update::SecretKey;

int Fail(std::string_view command, const std::string& why) {
  std::fprintf(stderr, "vigil %.*s: %s\n", static_cast<int>(command.size()), command.data(), why.c_str());
  return 1;
}

std::optional<std::vector<SecretKey>> LoadSecretKeys(std::string_view command, const std::vector<std::string>& paths) {
  std::vector<SecretKey> keys;
  for (const auto& path : paths) {
    Result<SecretKey> k = update::ReadSecretKeyFile(path);
    if (!k) {
      Fail(command, k.error().ToString());
      return std::nullopt;
    }
    keys.push_back(std::move(*k));
  }
  return keys;
}

// The bundle's bytes, if the sensor would load its content (structure,
// checksum, verifier, expiry): nothing the hosts would refuse gets signed or
// published.
std::optional<std::string> ReadLoadableBundle(std::string_view command, const std::string& path) {
  Result<std::string> bytes = ReadFileBounded(path, content::kMaxBundleBytes);
  if (!bytes) {
    Fail(command, bytes.error().ToString());
    return std::nullopt;
  }
  content::Diagnostics diags;
  Result<content::Ruleset> rs = content::LoadBundleBytes(*bytes, path, Schema::Builtin(), diags);
  if (!rs) {
    Fail(command, fmt::format("{} refused: {}", path, rs.error().ToString()));
    std::fputs(diags.ToText().c_str(), stderr);
    return std::nullopt;
  }
  return std::move(*bytes);
}

std::string JoinIds(const std::vector<update::Signature>& sigs) {
  std::string out;
  for (const auto& s : sigs) out += (out.empty() ? "" : ", ") + update::KeyIdToHex(s.key_id);
  return out;
}

}  // namespace

std::optional<int64_t> ParseDuration(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  int64_t unit = 0;
  switch (text.back()) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    default:
      return std::nullopt;
  }
  text.remove_suffix(1);
  if (text.size() > 9 || text[0] == '0') return std::nullopt;
  int64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  int64_t seconds = n * unit;
  if (seconds > int64_t{3650} * 86400) return std::nullopt;
  return seconds;
}

int RunKeygen(const std::string& out_prefix) {
  std::string key_path = out_prefix + ".key", pub_path = out_prefix + ".pub";
  for (const auto& p : {key_path, pub_path}) {
    if (::access(p.c_str(), F_OK) == 0) return Fail("keygen", p + " exists; refusing to overwrite it");
  }
  SecretKey key = SecretKey::Generate();
  if (Status s = update::WriteSecretKeyFile(key_path, key); !s.ok()) return Fail("keygen", s.ToString());
  if (Status s = update::WritePublicKeyFile(pub_path, key.public_key()); !s.ok()) {
    ::unlink(key_path.c_str());  // a secret key without its public half is of no use
    return Fail("keygen", s.ToString());
  }
  std::printf("key id %s\n", key.public_key().IdHex().c_str());
  std::fprintf(stderr, "wrote %s (secret, mode 0600; keep it offline) and %s\n", key_path.c_str(), pub_path.c_str());
  return 0;
}

int RunTrust(const TrustArgs& args) {
  std::vector<update::PublicKey> keys;
  for (const auto& path : args.public_keys) {
    Result<update::PublicKey> k = update::ReadPublicKeyFile(path);
    if (!k) return Fail("trust", k.error().ToString());
    keys.push_back(*k);
  }
  Result<update::TrustRoot> root = update::MakeTrustRoot(args.threshold, std::move(keys));
  if (!root) return Fail("trust", root.error().message());
  std::string text = update::FormatTrustRoot(*root);
  if (args.out.empty()) {
    std::fputs(text.c_str(), stdout);
    return 0;
  }
  if (Status s = WriteFileAtomic(args.out, text); !s.ok()) return Fail("trust", s.ToString());
  std::fprintf(stderr, "wrote %s: %u of %zu keys required\n", args.out.c_str(), root->threshold, root->keys.size());
  return 0;
}

int RunSign(const SignArgs& args) {
  std::optional<std::vector<SecretKey>> keys = LoadSecretKeys("sign", args.keys);
  if (!keys) return 1;
  std::optional<std::string> bundle = ReadLoadableBundle("sign", args.bundle);
  if (!bundle) return 1;
  Result<std::string> signed_bundle = update::SignBundle(*bundle, *keys);
  if (!signed_bundle) return Fail("sign", fmt::format("{}: {}", args.bundle, signed_bundle.error().ToString()));
  const std::string& out = args.out.empty() ? args.bundle : args.out;
  if (Status s = WriteFileAtomic(out, *signed_bundle); !s.ok()) return Fail("sign", s.ToString());
  auto sigs = update::ListBundleSignatures(*signed_bundle);
  std::fprintf(stderr, "wrote %s: signatures by %s\n", out.c_str(), sigs ? JoinIds(*sigs).c_str() : "?");
  return 0;
}

int RunManifest(const ManifestArgs& args) {
  std::optional<int64_t> ttl = ParseDuration(args.expires_in);
  if (!ttl || *ttl == 0) {
    std::fprintf(stderr, "vigil manifest: --expires-in %s: expected a duration such as 7d, 12h, 90m (at most 3650d)\n",
                 args.expires_in.c_str());
    return 2;
  }
  std::optional<std::vector<SecretKey>> keys = LoadSecretKeys("manifest", args.keys);
  if (!keys) return 1;
  std::optional<std::string> bundle = ReadLoadableBundle("manifest", args.bundle);
  if (!bundle) return 1;
  // Hosts refuse unsigned bundles; publishing one would only make every host
  // log a refusal.
  auto sigs = update::ListBundleSignatures(*bundle);
  if (!sigs) return Fail("manifest", fmt::format("{}: {}", args.bundle, sigs.error().ToString()));
  if (sigs->empty()) {
    return Fail("manifest", args.bundle + " is unsigned; hosts would refuse it (run vigil sign first)");
  }
  if (!args.trust_root.empty()) {
    Result<update::TrustRoot> root = update::LoadTrustRoot(args.trust_root);
    if (!root) return Fail("manifest", root.error().ToString());
    if (Status s = update::VerifyBundleSignatures(*bundle, *root); !s.ok()) {
      return Fail("manifest",
                  fmt::format("{}: signatures refused by {}: {}", args.bundle, args.trust_root, s.message()));
    }
  }
  Result<update::BundleIdentity> id = update::ReadBundleIdentity(*bundle);
  if (!id) return Fail("manifest", id.error().ToString());

  update::Manifest m;
  m.channel = id->channel;
  m.content_version = id->content_version;
  m.bundle_url = args.url;
  m.bundle_size = bundle->size();
  m.bundle_blake2b = update::Blake2b256(*bundle);
  m.created_unix = static_cast<int64_t>(std::time(nullptr));
  m.expires_unix = m.created_unix + *ttl;
  Result<std::string> text = update::SignManifest(m, *keys);
  if (!text) return Fail("manifest", text.error().message());
  if (Status s = WriteFileAtomic(args.out, *text); !s.ok()) return Fail("manifest", s.ToString());
  std::fprintf(stderr, "wrote %s: channel %s, content version %llu, %llu bytes, expires in %s\n", args.out.c_str(),
               m.channel.c_str(), static_cast<unsigned long long>(m.content_version),
               static_cast<unsigned long long>(m.bundle_size), args.expires_in.c_str());
  if (id->expires_unix != 0 && id->expires_unix < m.expires_unix) {
    std::fprintf(stderr, "warning: the bundle expires before the manifest does; hosts refuse it after unix time %lld\n",
                 static_cast<long long>(id->expires_unix));
  }
  return 0;
}

int RunContentVerifySigned(const std::string& bundle_path, const std::string& trust_root_path) {
  Result<update::TrustRoot> root = update::LoadTrustRoot(trust_root_path);
  if (!root) return Fail("content verify", root.error().ToString());
  // One read: the bytes whose signatures are checked are the bytes loaded.
  Result<std::string> bytes = ReadFileBounded(bundle_path, content::kMaxBundleBytes);
  if (!bytes) return Fail("content verify", bytes.error().ToString());
  if (Status s = update::VerifyBundleSignatures(*bytes, *root); !s.ok()) {
    std::fprintf(stderr, "refused: %s: signatures: %s\n", bundle_path.c_str(), s.ToString().c_str());
    return 1;
  }
  content::Diagnostics diags;
  Result<content::Ruleset> rs = content::LoadBundleBytes(*bytes, bundle_path, Schema::Builtin(), diags);
  if (!rs) {
    std::fprintf(stderr, "refused: %s\n", rs.error().ToString().c_str());
    std::fputs(diags.ToText().c_str(), stderr);
    return 1;
  }
  auto sigs = update::ListBundleSignatures(*bytes);
  std::printf("ok: %s: %zu rules, content version %llu, channel %s, signed by %s (%u of %zu trusted keys required)\n",
              bundle_path.c_str(), rs->rules.size(), static_cast<unsigned long long>(rs->info.content_version),
              rs->info.channel.c_str(), sigs ? JoinIds(*sigs).c_str() : "?", root->threshold, root->keys.size());
  return 0;
}

}  // namespace vigil::cli
