// Test-only: deterministic keys and small valid bundles for update/ tests,
// fuzzers (seed corpora) and CLI tests.
//
//   SecretKey k = TestKey(1);                       // same key every run
//   std::string b = SampleBundle(7, "stable");      // loads against Schema::Builtin()
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "content/ir.h"
#include "update/keys.h"
#include "update/trust_root.h"

namespace vigil::update::testing {

// The key whose seed is 32 bytes of `n`.
SecretKey TestKey(uint8_t n);

// TestKey(n) for each n, and a trust root of their public keys.
std::vector<SecretKey> TestKeys(std::initializer_list<uint8_t> ns);
TrustRoot TestRoot(uint32_t threshold, std::initializer_list<uint8_t> ns);

// One rule (process_creation, Image starts with /tmp/) valid for
// Schema::Builtin(), created at 1 700 000 000, expiring at `expires_unix`
// (0 = never).
content::Ruleset SampleRuleset(uint64_t content_version, const std::string& channel, int64_t expires_unix = 0);
std::string SampleBundle(uint64_t content_version, const std::string& channel, int64_t expires_unix = 0);

// The July 2024 defect as a bundle: content compiled for a process_creation
// with one more field than Schema::Builtin()'s, a rule using that last field,
// and the other schema's hash. Structurally valid, checksummed; the verifier
// against Schema::Builtin() refuses it (VG500 schema hash, VG502 field).
std::string FieldCountDefectBundle(uint64_t content_version, const std::string& channel);

}  // namespace vigil::update::testing
