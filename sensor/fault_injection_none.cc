// Release builds: no fault injection (see fault_injection.h).
#include "sensor/fault_injection.h"

namespace vigil::sensor {

void MaybeInjectFault(const content::Ruleset&) {}

}  // namespace vigil::sensor
