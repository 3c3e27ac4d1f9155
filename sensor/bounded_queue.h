// A bounded multi-producer single-consumer queue with exact accounting: every
// TryPush either enqueues (pushed) or refuses because the queue is full
// (dropped); pushed == popped + depth at any quiescent point. A flood turns
// into counted drops, never memory growth or a blocked producer.
//
//   BoundedQueue<Item> q(4096);
//   if (!q.TryPush(std::move(item))) { /* counted in stats().dropped */ }
//   // On success `item` holds the slot's stale contents (reusable buffers).
//   Item out; while (q.TryPop(out)) use(out);   // consumer thread only
//   q.WaitForItems(std::chrono::milliseconds(100));
//
// Thread-safety: TryPush from any thread; TryPop/WaitForItems from one
// consumer thread; stats() from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

namespace vigil::sensor {

struct QueueStats {
  uint64_t pushed = 0;
  uint64_t dropped = 0;
  uint64_t popped = 0;
  uint64_t depth = 0;
  uint64_t capacity = 0;
};

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity)
      : slots_(capacity == 0 ? 1 : capacity), capacity_(capacity == 0 ? 1 : capacity) {}

  bool TryPush(T&& item) {
    bool was_empty = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (size_ == capacity_) {
        ++dropped_;
        return false;
      }
      // Swap into the slot: the caller gets the slot's stale object back, so
      // string buffers circulate between producer, queue and consumer and a
      // warm queue does not allocate.
      std::swap(slots_[(head_ + size_) % capacity_], item);
      was_empty = size_ == 0;
      ++size_;
      ++pushed_;
    }
    // The consumer only waits on an empty queue (checked under mu_), so only
    // the push that ends emptiness can have a waiter to wake; the rest skip
    // the futex call.
    if (was_empty) cv_.notify_one();
    return true;
  }

  bool TryPop(T& out) {
    std::lock_guard<std::mutex> lock(mu_);
    if (size_ == 0) return false;
    std::swap(out, slots_[head_]);  // swap keeps both buffers alive for reuse
    head_ = (head_ + 1) % capacity_;
    --size_;
    ++popped_;
    return true;
  }

  // Returns true if items are available, false on timeout.
  bool WaitForItems(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return size_ > 0; });
  }

  void NotifyAll() { cv_.notify_all(); }

  QueueStats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return QueueStats{pushed_, dropped_, popped_, size_, capacity_};
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<T> slots_;
  size_t capacity_;
  size_t head_ = 0;
  size_t size_ = 0;
  uint64_t pushed_ = 0;
  uint64_t dropped_ = 0;
  uint64_t popped_ = 0;
};

}  // namespace vigil::sensor
