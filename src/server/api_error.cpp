#include "server/api_error.h"

#include <nlohmann/json.hpp>

namespace hark::server {

ApiError invalid_param(const std::string& param, const std::string& message, const std::string& code) {
  return ApiError(400, "invalid_request_error", code, param, message);
}

ApiError from_error(const Error& e, const std::string& param) {
  const std::string code = errc_name(e.code());
  switch (e.code()) {
    case Errc::kInvalidArgument:
    case Errc::kUnsupported:
    case Errc::kAudioEmpty:
    case Errc::kAudioNotAudio:
    case Errc::kAudioUnsupportedCodec:
    case Errc::kAudioCorrupt:
    case Errc::kAudioNoStream:
    case Errc::kAudioZeroChannels:
    case Errc::kAudioTooLong:
    case Errc::kResourceExhausted:  // e.g. audio plus prompt longer than the context
      return ApiError(400, "invalid_request_error", code, param, e.what());
    case Errc::kAudioTooLarge:
      return ApiError(413, "invalid_request_error", code, param, e.what());
    case Errc::kNotFound:
      return ApiError(404, "invalid_request_error", code, param, e.what());
    case Errc::kCancelled:
      // Nobody reads this (the client left or the server stops); 503 describes it if someone does.
      return ApiError(503, "server_error", code, "", e.what());
    case Errc::kIo:
    case Errc::kCorruptFile:
    case Errc::kModelInvalid:
    case Errc::kInternal:
      break;
  }
  return ApiError(500, "server_error", code, "", e.what());
}

std::string error_body(const ApiError& e) {
  nlohmann::json j = {{"error",
                       {{"message", e.what()},
                        {"type", e.type},
                        {"param", e.param.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.param)},
                        {"code", e.code.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.code)}}}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace hark::server
