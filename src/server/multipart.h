// multipart/form-data (RFC 7578) as OpenAI's audio routes receive it: the whole body is in memory (its size
// is bounded before it is read), and it is split into parts without copying their contents. Every malformed
// input throws hark::Error(Errc::kInvalidArgument) with a message fit for the client.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace hark::server {

struct FormPart {
  std::string name;          // Content-Disposition name="..."
  std::string filename;      // Content-Disposition filename="...", empty for plain fields
  std::string content_type;  // the part's Content-Type, empty when absent
  bool is_file = false;      // a filename parameter was present (even empty)
  std::string_view data;     // the part's bytes, a view into the parsed body
};

struct MultipartLimits {
  size_t max_parts = 64;            // OpenAI's forms have ~15 fields; more is abuse
  size_t max_header_bytes = 16384;  // header block of one part
};

// The boundary parameter of a `multipart/form-data; boundary=...` Content-Type value.
std::string multipart_boundary(std::string_view content_type);

// Splits `body` into its parts. The views in the result point into `body`.
std::vector<FormPart> parse_multipart(std::string_view body, std::string_view boundary,
                                      const MultipartLimits& limits = {});

}  // namespace hark::server
