// Deterministic rules and events for the engine's tests and benchmarks.
//
//   std::mt19937_64 rng(7);
//   content::Ruleset rs = RandomRuleset(rng, schema, 40);          // fuzz-style IR
//   OwnedEvent ev = RandomEvent(rng, schema, rs.rules[0].event_type);
//
//   std::vector<SigmaFile> files = GenerateSigmaRules(1500, 42);  // realistic YAML
//   std::vector<OwnedEvent> events = GenerateEventMix(schema, 10000, 42, {});
//
// Two families:
//   - Random*: rules and events over a tiny vocabulary, so atoms hit often
//     and every operator, flag, kAnyField, NOT and at-least-k is exercised
//     (the differential test).
//   - Generate*: realistic Sigma rules (SigmaHQ-style templates over real
//     Linux binaries, paths and flags) as YAML text, for the compiler, and a
//     realistic event stream (mostly benign system activity, a few percent
//     malicious-looking), for the benchmarks.
// Same seed, same output, on every machine.
//
// Thread-safety: functions are reentrant; OwnedEvent is a plain value.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <random>
#include <string>
#include <vector>

#include "content/ir.h"
#include "schema/event.h"

namespace vigil::engine::testing {

// An event that owns its text. Movable (views stay valid), not copyable.
class OwnedEvent {
 public:
  OwnedEvent(EventTypeId type, size_t field_count);
  OwnedEvent(OwnedEvent&&) = default;
  OwnedEvent& operator=(OwnedEvent&&) = default;
  OwnedEvent(const OwnedEvent&) = delete;
  OwnedEvent& operator=(const OwnedEvent&) = delete;

  void Set(FieldIndex field, std::string text);
  void SetNumber(FieldIndex field, int64_t number);  // text is the decimal form
  // By schema name; a name the type lacks is a bug in the caller (aborts).
  void Set(const Schema& schema, std::string_view name, std::string text);
  void SetNumber(const Schema& schema, std::string_view name, int64_t number);

  // Moves the field values and all their text into one contiguous block,
  // the way a decoder lays out an event, so a benchmark that cycles through
  // more events than fit in cache pays for memory like the sensor would, not
  // for a dozen scattered strings. No Set*() after this.
  void Pack();

  EventView view() const { return EventView{type_, fields_}; }
  // "process_creation{Image="/usr/bin/ls", ...}" for failure messages.
  std::string ToString(const Schema& schema) const;

 private:
  EventTypeId type_;
  std::vector<std::string> text_;  // element addresses survive moves of the vector
  std::vector<FieldValue> building_;
  std::unique_ptr<std::byte[]> packed_;  // FieldValue[n] then the text bytes
  std::span<const FieldValue> fields_;   // into building_ or packed_
};

// `count` rules over the builtin-schema types process_creation, file_event
// and network_connection, 1..6 atoms each, random programs.
content::Ruleset RandomRuleset(std::mt19937_64& rng, const Schema& schema, size_t count);
OwnedEvent RandomEvent(std::mt19937_64& rng, const Schema& schema, EventTypeId type);
// Human-readable atoms and program of a rule, for failure messages.
std::string DescribeRule(const content::Rule& rule);

struct SigmaFile {
  std::string name;  // "generated/rule_0001.yml"
  std::string text;  // one Sigma rule as YAML
};
// `count` realistic rules: ~70% process_creation, ~15% file_event, ~15%
// network_connection.
std::vector<SigmaFile> GenerateSigmaRules(size_t count, uint64_t seed);

struct EventMixOptions {
  double process_creation = 0.7;  // shares of the stream by type (rest: network_connection)
  double file_event = 0.2;
  double malicious = 0.03;  // share of events built from attack vocabulary
};
std::vector<OwnedEvent> GenerateEventMix(const Schema& schema, size_t count, uint64_t seed,
                                         const EventMixOptions& options);

}  // namespace vigil::engine::testing
