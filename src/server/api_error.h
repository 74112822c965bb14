// OpenAI error objects: every failure a client sees is {"error":{"message","type","param","code"}} with an
// HTTP status. Server code throws ApiError directly for request problems; hark::Error from lower layers
// (audio decoding, the engine) is mapped by its Errc.
#pragma once

#include <stdexcept>
#include <string>

#include "core/error.h"

namespace hark::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status_, std::string type_, std::string code_, std::string param_, const std::string& message)
      : std::runtime_error(message),
        status(status_),
        type(std::move(type_)),
        code(std::move(code_)),
        param(std::move(param_)) {}
  int status;
  std::string type;   // "invalid_request_error", "server_error", ...
  std::string code;   // machine-readable code, "" for null
  std::string param;  // offending request field, "" for null
};

// 400 for a bad request field.
ApiError invalid_param(const std::string& param, const std::string& message,
                       const std::string& code = "invalid_value");

// The status, type and code a hark::Error ends as (audio errors 400, oversized audio 413, bugs 500).
ApiError from_error(const Error& e, const std::string& param = "");

// The JSON body of an error: {"error":{"message":...,"type":...,"param":...|null,"code":...|null}}.
std::string error_body(const ApiError& e);

}  // namespace hark::server
