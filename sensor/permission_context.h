// Builds the schema event a permission decision is made on: the fanotify
// permission event says who (pid) and what (the file's path); /proc says the
// rest. The process is blocked in the kernel on our answer while this runs, so
// /proc/<pid> shows it exactly as it is at the moment of the decision.
//
//   PermissionContextBuilder builder(Schema::Builtin());
//   OwnedEvent ev;                                        // reuse: no allocation once warm
//   builder.Build(PermissionKind::kExec, pid, "/tmp/x", RealtimeNs(), kAllEventFields, ev);
//   engine.Evaluate(ev.view(), scratch);
//
// kExec (FAN_OPEN_EXEC_PERM) -> process_creation: Image = the executed file,
//   ProcessId = pid; CurrentDirectory, User, UserId, LogonId, GroupId from
//   /proc/<pid>; ParentProcessId, ParentImage, ParentCommandLine, ParentUser
//   from /proc/<ppid>. CommandLine stays absent: the new argv is not known
//   before execve has loaded the program (/proc/<pid>/cmdline is still the
//   old program's), and guessing would make rules match the wrong text.
// kOpen (FAN_OPEN_PERM) -> file_access: TargetFilename = the file, and the
//   opening process's full context as the event builder gives it: Image
//   (/proc/<pid>/exe), CommandLine, CurrentDirectory, User, UserId, LogonId,
//   ParentProcessId, ParentImage, ParentCommandLine, ParentUser.
//
// `fields` selects what to read (bit i = field i of the event type): reading
// only what the rules look at keeps /proc out of most decisions (a rule on
// Image alone needs no /proc read at all). ProcessId and the file's own field
// are always set; kAllEventFields reads everything (for alerts).
//
// Bounds: status, loginuid and cmdline reads are capped at 4 KiB (the same
// argv bound as the process table and the eBPF source), links at PATH_MAX.
// Only /proc/<pid>/{status,loginuid,cwd,exe,cmdline} are read: files whose
// readers take locks a process blocked in execve may hold (environ, stack,
// syscall: cred_guard_mutex / exec_update_lock) are never touched. A process
// gone from /proc (killed while waiting) leaves its fields absent.
//
// Thread-safety: not thread-safe (scratch buffers, a user-name cache); one
// builder per thread, like the OwnedEvent it fills.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "schema/schema.h"
#include "sensor/event_builder.h"
#include "sensor/process_table.h"

namespace vigil::sensor {

enum class PermissionKind : uint8_t {
  kExec = 0,  // FAN_OPEN_EXEC_PERM -> process_creation
  kOpen = 1,  // FAN_OPEN_PERM -> file_access
};
inline constexpr size_t kPermissionKinds = 2;
std::string_view PermissionKindName(PermissionKind kind);  // "exec", "open"

// Field masks: bit i stands for field i of an event type (kMaxFieldsPerType = 64).
using FieldMask = uint64_t;
inline constexpr FieldMask kAllEventFields = ~FieldMask{0};
static_assert(kMaxFieldsPerType <= 64, "FieldMask holds one bit per field");

class PermissionContextBuilder {
 public:
  // `schema` must outlive the builder. `proc_root` is "/proc" except in tests.
  explicit PermissionContextBuilder(const Schema& schema, std::string proc_root = "/proc");

  // False when the schema lacks the kind's event type or one of the fields
  // the builder fills (see problems()); Build then refuses that kind.
  bool usable(PermissionKind kind) const { return plans_[Index(kind)].usable; }
  EventTypeId event_type(PermissionKind kind) const { return plans_[Index(kind)].type; }
  // The field holding the file: Image (exec) or TargetFilename (open).
  FieldIndex file_field(PermissionKind kind) const { return plans_[Index(kind)].file; }

  // Fills `out` for process `pid` acting on `path`. Returns false only for an
  // unusable kind; a process that cannot be read leaves its fields absent.
  bool Build(PermissionKind kind, int32_t pid, std::string_view path, uint64_t time_ns, FieldMask fields,
             OwnedEvent& out);

  // "process_creation: schema has no field GroupId"; empty for the builtin schema.
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  struct Plan {
    bool usable = false;
    EventTypeId type = 0;
    size_t field_count = 0;
    FieldIndex file = 0;  // Image or TargetFilename
    FieldIndex process_id = 0, image = 0, command_line = 0, current_directory = 0, user = 0, user_id = 0,
               logon_id = 0, group_id = 0, parent_process_id = 0, parent_image = 0, parent_command_line = 0,
               parent_user = 0;
  };
  static size_t Index(PermissionKind kind) { return static_cast<size_t>(kind); }
  const char* ProcPath(int32_t pid, const char* name);
  // Reads /proc/<pid>/<name> (at most kMaxProcRead bytes) into io_; its length or -1.
  ssize_t ReadProc(int32_t pid, const char* name);
  // readlink /proc/<pid>/<name> into io_; empty if unreadable.
  std::string_view ReadProcLink(int32_t pid, const char* name);
  void SetCmdline(int32_t pid, FieldIndex index, OwnedEvent& out);

  std::string proc_root_;
  Plan plans_[kPermissionKinds];
  std::vector<std::string> problems_;
  ProcessTable users_;  // only for its bounded uid -> name cache (UserName)
  char path_buf_[512];
  char io_[4096 + 1];
};

}  // namespace vigil::sensor
