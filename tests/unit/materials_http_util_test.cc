#include "gtest/gtest.h"
#include "materials/http_util.h"

namespace admissions::materials {
namespace {

TEST(MaterialsFilenameTest, StripsPathsControlsAndDots) {
  EXPECT_EQ(SanitizeFilename("photo.png"), "photo.png");
  EXPECT_EQ(SanitizeFilename("../../etc/passwd"), "passwd");
  EXPECT_EQ(SanitizeFilename("..\\..\\windows\\win.ini"), "win.ini");
  EXPECT_EQ(SanitizeFilename("/abs/path/a.jpg"), "a.jpg");
  EXPECT_EQ(SanitizeFilename(std::string("evil\0.png.exe", 13)), "evil.png.exe");
  EXPECT_EQ(SanitizeFilename("tab\there\r\n.png"), "tabhere.png");
  EXPECT_EQ(SanitizeFilename("  .hidden  "), "hidden");
  EXPECT_EQ(SanitizeFilename("简历 2021.pdf"), "简历 2021.pdf");
  EXPECT_EQ(SanitizeFilename("bad\xC3(utf8.png"), "bad(utf8.png");
}

TEST(MaterialsFilenameTest, RefusesWhatLeavesNothing) {
  EXPECT_EQ(SanitizeFilename(""), std::nullopt);
  EXPECT_EQ(SanitizeFilename(".."), std::nullopt);
  EXPECT_EQ(SanitizeFilename("../"), std::nullopt);
  EXPECT_EQ(SanitizeFilename("a/b/"), std::nullopt);
  EXPECT_EQ(SanitizeFilename(std::string("\0\0", 2)), std::nullopt);
  EXPECT_EQ(SanitizeFilename("   "), std::nullopt);
}

TEST(MaterialsFilenameTest, CapsLengthOnACharacterBoundaryKeepingTheExtension) {
  auto name = SanitizeFilename(std::string(1000, 'a') + ".png");
  ASSERT_TRUE(name);
  EXPECT_EQ(name->size(), kMaxFilenameBytes);
  EXPECT_EQ(name->substr(name->size() - 4), ".png");
  std::string chinese;
  for (int i = 0; i < 300; ++i) chinese += "文";  // 3 bytes each.
  auto cut = SanitizeFilename(chinese);
  ASSERT_TRUE(cut);
  EXPECT_LE(cut->size(), kMaxFilenameBytes);
  EXPECT_EQ(cut->size() % 3, 0u);
  EXPECT_GE(Utf8Length(*cut), 0);
}

TEST(MaterialsRangeTest, Single) {
  auto r = ParseRange("bytes=0-99", 1000);
  EXPECT_EQ(r.kind, ByteRange::kPartial);
  EXPECT_EQ(r.first, 0);
  EXPECT_EQ(r.last, 99);
  EXPECT_EQ(r.length(), 100);
  r = ParseRange("bytes=900-", 1000);
  EXPECT_EQ(r.kind, ByteRange::kPartial);
  EXPECT_EQ(r.first, 900);
  EXPECT_EQ(r.last, 999);
  r = ParseRange("bytes=-10", 1000);
  EXPECT_EQ(r.first, 990);
  EXPECT_EQ(r.last, 999);
  r = ParseRange("bytes=-5000", 1000);  // Longer than the body: all of it.
  EXPECT_EQ(r.kind, ByteRange::kPartial);
  EXPECT_EQ(r.first, 0);
  r = ParseRange("bytes=10-99999", 1000);  // Clamped.
  EXPECT_EQ(r.last, 999);
}

TEST(MaterialsRangeTest, Unsatisfiable) {
  EXPECT_EQ(ParseRange("bytes=1000-", 1000).kind, ByteRange::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=5000-6000", 1000).kind, ByteRange::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=-0", 1000).kind, ByteRange::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=0-0", 0).kind, ByteRange::kUnsatisfiable);
}

TEST(MaterialsRangeTest, IgnoredHeadersServeTheWhole) {
  for (const char* h : {"", "bytes", "bytes=", "items=0-1", "bytes=a-b", "bytes=5-1",
                        "bytes=0-1,5-9", "bytes=--1", "bytes=1-2-3"}) {
    auto r = ParseRange(h, 100);
    EXPECT_EQ(r.kind, ByteRange::kWhole) << h;
    EXPECT_EQ(r.first, 0) << h;
    EXPECT_EQ(r.last, 99) << h;
  }
}

TEST(MaterialsContentDispositionTest, AsciiFallbackAndUtf8) {
  EXPECT_EQ(ContentDisposition("photo.png"),
            "attachment; filename=\"photo.png\"; filename*=UTF-8''photo.png");
  EXPECT_EQ(ContentDisposition("简历.pdf"),
            "attachment; filename=\"__.pdf\"; filename*=UTF-8''%E7%AE%80%E5%8E%86.pdf");
  EXPECT_EQ(ContentDisposition("a \"b\"\\c.txt"),
            "attachment; filename=\"a _b__c.txt\"; filename*=UTF-8''a%20%22b%22%5Cc.txt");
  EXPECT_EQ(ContentDisposition(std::string("x\r\ny;.txt")),
            "attachment; filename=\"xy;.txt\"; filename*=UTF-8''x%0D%0Ay%3B.txt");
}

TEST(MaterialsUtilTest, Utf8LengthAndNumbers) {
  EXPECT_EQ(Utf8Length("abc"), 3);
  EXPECT_EQ(Utf8Length("文字"), 2);
  EXPECT_EQ(Utf8Length("\xC0\x80"), -1);  // Overlong.
  EXPECT_EQ(ParseNonNegative("0"), 0);
  EXPECT_EQ(ParseNonNegative("20000001"), 20000001);
  EXPECT_EQ(ParseNonNegative(""), std::nullopt);
  EXPECT_EQ(ParseNonNegative("-1"), std::nullopt);
  EXPECT_EQ(ParseNonNegative("1e3"), std::nullopt);
  EXPECT_EQ(ParseNonNegative("9999999999999999999999"), std::nullopt);
}

}  // namespace
}  // namespace admissions::materials
