#include "update/manifest.h"

#include <algorithm>
#include <array>
#include <optional>

#include "content/bundle.h"
#include "update/text_format.h"
#include "update/url.h"

namespace vigil::update {
namespace {

constexpr std::string_view kHeader = "vigil-manifest 1";

enum Key { kChannel, kVersion, kUrl, kSize, kHash, kCreated, kExpires, kKeyCount };
constexpr std::array<std::string_view, kKeyCount> kKeys = {
    "channel", "content-version", "bundle-url", "bundle-size", "bundle-blake2b", "created", "expires"};

// Each returns the reason a value is refused, or nullopt.
std::optional<std::string> BadChannel(std::string_view c) {
  if (c.empty() || c.size() > kMaxChannelBytes) return fmt::format("channel must be 1..{} bytes", kMaxChannelBytes);
  for (char ch : c) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
              ch == '_' || ch == '-';
    if (!ok) return std::string("channel may hold only letters, digits, '.', '_' and '-'");
  }
  return std::nullopt;
}

std::optional<std::string> BadUrl(std::string_view u) {
  if (u.empty() || u.size() > kMaxUrlBytes) return fmt::format("bundle-url must be 1..{} bytes", kMaxUrlBytes);
  for (char ch : u) {
    if (ch <= 0x20 || ch >= 0x7f) return std::string("bundle-url may hold only printable ASCII without spaces");
  }
  return std::nullopt;
}

std::optional<std::string> BadSize(uint64_t size) {
  if (size == 0 || size > content::kMaxBundleBytes) {
    return fmt::format("bundle-size must be 1..{} (the bundle limit)", content::kMaxBundleBytes);
  }
  return std::nullopt;
}

std::optional<std::string> BadTimes(int64_t created, int64_t expires) {
  if (created <= 0) return std::string("created must be a positive unix time");
  if (expires <= created) return std::string("expires must be after created");
  return std::nullopt;
}

}  // namespace

bool IsValidChannel(std::string_view channel) { return !BadChannel(channel); }

Result<Manifest> ParseManifest(std::string_view text, std::string_view name) {
  auto lines = text::SplitLines(text, name, {kMaxManifestBytes, 1 + kKeyCount + kMaxManifestSignatures, false});
  if (!lines) return Error(lines.error());
  const text::Line& first = lines->front();
  if (first.text != kHeader) {
    auto [word, rest] = text::SplitWord(first.text);
    if (word == "vigil-manifest") {
      return text::LineError(Code::kUnsupported, name, first.number,
                             "unsupported manifest version \"{}\" (this vigil reads 1)", rest);
    }
    return text::LineError(Code::kInvalidArgument, name, first.number, "expected \"{}\" (not a vigil manifest?)",
                           kHeader);
  }
  Manifest m;
  std::array<size_t, kKeyCount> seen{};  // line number of each key, 0 = not yet
  for (size_t i = 1; i < lines->size(); ++i) {
    const text::Line& line = (*lines)[i];
    auto fail = [&](std::string_view why) {
      return text::LineError(Code::kInvalidArgument, name, line.number, "{}", why);
    };
    if (line.text.empty()) return fail("empty line");
    auto [word, value] = text::SplitWord(line.text);
    if (word == "signature") {
      if (m.signatures.empty()) m.body_bytes = static_cast<size_t>(line.text.data() - text.data());
      auto [id_hex, sig_hex] = text::SplitWord(value);
      std::optional<KeyId> id = ParseKeyIdHex(id_hex);
      Signature sig;
      if (!id || !text::ParseHex(sig_hex, sig.bytes)) {
        return fail("expected \"signature <16 hex digit key id> <128 hex digit signature>\"");
      }
      sig.key_id = *id;
      m.signatures.push_back(sig);
      continue;
    }
    if (!m.signatures.empty()) {
      return fail(fmt::format("\"{}\" after a signature line (the signed body must come first)", word));
    }
    size_t key = 0;
    while (key < kKeyCount && kKeys[key] != word) ++key;
    if (key == kKeyCount) return fail(fmt::format("unknown key \"{}\"", word));
    if (seen[key] != 0) return fail(fmt::format("\"{}\" given twice (first on line {})", word, seen[key]));
    seen[key] = line.number;
    if (value.empty()) return fail(fmt::format("\"{}\" has no value", word));
    std::optional<std::string> bad;
    switch (static_cast<Key>(key)) {
      case kChannel:
        bad = BadChannel(value);
        m.channel = value;
        break;
      case kVersion: {
        std::optional<uint64_t> v = text::ParseU64(value);
        if (!v || *v == 0) bad = "content-version must be a decimal number >= 1";
        m.content_version = v.value_or(0);
        break;
      }
      case kUrl:
        bad = BadUrl(value);
        m.bundle_url = value;
        break;
      case kSize: {
        std::optional<uint64_t> v = text::ParseU64(value);
        bad = v ? BadSize(*v) : std::optional<std::string>("bundle-size must be a decimal number");
        m.bundle_size = v.value_or(0);
        break;
      }
      case kHash:
        if (!text::ParseHex(value, m.bundle_blake2b)) bad = "bundle-blake2b must be 64 lowercase hex digits";
        break;
      case kCreated:
      case kExpires: {
        std::optional<int64_t> v = text::ParseI64(value);
        if (!v) bad = fmt::format("{} must be a decimal unix time", word);
        (key == kCreated ? m.created_unix : m.expires_unix) = v.value_or(0);
        break;
      }
      case kKeyCount:
        break;
    }
    if (bad) return fail(*bad);
  }
  for (size_t key = 0; key < kKeyCount; ++key) {
    if (seen[key] == 0) return Error(Code::kInvalidArgument, "{}: missing \"{}\" line", name, kKeys[key]);
  }
  if (auto bad = BadTimes(m.created_unix, m.expires_unix)) {
    return text::LineError(Code::kInvalidArgument, name, seen[kExpires], "{}", *bad);
  }
  if (m.signatures.empty()) m.body_bytes = text.size();
  return m;
}

