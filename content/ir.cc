#include "content/ir.h"

namespace vigil::content {

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kInformational: return "informational";
    case Level::kLow: return "low";
    case Level::kMedium: return "medium";
    case Level::kHigh: return "high";
    case Level::kCritical: return "critical";
  }
  return "unknown";
}

}  // namespace vigil::content
