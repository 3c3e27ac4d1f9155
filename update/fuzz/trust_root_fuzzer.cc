// Fuzzes the trust root parser: any bytes give a TrustRoot or a refusal that
// names the input, never a crash, hang or unbounded allocation. Whatever is
// accepted must satisfy the invariants (1 <= threshold <= keys <= 16, distinct
// ids) and survive FormatTrustRoot -> ParseTrustRoot unchanged.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "update/trust_root.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vigil::update;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto root = ParseTrustRoot(text, "fuzz");
  if (!root) {
    if (root.error().message().rfind("fuzz", 0) != 0) std::abort();  // every error names the input
    return 0;
  }
  if (root->threshold < 1 || root->threshold > root->keys.size() || root->keys.size() > kMaxTrustedKeys) std::abort();
  for (size_t i = 0; i < root->keys.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (root->keys[i].id() == root->keys[j].id()) std::abort();
    }
  }
  auto again = ParseTrustRoot(FormatTrustRoot(*root), "again");
  if (!again || again->threshold != root->threshold || again->keys != root->keys) std::abort();
  if (!MakeTrustRoot(root->threshold, root->keys)) std::abort();
  return 0;
}
