// The decision-time field table. docs/verifier.md ("Blocking rules") shows
// the same table and the reasoning behind each row; keep the two in step
// (decision_fields_test.cc compares this table with the schema).
#include "content/decision_fields.h"

#include <algorithm>

namespace vigil::content {
namespace {

// FAN_OPEN_EXEC_PERM: process X (the event's pid) has called execve() and
// the kernel asks whether it may open the file as the program X becomes.
// X is still its old self: its ids, directory and parent are what the new
// program starts with; the file is known by the event's fd.
constexpr std::string_view kExecKnown[] = {
    "Image",             // the file being executed (readlink of the event fd)
    "ProcessId",         // X, which keeps its pid across exec
    "CurrentDirectory",  // X's
    "User",              // X's (before any set-user-ID bit of the new program applies)
    "UserId",
    "LogonId",
    "GroupId",
    "ParentProcessId",  // X's parent, which is also the new program's parent
    "ParentImage",
    "ParentCommandLine",
    "ParentUser",
};
constexpr UnknownAtDecision kExecUnknown[] = {
    {"CommandLine",
     "the new program's argv exists only in the kernel's exec state (linux_binprm) when exec permission is asked; "
     "user space cannot read it, and /proc/<pid>/cmdline still shows the caller's old command line"},
};

// FAN_OPEN_PERM: the opening process exists with all of its context and the
// path is known by the event's fd.
constexpr std::string_view kOpenKnown[] = {
    "ProcessId",  "Image",           "CommandLine", "CurrentDirectory",  "User",       "UserId",
    "LogonId",    "ParentProcessId", "ParentImage", "ParentCommandLine", "ParentUser", "TargetFilename",
};

constexpr DecisionFields kTable[] = {
    {"process_creation", "FAN_OPEN_EXEC_PERM", "exec permission time", "Image", kExecKnown, kExecUnknown},
    {"file_access", "FAN_OPEN_PERM", "open permission time", "TargetFilename", kOpenKnown, {}},
};

}  // namespace

bool DecisionFields::IsKnown(std::string_view field) const {
  return std::find(known.begin(), known.end(), field) != known.end();
}

std::string_view DecisionFields::WhyUnknown(std::string_view field) const {
  for (const UnknownAtDecision& u : known_unknown) {
    if (u.field == field) return u.why;
  }
  return "the sensor does not supply it when the permission is decided";
}

std::span<const DecisionFields> DecisionFieldTable() { return kTable; }

const DecisionFields* FindDecisionFields(std::string_view event_type) {
  for (const DecisionFields& d : kTable) {
    if (d.event_type == event_type) return &d;
  }
  return nullptr;
}

}  // namespace vigil::content
