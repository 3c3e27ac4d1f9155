// Internal: the byte layout of a bundle, shared by the writer, the reader,
// their tests and the fuzzer. docs/bundle-format.md is the specification;
// every constant here appears there, keep the two in step. Users of bundles
// include content/bundle.h, not this.
//
// All integers are little-endian and unaligned; Load*/Store* below are the
// only way this code touches them.
//
// Thread-safety: constants and pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "schema/schema.h"

namespace vigil::content::bundle_format {

inline constexpr char kMagic[8] = {'V', 'I', 'G', 'I', 'L', 'B', 'N', 'D'};
inline constexpr uint32_t kFormatVersion = 1;

// Fixed header, then the section table, then the sections, all of it "the
// body"; then the signature area, which is outside the checksum.
namespace header {
inline constexpr size_t kMagic = 0;            // 8 bytes "VIGILBND"
inline constexpr size_t kFormatVersion = 8;    // u32
inline constexpr size_t kHeaderSize = 12;      // u32, == kSize in version 1
inline constexpr size_t kFlags = 16;           // u32, no flags are defined: must be 0
inline constexpr size_t kSchemaVersion = 20;   // u32
inline constexpr size_t kSchemaHash = 24;      // 32 bytes
inline constexpr size_t kContentVersion = 56;  // u64
inline constexpr size_t kCreatedUnix = 64;     // i64
inline constexpr size_t kExpiresUnix = 72;     // i64, 0 = never
inline constexpr size_t kChannel = 80;         // string ref (u32 offset, u32 length)
inline constexpr size_t kRuleCount = 88;       // u32
inline constexpr size_t kAtomCount = 92;       // u32
inline constexpr size_t kInstrCount = 96;      // u32
inline constexpr size_t kTagCount = 100;       // u32
inline constexpr size_t kSectionCount = 104;   // u32, == kSectionKinds
inline constexpr size_t kBodySize = 108;       // u32, offset of the signature area
inline constexpr size_t kChecksum = 112;       // 32 bytes BLAKE2b-256
inline constexpr size_t kSize = 144;
}  // namespace header

inline constexpr size_t kChecksumBytes = 32;

// The section table: one 16-byte entry per section, in id order, and the
// sections lie in the body in that same order with no gaps.
namespace section_entry {
inline constexpr size_t kId = 0;        // u32
inline constexpr size_t kReserved = 4;  // u32, must be 0
inline constexpr size_t kOffset = 8;    // u32, from the start of the file
inline constexpr size_t kLength = 12;   // u32, bytes
inline constexpr size_t kSize = 16;
}  // namespace section_entry

enum SectionId : uint32_t {
  kStrings = 1,  // the string pool: raw bytes
  kRules = 2,    // rule_count rule records
  kAtoms = 3,    // atom_count atom records
  kProgram = 4,  // instr_count instruction records
  kTags = 5,     // tag_count string refs
};
inline constexpr uint32_t kSectionKinds = 5;

// A string ref: u32 offset into the string pool, u32 length.
inline constexpr size_t kStringRefSize = 8;

namespace rule_record {
inline constexpr size_t kId = 0;              // string ref
inline constexpr size_t kTitle = 8;           // string ref
inline constexpr size_t kStatus = 16;         // string ref
inline constexpr size_t kSource = 24;         // string ref
inline constexpr size_t kEventTypeName = 32;  // string ref
inline constexpr size_t kEventType = 40;      // u16
inline constexpr size_t kLevel = 42;          // u8
inline constexpr size_t kFlags = 43;          // u8, RuleFlags; other bits must be 0
inline constexpr size_t kAtomCount = 44;      // u32
inline constexpr size_t kInstrCount = 48;     // u32
inline constexpr size_t kTagCount = 52;       // u32
inline constexpr size_t kSize = 56;
}  // namespace rule_record

// Bits of rule_record::kFlags. The byte was reserved (must be 0) before bit 0
// was defined; see docs/bundle-format.md, "Compatibility".
enum RuleFlags : uint8_t {
  kRuleBlock = 1 << 0,  // Rule::block
  kRuleFlagsMask = 0x01,
};

namespace atom_record {
inline constexpr size_t kOp = 0;             // u8
inline constexpr size_t kFlags = 1;          // u8
inline constexpr size_t kField = 2;          // u16
inline constexpr size_t kRefField = 4;       // u16
inline constexpr size_t kReserved = 6;       // u16, must be 0
inline constexpr size_t kNumber = 8;         // i64
inline constexpr size_t kFieldName = 16;     // string ref
inline constexpr size_t kValue = 24;         // string ref
inline constexpr size_t kRefFieldName = 32;  // string ref
inline constexpr size_t kSize = 40;
}  // namespace atom_record

namespace instr_record {
inline constexpr size_t kOp = 0;        // u8
inline constexpr size_t kReserved = 1;  // 3 bytes, must be 0
inline constexpr size_t kA = 4;         // u32
inline constexpr size_t kB = 8;         // u32
inline constexpr size_t kSize = 12;
}  // namespace instr_record

inline constexpr size_t kTagRecordSize = kStringRefSize;

// The signature area at body_size: "VSIG", u32 payload length, payload.
namespace signature {
inline constexpr char kMagic[4] = {'V', 'S', 'I', 'G'};
inline constexpr size_t kLength = 4;  // u32
inline constexpr size_t kHeaderSize = 8;
inline constexpr size_t kMaxPayloadBytes = 64 << 10;
}  // namespace signature

inline uint8_t LoadU8(const char* p) { return static_cast<uint8_t>(p[0]); }
inline uint16_t LoadU16(const char* p) {
  return static_cast<uint16_t>(LoadU8(p) | (LoadU8(p + 1) << 8));
}
inline uint32_t LoadU32(const char* p) {
  return static_cast<uint32_t>(LoadU16(p)) | (static_cast<uint32_t>(LoadU16(p + 2)) << 16);
}
inline uint64_t LoadU64(const char* p) {
  return static_cast<uint64_t>(LoadU32(p)) | (static_cast<uint64_t>(LoadU32(p + 4)) << 32);
}

inline void StoreU16(char* p, uint16_t v) {
  p[0] = static_cast<char>(v & 0xff);
  p[1] = static_cast<char>(v >> 8);
}
inline void StoreU32(char* p, uint32_t v) {
  StoreU16(p, static_cast<uint16_t>(v & 0xffff));
  StoreU16(p + 2, static_cast<uint16_t>(v >> 16));
}
inline void StoreU64(char* p, uint64_t v) {
  StoreU32(p, static_cast<uint32_t>(v & 0xffffffffu));
  StoreU32(p + 4, static_cast<uint32_t>(v >> 32));
}

// BLAKE2b-256 over file[0, header::kChecksum) and
// file[header::kChecksum + 32, body_size). Requires
// header::kSize <= body_size <= file.size().
SchemaHash ComputeChecksum(std::string_view file, uint32_t body_size);

// Recomputes and stores the checksum of `file` from its body_size field, as a
// writer does. For tests and the fuzzer, which edit bundles and need the
// structural checks, not the checksum, to be what refuses them. Returns false
// (and changes nothing) when the header is too short or body_size is out of
// range.
bool RewriteChecksum(std::string& file);

}  // namespace vigil::content::bundle_format
