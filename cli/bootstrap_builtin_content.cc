// vigil_bootstrap's stand-in for the built-in default content. The build
// compiles rules/default with vigil_bootstrap (rules/CMakeLists.txt) and
// embeds the result in vigil and vigild; vigil itself cannot compile the
// content it embeds, so the bootstrap tool has none: its `vigil recover`
// reports that the built-in content does not load. Never installed.
#include "rules/builtin_content.h"

namespace vigil {

std::string_view BuiltinDefaultBundle() { return {}; }

}  // namespace vigil
