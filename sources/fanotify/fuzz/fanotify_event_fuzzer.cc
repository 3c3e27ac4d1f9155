// The fanotify event parser on arbitrary bytes, as read(2) could return them
// from a group with FAN_REPORT_DFID_NAME and FAN_REPORT_PIDFD (or a
// permission group, which the same parser walks): it must never read outside
// the buffer, always make progress, and hand out only records within the
// bounds it promises. The fds it returns are the input's numbers, never
// real ones: the fuzzer does not close them.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "sources/fanotify/event_parser.h"

namespace fan = vigil::sources::fanotify;

namespace {

bool Inside(std::span<const uint8_t> whole, const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  return n == 0 || (b >= whole.data() && b + n <= whole.data() + whole.size());
}

// A bad event may carry a record filled in part; whatever is set is in bounds.
void CheckDir(std::span<const uint8_t> whole, const fan::DirRecord& d, bool ok) {
  if (ok && !d.present && (!d.handle.empty() || !d.name.empty())) std::abort();
  if (d.present && d.handle.empty()) std::abort();
  if (d.handle.size() > fan::kMaxHandleBytes || !Inside(whole, d.handle.data(), d.handle.size())) std::abort();
  if (d.name.size() > fan::kMaxNameBytes || !Inside(whole, d.name.data(), d.name.size())) std::abort();
  for (char c : d.name) {
    if (c == '\0') std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> whole(data, size);
  std::span<const uint8_t> rest = whole;
  while (!rest.empty()) {
    fan::ParsedEvent ev;
    const fan::ParseStep step = fan::ParseEvent(rest, &ev);
    if (step.consumed == 0 || step.consumed > rest.size()) std::abort();  // progress, within the buffer
    if (step.status == fan::ParseStatus::kBadStream) break;
    const bool ok = step.status == fan::ParseStatus::kOk;
    CheckDir(whole, ev.dir, ok);
    CheckDir(whole, ev.old_dir, ok);
    CheckDir(whole, ev.new_dir, ok);
    rest = rest.subspan(step.consumed);
  }
  return 0;
}
