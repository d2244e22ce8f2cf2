#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace admissions::materials {

/// The most bytes a kept original filename may have (UTF-8, cut on a character boundary).
inline constexpr size_t kMaxFilenameBytes = 200;

/// The original filename as it may be kept and shown: path components dropped (both '/'
/// and '\'), control characters (NUL included) and invalid UTF-8 removed, surrounding
/// spaces and leading dots trimmed (no "..", no hidden names), at most kMaxFilenameBytes
/// with the extension kept when it is short. nullopt when nothing is left.
std::optional<std::string> SanitizeFilename(std::string_view raw);

/// A Range header for a body of `size` bytes. Only one "bytes=" range is served; a header
/// that is malformed or asks for several ranges is ignored (RFC 9110 §14.2 allows it), so
/// the whole body is sent.
struct ByteRange {
  enum Kind { kWhole, kPartial, kUnsatisfiable };
  Kind kind = kWhole;
  int64_t first = 0;  // Inclusive.
  int64_t last = -1;  // Inclusive; size - 1 for kWhole.
  int64_t length() const { return last - first + 1; }
};
ByteRange ParseRange(std::string_view header, int64_t size);

/// `attachment; filename="ascii fallback"; filename*=UTF-8''percent-encoded` (RFC 6266,
/// RFC 8187): every client gets a safe name, those that read filename* the real one.
std::string ContentDisposition(std::string_view filename);

/// The number of UTF-8 code points in `text`, or -1 when it is not valid UTF-8.
int64_t Utf8Length(std::string_view text);

/// Parses a non-negative decimal header value ("Content-Length", "Upload-Offset").
std::optional<int64_t> ParseNonNegative(std::string_view text);

}  // namespace admissions::materials
