// Streaming long audio: the server forwards each window's deltas as soon as the engine produces them, so a
// client reads the first windows' text while later windows are still being decoded (not one burst at the
// end). The fake engine makes every 2 s a window and counts the windows it has finished.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_server.h"

namespace hark::test {
namespace {

using json = nlohmann::json;

// A multipart body with the WAV as "file" plus plain fields, and its boundary.
std::string multipart(const std::string& boundary, const std::string& wav,
                      const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string b = "--" + boundary +
                  "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clip.wav\"\r\n"
                  "Content-Type: audio/wav\r\n\r\n" +
                  wav + "\r\n";
  for (const auto& [name, value] : fields)
    b += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value +
         "\r\n";
  return b + "--" + boundary + "--\r\n";
}

TEST(Streaming, EachWindowsDeltasArriveBeforeTheNextWindowIsDone) {
  TestServer s;
  s.engine->delay_ms_per_word = 50;  // 200 ms per window
  const int n_windows = 5;
  const std::string wav = make_wav(2.0 * n_windows);

  struct Received {
    std::string delta;
    int windows_done;  // the engine's count when the event reached the client
  };
  std::vector<Received> got;
  std::string buffer, done_text;
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/audio/transcriptions";
  req.headers.emplace("Content-Type", "multipart/form-data; boundary=hark-test-boundary");
  req.body = multipart("hark-test-boundary", wav, {{"model", "fake-model"}, {"stream", "true"}});
  req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
    buffer.append(data, len);
    for (size_t end; (end = buffer.find("\n\n")) != std::string::npos; buffer.erase(0, end + 2)) {
      const json e = json::parse(buffer.substr(buffer.find("data: ") + 6, end));
      if (e["type"] == "transcript.text.delta")
        got.push_back({e["delta"].get<std::string>(), s.engine->windows_done.load()});
      else
        done_text = e.value("text", "");
    }
    return true;
  };
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  auto c = s.client();
  ASSERT_TRUE(c.send(req, res, err)) << httplib::to_string(err);
  EXPECT_EQ(res.status, 200);

  ASSERT_EQ(got.size(), 4u * n_windows);  // " Segment", " <i>", " of", " <n>." per window
  std::string joined;
  for (size_t i = 0; i < got.size(); ++i) {
    const int window = static_cast<int>(i / 4);
    joined += got[i].delta;
    // Read while its own window (or, at worst, the one after it) was being decoded.
    EXPECT_LE(got[i].windows_done, window + 1) << "delta " << i << " of window " << window;
  }
  EXPECT_LT(got.front().windows_done, n_windows) << "nothing arrived before the engine had finished";
  EXPECT_EQ(done_text, joined);
}

}  // namespace
}  // namespace hark::test
