// Fuzzes the replay line decoder: any bytes must give Ok or a clean Status,
// and on Ok every field view must lie inside the input.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sources/replay/event_json.h"

static volatile size_t g_sink;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static vigil::replay::EventDecoder decoder(vigil::Schema::Builtin());
  std::string_view line(reinterpret_cast<const char*>(data), size);
  vigil::Status s = decoder.Decode(line);
  if (s.ok()) {
    const auto& ev = decoder.event();
    const auto& def = vigil::Schema::Builtin().event_type(ev.type);
    if (ev.fields.size() != def.fields.size()) std::abort();
    for (const auto& f : ev.fields) {
      if (!f.present && !f.text.empty()) std::abort();
      size_t sum = 0;
      for (char c : f.text) sum += static_cast<unsigned char>(c);  // touch every byte (ASan checks)
      if (sum == 1) g_sink = sum;
    }
  }
  return 0;
}
