#include "update/backoff.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace vigil::update {

Backoff::Backoff(Options options, uint64_t seed) : options_(options), state_(seed) {
  if (options_.min.count() < 1) options_.min = std::chrono::milliseconds(1);
  if (options_.max < options_.min) options_.max = options_.min;
  if (!(options_.factor >= 1.0)) options_.factor = 1.0;  // also catches NaN
  if (state_ == 0) state_ = (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
}

std::chrono::milliseconds Backoff::Ceiling() const {
  double ceiling = static_cast<double>(options_.min.count()) * std::pow(options_.factor, failures_);
  double max = static_cast<double>(options_.max.count());
  if (!(ceiling < max)) return options_.max;
  return std::chrono::milliseconds(static_cast<int64_t>(ceiling));
}

std::chrono::milliseconds Backoff::Next() {
  int64_t lo = options_.min.count(), hi = Ceiling().count();
  if (failures_ < 1'000) ++failures_;  // past any realistic cap; keeps pow() finite
  uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
  return std::chrono::milliseconds(lo + static_cast<int64_t>(Random() % span));
}

std::chrono::milliseconds Backoff::Spread(std::chrono::milliseconds base, double fraction) {
  if (!(fraction > 0.0)) return base;  // also NaN
  fraction = std::min(fraction, 1.0);
  const int64_t delta = static_cast<int64_t>(static_cast<double>(base.count()) * fraction);
  if (delta <= 0) return base;
  const uint64_t span = 2 * static_cast<uint64_t>(delta) + 1;
  return std::chrono::milliseconds(base.count() - delta + static_cast<int64_t>(Random() % span));
}

// splitmix64: tiny, well mixed, and the same sequence everywhere.
uint64_t Backoff::Random() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace vigil::update
