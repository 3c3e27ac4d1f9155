#include "sensor/event_builder.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <utility>

namespace vigil::sensor {

using sources::RawEvent;
using sources::RawKind;

OwnedEvent::OwnedEvent(const OwnedEvent& other)
    : type_(other.type_), count_(other.count_), time_ns_(other.time_ns_), fields_(other.fields_),
      storage_(other.storage_) {
  Rebind();
}

OwnedEvent::OwnedEvent(OwnedEvent&& other) noexcept
    : type_(other.type_), count_(other.count_), time_ns_(other.time_ns_), fields_(other.fields_),
      storage_(std::move(other.storage_)) {
  Rebind();
  other.count_ = 0;  // its storage is gone: leave it an empty event
}

OwnedEvent& OwnedEvent::operator=(const OwnedEvent& other) {
  if (this == &other) return *this;
  type_ = other.type_;
  count_ = other.count_;
  time_ns_ = other.time_ns_;
  fields_ = other.fields_;
  for (size_t i = 0; i < count_; ++i) storage_[i].assign(other.storage_[i]);  // keeps our capacity
  Rebind();
  return *this;
}

OwnedEvent& OwnedEvent::operator=(OwnedEvent&& other) noexcept {
  if (this == &other) return *this;
  type_ = other.type_;
  count_ = other.count_;
  time_ns_ = other.time_ns_;
  fields_ = other.fields_;
  // Move-assigning a heap string hands our old buffer to `other`, so buffers
  // circulate through a queue instead of being freed and reallocated.
  storage_ = std::move(other.storage_);
  Rebind();
  other.count_ = 0;
  return *this;
}

void OwnedEvent::Rebind() {
  for (size_t i = 0; i < count_; ++i) {
    if (fields_[i].present) fields_[i].text = storage_[i];
  }
}

void OwnedEvent::Reset(EventTypeId type, size_t field_count, uint64_t time_ns) {
  type_ = type;
  count_ = field_count < kMaxFieldsPerType ? field_count : kMaxFieldsPerType;
  time_ns_ = time_ns;
  for (size_t i = 0; i < count_; ++i) fields_[i].Clear();
}

void OwnedEvent::SetText(FieldIndex index, std::string_view text) {
  if (index >= count_) return;
  storage_[index].assign(text);
  fields_[index].Set(storage_[index]);
}

void OwnedEvent::SetNumber(FieldIndex index, int64_t number) {
  if (index >= count_) return;
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof(buf), number);
  storage_[index].assign(buf, static_cast<size_t>(res.ptr - buf));  // fits the small-string buffer
  fields_[index].SetNumber(storage_[index], number);
}

namespace {

constexpr uint32_t kLoginUidUnset = 0xffffffff;

struct EventTypeFor {
  RawKind kind;
  const char* type;
};
constexpr EventTypeFor kEventTypes[] = {
    {RawKind::kExec, "process_creation"},      {RawKind::kExit, "process_termination"},
    {RawKind::kFileCreate, "file_event"},      {RawKind::kFileCloseWrite, "file_change"},
    {RawKind::kFileRename, "file_rename"},     {RawKind::kFileDelete, "file_delete"},
    {RawKind::kFileOpen, "file_access"},       {RawKind::kConnect, "network_connection"},
};

// Sources that always know who acted; fanotify leaves image empty when the
// actor was gone before it looked, and then its uid/gid are not the actor's.
bool RawKnowsActor(const RawEvent& raw) {
  return raw.kind == RawKind::kExec || raw.kind == RawKind::kExit || raw.kind == RawKind::kConnect ||
         !raw.image.empty();
}

void SetIfNonEmpty(OwnedEvent& out, FieldIndex index, std::string_view text) {
  if (!text.empty()) out.SetText(index, text);
}

void SetAddress(OwnedEvent& out, FieldIndex index, int family, const std::array<uint8_t, 16>& addr) {
  size_t len = family == AF_INET ? 4 : 16;
  bool zero = true;
  for (size_t i = 0; i < len; ++i) zero = zero && addr[i] == 0;
  if (zero) return;  // not bound yet: the kernel had not chosen a source address
  char text[INET6_ADDRSTRLEN];
  if (inet_ntop(family, addr.data(), text, sizeof(text)) != nullptr) out.SetText(index, text);
}

}  // namespace

