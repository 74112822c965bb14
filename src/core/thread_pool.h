// A fixed pool of worker threads for the kernels. The calling thread takes part as thread 0, so a pool of
// n threads starts n-1 workers. Dispatch is a generation counter the workers spin on briefly and then wait
// on (futex through std::atomic::wait), so the hundreds of small dispatches per decoded token stay cheap
// while an idle server uses no CPU. Nothing here depends on the core count: 1 to 64+ threads work alike.
//
// parallel_for never waits for a worker that has not started: its chunks are handed out dynamically, so
// once the caller has run out of chunks it closes the job, and a worker the OS had not yet scheduled skips
// it. A busy machine therefore slows a matmul down to the caller's own speed at worst, instead of
// stalling it for a scheduler time slice (measured on a loaded 2-core VM: 260 us -> 17 us per small matvec).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
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
    dispatch([](void* ctx, int ith, int nth) { (*static_cast<Fn*>(ctx))(ith, nth); }, &fn,
             /*optional=*/false);
  }

  // Calls fn(begin, end) over [0, n) split into chunks of `grain` items, handed out dynamically.
  template <typename F>
  void parallel_for(int64_t n, int64_t grain, F&& fn) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    std::atomic<int64_t> next{0};
    auto body = [&](int, int) {
      for (;;) {
        const int64_t b = next.fetch_add(grain, std::memory_order_relaxed);
        if (b >= n) break;
        fn(b, b + grain < n ? b + grain : n);
      }
    };
    using Body = decltype(body);
    dispatch([](void* ctx, int ith, int nth) { (*static_cast<Body*>(ctx))(ith, nth); }, &body,
             /*optional=*/true);
  }

  static int default_threads();

 private:
  using JobFn = void (*)(void* ctx, int ith, int nth);
  // optional: workers that have not entered by the time the caller finishes its share skip the job.
  void dispatch(JobFn fn, void* ctx, bool optional);
  void worker(int ith);

  // Entry word: generation (high 32 bits) | closed flag (bit 31) | workers inside the job (low bits). A
  // worker enters only a job whose generation it has seen and which is still open, so it can never run a job
  // twice or touch a finished job's (stack-allocated) context.
  static constexpr uint64_t kClosed = uint64_t{1} << 31;

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex dispatch_mutex_;
  JobFn job_ = nullptr;
  void* job_ctx_ = nullptr;
  bool job_optional_ = false;
  std::atomic<uint32_t> generation_{0};
  std::atomic<uint64_t> entry_{0};
  std::atomic<int> pending_{0};  // run_on_all: workers still to finish
  std::atomic<bool> stop_{false};
};

// One-off work at load (packing or copying weights) split over the calling thread and one helper thread
// started for it: fn(0, 2) runs here and fn(1, 2) there, fn(first, step) taking items first, first + step,
// ... An exception from either is rethrown here after both have stopped; where no thread can be started,
// fn(0, 1) runs alone. Most of such work is first-touch page faults on new memory, which a second core
// takes in parallel.
void run_in_two(const std::function<void(int64_t first, int64_t step)>& fn);

}  // namespace hark
