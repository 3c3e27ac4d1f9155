#include "schema/schema.h"

#include <set>

#include <sodium.h>

namespace vigil {
namespace {

// Fields every event carries: the acting process and its parent, supplied by
// the sensor's process table. Order is part of the schema (indices).
std::vector<FieldDef> ProcessContext() {
  return {
      {"ProcessId", FieldType::kInteger},
      {"Image", FieldType::kString},
      {"CommandLine", FieldType::kString},
      {"CurrentDirectory", FieldType::kString},
      {"User", FieldType::kString},
      {"UserId", FieldType::kInteger},
      {"LogonId", FieldType::kInteger},
      {"ParentProcessId", FieldType::kInteger},
      {"ParentImage", FieldType::kString},
      {"ParentCommandLine", FieldType::kString},
      {"ParentUser", FieldType::kString},
  };
}

EventTypeDef Type(std::string name, std::vector<FieldDef> extra) {
  EventTypeDef t{std::move(name), ProcessContext()};
  for (auto& f : extra) t.fields.push_back(std::move(f));
  return t;
}

std::vector<EventTypeDef> BuiltinTypes() {
  return {
      Type("process_creation", {{"GroupId", FieldType::kInteger}}),
      Type("process_termination", {{"ExitCode", FieldType::kInteger}}),
      Type("file_event", {{"TargetFilename", FieldType::kString}}),
      Type("file_change", {{"TargetFilename", FieldType::kString}}),
      Type("file_rename",
           {{"SourceFilename", FieldType::kString}, {"TargetFilename", FieldType::kString}}),
      Type("file_delete", {{"TargetFilename", FieldType::kString}}),
      Type("file_access", {{"TargetFilename", FieldType::kString}}),
      Type("network_connection",
           {{"Protocol", FieldType::kString},
            {"Initiated", FieldType::kBoolean},
            {"SourceIp", FieldType::kIp},
            {"SourcePort", FieldType::kInteger},
            {"SourceHostname", FieldType::kString},
            {"DestinationIp", FieldType::kIp},
            {"DestinationPort", FieldType::kInteger},
            {"DestinationHostname", FieldType::kString},
            {"DestinationIsIpv6", FieldType::kBoolean}}),
  };
}

}  // namespace

std::string_view FieldTypeName(FieldType type) {
  switch (type) {
    case FieldType::kString: return "string";
    case FieldType::kInteger: return "integer";
    case FieldType::kIp: return "ip";
    case FieldType::kBoolean: return "boolean";
  }
  return "unknown";
}

std::string HashToHex(const SchemaHash& hash) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(hash.size() * 2);
  for (uint8_t b : hash) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

const Schema& Schema::Builtin() {
  static const Schema* builtin = new Schema(1, BuiltinTypes());
  return *builtin;
}

Result<Schema> Schema::Create(uint32_t version, std::vector<EventTypeDef> types) {
  if (types.empty() || types.size() > kMaxEventTypes) {
    return Error(Code::kInvalidArgument, "schema: {} event types (must be 1..{})", types.size(),
                 kMaxEventTypes);
  }
  std::set<std::string> type_names;
  for (const auto& t : types) {
    if (t.name.empty() || !type_names.insert(t.name).second) {
      return Error(Code::kInvalidArgument, "schema: empty or duplicate event type name '{}'", t.name);
    }
    if (t.fields.empty() || t.fields.size() > kMaxFieldsPerType) {
      return Error(Code::kInvalidArgument, "schema: event type {} has {} fields (must be 1..{})",
                   t.name, t.fields.size(), kMaxFieldsPerType);
    }
    std::set<std::string> field_names;
    for (const auto& f : t.fields) {
      if (f.name.empty() || !field_names.insert(f.name).second) {
        return Error(Code::kInvalidArgument, "schema: event type {}: empty or duplicate field '{}'",
                     t.name, f.name);
      }
    }
  }
  return Schema(version, std::move(types));
}

Schema::Schema(uint32_t version, std::vector<EventTypeDef> types)
    : version_(version), types_(std::move(types)) {
  if (sodium_init() < 0) std::abort();  // libsodium cannot run at all: nothing sensible to do
  std::string text = CanonicalText();
  crypto_generichash(hash_.data(), hash_.size(), reinterpret_cast<const unsigned char*>(text.data()),
                     text.size(), nullptr, 0);
}

std::optional<EventTypeId> Schema::FindEventType(std::string_view name) const {
  for (size_t i = 0; i < types_.size(); ++i) {
    if (types_[i].name == name) return static_cast<EventTypeId>(i);
  }
  return std::nullopt;
}

std::optional<FieldIndex> Schema::FindField(EventTypeId type, std::string_view name) const {
  if (type >= types_.size()) return std::nullopt;
  const auto& fields = types_[type].fields;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].name == name) return static_cast<FieldIndex>(i);
  }
  return std::nullopt;
}

std::string Schema::CanonicalText() const {
  std::string out = fmt::format("vigil-schema {}\n", version_);
  for (size_t t = 0; t < types_.size(); ++t) {
    out += fmt::format("type {} {}\n", t, types_[t].name);
    for (size_t f = 0; f < types_[t].fields.size(); ++f) {
      out += fmt::format("  field {} {} {}\n", f, types_[t].fields[f].name,
                         FieldTypeName(types_[t].fields[f].type));
    }
  }
  return out;
}

}  // namespace vigil
