// One event as the engine sees it: an event type and exactly one FieldValue
// per field of that type in the schema, by index. Views only: the producer
// (a source or the replay decoder) owns the bytes and keeps them alive for the
// duration of the evaluation.
//
//   FieldValue fields[kMaxFieldsPerType];
//   fields[image].Set("/usr/bin/bash");
//   EventView ev{type, std::span(fields, schema.event_type(type).fields.size())};
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "schema/schema.h"

namespace vigil {

struct FieldValue {
  std::string_view text;  // the value as text (integers in decimal); empty when absent
  int64_t number = 0;     // valid when has_number
  bool present = false;
  bool has_number = false;

  void Set(std::string_view t) {
    text = t;
    present = true;
    has_number = false;
  }
  void SetNumber(std::string_view t, int64_t n) {
    text = t;
    number = n;
    present = true;
    has_number = true;
  }
  void Clear() { *this = FieldValue(); }
};

struct EventView {
  EventTypeId type = 0;
  std::span<const FieldValue> fields;  // size must equal the schema's field count for `type`
};

}  // namespace vigil
