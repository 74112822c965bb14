#include "server/multipart.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"

namespace hark::server {
namespace {

[[noreturn]] void fail(const std::string& message) {
  throw Error(Errc::kInvalidArgument, "malformed multipart/form-data body: " + message);
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Parameters of a header value such as `form-data; name="file"; filename="a b.wav"` or
// `multipart/form-data; boundary=xyz`: calls fn(lowercase key, unquoted value) for each `key=value`.
template <typename Fn>
void for_each_param(std::string_view value, Fn fn) {
  size_t pos = value.find(';');
  while (pos != std::string_view::npos && pos < value.size()) {
    ++pos;
    while (pos < value.size() && (value[pos] == ' ' || value[pos] == '\t')) ++pos;
    const size_t eq = value.find('=', pos);
    if (eq == std::string_view::npos) return;
    const std::string key = lower(trim(value.substr(pos, eq - pos)));
    pos = eq + 1;
    std::string v;
    if (pos < value.size() && value[pos] == '"') {
      // Quoted string: a backslash escapes the next character (browsers send %22 instead, which stays as is).
      ++pos;
      bool closed = false;
      while (pos < value.size()) {
        const char c = value[pos++];
        if (c == '\\' && pos < value.size()) {
          v += value[pos++];
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          v += c;
        }
      }
      if (!closed) fail("unterminated quoted parameter '" + key + "'");
      pos = value.find(';', pos);
    } else {
      const size_t end = value.find(';', pos);
      v = std::string(
          trim(value.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos)));
      pos = end;
    }
    fn(key, v);
  }
}

void parse_part_headers(std::string_view block, FormPart& part) {
  bool has_disposition = false;
  size_t pos = 0;
  while (pos < block.size()) {
    size_t eol = block.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = block.size();
    const std::string_view line = block.substr(pos, eol - pos);
    pos = eol + 2;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) fail("a part header line has no name");
    const std::string name = lower(trim(line.substr(0, colon)));
    const std::string_view value = trim(line.substr(colon + 1));
    if (name == "content-disposition") {
      if (lower(trim(value.substr(0, value.find(';')))) != "form-data")
        fail("a part's Content-Disposition is not form-data");
      has_disposition = true;
      bool has_name = false;
      for_each_param(value, [&](const std::string& key, const std::string& v) {
        if (key == "name") {
          part.name = v;
          has_name = true;
        } else if (key == "filename") {
          part.filename = v;
          part.is_file = true;
        }
      });
      if (!has_name) fail("a part's Content-Disposition has no name");
    } else if (name == "content-type") {
      part.content_type = std::string(value);
    }
  }
  if (!has_disposition) fail("a part has no Content-Disposition header");
}

}  // namespace

std::string multipart_boundary(std::string_view content_type) {
  if (lower(trim(content_type.substr(0, content_type.find(';')))) != "multipart/form-data")
    throw Error(Errc::kInvalidArgument, "expected Content-Type multipart/form-data, got '" +
                                            std::string(content_type.substr(0, 100)) + "'");
  std::string boundary;
  for_each_param(content_type, [&](const std::string& key, const std::string& v) {
    if (key == "boundary") boundary = v;
  });
  // RFC 2046: 1 to 70 characters.
  if (boundary.empty() || boundary.size() > 70)
    throw Error(Errc::kInvalidArgument,
                "multipart/form-data Content-Type needs a boundary parameter of 1 to 70 characters");
  return boundary;
}

std::vector<FormPart> parse_multipart(std::string_view body, std::string_view boundary,
                                      const MultipartLimits& limits) {
  if (boundary.empty()) fail("empty boundary");
  const std::string delimiter = "--" + std::string(boundary);
  const std::string next_delimiter = "\r\n" + delimiter;

  // The first delimiter starts the body or follows a preamble that ends with CRLF.
  size_t pos;
  if (body.substr(0, delimiter.size()) == delimiter) {
    pos = delimiter.size();
  } else {
    pos = body.find(next_delimiter);
    if (pos == std::string_view::npos) fail("the boundary given in Content-Type never occurs in the body");
    pos += next_delimiter.size();
  }

  std::vector<FormPart> parts;
  for (;;) {
    // After a delimiter: "--" closes the body; otherwise optional padding then CRLF opens a part.
    if (body.substr(pos, 2) == "--") return parts;
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
    if (body.substr(pos, 2) != "\r\n") fail("a boundary line is not followed by CRLF");
    pos += 2;

    if (parts.size() >= limits.max_parts) fail("more than " + std::to_string(limits.max_parts) + " parts");
    FormPart part;
    // An empty header block is "\r\n" right away; otherwise headers end with an empty line.
    if (body.substr(pos, 2) == "\r\n") {
      fail("a part has no Content-Disposition header");
    }
    const size_t headers_end = body.find("\r\n\r\n", pos);
    if (headers_end == std::string_view::npos) fail("a part's headers never end");
    if (headers_end - pos > limits.max_header_bytes) fail("a part's headers are too long");
    parse_part_headers(body.substr(pos, headers_end - pos), part);
    pos = headers_end + 4;

    const size_t data_end = body.find(next_delimiter, pos);
    if (data_end == std::string_view::npos) fail("the body ends without its closing boundary");
    part.data = body.substr(pos, data_end - pos);
    parts.push_back(std::move(part));
    pos = data_end + next_delimiter.size();
  }
}

}  // namespace hark::server
