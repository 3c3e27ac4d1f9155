#include "update/keys.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <span>

#include <sodium.h>

#include "base/file.h"
#include "base/unique_fd.h"
#include "update/text_format.h"

namespace vigil::update {
namespace {

static_assert(crypto_sign_PUBLICKEYBYTES == kPublicKeyBytes);
static_assert(crypto_sign_SECRETKEYBYTES == 64);
static_assert(crypto_sign_SEEDBYTES == kSeedBytes);
static_assert(crypto_sign_BYTES == kSignatureBytes);

constexpr std::string_view kPublicHeader = "vigil-public-key 1";
constexpr std::string_view kSecretHeader = "vigil-secret-key 1";

void EnsureSodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) std::abort();  // libsodium cannot run without its RNG; nothing sensible to do
}

KeyId IdOf(const std::array<uint8_t, kPublicKeyBytes>& pk) {
  Digest d = Blake2b256(std::string_view(reinterpret_cast<const char*>(pk.data()), pk.size()));
  KeyId id;
  std::memcpy(id.data(), d.data(), id.size());
  return id;
}

// A key file: comment and blank lines, the header line, then each of `keys`
// exactly once as "keyword value".
struct KeyFields {
  std::map<std::string_view, text::Line, std::less<>> values;  // keyword -> line (text = the value)
};

Result<KeyFields> ParseKeyFile(std::string_view file_text, std::string_view name, std::string_view header,
                               std::initializer_list<std::string_view> keys) {
  auto lines = text::SplitLines(file_text, name, {kMaxKeyFileBytes, 16, /*comments=*/true});
  if (!lines) return Error(lines.error());
  if (lines->empty()) return Error(Code::kInvalidArgument, "{}: no \"{}\" line (not a key file)", name, header);
  const text::Line& first = lines->front();
  if (first.text != header) {
    auto [word, rest] = text::SplitWord(first.text);
    auto [want_word, want_version] = text::SplitWord(header);
    if (word == want_word) {
      return text::LineError(Code::kUnsupported, name, first.number, "unsupported version \"{}\" (this vigil reads {})",
                             rest, want_version);
    }
    return text::LineError(Code::kInvalidArgument, name, first.number, "expected \"{}\" (not a {} file?)", header,
                           want_word);
  }
  KeyFields out;
  for (size_t i = 1; i < lines->size(); ++i) {
    const text::Line& line = (*lines)[i];
    auto [word, value] = text::SplitWord(line.text);
    bool known = false;
    for (std::string_view k : keys) known |= (k == word);
    if (!known) return text::LineError(Code::kInvalidArgument, name, line.number, "unknown keyword \"{}\"", word);
    auto [it, inserted] = out.values.emplace(word, text::Line{line.number, value});
    if (!inserted) {
      return text::LineError(Code::kInvalidArgument, name, line.number, "\"{}\" given twice (first on line {})", word,
                             it->second.number);
    }
  }
  for (std::string_view k : keys) {
    if (!out.values.count(k)) return Error(Code::kInvalidArgument, "{}: missing \"{}\" line", name, k);
  }
  return out;
}

template <size_t N>
Result<std::array<uint8_t, N>> HexField(const KeyFields& f, std::string_view key, std::string_view name) {
  const text::Line& line = f.values.find(key)->second;
  std::array<uint8_t, N> out{};
  if (!text::ParseHex(line.text, out)) {
    return text::LineError(Code::kInvalidArgument, name, line.number, "{} must be {} lowercase hex digits", key, 2 * N);
  }
  return out;
}

Status CheckKeyId(const KeyFields& f, const PublicKey& key, std::string_view name) {
  const text::Line& line = f.values.find("key-id")->second;
  std::optional<KeyId> id = ParseKeyIdHex(line.text);
  if (!id) {
    return Status(Code::kInvalidArgument,
                  fmt::format("{}:{}: key-id must be 16 lowercase hex digits", name, line.number));
  }
  if (*id != key.id()) {
    return Status(Code::kInvalidArgument, fmt::format("{}:{}: key-id {} does not match the key (whose id is {})", name,
                                                      line.number, line.text, key.IdHex()));
  }
  return Status::Ok();
}


Status Errno(std::string_view what, const std::string& path) {
  return Status(Code::kIo, fmt::format("cannot {} {}: {}", what, path, std::strerror(errno)));
}

// Reads a key file; with `secret`, refuses any group/other permission bit
// (checked on the opened file, so a swap after the check cannot matter).
Result<std::string> ReadKeyFile(const std::string& path, bool secret) {
  return ReadFileBounded(path, kMaxKeyFileBytes, [&](const struct stat& st) {
    if (secret && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
      return Status(Code::kInvalidArgument,
                    fmt::format("secret key file {} is accessible by group or others (mode {:04o}); refusing to use "
                                "it: anyone who read it can sign content. Run `chmod 600 {}` if it has not leaked, "
                                "else make a new key",
                                path, st.st_mode & 07777, path));
    }
    return Status::Ok();
  });
}

Status WriteNewFile(const std::string& path, std::string_view data, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (fd.get() < 0) {
    if (errno == EEXIST) {
      return Status(Code::kInvalidArgument, fmt::format("{} exists; refusing to overwrite it", path));
    }
    return Errno("create", path);
  }
  Status status;
  if (::fchmod(fd.get(), mode) != 0) status = Errno("chmod", path);
  size_t done = 0;
  while (status.ok() && done < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      status = Errno("write", path);
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (status.ok() && ::fsync(fd.get()) != 0) status = Errno("fsync", path);
  if (!status.ok()) ::unlink(path.c_str());
  return status;
}

}  // namespace

std::string KeyIdToHex(const KeyId& id) { return text::ToHex(id); }

