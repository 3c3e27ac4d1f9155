// Ed25519 signing keys, their ids, and their text files (docs/signing.md).
//
//   SecretKey sk = SecretKey::Generate();
//   Status w = WriteSecretKeyFile("release-1.key", sk);         // mode 0600, never overwrites
//   Status p = WritePublicKeyFile("release-1.pub", sk.public_key());
//   Result<SecretKey> k = ReadSecretKeyFile("release-1.key");  // refuses a group/world-accessible file
//   Signature sig = k->Sign("message");
//   bool ok = k->public_key().Verify("message", sig);
//   std::string id = k->public_key().IdHex();                   // "3f0a9c1d2e4b5a67"
//
// A key id is the first 8 bytes of BLAKE2b-256(public key), written as 16
// lowercase hex digits. It names a key in trust roots, signature entries and
// messages; it is never trusted on its own: verification uses the public key
// the id selects, and a key id that does not match its key is refused.
//
// Thread-safety: PublicKey and Signature are plain values. SecretKey is
// move-only and wipes its bytes when destroyed or moved from; const methods
// may be called from several threads.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace vigil::update {

inline constexpr size_t kPublicKeyBytes = 32;
inline constexpr size_t kSeedBytes = 32;
inline constexpr size_t kSignatureBytes = 64;
inline constexpr size_t kKeyIdBytes = 8;
inline constexpr size_t kMaxKeyFileBytes = 4096;

using KeyId = std::array<uint8_t, kKeyIdBytes>;
using Digest = std::array<uint8_t, 32>;

std::string KeyIdToHex(const KeyId& id);
// Exactly 16 lowercase hex digits.
std::optional<KeyId> ParseKeyIdHex(std::string_view hex);

// BLAKE2b-256 (libsodium crypto_generichash, no key) of `bytes`.
Digest Blake2b256(std::string_view bytes);
std::string DigestToHex(const Digest& digest);

// One signature and the id of the key that claims to have made it.
struct Signature {
  KeyId key_id{};
  std::array<uint8_t, kSignatureBytes> bytes{};

  bool operator==(const Signature&) const = default;
};

class PublicKey {
 public:
  // Any 32 bytes; a value that is not a valid curve point simply never
  // verifies.
  static PublicKey FromBytes(const std::array<uint8_t, kPublicKeyBytes>& bytes);

  const std::array<uint8_t, kPublicKeyBytes>& bytes() const { return bytes_; }
  const KeyId& id() const { return id_; }
  std::string IdHex() const { return KeyIdToHex(id_); }

  // True when sig.key_id is this key's id and sig.bytes is a valid ed25519
  // signature of `message` by this key.
  bool Verify(std::string_view message, const Signature& sig) const;

  bool operator==(const PublicKey& other) const { return bytes_ == other.bytes_; }

 private:
  std::array<uint8_t, kPublicKeyBytes> bytes_{};
  KeyId id_{};
};

class SecretKey {
 public:
  static SecretKey Generate();
  // Deterministic: the same seed gives the same key (tests, and the file format).
  static SecretKey FromSeed(const std::array<uint8_t, kSeedBytes>& seed);

  SecretKey(SecretKey&& other) noexcept;
  SecretKey& operator=(SecretKey&& other) noexcept;
  SecretKey(const SecretKey&) = delete;
  SecretKey& operator=(const SecretKey&) = delete;
  ~SecretKey();

  const PublicKey& public_key() const { return public_; }
  Signature Sign(std::string_view message) const;

 private:
  SecretKey() = default;
  friend std::string FormatSecretKey(const SecretKey& key);

  std::array<uint8_t, 64> secret_{};  // libsodium's form: seed || public key
  PublicKey public_;
};

// Text forms (docs/signing.md, "Key files"). Parse errors name
// "<name>:<line>: <reason>" with Code::kInvalidArgument (kLimitExceeded for
// oversized text).
std::string FormatPublicKey(const PublicKey& key);
Result<PublicKey> ParsePublicKey(std::string_view text, std::string_view name);
std::string FormatSecretKey(const SecretKey& key);
Result<SecretKey> ParseSecretKey(std::string_view text, std::string_view name);

// Files. The readers bound the size to kMaxKeyFileBytes. ReadSecretKeyFile
// refuses (Code::kInvalidArgument) a file whose mode gives the group or others
// any access. The writers create the file exclusively (an existing file is
// refused, never replaced) and fsync it; the secret key file gets mode 0600.
Result<PublicKey> ReadPublicKeyFile(const std::string& path);
Result<SecretKey> ReadSecretKeyFile(const std::string& path);
Status WritePublicKeyFile(const std::string& path, const PublicKey& key);
Status WriteSecretKeyFile(const std::string& path, const SecretKey& key);

}  // namespace vigil::update
