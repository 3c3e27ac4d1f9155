// Fuzzes the signature area codec and verification on mutated signed bundles
// (seeds: update/fuzz/bundle_signature_corpus, signed by update/testing
// TestKey 1..3 and an unknown key 9). Each input is checked as given and again
// with its checksum recomputed, so that mutated bodies reach the signature
// check instead of stopping at the checksum.
//
// Properties: no crash, hang or unbounded allocation; ListBundleSignatures
// and VerifyBundleSignatures agree on framing; signing whatever frames
// correctly yields a bundle with the same body that verifies under the
// signer's key; verification against the fixed 1-of-3 root accepts only an
// unchanged body (the fuzzer cannot forge ed25519).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "content/bundle_format.h"
#include "update/bundle_signature.h"
#include "update/testing/test_content.h"

namespace {

using namespace vigil;
using namespace vigil::update;
namespace bf = content::bundle_format;

const TrustRoot& Root() {
  static const TrustRoot root = testing::TestRoot(1, {1, 2, 3});
  return root;
}

const std::vector<SecretKey>& Signer() {
  static const std::vector<SecretKey> keys = testing::TestKeys({4});
  return keys;
}

// Every seed's body is testing::SampleBundle(7, "stable").
const Digest& SeedChecksum() {
  static const Digest checksum = [] {
    std::string b = testing::SampleBundle(7, "stable");
    return bf::ComputeChecksum(b, bf::LoadU32(b.data() + bf::header::kBodySize));
  }();
  return checksum;
}

const TrustRoot& SignerRoot() {
  static const TrustRoot root = testing::TestRoot(1, {4});
  return root;
}

void CheckOne(const std::string& bytes) {
  auto listed = ListBundleSignatures(bytes);
  Status verified = VerifyBundleSignatures(bytes, Root());
  if (!listed && verified.ok()) std::abort();
  if (verified.ok()) {
    if (listed->empty()) std::abort();
    uint32_t body = bf::LoadU32(bytes.data() + bf::header::kBodySize);
    if (bf::ComputeChecksum(bytes, body) != SeedChecksum()) std::abort();  // a forged signature
  }
  (void)ReadBundleIdentity(bytes);

  auto resigned = SignBundle(bytes, Signer());
  if (!resigned) return;
  if (!listed) std::abort();  // signing accepted a framing that listing refused
  uint32_t body = bf::LoadU32(bytes.data() + bf::header::kBodySize);
  if (resigned->compare(0, body, bytes, 0, body) != 0) std::abort();  // a checksummed byte changed
  if (!VerifyBundleSignatures(*resigned, SignerRoot()).ok()) std::abort();
  auto after = ListBundleSignatures(*resigned);
  if (!after || after->size() < listed->size() || after->size() > listed->size() + 1) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  CheckOne(bytes);
  if (bf::RewriteChecksum(bytes)) CheckOne(bytes);
  return 0;
}
