#include "sensor/permission_context.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>

#include <fmt/format.h>

#include "sensor/proc_text.h"

namespace vigil::sensor {
namespace {

constexpr uint32_t kLoginUidUnset = 0xffffffff;

struct ProcStatus {
  bool ok = false;
  int32_t ppid = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
};

}  // namespace

std::string_view PermissionKindName(PermissionKind kind) {
  return kind == PermissionKind::kExec ? "exec" : "open";
}

PermissionContextBuilder::PermissionContextBuilder(const Schema& schema, std::string proc_root)
    : proc_root_(std::move(proc_root)), users_({.max_entries = 2, .load_on_miss = false}) {
  using F = FieldIndex Plan::*;
  struct Need {
    F member;
    const char* name;
  };
  static constexpr Need kExec[] = {
      {&Plan::process_id, "ProcessId"},         {&Plan::image, "Image"},
      {&Plan::current_directory, "CurrentDirectory"}, {&Plan::user, "User"},
      {&Plan::user_id, "UserId"},               {&Plan::logon_id, "LogonId"},
      {&Plan::group_id, "GroupId"},             {&Plan::parent_process_id, "ParentProcessId"},
      {&Plan::parent_image, "ParentImage"},     {&Plan::parent_command_line, "ParentCommandLine"},
      {&Plan::parent_user, "ParentUser"},
  };
  static constexpr Need kOpen[] = {
      {&Plan::process_id, "ProcessId"},         {&Plan::image, "Image"},
      {&Plan::command_line, "CommandLine"},     {&Plan::current_directory, "CurrentDirectory"},
      {&Plan::user, "User"},                    {&Plan::user_id, "UserId"},
      {&Plan::logon_id, "LogonId"},             {&Plan::parent_process_id, "ParentProcessId"},
      {&Plan::parent_image, "ParentImage"},     {&Plan::parent_command_line, "ParentCommandLine"},
      {&Plan::parent_user, "ParentUser"},       {&Plan::file, "TargetFilename"},
  };
  struct Kind {
    PermissionKind kind;
    const char* type;
    std::span<const Need> needs;
  };
  const Kind kinds[] = {{PermissionKind::kExec, "process_creation", kExec},
                        {PermissionKind::kOpen, "file_access", kOpen}};
  for (const Kind& k : kinds) {
    std::optional<EventTypeId> type = schema.FindEventType(k.type);
    if (!type) {
      problems_.push_back(fmt::format("{}: schema has no event type {}", k.type, k.type));
      continue;
    }
    Plan plan;
    plan.type = *type;
    plan.field_count = schema.event_type(*type).fields.size();
    bool complete = true;
    for (const Need& need : k.needs) {
      std::optional<FieldIndex> index = schema.FindField(*type, need.name);
      if (!index) {
        problems_.push_back(fmt::format("{}: schema has no field {}", k.type, need.name));
        complete = false;
        continue;
      }
      plan.*need.member = *index;
    }
    if (k.kind == PermissionKind::kExec) plan.file = plan.image;  // the executed file is the new Image
    plan.usable = complete;
    plans_[Index(k.kind)] = plan;
  }
}

const char* PermissionContextBuilder::ProcPath(int32_t pid, const char* name) {
  std::snprintf(path_buf_, sizeof(path_buf_), "%s/%d/%s", proc_root_.c_str(), pid, name);
  return path_buf_;
}

ssize_t PermissionContextBuilder::ReadProc(int32_t pid, const char* name) {
  const int fd = ::open(ProcPath(pid, name), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t got = 0;
  const size_t cap = sizeof(io_) - 1;
  while (got < cap) {
    const ssize_t n = ::read(fd, io_ + got, cap - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  return static_cast<ssize_t>(got);
}

std::string_view PermissionContextBuilder::ReadProcLink(int32_t pid, const char* name) {
  const ssize_t n = ::readlink(ProcPath(pid, name), io_, sizeof(io_));
  if (n <= 0 || static_cast<size_t>(n) >= sizeof(io_)) return {};
  return std::string_view(io_, static_cast<size_t>(n));
}

// /proc/<pid>/cmdline with NULs as spaces and trailing NULs dropped, as the
// process table renders it.
void PermissionContextBuilder::SetCmdline(int32_t pid, FieldIndex index, OwnedEvent& out) {
  const ssize_t n = ReadProc(pid, "cmdline");
  if (n <= 0) return;
  size_t len = static_cast<size_t>(n);
  while (len > 0 && io_[len - 1] == '\0') --len;
  for (size_t i = 0; i < len; ++i) {
    if (io_[i] == '\0') io_[i] = ' ';
  }
  if (len > 0) out.SetText(index, std::string_view(io_, len));
}

bool PermissionContextBuilder::Build(PermissionKind kind, int32_t pid, std::string_view path, uint64_t time_ns,
                                     FieldMask fields, OwnedEvent& out) {
  const Plan& p = plans_[Index(kind)];
  if (!p.usable) return false;
  out.Reset(p.type, p.field_count, time_ns);
  out.SetNumber(p.process_id, pid);
  if (!path.empty()) out.SetText(p.file, path);
  if (pid <= 0) return true;
  auto want = [&](FieldIndex f) { return (fields >> f) & 1u; };
  const bool exec = kind == PermissionKind::kExec;

  if (!exec) {
    if (want(p.image)) {
      std::string_view image = ReadProcLink(pid, "exe");
      if (!image.empty()) out.SetText(p.image, image);
    }
    if (want(p.command_line)) SetCmdline(pid, p.command_line, out);
  }
  if (want(p.current_directory)) {
    std::string_view cwd = ReadProcLink(pid, "cwd");
    if (!cwd.empty()) out.SetText(p.current_directory, cwd);
  }
  if (want(p.logon_id)) {
    const ssize_t n = ReadProc(pid, "loginuid");
    uint32_t loginuid = kLoginUidUnset;
    if (n > 0) {
      auto [ptr, ec] = std::from_chars(io_, io_ + n, loginuid);
      if (ec == std::errc() && ptr != io_ && loginuid != kLoginUidUnset) out.SetNumber(p.logon_id, loginuid);
    }
  }

  const bool want_parent = want(p.parent_process_id) || want(p.parent_image) ||
                           want(p.parent_command_line) || want(p.parent_user);
  const bool want_ids = want(p.user) || want(p.user_id) || (exec && want(p.group_id));
  if (!want_parent && !want_ids) return true;
  ProcStatus status;
  if (const ssize_t n = ReadProc(pid, "status"); n > 0) {
    std::string_view text(io_, static_cast<size_t>(n));
    status.ok = StatusField(text, "PPid:", status.ppid) && StatusField(text, "Uid:", status.uid) &&
                StatusField(text, "Gid:", status.gid);
  }
  if (!status.ok) return true;  // gone: nothing more is known about it
  if (want(p.user_id)) out.SetNumber(p.user_id, status.uid);
  if (want(p.user)) {
    const std::string& name = users_.UserName(status.uid);
    if (!name.empty()) out.SetText(p.user, name);
  }
  if (exec && want(p.group_id)) out.SetNumber(p.group_id, status.gid);
  if (!want_parent || status.ppid <= 0) return true;

  const int32_t ppid = status.ppid;
  out.SetNumber(p.parent_process_id, ppid);
  if (want(p.parent_image)) {
    std::string_view image = ReadProcLink(ppid, "exe");
    if (!image.empty()) out.SetText(p.parent_image, image);
  }
  if (want(p.parent_command_line)) SetCmdline(ppid, p.parent_command_line, out);
  if (want(p.parent_user)) {
    uint32_t parent_uid = 0;
    const ssize_t n = ReadProc(ppid, "status");
    if (n > 0 && StatusField(std::string_view(io_, static_cast<size_t>(n)), "Uid:", parent_uid)) {
      const std::string& name = users_.UserName(parent_uid);
      if (!name.empty()) out.SetText(p.parent_user, name);
    }
  }
  return true;
}

}  // namespace vigil::sensor
