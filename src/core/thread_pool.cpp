#include "core/thread_pool.h"

#include <immintrin.h>
#include <unistd.h>

#include <exception>
#include <system_error>

namespace hark {
namespace {

// Set while a thread runs a pool job, so nested dispatch runs inline instead of deadlocking.
thread_local bool t_in_job = false;

// Spin this many pause iterations (roughly tens of microseconds) before sleeping on the futex.
constexpr int kSpinIterations = 20000;

constexpr uint64_t kCountMask = (uint64_t{1} << 31) - 1;

}  // namespace

int ThreadPool::default_threads() {
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads > 0 ? n_threads : default_threads()) {
  workers_.reserve(n_threads_ - 1);
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::dispatch(JobFn fn, void* ctx, bool optional) {
  if (t_in_job || n_threads_ == 1) {
    fn(ctx, 0, 1);
    return;
  }
  std::lock_guard<std::mutex> lock(dispatch_mutex_);
  job_ = fn;
  job_ctx_ = ctx;
  job_optional_ = optional;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  const uint32_t gen = generation_.load(std::memory_order_relaxed) + 1;
  // The entry word publishes the job fields (release) to the workers that enter through it.
  entry_.store(static_cast<uint64_t>(gen) << 32, std::memory_order_release);
  generation_.store(gen, std::memory_order_release);
  generation_.notify_all();
  t_in_job = true;
  fn(ctx, 0, n_threads_);
  t_in_job = false;
  if (optional) {
    // Close the job; only workers already inside need waiting for (they are running, so briefly).
    entry_.fetch_or(kClosed, std::memory_order_acq_rel);
    for (int spin = 0; (entry_.load(std::memory_order_acquire) & kCountMask) != 0; ++spin) {
      if (spin < kSpinIterations) {
        _mm_pause();
      } else {
        std::this_thread::yield();
      }
    }
    return;
  }
  for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
    if (spin < kSpinIterations) {
      _mm_pause();
    } else {
      int p = pending_.load(std::memory_order_acquire);
      if (p != 0) pending_.wait(p, std::memory_order_acquire);
    }
  }
}

void ThreadPool::worker(int ith) {
  uint32_t seen = 0;
  for (;;) {
    uint32_t g;
    for (int spin = 0;; ++spin) {
      g = generation_.load(std::memory_order_acquire);
      if (g != seen) break;
      if (spin < kSpinIterations) {
        _mm_pause();
      } else {
        generation_.wait(seen, std::memory_order_acquire);
      }
    }
    seen = g;
    if (stop_.load(std::memory_order_relaxed)) return;
    // Enter job g unless it is closed or already replaced by a newer one (then the loop picks that up).
    uint64_t e = entry_.load(std::memory_order_acquire);
    bool entered = false;
    while ((e >> 32) == g && (e & kClosed) == 0) {
      if (entry_.compare_exchange_weak(e, e + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
        entered = true;
        break;
      }
    }
    if (!entered) continue;
    const bool optional = job_optional_;
    t_in_job = true;
    job_(job_ctx_, ith, n_threads_);
    t_in_job = false;
    entry_.fetch_sub(1, std::memory_order_acq_rel);
    if (!optional && pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

void run_in_two(const std::function<void(int64_t first, int64_t step)>& fn) {
  std::exception_ptr helper_error;
  std::thread helper;
  try {
    helper = std::thread([&] {
      try {
        fn(1, 2);
      } catch (...) {
        helper_error = std::current_exception();
      }
    });
  } catch (const std::system_error&) {
    fn(0, 1);
    return;
  }
  try {
    fn(0, 2);
  } catch (...) {
    helper.join();
    throw;
  }
  helper.join();
  if (helper_error) std::rethrow_exception(helper_error);
}

}  // namespace hark
