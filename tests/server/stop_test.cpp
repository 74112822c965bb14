// Stopping a server that has not reached its accept loop yet: httplib's own stop() is a no-op then, and a
// SIGTERM right after the "serving" line left `hark serve` running for good (seen once in CI).
#include <gtest/gtest.h>

#include <future>

#include "test_server.h"

namespace hark::test {
namespace {

using namespace std::chrono_literals;

server::ServerOptions loopback() {
  server::ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  return o;
}

TEST(ServerStop, StopBeforeServeMakesServeReturn) {
  server::Server s(loopback(), std::make_shared<FakeEngine>(), fake_wav_decoder);
  ASSERT_GT(s.bind(), 0);
  s.stop();
  auto served = std::async(std::launch::async, [&] { s.serve(); });
  EXPECT_EQ(served.wait_for(10s), std::future_status::ready) << "serve() kept running after stop()";
  if (served.wait_for(0s) != std::future_status::ready) std::_Exit(1);  // it never returns: do not hang
}

// stop() racing serve() from another thread, the way the signal thread races the main one: every round
// must end, wherever the stop lands.
TEST(ServerStop, StopRacingServeAlwaysEnds) {
  for (int round = 0; round < 200; ++round) {
    server::Server s(loopback(), std::make_shared<FakeEngine>(), fake_wav_decoder);
    ASSERT_GT(s.bind(), 0);
    auto served = std::async(std::launch::async, [&] { s.serve(); });
    if (round % 2 == 1) std::this_thread::sleep_for(std::chrono::microseconds(50 * (round % 7)));
    s.stop();
    ASSERT_EQ(served.wait_for(10s), std::future_status::ready) << "round " << round;
  }
}

}  // namespace
}  // namespace hark::test
