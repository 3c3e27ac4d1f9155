// The event schema: the one table of event types and their fields.
//
// Every event type is a Sigma logsource category; every field has a name
// (Sigma's Sysmon-for-Linux spelling), a type and a fixed index. Compiled
// content refers to fields by (event type, index) and records the schema hash
// it was compiled for; the verifier refuses content whose references fall
// outside this table or whose hash differs. See docs/schema.md.
//
//   const Schema& s = Schema::Builtin();
//   std::optional<EventTypeId> t = s.FindEventType("process_creation");
//   std::optional<FieldIndex> f = s.FindField(*t, "CommandLine");
//
// Thread-safety: a Schema is immutable after construction; share freely.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace vigil {

using EventTypeId = uint16_t;
using FieldIndex = uint16_t;

enum class FieldType : uint8_t {
  kString = 0,   // any text
  kInteger = 1,  // signed 64-bit decimal (pids, ports, uids, exit codes)
  kIp = 2,       // IPv4 or IPv6 address in text form
  kBoolean = 3,  // "true" / "false"
};
std::string_view FieldTypeName(FieldType type);

struct FieldDef {
  std::string name;
  FieldType type = FieldType::kString;
};

struct EventTypeDef {
  std::string name;
  std::vector<FieldDef> fields;  // index in this vector == FieldIndex
};

using SchemaHash = std::array<uint8_t, 32>;  // BLAKE2b-256 of the canonical text
std::string HashToHex(const SchemaHash& hash);

// Bounds every schema (and so every event) obeys.
inline constexpr size_t kMaxEventTypes = 64;
inline constexpr size_t kMaxFieldsPerType = 64;

class Schema {
 public:
  // The schema this build of vigil was written against.
  static const Schema& Builtin();

  // A custom schema, for tests (e.g. the 21-vs-20 field regression). Refuses
  // empty or duplicate names and sizes past the bounds above.
  static Result<Schema> Create(uint32_t version, std::vector<EventTypeDef> types);

  uint32_t version() const { return version_; }
  const SchemaHash& hash() const { return hash_; }
  std::span<const EventTypeDef> event_types() const { return types_; }
  const EventTypeDef& event_type(EventTypeId id) const { return types_.at(id); }

  std::optional<EventTypeId> FindEventType(std::string_view name) const;
  // Field names are matched exactly (Sigma field names are case-sensitive).
  std::optional<FieldIndex> FindField(EventTypeId type, std::string_view name) const;

  // The text the hash is computed over, one line per field.
  std::string CanonicalText() const;

 private:
  Schema(uint32_t version, std::vector<EventTypeDef> types);

  uint32_t version_;
  std::vector<EventTypeDef> types_;
  SchemaHash hash_;
};

}  // namespace vigil
