// Fault injection for the supervisor's tests: a worker built with the hooks
// (the vigild-faults test binary) crashes or hangs when it loads content that
// carries a marker tag. Release binaries link fault_injection_none.cc and do
// not contain the hooks or the marker strings (vigild_fault_test checks).
//
//   MaybeInjectFault(ruleset);   // after the verifier accepted it, before it runs
//
// Markers (a rule's tag): vigil.test.crash (abort: SIGABRT) and
// vigil.test.hang (the calling thread blocks forever, so the worker's
// heartbeat stops).
//
// Thread-safety: stateless.
#pragma once

#include "content/ir.h"

namespace vigil::sensor {

void MaybeInjectFault(const content::Ruleset& ruleset);

}  // namespace vigil::sensor
