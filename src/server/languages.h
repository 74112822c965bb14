// ISO-639-1 codes and the lower-case English names OpenAI's verbose_json reports ("en" -> "english"); the
// set is Whisper's, which OpenAI's `language` parameter accepts.
#pragma once

#include <string>
#include <string_view>

namespace hark::server {

// "english" for "en"; empty when the code is not known.
std::string_view language_name(std::string_view code);

// The code for a code or a name, case-insensitive ("EN", "English" -> "en"); empty when unknown.
std::string language_code(std::string_view code_or_name);

}  // namespace hark::server
