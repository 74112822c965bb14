#include "server/multipart.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace hark::server {
namespace {

const std::string kBody =
    "preamble to ignore\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"model\"\r\n"
    "\r\n"
    "whisper-1\r\n"
    "--XyZ\r\n"
    "content-disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".wav\"\r\n"
    "Content-Type: audio/wav\r\n"
    "\r\n"
    "RIFF\r\n--Xy not the boundary\r\n"
    "--XyZ  \r\n"
    "Content-Disposition: form-data; name=\"empty\"\r\n"
    "\r\n"
    "\r\n"
    "--XyZ--\r\n"
    "epilogue";

TEST(Multipart, SplitsPartsWithNamesFilenamesTypesAndRawData) {
  const auto parts = parse_multipart(kBody, "XyZ");
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].name, "model");
  EXPECT_FALSE(parts[0].is_file);
  EXPECT_EQ(parts[0].data, "whisper-1");
  EXPECT_EQ(parts[1].name, "file");
  EXPECT_TRUE(parts[1].is_file);
  EXPECT_EQ(parts[1].filename, "a \"b\".wav");
  EXPECT_EQ(parts[1].content_type, "audio/wav");
  // Data may contain CRLF and near-boundaries; only CRLF + "--" + exact boundary ends it.
  EXPECT_EQ(parts[1].data, "RIFF\r\n--Xy not the boundary");
  EXPECT_EQ(parts[2].name, "empty");
  EXPECT_EQ(parts[2].data, "");
}

TEST(Multipart, BoundaryFromContentType) {
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=abc"), "abc");
  EXPECT_EQ(multipart_boundary("Multipart/Form-Data;boundary=\"a b;c\""), "a b;c");
  EXPECT_EQ(multipart_boundary("multipart/form-data; charset=utf-8; BOUNDARY=----x"), "----x");
}

TEST(Multipart, BoundaryProblemsAreInvalidArgument) {
  for (const char* ct : {"multipart/form-data", "multipart/form-data; boundary=",
                         "application/json; boundary=x", "multipart/form-data; boundary=\"unterminated"}) {
    try {
      multipart_boundary(ct);
      ADD_FAILURE() << ct;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kInvalidArgument) << ct;
    }
  }
  EXPECT_THROW(multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'a')), Error);
}

TEST(Multipart, MalformedBodiesAreInvalidArgumentNeverACrash) {
  const std::string d = "Content-Disposition: form-data; name=\"a\"\r\n\r\n";
  const std::vector<std::string> bad = {
      "",                                                        // nothing
      "no boundary anywhere",                                    // boundary absent
      "--b\r\n" + d + "x",                                       // no closing boundary
      "--b\r\n" + d + "x\r\n--b",                                // ends right after a delimiter
      "--bX\r\n" + d + "x\r\n--b--",                             // delimiter line has junk
      "--b\r\nContent-Disposition: form-data; name=\"a\"\r\nx",  // headers never end
      "--b\r\n\r\nx\r\n--b--",                                   // part without headers
      "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--",       // no disposition
      "--b\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n--b--",
      "--b\r\nContent-Disposition: form-data; filename=\"f\"\r\n\r\nx\r\n--b--",  // no name
      "--b\r\nbroken header line\r\n\r\nx\r\n--b--",
  };
  for (const std::string& body : bad) {
    try {
      parse_multipart(body, "b");
      ADD_FAILURE() << "accepted: " << body;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("multipart"), std::string::npos);
    }
  }
}

TEST(Multipart, LimitsOnPartsAndHeaderSize) {
  std::string body;
  for (int i = 0; i < 5; ++i) body += "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n";
  body += "--b--";
  EXPECT_EQ(parse_multipart(body, "b").size(), 5u);
  EXPECT_THROW(parse_multipart(body, "b", {.max_parts = 4}), Error);
  const std::string big =
      "--b\r\nContent-Disposition: form-data; name=\"f\"\r\nX-Pad: " + std::string(200, 'p') +
      "\r\n\r\nv\r\n--b--";
  EXPECT_EQ(parse_multipart(big, "b").size(), 1u);
  EXPECT_THROW(parse_multipart(big, "b", {.max_parts = 64, .max_header_bytes = 100}), Error);
}

TEST(Multipart, ClosingDelimiterRightAfterTheFirst) {
  EXPECT_TRUE(parse_multipart("--b--\r\n", "b").empty());
}

}  // namespace
}  // namespace hark::server
