#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <numeric>
#include <stdexcept>
#include <thread>
#include <vector>

namespace hark {
namespace {

TEST(ThreadPool, ParallelForCoversEveryIndexOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 7, 1000, 12345}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      pool.parallel_for(n, 13, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
      });
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << threads << " " << i;
    }
  }
}

TEST(ThreadPool, RunOnAllGivesEachThreadItsIndex) {
  ThreadPool pool(4);
  for (int rep = 0; rep < 1000; ++rep) {
    std::vector<std::atomic<int>> seen(4);
    pool.run_on_all([&](int ith, int nth) {
      ASSERT_EQ(nth, 4);
      seen[static_cast<size_t>(ith)].fetch_add(1);
    });
    for (auto& s : seen) ASSERT_EQ(s.load(), 1);
  }
}

TEST(ThreadPool, NestedDispatchRunsInline) {
  ThreadPool pool(2);
  std::atomic<int> inner{0};
  pool.run_on_all(
      [&](int, int) { pool.run_on_all([&](int ith, int nth) { inner += (ith == 0 && nth == 1); }); });
  EXPECT_EQ(inner.load(), 2);
}

TEST(ThreadPool, ConcurrentCallersAreSerialised) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&] {
      for (int rep = 0; rep < 200; ++rep)
        pool.parallel_for(100, 7, [&](int64_t b, int64_t e) { total += e - b; });
    });
  for (auto& t : callers) t.join();
  EXPECT_EQ(total.load(), 4 * 200 * 100);
}

// parallel_for lets late workers skip a closed job while run_on_all needs every thread: interleaving the
// two many times must still run each run_on_all index exactly once and each parallel_for item exactly once
// (a worker entering a stale or finished job would double-count or touch a dead context).
TEST(ThreadPool, InterleavedDispatchKindsStayExact) {
  ThreadPool pool(4);
  std::vector<std::atomic<int>> per_thread(4);
  std::atomic<int64_t> items{0};
  constexpr int kRounds = 1000;
  for (int r = 0; r < kRounds; ++r) {
    pool.run_on_all([&](int ith, int nth) {
      ASSERT_EQ(nth, 4);
      per_thread[ith].fetch_add(1, std::memory_order_relaxed);
    });
    pool.parallel_for(37, 1 + r % 5,
                      [&](int64_t b, int64_t e) { items.fetch_add(e - b, std::memory_order_relaxed); });
  }
  for (int i = 0; i < 4; ++i) EXPECT_EQ(per_thread[i].load(), kRounds) << "thread " << i;
  EXPECT_EQ(items.load(), int64_t{37} * kRounds);
}

// run_in_two splits the items over two threads (two distinct ones: the helper is started for it), each
// item once, and an exception on either side reaches the caller after both sides have stopped.
TEST(RunInTwo, EachItemOnceOnTwoThreads) {
  std::vector<std::atomic<int>> hits(101);
  std::atomic<int> calls{0};
  std::thread::id ids[2];
  run_in_two([&](int64_t first, int64_t step) {
    ASSERT_EQ(step, 2);
    ids[first] = std::this_thread::get_id();
    calls.fetch_add(1);
    for (int64_t i = first; i < 101; i += step) hits[static_cast<size_t>(i)].fetch_add(1);
  });
  EXPECT_EQ(calls.load(), 2);
  EXPECT_NE(ids[0], ids[1]);
  EXPECT_EQ(ids[0], std::this_thread::get_id());
  for (size_t i = 0; i < hits.size(); ++i) EXPECT_EQ(hits[i].load(), 1) << "item " << i;
}

TEST(RunInTwo, ErrorsOfEitherSideReachTheCaller) {
  for (int64_t failing : {0, 1}) {
    std::atomic<int> finished{0};
    try {
      run_in_two([&](int64_t first, int64_t) {
        if (first == failing) throw std::runtime_error("side " + std::to_string(first));
        finished.fetch_add(1);
      });
      FAIL() << "no error from side " << failing;
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()), "side " + std::to_string(failing));
    }
    EXPECT_EQ(finished.load(), 1);  // the other side ran to its end before the error came back
  }
}

}  // namespace
}  // namespace hark
