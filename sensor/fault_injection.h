// Fault injection for the supervisor's and the permission responder's tests:
// a worker built with the hooks (the vigild-faults test binary, the responder
// test) crashes, hangs or decides slowly when its content carries a marker
// tag. Release binaries link fault_injection_none.cc and do not contain the
// hooks or the marker strings (vigild_fault_test checks).
//
//   MaybeInjectFault(ruleset);   // after the verifier accepted it, before it runs
//   std::this_thread::sleep_for(InjectedDecisionDelay(engine.rules()));  // per permission decision
//
// Markers (a rule's tag): vigil.test.crash (abort: SIGABRT),
// vigil.test.hang (the calling thread blocks forever, so the worker's
// heartbeat stops) and vigil.test.slow_decision (the permission evaluator
// takes 100 ms over every decision, past the responder's deadline).
//
// Thread-safety: stateless.
#pragma once

#include <chrono>
#include <span>

#include "content/ir.h"

namespace vigil::sensor {

void MaybeInjectFault(const content::Ruleset& ruleset);

// How long the permission evaluator waits before deciding, given the rules
// of its blocking engine: 100 ms when one carries vigil.test.slow_decision
// (hooks), always zero in release builds. Called once per decision.
std::chrono::milliseconds InjectedDecisionDelay(std::span<const content::Rule> blocking_rules);

}  // namespace vigil::sensor
