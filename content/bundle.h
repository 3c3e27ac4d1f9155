// The bundle: compiled content as bytes. Format in docs/bundle-format.md.
//
//   std::string bytes = WriteBundle(ruleset);
//   Diagnostics d;
//   Result<Ruleset> rs = ReadBundle(bytes, Schema::Builtin(), d, {"x.vbundle"});
//
// The reader checks magic, version, every length, count and offset against the
// buffer, the checksum and bounds before allocating, then runs Verify(). It
// never reads outside `bytes` and allocates at most a small multiple of
// bytes.size().
//
// Thread-safety: stateless functions.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "content/diagnostic.h"
#include "content/ir.h"

namespace vigil::content {

inline constexpr size_t kMaxBundleBytes = 64 << 20;

std::string WriteBundle(const Ruleset& rs);

struct ReadOptions {
  std::string name;          // for diagnostics, e.g. the file path
  bool verify = true;        // false only for `inspect` of structure; loaders always verify
};

// Structural decode + checksum + (unless disabled) Verify() against `schema`.
// On failure the Status names the first reason; `diags` holds all of them.
Result<Ruleset> ReadBundle(std::string_view bytes, const Schema& schema, Diagnostics& diags,
                           const ReadOptions& options);

// The header's content_version, read without decoding or trusting anything
// else: for labelling bytes before they are loaded ("trying v7"). 0 if the
// bytes are too short or do not start with the magic.
uint64_t PeekContentVersion(std::string_view bytes);

}  // namespace vigil::content
