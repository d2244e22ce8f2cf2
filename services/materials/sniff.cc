#include "materials/sniff.h"

#include <cstdint>

namespace admissions::materials {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

bool At(std::string_view s, size_t pos, std::string_view what) {
  return s.size() >= pos + what.size() && s.substr(pos, what.size()) == what;
}

uint8_t Byte(std::string_view s, size_t i) { return static_cast<uint8_t>(s[i]); }

// ISO base media (ftyp box at offset 4): the major brand tells QuickTime and audio-only
// MPEG-4 apart from the rest.
std::string FromFtyp(std::string_view head) {
  if (!At(head, 4, "ftyp") || head.size() < 12) return "";
  std::string_view brand = head.substr(8, 4);
  if (brand == "qt  ") return "mov";
  if (brand == "M4A " || brand == "M4B " || brand == "M4P ") return "m4a";
  return "mp4";
}

// EBML header; the DocType element (0x42 0x82) says "webm" or "matroska".
std::string FromEbml(std::string_view head) {
  if (!StartsWith(head, "\x1A\x45\xDF\xA3")) return "";
  std::string_view window = head.substr(0, std::min<size_t>(head.size(), 64));
  if (window.find("webm") != std::string_view::npos) return "webm";
  if (window.find("matroska") != std::string_view::npos) return "mkv";
  return "";
}

// MPEG audio frame header: 11 sync bits, a valid version, layer III, a bitrate index that
// is neither free (0) nor bad (15) and a sampling rate index that is not reserved (3).
bool IsMp3Frame(std::string_view head) {
  if (head.size() < 4) return false;
  uint8_t b1 = Byte(head, 1), b2 = Byte(head, 2);
  if (Byte(head, 0) != 0xFF || (b1 & 0xE0) != 0xE0) return false;
  if (((b1 >> 3) & 0x03) == 0x01) return false;  // Reserved version.
  if (((b1 >> 1) & 0x03) != 0x01) return false;  // Layer III only.
  uint8_t bitrate = b2 >> 4, rate = (b2 >> 2) & 0x03;
  return bitrate != 0 && bitrate != 0x0F && rate != 0x03;
}

}  // namespace

std::string DetectFormat(std::string_view head) {
  if (StartsWith(head,
                 "\x7F"
                 "ELF"))
    return "elf";
  if (StartsWith(head, "MZ")) return "exe";
  if (StartsWith(head, "\xFF\xD8\xFF")) return "jpg";
  if (StartsWith(head, "\x89PNG\r\n\x1A\n")) return "png";
  if (StartsWith(head, "GIF87a") || StartsWith(head, "GIF89a")) return "gif";
  if (StartsWith(head, "RIFF") && At(head, 8, "WEBP")) return "webp";
  if (StartsWith(head, "RIFF") && At(head, 8, "WAVE")) return "wav";
  if (StartsWith(head, "%PDF-")) return "pdf";
  if (auto f = FromFtyp(head); !f.empty()) return f;
  if (auto f = FromEbml(head); !f.empty()) return f;
  if (StartsWith(head, "ID3") && head.size() >= 10) return "mp3";
  if (IsMp3Frame(head)) return "mp3";
  if (StartsWith(head, "OggS")) return "ogg";
  if (StartsWith(head, "PK\x03\x04") || StartsWith(head, "PK\x05\x06")) return "zip";
  return "";
}

bool IsExecutableFormat(std::string_view format) { return format == "elf" || format == "exe"; }

std::string ContentTypeOf(std::string_view format) {
  static const std::pair<std::string_view, std::string_view> kTypes[] = {
      {"jpg", "image/jpeg"},
      {"png", "image/png"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"pdf", "application/pdf"},
      {"mp4", "video/mp4"},
      {"mov", "video/quicktime"},
      {"m4a", "audio/mp4"},
      {"webm", "video/webm"},
      {"mkv", "video/x-matroska"},
      {"mp3", "audio/mpeg"},
      {"wav", "audio/wav"},
      {"ogg", "audio/ogg"},
      {"zip", "application/zip"},
      {"text", "text/plain; charset=utf-8"},
  };
  for (const auto& [f, type] : kTypes) {
    if (f == format) return std::string(type);
  }
  return "application/octet-stream";
}

std::vector<std::string> DefaultFormats(v1::MaterialKind kind) {
  switch (kind) {
    case v1::VIDEO:
      return {"mp4", "mov", "webm", "mkv"};
    case v1::AUDIO:
      return {"mp3", "wav", "ogg", "m4a"};
    case v1::IMAGE:
      return {"jpg", "png", "gif", "webp"};
    case v1::OTHER:
      return {"pdf", "zip",  "jpg", "png", "gif", "webp", "mp4",
              "mov", "webm", "mkv", "mp3", "wav", "ogg",  "m4a"};
    default:
      return {};
  }
}

std::string CanonicalFormat(std::string_view name) {
  if (name == "jpeg") return "jpg";
  if (name == "matroska") return "mkv";
  static const std::string_view kKnown[] = {"jpg", "png",  "gif", "webp", "pdf", "mp4", "mov",
                                            "m4a", "webm", "mkv", "mp3",  "wav", "ogg", "zip"};
  for (auto k : kKnown) {
    if (k == name) return std::string(k);
  }
  return "";
}

}  // namespace admissions::materials
