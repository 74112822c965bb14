// libFuzzer target for the server's request parsers: the input is a Content-Type line, a newline, then a
// body. Any bytes must parse or throw hark::Error / ApiError, never crash or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "server/api_error.h"
#include "server/audio_request.h"
#include "server/chat.h"
#include "server/multipart.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nl = input.find('\n');
  const std::string_view content_type = input.substr(0, nl);
  const std::string_view body = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
  try {
    const auto parts = hark::server::parse_multipart(body, hark::server::multipart_boundary(content_type));
    for (const bool translation : {false, true}) {
      try {
        hark::server::parse_audio_request(parts, translation);
      } catch (const hark::server::ApiError&) {
      }
    }
  } catch (const hark::Error&) {
  }
  // The same body as a chat request (JSON with base64 audio).
  try {
    hark::server::parse_chat_request(body);
  } catch (const hark::server::ApiError&) {
  }
  return 0;
}
