#include "base/testing/alloc_counter.h"

#include <atomic>
#include <cstdlib>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define VIGIL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VIGIL_ASAN 1
#endif
#endif

namespace {
std::atomic<size_t> g_allocations{0};
}  // namespace

#ifndef VIGIL_ASAN
void* operator new(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
#endif

namespace vigil::test_support {

bool AllocCounterAvailable() {
#ifdef VIGIL_ASAN
  return false;
#else
  return true;
#endif
}

size_t AllocationCount() { return g_allocations.load(std::memory_order_relaxed); }

}  // namespace vigil::test_support
