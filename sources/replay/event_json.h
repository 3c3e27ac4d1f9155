// Decodes one replay line (a JSON object) into an EventView.
//
// Format (docs/replay-format.md): {"event": "<event type>", "<Field>": <value>, ...}
// where "event" names a schema event type and every other key is a field name
// of that type. Values are strings, integers, booleans or null (null = absent).
// Keys the schema does not know are ignored and counted (Sysmon-style exports
// carry fields the sensor does not model), never guessed at.
//
//   EventDecoder dec(Schema::Builtin());
//   if (Status s = dec.Decode(line); !s.ok()) { report(lineno, s); }
//   else engine.Evaluate(dec.event(), scratch);
//
// Thread-safety: not thread-safe; one decoder per thread. The EventView and
// raw_object() point into the decoder and stay valid until the next Decode().
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "schema/event.h"

namespace vigil::replay {

inline constexpr size_t kMaxLineBytes = 1 << 20;
inline constexpr size_t kMaxKeysPerEvent = 256;

class EventDecoder {
 public:
  explicit EventDecoder(const Schema& schema);
  ~EventDecoder();
  EventDecoder(const EventDecoder&) = delete;
  EventDecoder& operator=(const EventDecoder&) = delete;

  // Parses `line`. On error nothing of the previous event remains valid and
  // the Status says where and why ("key 'ProcessId': expected an integer").
  Status Decode(std::string_view line);

  const EventView& event() const { return view_; }
  // The line's JSON object, trimmed: valid JSON, safe to embed in output.
  std::string_view raw_object() const { return raw_; }
  // Keys of the last decoded line that the schema does not know.
  size_t unknown_keys() const { return unknown_keys_; }

 private:
  struct Parser;
  const Schema& schema_;
  std::unique_ptr<Parser> parser_;
  std::string padded_;  // the line plus simdjson's padding; reused
  std::array<FieldValue, kMaxFieldsPerType> fields_{};
  std::array<std::array<char, 24>, kMaxFieldsPerType> number_text_{};
  EventView view_;
  std::string_view raw_;
  size_t unknown_keys_ = 0;
};

}  // namespace vigil::replay
