// Whole-file reads with a size bound, and atomic whole-file writes.
//
//   Result<std::string> text = ReadFileBounded("/etc/vigil/rule.yml", 1 << 20);
//
// Thread-safety: free functions, no shared state.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/status.h"

namespace vigil {

// Reads `path` whole. Refuses (kLimitExceeded) a file larger than `max_bytes`
// without reading it, and anything that is not a regular file.
Result<std::string> ReadFileBounded(const std::string& path, size_t max_bytes);

// Writes `data` to a temp file beside `path`, fsyncs it, renames it over
// `path` and fsyncs the directory, so readers see the old or the new file.
Status WriteFileAtomic(const std::string& path, std::string_view data);

}  // namespace vigil
