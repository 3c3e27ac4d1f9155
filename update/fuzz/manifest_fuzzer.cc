// Fuzzes manifest parsing and verification against a fixed 2-of-3 trust root
// (update/testing TestKey 1..3) at a fixed time. Any bytes give a Manifest or a
// refusal naming the input; never a crash, hang or unbounded allocation.
//
// Properties checked on what parses:
//  - the body is what ParseManifest says it is (signatures follow it);
//  - FormatManifestBody of the parsed fields parses back to the same fields;
//  - ResolveBundleUrl never produces anything but an http(s) URL;
//  - verification never accepts fewer than 2 signatures (threshold 2).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "update/manifest.h"
#include "update/testing/test_content.h"

namespace {

using namespace vigil::update;

const TrustRoot& Root() {
  static const TrustRoot root = testing::TestRoot(2, {1, 2, 3});
  return root;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto m = ParseManifest(text, "fuzz");
  if (!m) {
    if (m.error().message().rfind("fuzz", 0) != 0) std::abort();
    if (VerifyManifest(text, "fuzz", Root(), 1'767'225'600)) std::abort();
    return 0;
  }
  if (m->body_bytes > text.size()) std::abort();
  if (m->signatures.empty() != (m->body_bytes == text.size())) std::abort();
  if (!m->signatures.empty() && text.substr(m->body_bytes, 10) != "signature ") std::abort();

  auto body = FormatManifestBody(*m);
  if (!body) std::abort();  // whatever parses can be written
  auto again = ParseManifest(*body, "again");
  if (!again) std::abort();
  Manifest a = *again, b = *m;
  a.signatures.clear();
  b.signatures.clear();
  a.body_bytes = b.body_bytes = 0;
  if (!(a == b)) std::abort();

  auto url = ResolveBundleUrl("https://cdn.example/vigil/stable/manifest", m->bundle_url);
  if (url && !url->starts_with("https://") && !url->starts_with("http://")) std::abort();

  auto verified = VerifyManifest(text, "fuzz", Root(), 1'767'225'600);
  if (verified && m->signatures.size() < 2) std::abort();
  return 0;
}
