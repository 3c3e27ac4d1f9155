// Test builds only (vigild-faults, responder_test): crash, hang or decide
// slowly on marked content. Never linked into vigild, the package or
// anything installed.
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

std::chrono::milliseconds InjectedDecisionDelay(std::span<const content::Rule> blocking_rules) {
  for (const content::Rule& rule : blocking_rules) {
    const auto& tags = rule.tags;
    if (std::find(tags.begin(), tags.end(), "vigil.test.slow_decision") != tags.end()) {
      return std::chrono::milliseconds(100);
    }
  }
  return std::chrono::milliseconds(0);
}

}  // namespace vigil::sensor
