#include "update/trust_root.h"

#include <algorithm>

#include "base/file.h"
#include "update/text_format.h"

namespace vigil::update {
namespace {

constexpr std::string_view kHeader = "vigil-trust-root 1";

std::string JoinIds(const std::vector<KeyId>& ids) {
  std::string out;
  for (const KeyId& id : ids) {
    if (!out.empty()) out += ", ";
    out += KeyIdToHex(id);
  }
  return out;
}

}  // namespace

const PublicKey* TrustRoot::Find(const KeyId& id) const {
  for (const PublicKey& k : keys) {
    if (k.id() == id) return &k;
  }
  return nullptr;
}

Result<TrustRoot> MakeTrustRoot(uint32_t threshold, std::vector<PublicKey> keys) {
  if (keys.empty()) return Error(Code::kInvalidArgument, "a trust root needs at least one key");
  if (keys.size() > kMaxTrustedKeys) {
    return Error(Code::kLimitExceeded, "{} keys; a trust root holds at most {}", keys.size(), kMaxTrustedKeys);
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (keys[i].id() == keys[j].id()) {
        return Error(Code::kInvalidArgument, "key {} is listed twice", keys[i].IdHex());
      }
    }
  }
  if (threshold < 1 || threshold > keys.size()) {
    return Error(Code::kInvalidArgument, "threshold {} is outside 1..{} (the number of keys)", threshold, keys.size());
  }
  return TrustRoot{threshold, std::move(keys)};
}

std::string FormatTrustRoot(const TrustRoot& root) {
  std::string out = fmt::format(
      "# vigil trust root: content and manifests need valid signatures from {} of these {} keys.\n"
      "{}\nthreshold {}\n",
      root.threshold, root.keys.size(), kHeader, root.threshold);
  for (const PublicKey& k : root.keys) out += fmt::format("key {} {}\n", k.IdHex(), text::ToHex(k.bytes()));
  return out;
}

Result<TrustRoot> ParseTrustRoot(std::string_view file_text, std::string_view name) {
  auto lines = text::SplitLines(file_text, name, {kMaxTrustRootBytes, 2 + kMaxTrustedKeys + 1, /*comments=*/true});
  if (!lines) return Error(lines.error());
  if (lines->empty()) return Error(Code::kInvalidArgument, "{}: no \"{}\" line (not a trust root)", name, kHeader);
  const text::Line& first = lines->front();
  if (first.text != kHeader) {
    auto [word, rest] = text::SplitWord(first.text);
    if (word == "vigil-trust-root") {
      return text::LineError(Code::kUnsupported, name, first.number, "unsupported version \"{}\" (this vigil reads 1)",
                             rest);
    }
    return text::LineError(Code::kInvalidArgument, name, first.number, "expected \"{}\" (not a trust root?)", kHeader);
  }
  std::optional<uint32_t> threshold;
  size_t threshold_line = 0;
  std::vector<PublicKey> keys;
  std::vector<size_t> key_lines;
  for (size_t i = 1; i < lines->size(); ++i) {
    const text::Line& line = (*lines)[i];
    auto [word, rest] = text::SplitWord(line.text);
    if (word == "threshold") {
      if (threshold) {
        return text::LineError(Code::kInvalidArgument, name, line.number, "threshold given twice (first on line {})",
                               threshold_line);
      }
      std::optional<uint64_t> k = text::ParseU64(rest);
      if (!k || *k < 1 || *k > kMaxTrustedKeys) {
        return text::LineError(Code::kInvalidArgument, name, line.number, "threshold must be a number in 1..{}",
                               kMaxTrustedKeys);
      }
      threshold = static_cast<uint32_t>(*k);
      threshold_line = line.number;
    } else if (word == "key") {
      if (keys.size() == kMaxTrustedKeys) {
        return text::LineError(Code::kLimitExceeded, name, line.number, "more than {} keys", kMaxTrustedKeys);
      }
      auto [id_hex, pk_hex] = text::SplitWord(rest);
      std::optional<KeyId> id = ParseKeyIdHex(id_hex);
      std::array<uint8_t, kPublicKeyBytes> pk{};
      if (!id || !text::ParseHex(pk_hex, pk)) {
        return text::LineError(Code::kInvalidArgument, name, line.number,
                               "expected \"key <16 hex digit key id> <64 hex digit public key>\"");
      }
      PublicKey key = PublicKey::FromBytes(pk);
      if (key.id() != *id) {
        return text::LineError(Code::kInvalidArgument, name, line.number,
                               "key id {} does not match its public key (whose id is {})", id_hex, key.IdHex());
      }
      for (size_t j = 0; j < keys.size(); ++j) {
        if (keys[j].id() == key.id()) {
          return text::LineError(Code::kInvalidArgument, name, line.number, "key {} is listed twice (first on line {})",
                                 key.IdHex(), key_lines[j]);
        }
      }
      keys.push_back(key);
      key_lines.push_back(line.number);
    } else {
      return text::LineError(Code::kInvalidArgument, name, line.number,
                             "unknown keyword \"{}\" (expected \"threshold\" or \"key\")", word);
    }
  }
  if (!threshold) return Error(Code::kInvalidArgument, "{}: missing \"threshold\" line", name);
  if (keys.empty()) return Error(Code::kInvalidArgument, "{}: no \"key\" lines", name);
  if (*threshold > keys.size()) {
    return text::LineError(Code::kInvalidArgument, name, threshold_line,
                           "threshold {} is more than the {} key(s) listed: nothing could ever be accepted", *threshold,
                           keys.size());
  }
  return TrustRoot{*threshold, std::move(keys)};
}

Result<TrustRoot> LoadTrustRoot(const std::string& path) {
  Result<std::string> data = ReadFileBounded(path, kMaxTrustRootBytes);
  if (!data) return Error(data.error());
  return ParseTrustRoot(*data, path);
}

Status VerifyThreshold(const TrustRoot& root, std::string_view message, std::span<const Signature> signatures,
                       std::string_view what) {
  std::vector<KeyId> valid, unknown;
  for (const Signature& sig : signatures) {
    const PublicKey* key = root.Find(sig.key_id);
    if (key == nullptr) {
      if (std::find(unknown.begin(), unknown.end(), sig.key_id) == unknown.end()) unknown.push_back(sig.key_id);
      continue;
    }
    if (!key->Verify(message, sig)) {
      return Status(Code::kVerifyFailed,
                    fmt::format("bad signature from key {} ({} tampered or wrong key)", key->IdHex(), what));
    }
    if (std::find(valid.begin(), valid.end(), sig.key_id) == valid.end()) valid.push_back(sig.key_id);
  }
  if (signatures.empty()) {
    return Status(Code::kVerifyFailed, fmt::format("unsigned: the {} carries no signature", what));
  }
  if (valid.empty()) {
    return Status(Code::kVerifyFailed,
                  fmt::format("signed only by unknown key(s) {} (not in the trust root)", JoinIds(unknown)));
  }
  if (valid.size() < root.threshold) {
    return Status(Code::kVerifyFailed,
                  fmt::format("below threshold: {} valid signature{} of {} required{}", valid.size(),
                              valid.size() == 1 ? "" : "s", root.threshold,
                              unknown.empty() ? "" : fmt::format(" (ignored unknown key(s) {})", JoinIds(unknown))));
  }
  return Status::Ok();
}

}  // namespace vigil::update
