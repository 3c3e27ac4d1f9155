// Exponential backoff with full jitter, for the update agent's retries.
//
//   Backoff b({.min = 10s, .max = 1h, .factor = 2.0}, /*seed=*/0);  // 0 = random seed
//   auto wait = b.Next();   // after a failure: uniform in [min, ceiling], ceiling = min * factor^(failures-1)
//   b.Reset();              // after a success
//   auto poll = b.Spread(5min, 0.2);  // a regular wait: uniform in [4 min, 6 min]
//
// "Full jitter" (each wait drawn uniformly up to the current ceiling) spreads
// a fleet that failed together (one outage, one bad manifest) over the whole
// interval instead of bringing it back in synchronized waves. The floor `min`
// keeps a failing host from retrying in a tight loop.
//
// Deterministic for a given nonzero seed (a splitmix64 generator, the same on
// every platform), so tests can assert exact waits.
//
// Thread-safety: not thread-safe; one owner.
#pragma once

#include <chrono>
#include <cstdint>

namespace vigil::update {

class Backoff {
 public:
  struct Options {
    std::chrono::milliseconds min{10'000};
    std::chrono::milliseconds max{3'600'000};
    double factor = 2.0;  // >= 1
  };

  Backoff(Options options, uint64_t seed);

  // The wait after one more failure.
  std::chrono::milliseconds Next();
  void Reset() { failures_ = 0; }

  uint32_t failures() const { return failures_; }
  // The ceiling the next wait is drawn under: min * factor^failures, capped at max.
  std::chrono::milliseconds Ceiling() const;

  // `base` moved by a uniform draw within +-fraction of itself (fraction
  // clamped to 0..1): the regular poll interval, so a fleet started together
  // (after an outage, a reboot wave) does not keep polling in step.
  std::chrono::milliseconds Spread(std::chrono::milliseconds base, double fraction);

 private:
  uint64_t Random();

  Options options_;
  uint64_t state_;
  uint32_t failures_ = 0;
};

}  // namespace vigil::update
