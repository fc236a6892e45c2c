// written_keys and SectionTexts: a section's text, found by one scan, stands for its keys.
#include "arus/config/written_keys.hpp"

#include <gtest/gtest.h>

#include <string>

namespace arus {
namespace {

TEST(SectionTexts, EachSectionFromItsHeaderToTheNext) {
  const std::string text =
      "; preamble\n[global]\nworkers = 2\n[route:a]   ; the first\nlisten = x\n\n"
      "  [route:b]\nlisten = y\n";
  SectionTexts sections(text);
  EXPECT_EQ(sections.find("global"), "[global]\nworkers = 2\n");
  EXPECT_EQ(sections.find("route:a"), "[route:a]   ; the first\nlisten = x\n\n");
  EXPECT_EQ(sections.find("route:b"), "  [route:b]\nlisten = y\n");
}

TEST(SectionTexts, AnAbsentSectionHasNoText) {
  SectionTexts sections("[route:a]\nlisten = x\n");
  EXPECT_EQ(sections.find("global"), "");
}

TEST(SectionTexts, UnsureHeadersMakeItSayNothing) {
  // Written twice: inih merges both into one section.
  EXPECT_EQ(SectionTexts("[route:a]\nx = 1\n[route:a]\ny = 2\n").find("route:a"), std::nullopt);
  // Text after the bracket that is not a comment.
  EXPECT_EQ(SectionTexts("[route:a] junk\nx = 1\n").find("route:a"), std::nullopt);
  // No closing bracket.
  EXPECT_EQ(SectionTexts("[route:a\nx = 1\n[route:b]\n").find("route:b"), std::nullopt);
  // A name inih would truncate, and so read as another section.
  const std::string long_name = "route:" + std::string(60, 'n');
  EXPECT_EQ(SectionTexts("[" + long_name + "]\nx = 1\n[route:b]\n").find("route:b"), std::nullopt);
}

TEST(SectionTexts, EqualTextMeansEqualKeys) {
  const std::string a = "[global]\nworkers = 2\n[route:a]\nlisten = x\nbackend = 1\n";
  const std::string b = "[global]\nworkers = 3\n[route:a]\nlisten = x\nbackend = 1\n";
  SectionTexts before(a);
  SectionTexts after(b);
  EXPECT_EQ(before.find("route:a"), after.find("route:a"));
  EXPECT_NE(before.find("global"), after.find("global"));
  // A section's text alone gives the keys the whole file gives it.
  EXPECT_EQ(written_keys(*after.find("global")).at("global"), written_keys(b).at("global"));
}

}  // namespace
}  // namespace arus
