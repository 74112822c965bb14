// Bounded concurrency: at most `parallel` requests run inference at once and at most `queue` wait behind
// them; anything beyond is refused at once (429) instead of piling up threads and memory.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>

namespace hark::server {

class Admission {
 public:
  Admission(int parallel, int queue) : parallel_(parallel), queue_(queue) {}

  enum class Result { kAdmitted, kQueueFull, kStopping, kCancelled };

  // A held slot; released when the last copy goes (it may travel into a streaming response).
  using Slot = std::shared_ptr<void>;

  // Takes a slot, waiting in the queue while all are busy; `cancelled` is polled while waiting.
  Result acquire(const std::function<bool()>& cancelled, Slot& slot);

  // Refuses new work and wakes every waiter with kStopping; running work keeps its slots.
  void stop();
  // Waits until nothing runs, up to `timeout`; true when idle.
  bool wait_idle(std::chrono::milliseconds timeout);

  int running() const;
  int waiting() const;

 private:
  void release();

  const int parallel_;
  const int queue_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int running_ = 0;
  int waiting_ = 0;
  bool stopping_ = false;
};

}  // namespace hark::server
