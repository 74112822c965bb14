#include "text/wer.h"

#include <gtest/gtest.h>

namespace hark::text {
namespace {

TEST(Normalize, CasePunctuationApostrophes) {
  EXPECT_EQ(normalize_transcript("And so, my fellow Americans: ask NOT!"),
            "and so my fellow americans ask not");
  EXPECT_EQ(normalize_transcript("Don't  stop—it’s “fine”…"), "dont stop its fine");
  EXPECT_EQ(normalize_transcript("  \n\t "), "");
  EXPECT_EQ(normalize_transcript("Mr. John Dashwood and Mrs. Dashwood met Dr Smith"),
            "mister john dashwood and missus dashwood met doctor smith");
  EXPECT_EQ(normalize_transcript("Grüße, Señor. ¿Qué?"), "grüße señor qué");
}

TEST(Normalize, DigitsKeepDecimalAndThousands) {
  EXPECT_EQ(normalize_transcript("It costs 1,000 dollars, or 3.5 each."),
            "it costs 1000 dollars or 3.5 each");
  EXPECT_EQ(normalize_transcript("1,000,000 people"), "1000000 people");
  EXPECT_EQ(normalize_transcript("at 5:30, on the 2nd."), "at 5 30 on the 2nd");
  EXPECT_EQ(normalize_transcript("a list: 1, 2, 3."), "a list 1 2 3");
  EXPECT_EQ(normalize_transcript("50% off & more"), "50 percent off and more");
}

TEST(Normalize, NumberWordsBecomeDigits) {
  EXPECT_EQ(normalize_transcript("twenty-one"), "21");
  EXPECT_EQ(normalize_transcript("one hundred and five apples"), "105 apples");
  EXPECT_EQ(normalize_transcript("two thousand twenty"), "2020");
  EXPECT_EQ(normalize_transcript("Nineteen fifty"), "19 50");
  EXPECT_EQ(normalize_transcript("five five five one two"), "5 5 5 1 2");
  EXPECT_EQ(normalize_transcript("five million three thousand and two"), "5003002");
  EXPECT_EQ(normalize_transcript("twenty five hundred"), "2500");
  EXPECT_EQ(normalize_transcript("one point seven"), "1.7");
  EXPECT_EQ(normalize_transcript("the point is one"), "the point is 1");
  EXPECT_EQ(normalize_transcript("this and that"), "this and that");
  EXPECT_EQ(normalize_transcript("ninety nine and one"), "99 and 1");
  // The same sentence spoken and written reads the same once normalised.
  EXPECT_EQ(normalize_transcript("Set a timer for forty-five minutes."),
            normalize_transcript("set a timer for 45 minutes"));
}

TEST(WordErrors, CountsEachOperation) {
  const EditCounts same = word_errors("The cat sat.", "the cat sat");
  EXPECT_EQ(same.errors(), 0);
  EXPECT_EQ(same.reference_length, 3);
  const EditCounts sub = word_errors("the cat sat", "the dog sat");
  EXPECT_EQ(sub.substitutions, 1);
  EXPECT_EQ(sub.errors(), 1);
  const EditCounts del = word_errors("the cat sat down", "the cat down");
  EXPECT_EQ(del.deletions, 1);
  EXPECT_EQ(del.errors(), 1);
  const EditCounts ins = word_errors("the cat", "the big cat");
  EXPECT_EQ(ins.insertions, 1);
  EXPECT_DOUBLE_EQ(ins.rate(), 0.5);
  const EditCounts empty_hyp = word_errors("one two three", "");
  EXPECT_EQ(empty_hyp.deletions, 3);
  EXPECT_DOUBLE_EQ(empty_hyp.rate(), 1.0);
}

TEST(WordErrors, EmptyReference) {
  EXPECT_DOUBLE_EQ(word_errors("", "").rate(), 0.0);
  EXPECT_EQ(word_errors("", "hello there").insertions, 2);
  EXPECT_DOUBLE_EQ(word_errors("...", "hello").rate(), 1.0);
}

TEST(WordErrors, TotalsAddUp) {
  EditCounts total;
  total += word_errors("a b c d", "a x c d");
  total += word_errors("e f", "e f g");
  EXPECT_EQ(total.reference_length, 6);
  EXPECT_EQ(total.errors(), 2);
  EXPECT_NEAR(total.rate(), 2.0 / 6.0, 1e-12);
}

TEST(CharErrors, CodePointsAndSpaces) {
  const EditCounts c = char_errors("kitten", "sitting");
  EXPECT_EQ(c.reference_length, 6);
  EXPECT_EQ(c.errors(), 3);  // k->s, e->i, +g
  EXPECT_EQ(char_errors("ab cd", "abcd").deletions, 1);
  EXPECT_EQ(char_errors("grüße", "grusse").errors(), 3);  // ü->u, ß->s, one s inserted
}

TEST(EditCounts, MinimumOverLongerSequences) {
  std::vector<std::u32string> ref, hyp;
  for (int i = 0; i < 200; ++i) ref.push_back(std::u32string(1, static_cast<char32_t>(U'a' + i % 26)));
  hyp = ref;
  hyp.erase(hyp.begin() + 50);
  hyp.insert(hyp.begin() + 120, U"zz");
  hyp[10] = U"q1";
  const EditCounts c = edit_counts(ref, hyp);
  EXPECT_EQ(c.deletions, 1);
  EXPECT_EQ(c.insertions, 1);
  EXPECT_EQ(c.substitutions, 1);
}

}  // namespace
}  // namespace hark::text
