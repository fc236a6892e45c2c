// utf8_sequence_length: valid sequences of each length, and each kind of invalid one.
#include "arus/core/utf8.hpp"

#include <gtest/gtest.h>

namespace arus {
namespace {

TEST(Utf8, ValidSequencesHaveTheirLength) {
  EXPECT_EQ(utf8_sequence_length("a", 0), 1u);
  EXPECT_EQ(utf8_sequence_length(std::string_view("\0", 1), 0), 1u);
  EXPECT_EQ(utf8_sequence_length("\xC3\xA9", 0), 2u);          // U+00E9
  EXPECT_EQ(utf8_sequence_length("\xE2\x82\xAC", 0), 3u);      // U+20AC
  EXPECT_EQ(utf8_sequence_length("\xF0\x9F\x98\x80", 0), 4u);  // U+1F600
  EXPECT_EQ(utf8_sequence_length("x\xC3\xA9", 1), 2u);
}

TEST(Utf8, InvalidSequencesAreZero) {
  EXPECT_EQ(utf8_sequence_length("\x80", 0), 0u);              // stray continuation
  EXPECT_EQ(utf8_sequence_length("\xFF", 0), 0u);              // never a lead byte
  EXPECT_EQ(utf8_sequence_length("\xE2\x82", 0), 0u);          // truncated
  EXPECT_EQ(utf8_sequence_length("\xC3x", 0), 0u);             // continuation missing
  EXPECT_EQ(utf8_sequence_length("\xC0\xAF", 0), 0u);          // overlong '/'
  EXPECT_EQ(utf8_sequence_length("\xED\xA0\x80", 0), 0u);      // surrogate U+D800
  EXPECT_EQ(utf8_sequence_length("\xF4\x90\x80\x80", 0), 0u);  // above U+10FFFF
}

}  // namespace
}  // namespace arus
