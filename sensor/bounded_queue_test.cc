// BoundedQueue: FIFO basics, exact accounting while 4 producers flood a
// 64-slot queue that a slow consumer drains, and no allocation once warm.
//
// The allocation test replaces the global operator new to count calls. Under
// AddressSanitizer the sanitizer owns operator new; that test is skipped there.
#include "sensor/bounded_queue.h"
#include "sensor/owned_raw_event.h"

#include <array>
#include <atomic>
#include <charconv>
#include <cstdlib>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "base/testing/alloc_counter.h"


namespace vigil::sensor {
namespace {

constexpr size_t kCapacity = 64;
constexpr int kProducers = 4;
constexpr size_t kPayloadBytes = 100;  // past the small-string buffer: a heap payload

// "<producer> <sequence>" padded to kPayloadBytes, written into `item` without
// allocating once `item` has the capacity.
void FillPayload(std::string& item, int producer, uint64_t seq) {
  std::array<char, kPayloadBytes> buf;
  buf.fill('.');
  char* p = std::to_chars(buf.data(), buf.data() + 8, producer).ptr;
  *p++ = ' ';
  std::to_chars(p, buf.data() + 40, seq);
  item.assign(buf.data(), buf.size());
}

void ParsePayload(const std::string& item, int& producer, uint64_t& seq) {
  const char* end = item.data() + item.size();
  auto r = std::from_chars(item.data(), end, producer);
  std::from_chars(r.ptr + 1, end, seq);
}

TEST(BoundedQueue, FifoAndBounds) {
  BoundedQueue<int> q(2);
  EXPECT_FALSE(q.WaitForItems(std::chrono::milliseconds(1)));
  EXPECT_TRUE(q.TryPush(1));
  EXPECT_TRUE(q.TryPush(2));
  EXPECT_FALSE(q.TryPush(3));
  EXPECT_TRUE(q.WaitForItems(std::chrono::milliseconds(1)));
  int out = 0;
  ASSERT_TRUE(q.TryPop(out));
  EXPECT_EQ(out, 1);
  EXPECT_TRUE(q.TryPush(4));
  ASSERT_TRUE(q.TryPop(out));
  EXPECT_EQ(out, 2);
  ASSERT_TRUE(q.TryPop(out));
  EXPECT_EQ(out, 4);
  EXPECT_FALSE(q.TryPop(out));
  QueueStats s = q.stats();
  EXPECT_EQ(s.pushed, 3u);
  EXPECT_EQ(s.dropped, 1u);
  EXPECT_EQ(s.popped, 3u);
  EXPECT_EQ(s.depth, 0u);
  EXPECT_EQ(s.capacity, 2u);
}

TEST(BoundedQueue, ZeroCapacityMeansOne) {
  BoundedQueue<int> q(0);
  EXPECT_EQ(q.stats().capacity, 1u);
  EXPECT_TRUE(q.TryPush(1));
  EXPECT_FALSE(q.TryPush(2));
}

TEST(BoundedQueue, DroppedItemIsLeftWithTheProducer) {
  BoundedQueue<std::string> q(1);
  std::string a(kPayloadBytes, 'a'), b(kPayloadBytes, 'b');
  EXPECT_TRUE(q.TryPush(std::move(a)));
  EXPECT_FALSE(q.TryPush(std::move(b)));
  EXPECT_EQ(b, std::string(kPayloadBytes, 'b'));  // a refused push does not consume the item
}

// Four producers flood a 64-slot queue until a slow consumer has taken
// kToPop items, so most pushes are refused while pops interleave. Every
// attempt is accounted for exactly, at every instant (stats() is one
// consistent snapshot), and no producer's items are lost, duplicated or
// reordered.
TEST(BoundedQueue, ExactAccountingUnderFlood) {
  constexpr uint64_t kToPop = 5'000;
  BoundedQueue<std::string> q(kCapacity);
  std::array<uint64_t, kProducers> attempts{}, pushed{}, dropped{};
  std::atomic<bool> stop{false};

  std::vector<std::thread> producers;
  for (int id = 0; id < kProducers; ++id) {
    producers.emplace_back([&, id] {
      std::string item;
      for (uint64_t seq = 0; !stop.load(std::memory_order_relaxed); ++seq) {
        FillPayload(item, id, seq);
        ++attempts[id];
        if (q.TryPush(std::move(item))) ++pushed[id]; else ++dropped[id];
      }
    });
  }

  uint64_t popped = 0;
  bool ordered = true;
  bool consistent = true;  // no ASSERT while producers run: they must be joined first
  std::array<int64_t, kProducers> last_seq;
  last_seq.fill(-1);
  std::string out;
  auto pop_one = [&] {
    if (!q.TryPop(out)) return false;
    ++popped;
    int id = -1;
    uint64_t seq = 0;
    ParsePayload(out, id, seq);
    if (id < 0 || id >= kProducers || static_cast<int64_t>(seq) <= last_seq[id]) ordered = false;
    else last_seq[id] = static_cast<int64_t>(seq);
    return true;
  };
  while (popped < kToPop) {
    if (q.WaitForItems(std::chrono::milliseconds(10)) && pop_one() && popped % 16 == 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));  // a slow consumer
    }
    QueueStats s = q.stats();
    consistent = consistent && s.popped + s.depth == s.pushed && s.depth <= kCapacity;
  }
  stop.store(true);
  for (auto& t : producers) t.join();
  while (pop_one()) {
  }

