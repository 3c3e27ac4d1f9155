// Fuzzes the key file parsers (`vigil trust`, `vigil sign` and `vigil
// manifest` read them): any text gives a key or a refusal that names the
// file, never a crash or hang. An accepted public key survives
// FormatPublicKey -> ParsePublicKey unchanged; an accepted secret key's public
// half is the one its file states. Since mutation cannot find a seed that
// matches a stated public key, the input's first 32 bytes are also used as a
// seed whose formatted secret and public files must parse back to the same
// key: the accept paths are exercised without a secret key in the corpus.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "update/keys.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vigil::update;
  std::string_view text(reinterpret_cast<const char*>(data), size);

  auto pub = ParsePublicKey(text, "fuzz.pub");
  if (!pub) {
    if (pub.error().message().rfind("fuzz.pub", 0) != 0) std::abort();  // errors name the file
  } else {
    auto again = ParsePublicKey(FormatPublicKey(*pub), "again");
    if (!again || !(*again == *pub)) std::abort();
  }
  auto sec = ParseSecretKey(text, "fuzz.key");
  if (!sec) {
    if (sec.error().message().rfind("fuzz.key", 0) != 0) std::abort();
  } else {
    auto stated = ParsePublicKey(FormatPublicKey(sec->public_key()), "again");
    if (!stated || !(*stated == sec->public_key())) std::abort();
  }

  std::array<uint8_t, kSeedBytes> seed{};
  std::memcpy(seed.data(), data, std::min(size, seed.size()));
  SecretKey key = SecretKey::FromSeed(seed);
  auto round = ParseSecretKey(FormatSecretKey(key), "round.key");
  if (!round || !(round->public_key() == key.public_key())) std::abort();
  auto round_pub = ParsePublicKey(FormatPublicKey(key.public_key()), "round.pub");
  if (!round_pub || !(*round_pub == key.public_key())) std::abort();
  return 0;
}
