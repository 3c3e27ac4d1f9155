// Whole-file reads with a size bound, and atomic whole-file writes.
//
//   Result<std::string> text = ReadFileBounded("/etc/vigil/rule.yml", 1 << 20);
//
// Thread-safety: free functions, no shared state.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace vigil {

// Reads `path` whole. Refuses (kLimitExceeded) a file larger than `max_bytes`
// without reading it, and anything that is not a regular file.
Result<std::string> ReadFileBounded(const std::string& path, size_t max_bytes);

// The same, and `check` judges the opened file's stat before anything is
// read (e.g. a secret's permissions: checked on what was opened, so a swap
// of the path after the check cannot matter); its error is returned as is.
Result<std::string> ReadFileBounded(const std::string& path, size_t max_bytes,
                                    const std::function<Status(const struct stat&)>& check);

// Writes `data` to a temp file beside `path`, fsyncs it, renames it over
// `path` and fsyncs the directory, so readers see the old or the new file.
Status WriteFileAtomic(const std::string& path, std::string_view data);

}  // namespace vigil
