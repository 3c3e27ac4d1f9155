// Turns a RawEvent from a source, plus the process table, into an event of the
// schema (docs/schema.md): the right event type, every field it can supply,
// owned storage that outlives the source's buffers.
//
//   OwnedEvent ev;                               // reuse one per thread: no allocation once warm
//   if (BuildEvent(raw, table, schema, ev)) engine.Evaluate(ev.view(), scratch);
//   AppendEventJson(out, ev, schema);             // {"event":"process_creation","Image":...}
//
// Mapping: kExec -> process_creation, kExit -> process_termination,
// kFileCreate -> file_event, kFileCloseWrite -> file_change, kFileRename ->
// file_rename, kFileDelete -> file_delete, kFileOpen -> file_access,
// kConnect -> network_connection; kFork updates the table only (no event).
// The acting process's context (Image, CommandLine, CurrentDirectory, User,
// UserId, LogonId) and its parent's (ParentProcessId, ParentImage,
// ParentCommandLine, ParentUser) come from the table; fields nobody knows stay
// absent.
//
// Thread-safety: functions are stateless; an OwnedEvent belongs to one thread.
#pragma once

#include <array>
#include <string>

#include "schema/event.h"
#include "sensor/process_table.h"
#include "sources/source.h"

namespace vigil::sensor {

class OwnedEvent {
 public:
  EventView view() const { return EventView{type_, std::span<const FieldValue>(fields_.data(), count_)}; }
  EventTypeId type() const { return type_; }
  uint64_t time_ns() const { return time_ns_; }

  // Builder interface (used by BuildEvent and by tests).
  void Reset(EventTypeId type, size_t field_count, uint64_t time_ns);
  void SetText(FieldIndex index, std::string_view text);
  void SetNumber(FieldIndex index, int64_t number);

 private:
  EventTypeId type_ = 0;
  size_t count_ = 0;
  uint64_t time_ns_ = 0;
  std::array<FieldValue, kMaxFieldsPerType> fields_{};
  std::array<std::string, kMaxFieldsPerType> storage_{};  // capacity is reused across events
};

// Returns false for raw events that produce no schema event (kFork).
// Updates `table` from process events first (exec replaces the image; exit
// keeps the entry for the grace period so the exit event still resolves).
bool BuildEvent(const sources::RawEvent& raw, ProcessTable& table, const Schema& schema, OwnedEvent& out);

// Appends the event as one replay-format JSON object (docs/replay-format.md),
// no trailing newline: what `vigild --record` writes and alerts embed.
void AppendEventJson(std::string& out, const OwnedEvent& event, const Schema& schema);

}  // namespace vigil::sensor
