#include "materials/http_util.h"

#include <cstdio>
#include <limits>

namespace admissions::materials {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is invalid
// (overlong forms, surrogates and code points past U+10FFFF are invalid).
size_t Utf8SeqLen(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

bool IsControl(uint32_t c) { return c < 0x20 || c == 0x7F; }

// Cuts `s` (valid UTF-8) to at most `max` bytes on a character boundary.
std::string CutUtf8(std::string_view s, size_t max) {
  size_t end = 0;
  while (end < s.size()) {
    size_t n = Utf8SeqLen(s, end);
    if (end + n > max) break;
    end += n;
  }
  return std::string(s.substr(0, end));
}

}  // namespace

std::optional<std::string> SanitizeFilename(std::string_view raw) {
  // Keep the valid, printable characters only; then take the last path component.
  std::string clean;
  clean.reserve(raw.size());
  for (size_t i = 0; i < raw.size();) {
    size_t n = Utf8SeqLen(raw, i);
    if (n == 0) {
      ++i;
      continue;
    }
    if (!(n == 1 && IsControl(static_cast<unsigned char>(raw[i])))) {
      clean.append(raw.substr(i, n));
    }
    i += n;
  }
  size_t slash = clean.find_last_of("/\\");
  std::string name = slash == std::string::npos ? clean : clean.substr(slash + 1);
  size_t begin = name.find_first_not_of(" .");
  if (begin == std::string::npos) return std::nullopt;
  size_t end = name.find_last_not_of(' ');
  name = name.substr(begin, end - begin + 1);
  if (name.size() <= kMaxFilenameBytes) return name;
  // Too long: keep a short extension and cut the stem.
  size_t dot = name.rfind('.');
  std::string ext;
  if (dot != std::string::npos && name.size() - dot <= 16) ext = name.substr(dot);
  std::string stem = CutUtf8(std::string_view(name).substr(0, name.size() - ext.size()),
                             kMaxFilenameBytes - ext.size());
  return stem + ext;
}

std::optional<int64_t> ParseNonNegative(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

ByteRange ParseRange(std::string_view header, int64_t size) {
  ByteRange whole;
  whole.kind = ByteRange::kWhole;
  whole.first = 0;
  whole.last = size - 1;
  constexpr std::string_view kUnit = "bytes=";
  if (header.size() <= kUnit.size() || header.substr(0, kUnit.size()) != kUnit) return whole;
  std::string_view spec = header.substr(kUnit.size());
  while (!spec.empty() && spec.front() == ' ') spec.remove_prefix(1);
  while (!spec.empty() && spec.back() == ' ') spec.remove_suffix(1);
  if (spec.find(',') != std::string_view::npos) return whole;
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return whole;
  std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
  ByteRange r;
  r.kind = ByteRange::kPartial;
  if (a.empty()) {
    // Suffix range: the last N bytes.
    auto n = ParseNonNegative(b);
    if (!n) return whole;
    if (*n == 0 || size == 0) return ByteRange{ByteRange::kUnsatisfiable, 0, -1};
    r.first = *n >= size ? 0 : size - *n;
    r.last = size - 1;
    return r;
  }
  auto first = ParseNonNegative(a);
  if (!first) return whole;
  std::optional<int64_t> last;
  if (!b.empty()) {
    last = ParseNonNegative(b);
    if (!last || *last < *first) return whole;
  }
  if (*first >= size) return ByteRange{ByteRange::kUnsatisfiable, 0, -1};
  r.first = *first;
  r.last = last && *last < size ? *last : size - 1;
  return r;
}

std::string ContentDisposition(std::string_view filename) {
  std::string ascii, encoded;
  for (size_t i = 0; i < filename.size();) {
    size_t n = Utf8SeqLen(filename, i);
    if (n == 0) {
      ++i;
      continue;
    }
    unsigned char c = static_cast<unsigned char>(filename[i]);
    if (n > 1) {
      ascii.push_back('_');
    } else if (!IsControl(c)) {
      ascii.push_back(c == '"' || c == '\\' ? '_' : static_cast<char>(c));
    }
    for (size_t k = 0; k < n; ++k) {
      unsigned char b = static_cast<unsigned char>(filename[i + k]);
      // RFC 8187 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~".
      bool plain =
          (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') ||
          std::string_view("!#$&+-.^_`|~").find(static_cast<char>(b)) != std::string_view::npos;
      if (plain) {
        encoded.push_back(static_cast<char>(b));
      } else {
        char buf[4];
        std::snprintf(buf, sizeof(buf), "%%%02X", b);
        encoded.append(buf);
      }
    }
    i += n;
  }
  if (ascii.empty()) ascii = "download";
  return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
}

int64_t Utf8Length(std::string_view text) {
  int64_t count = 0;
  for (size_t i = 0; i < text.size();) {
    size_t n = Utf8SeqLen(text, i);
    if (n == 0) return -1;
    i += n;
    ++count;
  }
  return count;
}

}  // namespace admissions::materials
