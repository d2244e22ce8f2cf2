#include <string>

#include "gtest/gtest.h"
#include "materials/sniff.h"

namespace admissions::materials {
namespace {

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

std::string Padded(std::string head) {
  head.resize(64, '\0');
  return head;
}

struct Case {
  const char* name;
  std::string head;
  const char* format;
};

TEST(MaterialsSniffTest, RecognisesEachFormatByItsMagicBytes) {
  const Case cases[] = {
      {"jpeg", Bytes({0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F'}), "jpg"},
      {"png", Padded("\x89PNG\r\n\x1A\n"), "png"},
      {"gif87", Padded("GIF87a"), "gif"},
      {"gif89", Padded("GIF89a"), "gif"},
      {"webp", Padded(std::string("RIFF\x24\0\0\0WEBPVP8 ", 16)), "webp"},
      {"wav", Padded(std::string("RIFF\x24\0\0\0WAVEfmt ", 16)), "wav"},
      {"pdf", Padded("%PDF-1.7\n"), "pdf"},
      {"mp4",
       Padded(std::string("\0\0\0\x18"
                          "ftypisom\0\0\2\0",
                          16)),
       "mp4"},
      {"mov",
       Padded(std::string("\0\0\0\x14"
                          "ftypqt  \0\0\2\0",
                          16)),
       "mov"},
      {"m4a",
       Padded(std::string("\0\0\0\x20"
                          "ftypM4A \0\0\2\0",
                          16)),
       "m4a"},
      {"webm", Padded(std::string("\x1A\x45\xDF\xA3\x9F\x42\x86\x81\x01\x42\x82\x84webm", 16)),
       "webm"},
      {"mkv", Padded(std::string("\x1A\x45\xDF\xA3\xA3\x42\x86\x81\x01\x42\x82\x88matroska", 20)),
       "mkv"},
      {"mp3 id3", Padded("ID3\x03\0\0\0\0\0\x21"), "mp3"},
      {"mp3 frame", Padded(Bytes({0xFF, 0xFB, 0x90, 0x64})), "mp3"},
      {"ogg", Padded("OggS\0\x02"), "ogg"},
      {"zip", Padded("PK\x03\x04\x14\0"), "zip"},
      {"empty zip", Padded("PK\x05\x06"), "zip"},
      {"elf",
       Padded("\x7F"
              "ELF\x02\x01\x01"),
       "elf"},
      {"pe", Padded("MZ\x90\0\x03\0"), "exe"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(DetectFormat(c.head), c.format) << c.name;
  }
}

TEST(MaterialsSniffTest, UnknownAndTruncatedHeadsAreNotGuessed) {
  EXPECT_EQ(DetectFormat(""), "");
  EXPECT_EQ(DetectFormat("hello, this is a text file named photo.png"), "");
  EXPECT_EQ(DetectFormat("\x89PN"), "");                         // Cut short.
  EXPECT_EQ(DetectFormat("RIFF\x24\0\0\0AVI "), "");             // RIFF, but neither WEBP nor WAVE.
  EXPECT_EQ(DetectFormat(Bytes({0xFF, 0xFB, 0xF0, 0x64})), "");  // Bad bitrate index.
  EXPECT_EQ(DetectFormat(Bytes({0xFF, 0xE0, 0x90, 0x64})), "");  // Reserved version... layer.
  EXPECT_EQ(DetectFormat(Padded("\x1A\x45\xDF\xA3")), "");       // EBML without a doc type.
  EXPECT_EQ(DetectFormat("<html><body>"), "");
}

TEST(MaterialsSniffTest, ExecutablesAreFlagged) {
  EXPECT_TRUE(IsExecutableFormat("elf"));
  EXPECT_TRUE(IsExecutableFormat("exe"));
  EXPECT_FALSE(IsExecutableFormat("zip"));
  EXPECT_FALSE(IsExecutableFormat(""));
}

TEST(MaterialsSniffTest, ContentTypes) {
  EXPECT_EQ(ContentTypeOf("jpg"), "image/jpeg");
  EXPECT_EQ(ContentTypeOf("mov"), "video/quicktime");
  EXPECT_EQ(ContentTypeOf("mp3"), "audio/mpeg");
  EXPECT_EQ(ContentTypeOf("pdf"), "application/pdf");
  EXPECT_EQ(ContentTypeOf("nope"), "application/octet-stream");
}

TEST(MaterialsSniffTest, DefaultFormatsAndCanonicalNames) {
  auto image = DefaultFormats(v1::IMAGE);
  EXPECT_NE(std::find(image.begin(), image.end(), "png"), image.end());
  EXPECT_EQ(std::find(image.begin(), image.end(), "pdf"), image.end());
  EXPECT_TRUE(DefaultFormats(v1::TEXT).empty());
  auto other = DefaultFormats(v1::OTHER);
  EXPECT_EQ(std::find(other.begin(), other.end(), "elf"), other.end());
  EXPECT_EQ(CanonicalFormat("jpeg"), "jpg");
  EXPECT_EQ(CanonicalFormat("png"), "png");
  EXPECT_EQ(CanonicalFormat("exe"), "");
  EXPECT_EQ(CanonicalFormat("PNG"), "");  // Callers lower-case first.
}

}  // namespace
}  // namespace admissions::materials
