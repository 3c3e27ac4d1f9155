// ParseConfig on arbitrary bytes: it must return a Config or an error, never
// crash, throw or read out of bounds, whatever the file holds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sensor/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = vigil::sensor::ParseConfig(text, "fuzz.toml");
  if (!config) (void)config.error().message().size();
  return 0;
}
