// Language names for prompts. OpenAI clients send ISO-639-1 codes ("en", "de"); Gemma's transcription
// instructions name the language in English ("English", "German").
#pragma once

#include <string>
#include <string_view>

namespace hark::text {

// The English name for an ISO-639-1 code (case-insensitive), or `code_or_name` itself when it is already a
// name (letters, spaces, '-', '(' and ')' only, at most 40 bytes; e.g. "Swiss German"). An empty input
// gives "". Anything else (digits, newlines, markup, over-long text) throws Error(kInvalidArgument), so a
// user value cannot smuggle instructions or special tokens into the prompt.
std::string language_name(std::string_view code_or_name);

}  // namespace hark::text
