// Word and character error rates for evaluating transcripts (`hark eval`), with the text normalisation that
// makes a transcript and its reference comparable. The rules are listed in docs/eval.md; in short:
// lower case, punctuation dropped, apostrophes removed, English number words written as digits.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hark::text {

// Edit operations that turn a reference into a hypothesis (minimum total, Levenshtein).
struct EditCounts {
  int64_t substitutions = 0;
  int64_t deletions = 0;   // reference units missing from the hypothesis
  int64_t insertions = 0;  // hypothesis units not in the reference
  int64_t reference_length = 0;

  int64_t errors() const { return substitutions + deletions + insertions; }
  // errors / reference_length; 0 for an empty reference with an empty hypothesis, 1 per inserted unit when
  // the reference is empty (so an empty reference never divides by zero).
  double rate() const;
  EditCounts& operator+=(const EditCounts& o);
};

// The normalised form of a transcript: words separated by single spaces (see docs/eval.md).
std::string normalize_transcript(std::string_view text);

// Word error counts between the normalised forms of `reference` and `hypothesis`.
EditCounts word_errors(std::string_view reference, std::string_view hypothesis);

// Character (Unicode code point) error counts between the normalised forms, spaces between words included.
EditCounts char_errors(std::string_view reference, std::string_view hypothesis);

// Minimum edits between two sequences; exposed for tests.
EditCounts edit_counts(const std::vector<std::u32string>& reference, const std::vector<std::u32string>& hyp);

}  // namespace hark::text
