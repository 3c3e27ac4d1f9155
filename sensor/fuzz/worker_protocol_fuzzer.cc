// The supervisor's protocol parser on arbitrary bytes from a (possibly
// broken or hostile) worker: it must never crash, hold more than one line's
// bound, or accept a line it would not write itself. The input is fed in
// chunks whose sizes come from the input, so every split of a line is tried.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sensor/worker_protocol.h"

using vigil::sensor::FormatWorkerMessage;
using vigil::sensor::ParseWorkerMessage;
using vigil::sensor::ProtocolParser;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the chunk size: 1..256 bytes per Feed.
  const size_t chunk = static_cast<size_t>(data[0]) + 1;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);

  ProtocolParser parser;
  for (size_t at = 0; at < bytes.size(); at += chunk) {
    for (const auto& line : parser.Feed(bytes.substr(at, chunk))) {
      if (!line) {
        (void)line.error().message().size();
        continue;
      }
      // Whatever parses is canonical: it formats back to a line that parses to the same message.
      const std::string text = FormatWorkerMessage(*line);
      if (text.size() >= vigil::sensor::kMaxProtocolLine) std::abort();
      auto again = ParseWorkerMessage(text);
      if (!again || !(*again == *line)) std::abort();
    }
  }
  if (auto tail = parser.Finish()) (void)tail->message().size();

  // The line parser alone, on the whole input as one line.
  auto whole = ParseWorkerMessage(bytes);
  if (whole && FormatWorkerMessage(*whole) != bytes) std::abort();
  return 0;
}
