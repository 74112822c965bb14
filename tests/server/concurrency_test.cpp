// Many clients at once on loopback: every request answered correctly, none lost, and never more than
// --parallel running inside the engine.
#include <gtest/gtest.h>

#include <atomic>

#include "test_server.h"

namespace hark::test {
namespace {

TEST(ServerConcurrency, EightClientsTwentyRequestsEach) {
  constexpr int kClients = 8, kRequests = 20;
  server::ServerOptions o;
  o.parallel = 2;
  o.queue = kClients;  // every client can wait; none should be refused
  TestServer s(o);
  s.engine->delay_ms_per_word = 1;
  std::atomic<int> ok{0}, wrong{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      auto c = s.client();
      c.set_keep_alive(true);
      for (int i = 0; i < kRequests; ++i) {
        // Each request has its own length, so a mixed-up response would show as a wrong text.
        const int segments = 1 + (t + i) % 3;
        const std::string wav = make_wav(2.0 * segments);
        const bool stream = i % 4 == 3;
        auto r = c.Post("/v1/audio/transcriptions", audio_form({{"model", "fake-model"},
                                                                {"response_format", "text"},
                                                                {"stream", stream ? "true" : "false"}},
                                                               &wav));
        std::string expected;
        for (int k = 1; k <= segments; ++k)
          expected += " Segment " + std::to_string(k) + " of " + std::to_string(segments) + ".";
        bool good = r && r->status == 200;
        if (good && stream) {
          const auto events = sse_payloads(r->body);
          good = !events.empty() && nlohmann::json::parse(events.back())["text"] == expected;
        } else if (good) {
          good = r->body == expected + "\n";
        }
        (good ? ok : wrong)++;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok, kClients * kRequests);
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(s.engine->calls, kClients * kRequests);
  EXPECT_LE(s.engine->max_running, 2);
  EXPECT_EQ(s.engine->running, 0);
}

}  // namespace
}  // namespace hark::test
