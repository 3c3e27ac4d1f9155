#include "update/backoff.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace vigil::update {
namespace {

using std::chrono::milliseconds;

TEST(BackoffTest, CeilingGrowsByTheFactorUpToMaxAndResets) {
  Backoff b({milliseconds(100), milliseconds(1000), 2.0}, 42);
  std::vector<int64_t> ceilings;
  for (int i = 0; i < 6; ++i) {
    ceilings.push_back(b.Ceiling().count());
    milliseconds wait = b.Next();
    EXPECT_GE(wait.count(), 100);
    EXPECT_LE(wait.count(), ceilings.back());
  }
  EXPECT_EQ(ceilings, (std::vector<int64_t>{100, 200, 400, 800, 1000, 1000}));
  EXPECT_EQ(b.failures(), 6u);
  b.Reset();
  EXPECT_EQ(b.failures(), 0u);
  EXPECT_EQ(b.Ceiling().count(), 100);
  EXPECT_EQ(b.Next().count(), 100);  // the first wait after a reset is the floor
}

TEST(BackoffTest, FullJitterCoversTheRange) {
  Backoff b({milliseconds(1000), milliseconds(60'000), 2.0}, 7);
  for (int i = 0; i < 6; ++i) b.Next();  // ceiling now 60 s (capped)
  int64_t lo = 60'000, hi = 0;
  for (int i = 0; i < 2000; ++i) {
    int64_t w = b.Next().count();
    ASSERT_GE(w, 1000);
    ASSERT_LE(w, 60'000);
    lo = std::min(lo, w);
    hi = std::max(hi, w);
  }
  // Spread over the interval, not clustered at the top.
  EXPECT_LT(lo, 5'000);
  EXPECT_GT(hi, 55'000);
}

TEST(BackoffTest, DeterministicForASeed) {
  Backoff a({milliseconds(10), milliseconds(100'000), 3.0}, 1234);
  Backoff b({milliseconds(10), milliseconds(100'000), 3.0}, 1234);
  Backoff c({milliseconds(10), milliseconds(100'000), 3.0}, 1235);
  bool differs = false;
  for (int i = 0; i < 12; ++i) {
    auto wa = a.Next(), wb = b.Next(), wc = c.Next();
    EXPECT_EQ(wa, wb);
    differs |= wa != wc;
  }
  EXPECT_TRUE(differs);
}

TEST(BackoffTest, SpreadStaysWithinTheFractionAndCoversIt) {
  Backoff b({milliseconds(10), milliseconds(100), 2.0}, 99);
  int64_t lo = 1'000'000, hi = 0;
  for (int i = 0; i < 2000; ++i) {
    int64_t w = b.Spread(milliseconds(300'000), 0.2).count();
    ASSERT_GE(w, 240'000);
    ASSERT_LE(w, 360'000);
    lo = std::min(lo, w);
    hi = std::max(hi, w);
  }
  EXPECT_LT(lo, 245'000);
  EXPECT_GT(hi, 355'000);
  EXPECT_EQ(b.failures(), 0u);  // spreading a poll is not a failure
  EXPECT_EQ(b.Spread(milliseconds(5000), 0.0).count(), 5000);
  EXPECT_EQ(b.Spread(milliseconds(5000), std::nan("")).count(), 5000);
  int64_t clamped = b.Spread(milliseconds(5000), 7.0).count();  // at most +-100%
  EXPECT_GE(clamped, 0);
  EXPECT_LE(clamped, 10'000);
}

TEST(BackoffTest, BadOptionsAreClamped) {
  Backoff b({milliseconds(0), milliseconds(-5), 0.5}, 1);
  EXPECT_EQ(b.Next().count(), 1);
  EXPECT_EQ(b.Next().count(), 1);
  Backoff many({milliseconds(1), milliseconds(1000), 10.0}, 1);
  for (int i = 0; i < 5000; ++i) ASSERT_LE(many.Next().count(), 1000);  // no overflow after many failures
}

}  // namespace
}  // namespace vigil::update
