#include "common/utf8.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace nimify::internal {
namespace {

std::string Encode(std::int32_t rune) {
  std::string out;
  AppendUtf8(rune, &out);
  return out;
}

TEST(AppendUtf8Test, EncodesEachLength) {
  EXPECT_EQ(Encode('a'), "a");
  EXPECT_EQ(Encode(0x7F), "\x7F");
  EXPECT_EQ(Encode(0x80), "\xC2\x80");
  EXPECT_EQ(Encode(0xE9), "\xC3\xA9");
  EXPECT_EQ(Encode(0x7FF), "\xDF\xBF");
  EXPECT_EQ(Encode(0x800), "\xE0\xA0\x80");
  EXPECT_EQ(Encode(0x20AC), "\xE2\x82\xAC");
  EXPECT_EQ(Encode(0xFFFF), "\xEF\xBF\xBF");
  EXPECT_EQ(Encode(0x10000), "\xF0\x90\x80\x80");
  EXPECT_EQ(Encode(0x1F600), "\xF0\x9F\x98\x80");
  EXPECT_EQ(Encode(0x10FFFF), "\xF4\x8F\xBF\xBF");
}

TEST(AppendUtf8Test, InvalidCodePointsBecomeReplacementCharacter) {
  const std::string replacement = "\xEF\xBF\xBD";
  EXPECT_EQ(Encode(0xD800), replacement);
  EXPECT_EQ(Encode(0xDFFF), replacement);
  EXPECT_EQ(Encode(0x110000), replacement);
  EXPECT_EQ(Encode(-1), replacement);
  EXPECT_EQ(Encode(0xD7FF), "\xED\x9F\xBF");
  EXPECT_EQ(Encode(0xE000), "\xEE\x80\x80");
}

TEST(AppendUtf8Test, AppendsToExistingText) {
  std::string out = "x=";
  AppendUtf8(0xE9, &out);
  EXPECT_EQ(out, "x=\xC3\xA9");
}

struct Decoded {
  std::int32_t rune;
  int width;
};

Decoded Decode(std::string_view s) {
  int width = -1;
  const std::int32_t rune = DecodeUtf8(s, &width);
  return {rune, width};
}

TEST(DecodeUtf8Test, RoundTripsEveryLength) {
  for (const std::int32_t rune :
       {0x00, 0x41, 0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFD, 0xFFFF, 0x10000, 0x10FFFF}) {
    const std::string encoded = Encode(rune) + "tail";
    const Decoded d = Decode(encoded);
    EXPECT_EQ(d.rune, rune) << std::hex << rune;
    EXPECT_EQ(d.width, static_cast<int>(encoded.size() - 4)) << std::hex << rune;
  }
}

TEST(DecodeUtf8Test, EmptyInputHasWidthZero) {
  const Decoded d = Decode("");
  EXPECT_EQ(d.rune, kRuneError);
  EXPECT_EQ(d.width, 0);
}

TEST(DecodeUtf8Test, InvalidSequencesGiveReplacementWithWidthOne) {
  for (const std::string_view bad : {
           std::string_view("\x80"),              // lone continuation byte
           std::string_view("\xC0\x80"),          // overlong NUL
           std::string_view("\xC1\xBF"),          // overlong 2-byte lead
           std::string_view("\xE0\x80\x80"),      // overlong 3-byte
           std::string_view("\xF0\x80\x80\x80"),  // overlong 4-byte
           std::string_view("\xED\xA0\x80"),      // encoded surrogate U+D800
           std::string_view("\xF4\x90\x80\x80"),  // above U+10FFFF
           std::string_view("\xF5\x80\x80\x80"),  // invalid lead byte
           std::string_view("\xFF"),              // invalid lead byte
           std::string_view("\xC3"),              // truncated
           std::string_view("\xE2\x82"),          // truncated
           std::string_view("\xE2\x28\xA1"),      // bad continuation byte
       }) {
    const Decoded d = Decode(bad);
    EXPECT_EQ(d.rune, kRuneError) << testing::PrintToString(std::string(bad));
    EXPECT_EQ(d.width, 1) << testing::PrintToString(std::string(bad));
  }
}

TEST(DecodeUtf8Test, EncodedReplacementCharacterIsThreeBytesWide) {
  // Distinguishes a real U+FFFD from an error, as Go callers do.
  const Decoded d = Decode("\xEF\xBF\xBD");
  EXPECT_EQ(d.rune, kRuneError);
  EXPECT_EQ(d.width, 3);
}

TEST(IsValidRuneTest, Boundaries) {
  EXPECT_TRUE(IsValidRune(0));
  EXPECT_TRUE(IsValidRune(0xD7FF));
  EXPECT_FALSE(IsValidRune(0xD800));
  EXPECT_FALSE(IsValidRune(0xDFFF));
  EXPECT_TRUE(IsValidRune(0xE000));
  EXPECT_TRUE(IsValidRune(0x10FFFF));
  EXPECT_FALSE(IsValidRune(0x110000));
  EXPECT_FALSE(IsValidRune(-1));
}

TEST(HexDigitValueTest, AcceptsBothCasesOnly) {
  EXPECT_EQ(HexDigitValue('0'), 0);
  EXPECT_EQ(HexDigitValue('9'), 9);
  EXPECT_EQ(HexDigitValue('a'), 10);
  EXPECT_EQ(HexDigitValue('f'), 15);
  EXPECT_EQ(HexDigitValue('A'), 10);
  EXPECT_EQ(HexDigitValue('F'), 15);
  for (const char c : {'g', 'G', 'x', '/', ':', '@', '`', ' ', '\0', '\xFF'}) {
    EXPECT_EQ(HexDigitValue(c), -1) << static_cast<int>(c);
  }
}

}  // namespace
}  // namespace nimify::internal
