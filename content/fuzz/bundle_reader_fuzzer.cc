// Fuzzes the bundle reader with the verifier behind it: any bytes must give a
// Ruleset or a clean refusal, never a crash, hang or unbounded allocation.
//
// Each input is read twice: as given, which mostly exercises the structural
// checks (a mutation almost always breaks the checksum), and again with its
// checksum recomputed, so that mutated records reach the decoder's later
// checks and the verifier instead of stopping at the checksum.
//
// Whatever is accepted must be canonical: writing it again gives the same
// bytes (with the signature payload, which the reader skips, emptied).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "content/bundle.h"
#include "content/bundle_format.h"

namespace {

using namespace vigil::content;

void ReadOne(const std::string& bytes) {
  Diagnostics diags;
  auto rs = ReadBundle(bytes, vigil::Schema::Builtin(), diags, {"fuzz", /*verify=*/true});
  if (!rs) {
    if (!diags.has_errors()) std::abort();  // a refusal must say why
    return;
  }
  std::string again = WriteBundle(*rs);
  uint32_t body = bundle_format::LoadU32(bytes.data() + bundle_format::header::kBodySize);
  if (again.compare(0, body, bytes, 0, body) != 0) std::abort();
  Diagnostics d2;
  auto rs2 = ReadBundle(again, vigil::Schema::Builtin(), d2, {"fuzz", true});
  if (!rs2 || *rs2 != *rs) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  ReadOne(bytes);
  if (bundle_format::RewriteChecksum(bytes)) ReadOne(bytes);
  return 0;
}
