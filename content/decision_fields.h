// What is known when vigil decides whether to block: the one table of it.
//
// A blocking rule is evaluated at a fanotify permission event, before the
// operation happens, on an event the sensor builds from the permission event
// and /proc. Only some event types have such a moment, and at that moment not
// every schema field has a value yet: at exec permission time the new
// program's argv is still inside the kernel. A rule that needs such a field
// could never match (or, negated, would always match), so the verifier refuses
// it (CheckBlockingRule in content/verifier.h, docs/verifier.md); the
// permission responder builds its events from the same table.
//
//   const DecisionFields* d = FindDecisionFields("process_creation");
//   if (d == nullptr) ... rules of this type cannot block ...
//   d->IsKnown("CommandLine")  // false
//   d->target_field            // "Image": the file the permission is asked for
//
// The table is an allow list: a field not listed is unknown, so a field added
// to the schema later cannot block until someone has decided it is known.
//
// Thread-safety: constant data; pure functions.
#pragma once

#include <span>
#include <string_view>

namespace vigil::content {

// A field that is in the event type's schema but has no value when the
// decision is made, and why.
struct UnknownAtDecision {
  std::string_view field;
  std::string_view why;
};

struct DecisionFields {
  std::string_view event_type;    // schema event type name
  std::string_view decided_at;    // the fanotify permission event, e.g. "FAN_OPEN_EXEC_PERM"
  std::string_view moment;        // for messages: "exec permission time"
  std::string_view target_field;  // the file the permission is asked for (the verdict-cache key)
  std::span<const std::string_view> known;          // fields that have their value then
  std::span<const UnknownAtDecision> known_unknown;  // schema fields that do not, with the reason

  bool IsKnown(std::string_view field) const;
  // The reason `field` is unknown then, or a generic one if the table has none.
  std::string_view WhyUnknown(std::string_view field) const;
};

// Every event type whose rules may block, in a fixed order.
std::span<const DecisionFields> DecisionFieldTable();

// The entry for `event_type`, or nullptr when its rules cannot block.
const DecisionFields* FindDecisionFields(std::string_view event_type);

}  // namespace vigil::content
