// A fixed pool of worker threads for the kernels. The calling thread takes part as thread 0, so a pool of
// n threads starts n-1 workers. Dispatch is a generation counter the workers spin on briefly and then wait
// on (futex through std::atomic::wait), so the hundreds of small dispatches per decoded token stay cheap
// while an idle server uses no CPU. Nothing here depends on the core count: 1 to 64+ threads work alike.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace hark {

class ThreadPool {
 public:
  // n_threads <= 0 picks the number of online CPUs.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(thread_index, n_threads) once on every thread of the pool and returns when all are done.
  // Calls from several threads at once are serialised; a call from inside a job runs fn(0, 1) inline.
  template <typename F>
  void run_on_all(F&& fn) {
    using Fn = std::remove_reference_t<F>;
    dispatch([](void* ctx, int ith, int nth) { (*static_cast<Fn*>(ctx))(ith, nth); }, &fn);
  }

  // Calls fn(begin, end) over [0, n) split into chunks of `grain` items, handed out dynamically.
  template <typename F>
  void parallel_for(int64_t n, int64_t grain, F&& fn) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    std::atomic<int64_t> next{0};
    run_on_all([&](int, int) {
      for (;;) {
        const int64_t b = next.fetch_add(grain, std::memory_order_relaxed);
        if (b >= n) break;
        fn(b, b + grain < n ? b + grain : n);
      }
    });
  }

  static int default_threads();

 private:
  using JobFn = void (*)(void* ctx, int ith, int nth);
  void dispatch(JobFn fn, void* ctx);
  void worker(int ith);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex dispatch_mutex_;
  JobFn job_ = nullptr;
  void* job_ctx_ = nullptr;
  std::atomic<uint32_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace hark