EventBuilder::EventBuilder(const Schema& schema) {
  using F = FieldIndex Plan::*;
  struct Need {
    F member;
    const char* name;
  };
  static constexpr Need kContext[] = {
      {&Plan::process_id, "ProcessId"},
      {&Plan::image, "Image"},
      {&Plan::command_line, "CommandLine"},
      {&Plan::current_directory, "CurrentDirectory"},
      {&Plan::user, "User"},
      {&Plan::user_id, "UserId"},
      {&Plan::logon_id, "LogonId"},
      {&Plan::parent_process_id, "ParentProcessId"},
      {&Plan::parent_image, "ParentImage"},
      {&Plan::parent_command_line, "ParentCommandLine"},
      {&Plan::parent_user, "ParentUser"},
  };
  static constexpr Need kExecFields[] = {{&Plan::group_id, "GroupId"}};
  static constexpr Need kExitFields[] = {{&Plan::exit_code, "ExitCode"}};
  static constexpr Need kFileFields[] = {{&Plan::target_filename, "TargetFilename"}};
  static constexpr Need kRenameFields[] = {{&Plan::source_filename, "SourceFilename"},
                                           {&Plan::target_filename, "TargetFilename"}};
  static constexpr Need kConnectFields[] = {
      {&Plan::protocol, "Protocol"},           {&Plan::initiated, "Initiated"},
      {&Plan::source_ip, "SourceIp"},          {&Plan::source_port, "SourcePort"},
      {&Plan::destination_ip, "DestinationIp"}, {&Plan::destination_port, "DestinationPort"},
      {&Plan::destination_is_ipv6, "DestinationIsIpv6"},
  };

  for (const EventTypeFor& et : kEventTypes) {
    std::span<const Need> extra;
    switch (et.kind) {
      case RawKind::kExec: extra = kExecFields; break;
      case RawKind::kExit: extra = kExitFields; break;
      case RawKind::kFileRename: extra = kRenameFields; break;
      case RawKind::kConnect: extra = kConnectFields; break;
      default: extra = kFileFields; break;
    }
    std::optional<EventTypeId> type = schema.FindEventType(et.type);
    if (!type) {
      problems_.push_back(fmt::format("{}: schema has no event type {}", et.type, et.type));
      continue;
    }
    Plan plan;
    plan.type = *type;
    plan.field_count = schema.event_type(*type).fields.size();
    bool complete = true;
    for (std::span<const Need> needs : {std::span<const Need>(kContext), extra}) {
      for (const Need& need : needs) {
        std::optional<FieldIndex> index = schema.FindField(*type, need.name);
        if (!index) {
          problems_.push_back(fmt::format("{}: schema has no field {}", et.type, need.name));
          complete = false;
          continue;
        }
        plan.*need.member = *index;
      }
    }
    plan.usable = complete;
    plans_[static_cast<size_t>(et.kind)] = plan;
  }
}

