// Test builds only (vigild-faults): crash or hang on marked content. Never
// linked into vigild, the package or anything installed.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "base/log.h"
#include "sensor/fault_injection.h"

namespace vigil::sensor {

void MaybeInjectFault(const content::Ruleset& ruleset) {
  for (const content::Rule& rule : ruleset.rules) {
    const auto& tags = rule.tags;
    if (std::find(tags.begin(), tags.end(), "vigil.test.crash") != tags.end()) {
      LogError("fault injection: rule {} carries vigil.test.crash: aborting", rule.id);
      std::abort();
    }
    if (std::find(tags.begin(), tags.end(), "vigil.test.hang") != tags.end()) {
      LogError("fault injection: rule {} carries vigil.test.hang: hanging", rule.id);
      for (;;) ::pause();
    }
  }
}

}  // namespace vigil::sensor
