#include "text/wer.h"

#include <algorithm>
#include <array>
#include <span>

namespace hark::text {
namespace {

// UTF-8 -> code points; an invalid byte becomes U+FFFD.
std::u32string decode_utf8(std::string_view s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    char32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    bool ok = n > 0 && i + n <= s.size();
    for (int k = 1; ok && k < n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      ok = (b >> 6) == 2;
      cp = (cp << 6) | (b & 0x3F);
    }
    out.push_back(ok ? cp : U'\uFFFD');
    i += ok ? n : 1;
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool is_digit(char32_t c) {
  return c >= U'0' && c <= U'9';
}

// Punctuation and symbols outside ASCII that separate words: Latin-1 punctuation (¡ « » ¿ ...), general
// punctuation (dashes, curly quotes, ellipsis), CJK and full-width punctuation.
bool is_unicode_separator(char32_t c) {
  return (c >= 0xA0 && c <= 0xBF) || c == 0xD7 || c == 0xF7 || (c >= 0x2000 && c <= 0x206F) ||
         (c >= 0x3000 && c <= 0x303F) || (c >= 0xFF00 && c <= 0xFF0F) || (c >= 0xFF1A && c <= 0xFF20);
}

bool is_apostrophe(char32_t c) {
  return c == U'\'' || c == U'\u2019' || c == U'\u2018' || c == U'`';
}

// Step 1: case, punctuation and symbols. Keeps '.' and ',' only between digits (3.5, 1,000: the comma of a
// thousands group is dropped), turns '%' into a word, and drops apostrophes inside words (don't -> dont).
std::u32string clean(const std::u32string& in) {
  std::u32string out;
  const auto at = [&](size_t i) { return i < in.size() ? in[i] : U'\0'; };
  for (size_t i = 0; i < in.size(); ++i) {
    char32_t c = in[i];
    const bool digits_around = i > 0 && is_digit(in[i - 1]) && is_digit(at(i + 1));
    if (c >= U'A' && c <= U'Z') c = c - U'A' + U'a';
    if ((c >= U'a' && c <= U'z') || is_digit(c)) {
      out.push_back(c);
    } else if (c == U'.' && digits_around) {
      out.push_back(c);
    } else if (c == U',' && digits_around && is_digit(at(i + 2)) && is_digit(at(i + 3)) &&
               !is_digit(at(i + 4))) {
      continue;  // thousands separator: 1,000 -> 1000
    } else if (is_apostrophe(c)) {
      continue;
    } else if (c == U'%') {
      out += U" percent ";
    } else if (c == U'&') {
      out += U" and ";
    } else if (c < 0x80 || is_unicode_separator(c)) {
      out.push_back(U' ');
    } else {
      out.push_back(c);  // a letter of another script
    }
  }
  return out;
}

std::vector<std::u32string> split(const std::u32string& s) {
  std::vector<std::u32string> words;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == U' ') ++i;
    size_t j = i;
    while (j < s.size() && s[j] != U' ') ++j;
    if (j > i) words.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return words;
}

constexpr std::array<std::u32string_view, 20> kUnits = {
    U"zero",     U"one",     U"two",     U"three",     U"four",     U"five",    U"six",
    U"seven",    U"eight",   U"nine",    U"ten",       U"eleven",   U"twelve",  U"thirteen",
    U"fourteen", U"fifteen", U"sixteen", U"seventeen", U"eighteen", U"nineteen"};
constexpr std::array<std::u32string_view, 8> kTensWords = {U"twenty", U"thirty",  U"forty",  U"fifty",
                                                           U"sixty",  U"seventy", U"eighty", U"ninety"};

// Number word kinds: value 0-9 (unit), 10-19 (teen), 20-90 (tens), hundred, or a scale (thousand...).
struct NumberWord {
  enum Kind { kNone, kUnit, kTeen, kTens, kHundred, kScale } kind = kNone;
  int64_t value = 0;
};

NumberWord classify(const std::u32string& w) {
  for (size_t k = 0; k < kUnits.size(); ++k)
    if (w == kUnits[k]) return {k < 10 ? NumberWord::kUnit : NumberWord::kTeen, static_cast<int64_t>(k)};
  for (size_t k = 0; k < kTensWords.size(); ++k)
    if (w == kTensWords[k]) return {NumberWord::kTens, static_cast<int64_t>(20 + 10 * k)};
  if (w == U"hundred") return {NumberWord::kHundred, 100};
  if (w == U"thousand") return {NumberWord::kScale, 1000};
  if (w == U"million") return {NumberWord::kScale, 1000000};
  if (w == U"billion") return {NumberWord::kScale, 1000000000};
  return {};
}

std::u32string digits(int64_t v) {
  const std::string s = std::to_string(v);
  return std::u32string(s.begin(), s.end());
}

// Step 2: runs of English number words become digits ("twenty one" -> 21, "one hundred and five" -> 105,
// "two thousand twenty" -> 2020). A word that cannot continue the number in progress starts a new one, so
// digit strings stay digit by digit ("five five five" -> 5 5 5); "point" between a number and units makes
// a decimal ("one point seven" -> 1.7).
std::vector<std::u32string> numbers_to_digits(const std::vector<std::u32string>& words) {
  std::vector<std::u32string> out;
  int64_t total = 0, group = 0, last_scale = 0;
  NumberWord::Kind last = NumberWord::kNone;
  bool active = false;
  const auto flush = [&] {
    if (active) out.push_back(digits(total + group));
    total = group = last_scale = 0;
    last = NumberWord::kNone;
    active = false;
  };
  for (size_t i = 0; i < words.size(); ++i) {
    const NumberWord n = classify(words[i]);
    const bool after_hundred_or_scale = last == NumberWord::kHundred || last == NumberWord::kScale;
    switch (n.kind) {
      case NumberWord::kUnit:
        if (!(last == NumberWord::kNone || after_hundred_or_scale ||
              (last == NumberWord::kTens && n.value > 0)))
          flush();
        group += n.value;
        break;
      case NumberWord::kTeen:
      case NumberWord::kTens:
        if (!(last == NumberWord::kNone || after_hundred_or_scale)) flush();
        group += n.value;
        break;
      case NumberWord::kHundred:
        if (active && (last == NumberWord::kUnit || last == NumberWord::kTeen) && group > 0 && group < 100) {
          group *= 100;
        } else {
          flush();
          group = 100;
        }
        break;
      case NumberWord::kScale:
        if (active && group > 0 && (last_scale == 0 || n.value < last_scale) && last != NumberWord::kScale) {
          total += group * n.value;
          group = 0;
          last_scale = n.value;
        } else {
          flush();
          group = n.value;
          last_scale = n.value;
        }
        break;
      case NumberWord::kNone:
        if (words[i] == U"and" && after_hundred_or_scale && i + 1 < words.size() &&
            classify(words[i + 1]).kind != NumberWord::kNone &&
            classify(words[i + 1]).kind != NumberWord::kScale &&
            classify(words[i + 1]).kind != NumberWord::kHundred)
          continue;  // "one hundred and five"
        if (words[i] == U"point" && active && i + 1 < words.size() &&
            classify(words[i + 1]).kind == NumberWord::kUnit) {
          std::u32string number = digits(total + group) + U".";
          while (i + 1 < words.size() && classify(words[i + 1]).kind == NumberWord::kUnit)
            number += digits(classify(words[++i]).value);
          out.push_back(number);
          total = group = last_scale = 0;
          last = NumberWord::kNone;
          active = false;
          continue;
        }
        flush();
        out.push_back(words[i]);
        continue;
    }
    last = n.kind;
    active = true;
  }
  flush();
  return out;
}

// Step 3: titles written either way ("Mr." and "mister") read the same.
std::u32string expand_title(const std::u32string& w) {
  if (w == U"mr") return U"mister";
  if (w == U"mrs") return U"missus";
  if (w == U"dr") return U"doctor";
  return w;
}

std::vector<std::u32string> normalized_words(std::string_view text) {
  std::vector<std::u32string> words = numbers_to_digits(split(clean(decode_utf8(text))));
  for (auto& w : words) w = expand_title(w);
  return words;
}

template <typename T>
EditCounts levenshtein(std::span<const T> ref, std::span<const T> hyp) {
  struct Cell {
    int64_t cost, sub, del, ins;
  };
  // Two rows of the (ref + 1) x (hyp + 1) table, each cell carrying its operation counts.
  std::vector<Cell> prev(hyp.size() + 1), cur(hyp.size() + 1);
  for (size_t j = 0; j <= hyp.size(); ++j) prev[j] = {static_cast<int64_t>(j), 0, 0, static_cast<int64_t>(j)};
  for (size_t i = 1; i <= ref.size(); ++i) {
    cur[0] = {static_cast<int64_t>(i), 0, static_cast<int64_t>(i), 0};
    for (size_t j = 1; j <= hyp.size(); ++j) {
      Cell diag = prev[j - 1];
      if (!(ref[i - 1] == hyp[j - 1])) {
        ++diag.cost;
        ++diag.sub;
      }
      Cell del = prev[j];
      ++del.cost;
      ++del.del;
      Cell ins = cur[j - 1];
      ++ins.cost;
      ++ins.ins;
      cur[j] = diag;
      if (del.cost < cur[j].cost) cur[j] = del;
      if (ins.cost < cur[j].cost) cur[j] = ins;
    }
    std::swap(prev, cur);
  }
  const Cell& c = prev[hyp.size()];
  return {c.sub, c.del, c.ins, static_cast<int64_t>(ref.size())};
}

std::u32string join(const std::vector<std::u32string>& words) {
  std::u32string s;
  for (const auto& w : words) {
    if (!s.empty()) s.push_back(U' ');
    s += w;
  }
  return s;
}

}  // namespace

double EditCounts::rate() const {
  if (reference_length == 0) return static_cast<double>(errors());
  return static_cast<double>(errors()) / static_cast<double>(reference_length);
}

EditCounts& EditCounts::operator+=(const EditCounts& o) {
  substitutions += o.substitutions;
  deletions += o.deletions;
  insertions += o.insertions;
  reference_length += o.reference_length;
  return *this;
}

std::string normalize_transcript(std::string_view text) {
  std::string out;
  for (char32_t c : join(normalized_words(text))) append_utf8(out, c);
  return out;
}

EditCounts edit_counts(const std::vector<std::u32string>& reference, const std::vector<std::u32string>& hyp) {
  return levenshtein<std::u32string>(reference, hyp);
}

EditCounts word_errors(std::string_view reference, std::string_view hypothesis) {
  return edit_counts(normalized_words(reference), normalized_words(hypothesis));
}

EditCounts char_errors(std::string_view reference, std::string_view hypothesis) {
  const std::u32string r = join(normalized_words(reference)), h = join(normalized_words(hypothesis));
  return levenshtein<char32_t>(r, h);
}

}  // namespace hark::text