bool EventBuilder::Build(const RawEvent& raw, ProcessTable& table, OwnedEvent& out) {
  table.Apply(raw);
  if (raw.kind == RawKind::kFork) {
    ++stats_.no_event;
    return false;
  }
  size_t kind = static_cast<size_t>(raw.kind);
  if (kind >= plans_.size() || !plans_[kind].usable) {
    ++stats_.refused;
    return false;
  }
  const Plan& p = plans_[kind];
  out.Reset(p.type, p.field_count, raw.time_ns);

  // The actor's fields are copied before the parent lookup: that lookup may
  // load from /proc and evict the (possibly exited) actor's entry.
  int32_t ppid = raw.ppid;
  uint32_t gid = raw.gid;
  if (raw.pid > 0) out.SetNumber(p.process_id, raw.pid);
  if (const ProcessInfo* actor = table.Lookup(raw.pid)) {
    SetIfNonEmpty(out, p.image, actor->image.empty() ? raw.image : std::string_view(actor->image));
    SetIfNonEmpty(out, p.command_line, actor->command_line);
    SetIfNonEmpty(out, p.current_directory, actor->cwd);
    SetIfNonEmpty(out, p.user, actor->user);
    out.SetNumber(p.user_id, actor->uid);
    if (actor->loginuid != kLoginUidUnset) out.SetNumber(p.logon_id, actor->loginuid);
    if (actor->ppid != 0) ppid = actor->ppid;
    gid = actor->gid;
  } else if (RawKnowsActor(raw)) {
    SetIfNonEmpty(out, p.image, raw.image);
    SetIfNonEmpty(out, p.command_line, raw.command_line);
    SetIfNonEmpty(out, p.current_directory, raw.cwd);
    SetIfNonEmpty(out, p.user, table.UserName(raw.uid));
    out.SetNumber(p.user_id, raw.uid);
    if (raw.loginuid != kLoginUidUnset) out.SetNumber(p.logon_id, raw.loginuid);
  }
  if (ppid > 0) {
    out.SetNumber(p.parent_process_id, ppid);
    if (const ProcessInfo* parent = table.Lookup(ppid)) {
      SetIfNonEmpty(out, p.parent_image, parent->image);
      SetIfNonEmpty(out, p.parent_command_line, parent->command_line);
      SetIfNonEmpty(out, p.parent_user, parent->user);
    }
  }

  switch (raw.kind) {
    case RawKind::kExec:
      out.SetNumber(p.group_id, gid);
      break;
    case RawKind::kExit:
      out.SetNumber(p.exit_code, raw.exit_code);
      break;
    case RawKind::kFileRename:
      SetIfNonEmpty(out, p.source_filename, raw.path);
      SetIfNonEmpty(out, p.target_filename, raw.path2);
      break;
    case RawKind::kConnect: {
      if (raw.protocol == IPPROTO_TCP) out.SetText(p.protocol, "tcp");
      if (raw.protocol == IPPROTO_UDP) out.SetText(p.protocol, "udp");
      out.SetText(p.initiated, "true");
      if (raw.family == AF_INET || raw.family == AF_INET6) {
        SetAddress(out, p.source_ip, raw.family, raw.src_addr);
        SetAddress(out, p.destination_ip, raw.family, raw.dst_addr);
        out.SetText(p.destination_is_ipv6, raw.family == AF_INET6 ? "true" : "false");
      }
      if (raw.src_port != 0) out.SetNumber(p.source_port, raw.src_port);
      out.SetNumber(p.destination_port, raw.dst_port);
      break;
    }
    default:  // file events with one path
      SetIfNonEmpty(out, p.target_filename, raw.path);
      break;
  }
  ++stats_.built;
  return true;
}

void AppendEventJson(std::string& out, const OwnedEvent& event, const Schema& schema) {
  if (event.type() >= schema.event_types().size()) return;  // not an event of this schema
  const EventTypeDef& def = schema.event_type(event.type());
  EventView view = event.view();
  size_t count = view.fields.size() < def.fields.size() ? view.fields.size() : def.fields.size();
  out.append("{\"event\":");
  AppendJsonString(out, def.name);
  for (size_t i = 0; i < count; ++i) {
    const FieldValue& fv = view.fields[i];
    if (!fv.present) continue;
    out.push_back(',');
    AppendJsonString(out, def.fields[i].name);
    out.push_back(':');
    if (fv.has_number && def.fields[i].type == FieldType::kInteger) {
      char buf[24];
      auto res = std::to_chars(buf, buf + sizeof(buf), fv.number);
      out.append(buf, static_cast<size_t>(res.ptr - buf));
    } else {
      AppendJsonString(out, fv.text);
    }
  }
  out.push_back('}');
}

}  // namespace vigil::sensor
