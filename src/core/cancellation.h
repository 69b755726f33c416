// Cancellation: a flag a long-running job polls between units of work (video frames).
//
// Cancel() may be called from any thread or from a signal handler (it only stores to
// a lock-free atomic); work that sees cancelled() stops and returns Code::kCancelled.
#pragma once

#include <atomic>

namespace swapline {

class Cancellation {
 public:
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

 private:
  static_assert(std::atomic<bool>::is_always_lock_free, "Cancel() must be async-signal-safe");
  std::atomic<bool> cancelled_{false};
};

}  // namespace swapline