std::optional<KeyId> ParseKeyIdHex(std::string_view hex) {
  KeyId id;
  if (!text::ParseHex(hex, id)) return std::nullopt;
  return id;
}

Digest Blake2b256(std::string_view bytes) {
  EnsureSodium();
  Digest d;
  crypto_generichash(d.data(), d.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), nullptr,
                     0);
  return d;
}

std::string DigestToHex(const Digest& digest) { return text::ToHex(digest); }

PublicKey PublicKey::FromBytes(const std::array<uint8_t, kPublicKeyBytes>& bytes) {
  PublicKey k;
  k.bytes_ = bytes;
  k.id_ = IdOf(bytes);
  return k;
}

bool PublicKey::Verify(std::string_view message, const Signature& sig) const {
  EnsureSodium();
  if (sig.key_id != id_) return false;
  return crypto_sign_verify_detached(sig.bytes.data(), reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(), bytes_.data()) == 0;
}

SecretKey SecretKey::Generate() {
  EnsureSodium();
  std::array<uint8_t, kSeedBytes> seed;
  randombytes_buf(seed.data(), seed.size());
  SecretKey k = FromSeed(seed);
  sodium_memzero(seed.data(), seed.size());
  return k;
}

SecretKey SecretKey::FromSeed(const std::array<uint8_t, kSeedBytes>& seed) {
  EnsureSodium();
  SecretKey k;
  std::array<uint8_t, kPublicKeyBytes> pk;
  crypto_sign_seed_keypair(pk.data(), k.secret_.data(), seed.data());
  k.public_ = PublicKey::FromBytes(pk);
  return k;
}

SecretKey::SecretKey(SecretKey&& other) noexcept : secret_(other.secret_), public_(other.public_) {
  sodium_memzero(other.secret_.data(), other.secret_.size());
}

SecretKey& SecretKey::operator=(SecretKey&& other) noexcept {
  if (this != &other) {
    secret_ = other.secret_;
    public_ = other.public_;
    sodium_memzero(other.secret_.data(), other.secret_.size());
  }
  return *this;
}

SecretKey::~SecretKey() { sodium_memzero(secret_.data(), secret_.size()); }

Signature SecretKey::Sign(std::string_view message) const {
  EnsureSodium();
  Signature sig;
  sig.key_id = public_.id();
  crypto_sign_detached(sig.bytes.data(), nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), secret_.data());
  return sig;
}

std::string FormatPublicKey(const PublicKey& key) {
  return fmt::format(
      "# vigil ed25519 public key. Give it to hosts in a trust root (vigil trust).\n"
      "{}\nkey-id {}\npublic {}\n",
      kPublicHeader, key.IdHex(), text::ToHex(key.bytes()));
}

Result<PublicKey> ParsePublicKey(std::string_view file_text, std::string_view name) {
  auto f = ParseKeyFile(file_text, name, kPublicHeader, {"key-id", "public"});
  if (!f) return Error(f.error());
  auto pk = HexField<kPublicKeyBytes>(*f, "public", name);
  if (!pk) return Error(pk.error());
  PublicKey key = PublicKey::FromBytes(*pk);
  if (Status s = CheckKeyId(*f, key, name); !s.ok()) return Error(s);
  return key;
}

std::string FormatSecretKey(const SecretKey& key) {
  return fmt::format(
      "# vigil ed25519 SECRET key. Anyone who reads this file can sign content that\n"
      "# every host trusting key {} accepts. Keep it offline, mode 0600.\n"
      "{}\nkey-id {}\nseed {}\npublic {}\n",
      key.public_key().IdHex(), kSecretHeader, key.public_key().IdHex(),
      text::ToHex(std::span<const uint8_t>(key.secret_.data(), kSeedBytes)), text::ToHex(key.public_key().bytes()));
}

Result<SecretKey> ParseSecretKey(std::string_view file_text, std::string_view name) {
  auto f = ParseKeyFile(file_text, name, kSecretHeader, {"key-id", "seed", "public"});
  if (!f) return Error(f.error());
  auto seed = HexField<kSeedBytes>(*f, "seed", name);
  if (!seed) return Error(seed.error());
  auto pk = HexField<kPublicKeyBytes>(*f, "public", name);
  if (!pk) return Error(pk.error());
  SecretKey key = SecretKey::FromSeed(*seed);
  sodium_memzero(seed->data(), seed->size());
  if (key.public_key().bytes() != *pk) {
    return text::LineError(Code::kInvalidArgument, name, f->values.find("public")->second.number,
                           "public does not match the key derived from seed (damaged file?)");
  }
  if (Status s = CheckKeyId(*f, key.public_key(), name); !s.ok()) return Error(s);
  return key;
}

Result<PublicKey> ReadPublicKeyFile(const std::string& path) {
  auto data = ReadKeyFile(path, /*secret=*/false);
  if (!data) return Error(data.error());
  return ParsePublicKey(*data, path);
}

Result<SecretKey> ReadSecretKeyFile(const std::string& path) {
  auto data = ReadKeyFile(path, /*secret=*/true);
  if (!data) return Error(data.error());
  Result<SecretKey> key = ParseSecretKey(*data, path);
  sodium_memzero(data->data(), data->size());
  return key;
}

Status WritePublicKeyFile(const std::string& path, const PublicKey& key) {
  return WriteNewFile(path, FormatPublicKey(key), 0644);
}

Status WriteSecretKeyFile(const std::string& path, const SecretKey& key) {
  std::string data = FormatSecretKey(key);
  Status s = WriteNewFile(path, data, 0600);
  sodium_memzero(data.data(), data.size());
  return s;
}

}  // namespace vigil::update