  QueueStats s = q.stats();
  uint64_t total_attempts = 0, total_pushed = 0, total_dropped = 0;
  for (int id = 0; id < kProducers; ++id) {
    total_attempts += attempts[id];
    total_pushed += pushed[id];
    total_dropped += dropped[id];
  }
  EXPECT_TRUE(ordered);
  EXPECT_TRUE(consistent);
  EXPECT_EQ(s.pushed + s.dropped, total_attempts);
  EXPECT_EQ(s.pushed, total_pushed);
  EXPECT_EQ(s.dropped, total_dropped);
  EXPECT_EQ(s.popped, popped);
  EXPECT_EQ(s.depth, 0u);
  EXPECT_EQ(s.popped + s.depth, s.pushed);
  EXPECT_GT(s.dropped, s.pushed);  // it really was a flood
}

// Once every slot, the consumer's buffer and each producer's buffer hold a
// heap string of sufficient capacity, pushing and popping only trades
// buffers: moving a heap string into a heap string hands the old buffer back
// (libstdc++), and TryPop swaps. A flood then allocates nothing.
TEST(BoundedQueue, NoAllocationOnceWarm) {
  if (!test_support::AllocCounterAvailable()) GTEST_SKIP() << test_support::kAllocCounterUnavailable;
  constexpr size_t kToPop = 5'000;
  BoundedQueue<std::string> q(kCapacity);
  std::string out;
  out.reserve(2 * kPayloadBytes);
  for (size_t i = 0; i < kCapacity; ++i) {
    std::string warm;
    warm.reserve(2 * kPayloadBytes);
    ASSERT_TRUE(q.TryPush(std::move(warm)));
  }
  while (q.TryPop(out)) {
  }

  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::atomic<bool> stop{false};
  std::vector<std::thread> producers;
  for (int id = 0; id < kProducers; ++id) {
    producers.emplace_back([&, id] {
      std::string item;
      item.reserve(2 * kPayloadBytes);
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      for (uint64_t seq = 0; !stop.load(std::memory_order_relaxed); ++seq) {
        FillPayload(item, id, seq);
        (void)q.TryPush(std::move(item));
      }
    });
  }
  while (ready.load() < kProducers) std::this_thread::yield();
  const size_t before = test_support::AllocationCount();
  go.store(true);
  size_t popped = 0;
  while (popped < kToPop) {
    if (q.WaitForItems(std::chrono::milliseconds(10)) && q.TryPop(out)) ++popped;
  }
  stop.store(true);
  for (auto& t : producers) t.join();
  while (q.TryPop(out)) ++popped;
  const size_t during = test_support::AllocationCount() - before;

  EXPECT_EQ(during, 0u);
  EXPECT_GT(popped, 0u);
  EXPECT_EQ(q.stats().pushed, popped + kCapacity);  // the warm-up items count too
}

// The raw queue between a source and the evaluation thread: the source's
// buffers are overwritten right after the handler returns, the queued copy
// must not change; once warm, copying in and passing through allocates nothing.
TEST(OwnedRawEvent, OutlivesTheSourceBufferAndDoesNotAllocateOnceWarm) {
  BoundedQueue<OwnedRawEvent> q(4);
  std::string source_buffer;
  auto make = [&](int i) {
    source_buffer.assign("/usr/bin/program-with-a-long-name-");
    source_buffer.append(1, static_cast<char>('a' + i % 26));
    sources::RawEvent e;
    e.kind = sources::RawKind::kFileRename;
    e.pid = i;
    e.image = source_buffer;
    e.path = std::string_view(source_buffer).substr(0, 20);
    e.path2 = std::string_view(source_buffer).substr(5);
    return e;
  };
  OwnedRawEvent item, next;
  item.Assign(make(1));
  ASSERT_TRUE(q.TryPush(std::move(item)));
  EXPECT_TRUE(item.raw().image.empty());  // moved-from: empty views of its own strings
  source_buffer.assign(source_buffer.size(), 'X');
  ASSERT_TRUE(q.TryPop(next));
  EXPECT_EQ(next.raw().pid, 1);
  EXPECT_EQ(next.raw().image, "/usr/bin/program-with-a-long-name-b");
  EXPECT_EQ(next.raw().path, "/usr/bin/program-wit");
  EXPECT_EQ(next.raw().path2, "bin/program-with-a-long-name-b");
  OwnedRawEvent copy = next;
  EXPECT_EQ(copy.raw().image, next.raw().image);
  EXPECT_NE(copy.raw().image.data(), next.raw().image.data());

  if (!test_support::AllocCounterAvailable()) return;  // the copy/move checks above still ran
  auto round = [&](int i) {
    item.Assign(make(i));
    (void)q.TryPush(std::move(item));
    if (i % 3 != 0) (void)q.TryPop(next);  // the queue fills up now and then: drops too
  };
  for (int i = 0; i < 200; ++i) round(i);
  const size_t before = test_support::AllocationCount();
  for (int i = 200; i < 10'200; ++i) round(i);
  EXPECT_EQ(test_support::AllocationCount() - before, 0u);
  EXPECT_GT(q.stats().dropped, 0u);
}

}  // namespace
}  // namespace vigil::sensor
