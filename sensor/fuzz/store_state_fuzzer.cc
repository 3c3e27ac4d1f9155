// ParseStoreState on arbitrary bytes: it must return a state or an error,
// never crash, hang or read out of bounds. Whatever it accepts must survive
// FormatStoreState and parse back to the same state (the writer only writes
// what the reader reads), and every error must name the file and a line.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sensor/content_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vigil::sensor;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto state = ParseStoreState(text, "fuzz.state");
  if (!state) {
    if (state.error().message().rfind("fuzz.state:", 0) != 0) std::abort();
    return 0;
  }
  auto formatted = FormatStoreState(*state);
  if (!formatted) std::abort();
  auto again = ParseStoreState(*formatted, "formatted");
  if (!again || !(*again == *state)) std::abort();
  return 0;
}
