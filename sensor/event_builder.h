// Turns a RawEvent from a source, plus the process table, into an event of the
// schema (docs/schema.md): the right event type, every field it can supply,
// owned storage that outlives the source's buffers.
//
//   EventBuilder builder(schema);                // resolves field indices by name, once
//   for (const std::string& p : builder.problems()) log(p);  // fields this schema lacks
//   OwnedEvent ev;                               // reuse one per thread: no allocation once warm
//   if (builder.Build(raw, table, ev)) engine.Evaluate(ev.view(), scratch);
//   AppendEventJson(out, ev, schema);            // {"event":"process_creation","Image":...}
//
// Mapping: kExec -> process_creation, kExit -> process_termination,
// kFileCreate -> file_event, kFileCloseWrite -> file_change, kFileRename ->
// file_rename, kFileDelete -> file_delete, kFileOpen -> file_access,
// kConnect -> network_connection; kFork updates the table only (no event).
// The acting process's context (Image, CommandLine, CurrentDirectory, User,
// UserId, LogonId) and its parent's (ParentProcessId, ParentImage,
// ParentCommandLine, ParentUser) come from the table; fields nobody knows stay
// absent. Event-specific fields: GroupId (exec), ExitCode (exit),
// TargetFilename (file events; file_rename: SourceFilename = old path,
// TargetFilename = new path), Protocol ("tcp"/"udp"), Initiated ("true"),
// SourceIp/DestinationIp (text), SourcePort/DestinationPort,
// DestinationIsIpv6 ("true"/"false").
//
// A schema that lacks an event type or a field the builder fills (a custom or
// older schema) never causes an out-of-bounds write: events of that kind are
// refused (Build returns false) and counted in stats().refused.
//
// Thread-safety: an EventBuilder is immutable after construction except for
// its counters; use one per thread (as with the ProcessTable it reads). An
// OwnedEvent belongs to one thread at a time; copying or moving it keeps its
// field views pointing at its own storage, so it can travel through a
// BoundedQueue (a moved-from OwnedEvent is an empty event, reusable).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "base/json.h"
#include "schema/event.h"
#include "sensor/process_table.h"
#include "sources/source.h"

namespace vigil::sensor {

class OwnedEvent {
 public:
  OwnedEvent() = default;
  OwnedEvent(const OwnedEvent& other);
  OwnedEvent(OwnedEvent&& other) noexcept;
  OwnedEvent& operator=(const OwnedEvent& other);
  OwnedEvent& operator=(OwnedEvent&& other) noexcept;

  EventView view() const { return EventView{type_, std::span<const FieldValue>(fields_.data(), count_)}; }
  EventTypeId type() const { return type_; }
  uint64_t time_ns() const { return time_ns_; }

  // Builder interface (used by EventBuilder and by tests). Reset clears the
  // first field_count fields (at most kMaxFieldsPerType); Set* with an index
  // >= that count is ignored.
  void Reset(EventTypeId type, size_t field_count, uint64_t time_ns);
  void SetText(FieldIndex index, std::string_view text);
  void SetNumber(FieldIndex index, int64_t number);

 private:
  // Points every present field's text at storage_ (after a copy or move).
  void Rebind();

  EventTypeId type_ = 0;
  size_t count_ = 0;
  uint64_t time_ns_ = 0;
  std::array<FieldValue, kMaxFieldsPerType> fields_{};
  std::array<std::string, kMaxFieldsPerType> storage_{};  // capacity is reused across events
};

struct EventBuilderStats {
  uint64_t built = 0;
  uint64_t no_event = 0;  // raw events that update the table only (kFork)
  uint64_t refused = 0;   // the schema lacks the event type or a field the builder fills
};

class EventBuilder {
 public:
  // `schema` must outlive the builder.
  explicit EventBuilder(const Schema& schema);

  // Updates `table` from process events first (exec replaces the image; exit
  // keeps the entry for the grace period so the exit event still resolves),
  // then fills `out`. Returns false when no schema event results (kFork, or a
  // kind the schema cannot hold: see problems()).
  bool Build(const sources::RawEvent& raw, ProcessTable& table, OwnedEvent& out);

  // One line per raw kind this schema cannot represent, e.g.
  // "network_connection: schema has no field DestinationIsIpv6"; empty for
  // the builtin schema.
  const std::vector<std::string>& problems() const { return problems_; }
  const EventBuilderStats& stats() const { return stats_; }

 private:
  // Field indices of one event type, resolved by name.
  struct Plan {
    bool usable = false;
    EventTypeId type = 0;
    size_t field_count = 0;
    // Process context.
    FieldIndex process_id = 0, image = 0, command_line = 0, current_directory = 0, user = 0, user_id = 0,
               logon_id = 0, parent_process_id = 0, parent_image = 0, parent_command_line = 0,
               parent_user = 0;
    // Event-specific; which ones are used depends on the kind.
    FieldIndex group_id = 0, exit_code = 0, target_filename = 0, source_filename = 0, protocol = 0,
               initiated = 0, source_ip = 0, source_port = 0, destination_ip = 0, destination_port = 0,
               destination_is_ipv6 = 0;
  };

  static constexpr size_t kKinds = 9;  // RawKind values
  std::array<Plan, kKinds> plans_{};  // by RawKind
  std::vector<std::string> problems_;
  EventBuilderStats stats_;
};

// Appends the event as one replay-format JSON object (docs/replay-format.md),
// no trailing newline: what `vigild --record` writes and alerts embed. Keys
// in schema order, absent fields omitted, integers as numbers, everything
// else as strings; bytes that are not valid UTF-8 become U+FFFD, so the
// output is valid JSON whatever a file name holds. Appends nothing for an
// event whose type is not in `schema` (built against another schema).
void AppendEventJson(std::string& out, const OwnedEvent& event, const Schema& schema);



}  // namespace vigil::sensor