Result<std::string> FormatManifestBody(const Manifest& m) {
  std::optional<std::string> bad = BadChannel(m.channel);
  if (!bad && m.content_version == 0) bad = "content-version must be >= 1";
  if (!bad) bad = BadUrl(m.bundle_url);
  if (!bad) bad = BadSize(m.bundle_size);
  if (!bad) bad = BadTimes(m.created_unix, m.expires_unix);
  if (bad) return Error(Code::kInvalidArgument, "manifest: {}", *bad);
  return fmt::format(
      "{}\nchannel {}\ncontent-version {}\nbundle-url {}\nbundle-size {}\nbundle-blake2b {}\n"
      "created {}\nexpires {}\n",
      kHeader, m.channel, m.content_version, m.bundle_url, m.bundle_size, DigestToHex(m.bundle_blake2b), m.created_unix,
      m.expires_unix);
}

Result<std::string> SignManifest(const Manifest& m, std::span<const SecretKey> keys) {
  if (keys.empty()) return Error(Code::kInvalidArgument, "no signing key given");
  if (keys.size() > kMaxManifestSignatures) {
    return Error(Code::kLimitExceeded, "{} keys; a manifest holds at most {} signatures", keys.size(),
                 kMaxManifestSignatures);
  }
  Result<std::string> body = FormatManifestBody(m);
  if (!body) return body;
  std::string message = std::string(kManifestSignatureDomain) + *body;
  std::string out = *body;
  std::vector<KeyId> used;
  for (const SecretKey& key : keys) {
    if (std::find(used.begin(), used.end(), key.public_key().id()) != used.end()) continue;
    used.push_back(key.public_key().id());
    Signature sig = key.Sign(message);
    out += fmt::format("signature {} {}\n", KeyIdToHex(sig.key_id), text::ToHex(sig.bytes));
  }
  return out;
}

Status CheckManifestSignatures(std::string_view text, const Manifest& parsed, const TrustRoot& root) {
  if (parsed.body_bytes > text.size()) return Status(Code::kInternal, "manifest body past the end of its text");
  std::string message = std::string(kManifestSignatureDomain);
  message.append(text.substr(0, parsed.body_bytes));
  return VerifyThreshold(root, message, parsed.signatures, "manifest");
}

Status CheckManifestFresh(const Manifest& m, int64_t now_unix) {
  if (now_unix >= m.expires_unix) {
    return Status(Code::kVerifyFailed, fmt::format("manifest expired at {} (unix {}; now {})",
                                                   text::UnixToIso(m.expires_unix), m.expires_unix, now_unix));
  }
  return Status::Ok();
}

Result<Manifest> VerifyManifest(std::string_view text, std::string_view name, const TrustRoot& root, int64_t now_unix) {
  Result<Manifest> m = ParseManifest(text, name);
  if (!m) return m;
  if (Status s = CheckManifestSignatures(text, *m, root); !s.ok()) {
    return Error(s.code(), "{}: {}", name, s.message());
  }
  if (Status s = CheckManifestFresh(*m, now_unix); !s.ok()) return Error(s.code(), "{}: {}", name, s.message());
  return m;
}

Result<std::string> ResolveBundleUrl(std::string_view manifest_url, std::string_view bundle_url) {
  if (auto bad = BadUrl(bundle_url)) return Error(Code::kInvalidArgument, "{}", *bad);
  Result<std::string> url = ResolveUrl(manifest_url, bundle_url);
  if (!url) return Error(Code::kInvalidArgument, "bundle-url {}: {}", bundle_url, url.error().message());
  return url;
}

}  // namespace vigil::update
