// Release builds: no fault injection (see fault_injection.h).
#include "sensor/fault_injection.h"

namespace vigil::sensor {

void MaybeInjectFault(const content::Ruleset&) {}

std::chrono::milliseconds InjectedDecisionDelay(std::span<const content::Rule>) {
  return std::chrono::milliseconds(0);
}

}  // namespace vigil::sensor
