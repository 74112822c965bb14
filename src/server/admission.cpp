#include "server/admission.h"

namespace hark::server {

Admission::Result Admission::acquire(const std::function<bool()>& cancelled, Slot& slot) {
  std::unique_lock lock(mu_);
  if (stopping_) return Result::kStopping;
  if (running_ >= parallel_) {
    if (waiting_ >= queue_) return Result::kQueueFull;
    ++waiting_;
    for (;;) {
      // Wake periodically to notice a client that gave up while waiting.
      cv_.wait_for(lock, std::chrono::milliseconds(100));
      if (stopping_) {
        --waiting_;
        return Result::kStopping;
      }
      if (running_ < parallel_) break;
      if (cancelled && cancelled()) {
        --waiting_;
        return Result::kCancelled;
      }
    }
    --waiting_;
  }
  ++running_;
  slot = Slot(this, [](void* self) { static_cast<Admission*>(self)->release(); });
  return Result::kAdmitted;
}

void Admission::release() {
  {
    std::lock_guard lock(mu_);
    --running_;
  }
  cv_.notify_all();
}

void Admission::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
}

bool Admission::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return running_ == 0; });
}

int Admission::running() const {
  std::lock_guard lock(mu_);
  return running_;
}

int Admission::waiting() const {
  std::lock_guard lock(mu_);
  return waiting_;
}

}  // namespace hark::server
