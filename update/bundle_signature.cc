#include "update/bundle_signature.h"

#include <cstring>

#include "content/bundle.h"
#include "content/bundle_format.h"

namespace vigil::update {
namespace {

namespace bf = content::bundle_format;

// Where the signature area is, after the checks a bundle reader makes on the
// framing (docs/bundle-format.md, "Reading" steps 1-5).
struct Frame {
  uint32_t body_size = 0;
  std::string_view payload;
};

Result<Frame> ReadFrame(std::string_view b) {
  if (b.size() > content::kMaxBundleBytes) {
    return Error(Code::kLimitExceeded, "not a bundle: {} bytes exceeds the limit of {}", b.size(),
                 content::kMaxBundleBytes);
  }
  if (b.size() < bf::header::kSize) {
    return Error(Code::kCorrupt, "not a bundle: {} bytes, shorter than the {}-byte header", b.size(),
                 bf::header::kSize);
  }
  if (std::memcmp(b.data(), bf::kMagic, sizeof(bf::kMagic)) != 0) {
    return Error(Code::kCorrupt, "not a bundle: no \"VIGILBND\" magic");
  }
  uint32_t version = bf::LoadU32(b.data() + bf::header::kFormatVersion);
  if (version != bf::kFormatVersion) {
    return Error(Code::kUnsupported, "bundle format version {} (this vigil reads {})", version, bf::kFormatVersion);
  }
  if (bf::LoadU32(b.data() + bf::header::kHeaderSize) != bf::header::kSize) {
    return Error(Code::kCorrupt, "not a bundle: header size is not {}", bf::header::kSize);
  }
  uint64_t body = bf::LoadU32(b.data() + bf::header::kBodySize);
  uint64_t min_body = bf::header::kSize + uint64_t{bf::kSectionKinds} * bf::section_entry::kSize;
  if (body < min_body || body + bf::signature::kHeaderSize > b.size()) {
    return Error(Code::kCorrupt, "not a bundle: body size {} does not fit the file ({} bytes)", body, b.size());
  }
  const char* sig = b.data() + body;
  if (std::memcmp(sig, bf::signature::kMagic, sizeof(bf::signature::kMagic)) != 0) {
    return Error(Code::kCorrupt, "signature area at offset {} does not start with \"VSIG\"", body);
  }
  uint64_t length = bf::LoadU32(sig + bf::signature::kLength);
  if (length > bf::signature::kMaxPayloadBytes) {
    return Error(Code::kCorrupt, "signature payload of {} bytes exceeds the limit of {}", length,
                 bf::signature::kMaxPayloadBytes);
  }
  if (body + bf::signature::kHeaderSize + length != b.size()) {
    return Error(Code::kCorrupt,
                 "signature area of {} bytes at offset {} does not end at the end of the file ({} bytes)", length, body,
                 b.size());
  }
  return Frame{static_cast<uint32_t>(body), b.substr(body + bf::signature::kHeaderSize, length)};
}

// The stored checksum must equal the recomputed one: the signature covers the
// recomputed value, and a stored one that differs means the bytes changed.
Result<Digest> CheckedChecksum(std::string_view b, const Frame& frame) {
  Digest computed = bf::ComputeChecksum(b, frame.body_size);
  Digest stored;
  std::memcpy(stored.data(), b.data() + bf::header::kChecksum, stored.size());
  if (computed != stored) {
    return Error(Code::kCorrupt,
                 "checksum mismatch: the header says {}, the body hashes to {} (the body was changed or damaged)",
                 DigestToHex(stored).substr(0, 16), DigestToHex(computed).substr(0, 16));
  }
  return computed;
}

}  // namespace

Result<std::vector<Signature>> ParseSignaturePayload(std::string_view payload) {
  std::vector<Signature> out;
  if (payload.empty()) return out;
  if (payload.size() < kSignaturePayloadHeaderBytes) {
    return Error(Code::kCorrupt, "signature payload of {} bytes is shorter than its {}-byte header", payload.size(),
                 kSignaturePayloadHeaderBytes);
  }
  uint32_t version = bf::LoadU32(payload.data());
  if (version != kSignaturePayloadVersion) {
    return Error(Code::kUnsupported, "signature payload version {} (this vigil reads {})", version,
                 kSignaturePayloadVersion);
  }
  uint32_t count = bf::LoadU32(payload.data() + 4);
  if (count == 0 || count > kMaxBundleSignatures) {
    return Error(Code::kCorrupt, "signature payload holds {} signatures (must be 1..{})", count, kMaxBundleSignatures);
  }
  uint64_t want = kSignaturePayloadHeaderBytes + uint64_t{count} * kSignatureEntryBytes;
  if (payload.size() != want) {
    return Error(Code::kCorrupt, "signature payload is {} bytes; {} signatures take {}", payload.size(), count, want);
  }
  out.resize(count);
  const char* p = payload.data() + kSignaturePayloadHeaderBytes;
  for (Signature& s : out) {
    std::memcpy(s.key_id.data(), p, kKeyIdBytes);
    std::memcpy(s.bytes.data(), p + kKeyIdBytes, kSignatureBytes);
    p += kSignatureEntryBytes;
  }
  return out;
}

std::string EncodeSignaturePayload(std::span<const Signature> signatures) {
  if (signatures.empty()) return {};
  std::string out(kSignaturePayloadHeaderBytes + signatures.size() * kSignatureEntryBytes, '\0');
  bf::StoreU32(out.data(), kSignaturePayloadVersion);
  bf::StoreU32(out.data() + 4, static_cast<uint32_t>(signatures.size()));
  char* p = out.data() + kSignaturePayloadHeaderBytes;
  for (const Signature& s : signatures) {
    std::memcpy(p, s.key_id.data(), kKeyIdBytes);
    std::memcpy(p + kKeyIdBytes, s.bytes.data(), kSignatureBytes);
    p += kSignatureEntryBytes;
  }
  return out;
}

std::string BundleSignedMessage(const Digest& body_checksum) {
  std::string m(kBundleSignatureDomain);
  m.append(reinterpret_cast<const char*>(body_checksum.data()), body_checksum.size());
  return m;
}

Result<std::vector<Signature>> ListBundleSignatures(std::string_view bundle) {
  Result<Frame> frame = ReadFrame(bundle);
  if (!frame) return Error(frame.error());
  return ParseSignaturePayload(frame->payload);
}

Result<std::string> SignBundle(std::string_view bundle, std::span<const SecretKey> keys) {
  if (keys.empty()) return Error(Code::kInvalidArgument, "no signing key given");
  Result<Frame> frame = ReadFrame(bundle);
  if (!frame) return Error(frame.error());
  Result<Digest> checksum = CheckedChecksum(bundle, *frame);
  if (!checksum) return Error(checksum.error());
  Result<std::vector<Signature>> sigs = ParseSignaturePayload(frame->payload);
  if (!sigs) return Error(sigs.error());
  std::string message = BundleSignedMessage(*checksum);
  for (const SecretKey& key : keys) {
    Signature sig = key.Sign(message);
    bool replaced = false;
    for (Signature& existing : *sigs) {
      if (existing.key_id == sig.key_id) {
        existing = sig;
        replaced = true;
      }
    }
    if (!replaced) sigs->push_back(sig);
  }
  if (sigs->size() > kMaxBundleSignatures) {
    return Error(Code::kLimitExceeded, "{} signatures; a bundle holds at most {}", sigs->size(), kMaxBundleSignatures);
  }
  std::string payload = EncodeSignaturePayload(*sigs);
  std::string out(bundle.substr(0, frame->body_size));
  char area[bf::signature::kHeaderSize];
  std::memcpy(area, bf::signature::kMagic, sizeof(bf::signature::kMagic));
  bf::StoreU32(area + bf::signature::kLength, static_cast<uint32_t>(payload.size()));
  out.append(area, sizeof area);
  out += payload;
  return out;
}

Status VerifyBundleSignatures(std::string_view bundle, const TrustRoot& root) {
  Result<Frame> frame = ReadFrame(bundle);
  if (!frame) return frame.error();
  Result<Digest> checksum = CheckedChecksum(bundle, *frame);
  if (!checksum) return checksum.error();
  Result<std::vector<Signature>> sigs = ParseSignaturePayload(frame->payload);
  if (!sigs) return sigs.error();
  return VerifyThreshold(root, BundleSignedMessage(*checksum), *sigs, "bundle");
}

Result<BundleIdentity> ReadBundleIdentity(std::string_view bundle) {
  Result<Frame> frame = ReadFrame(bundle);
  if (!frame) return Error(frame.error());
  const char* h = bundle.data();
  BundleIdentity id;
  id.content_version = bf::LoadU64(h + bf::header::kContentVersion);
  id.created_unix = static_cast<int64_t>(bf::LoadU64(h + bf::header::kCreatedUnix));
  id.expires_unix = static_cast<int64_t>(bf::LoadU64(h + bf::header::kExpiresUnix));
  // The channel is the first string of the pool, which is section 1.
  const char* strings = h + bf::header::kSize;
  uint64_t pool_offset = bf::LoadU32(strings + bf::section_entry::kOffset);
  uint64_t pool_length = bf::LoadU32(strings + bf::section_entry::kLength);
  uint64_t ref_offset = bf::LoadU32(h + bf::header::kChannel);
  uint64_t ref_length = bf::LoadU32(h + bf::header::kChannel + 4);
  if (bf::LoadU32(strings + bf::section_entry::kId) != bf::kStrings || ref_length > content::kMaxTextBytes ||
      ref_offset + ref_length > pool_length || pool_offset + pool_length > frame->body_size) {
    return Error(Code::kCorrupt, "bundle header: the channel string is outside the string pool");
  }
  id.channel.assign(h + pool_offset + ref_offset, ref_length);
  return id;
}

}  // namespace vigil::update
