// Counts calls to the global operator new in a test binary that links
// vigil_alloc_counter, for tests of "no allocation per event" claims.
//
//   if (!AllocCounterAvailable()) GTEST_SKIP() << kAllocCounterUnavailable;
//   size_t before = AllocationCount();
//   ... hot path ...
//   EXPECT_EQ(AllocationCount() - before, 0u);
//
// Under AddressSanitizer operator new belongs to the sanitizer, so counting is
// unavailable there (tests skip, saying so).
//
// Thread-safety: the counter is atomic.
#pragma once

#include <cstddef>

namespace vigil::test_support {

inline constexpr const char* kAllocCounterUnavailable = "operator new belongs to AddressSanitizer in this build";

bool AllocCounterAvailable();
size_t AllocationCount();

}  // namespace vigil::test_support
