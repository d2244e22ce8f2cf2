#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "materials/v1/materials.pb.h"

namespace admissions::materials {

/// How many leading bytes DetectFormat needs to decide every format it knows.
inline constexpr size_t kSniffBytes = 512;

/// The format of a file from its first bytes (magic numbers), never from its name:
/// "jpg", "png", "gif", "webp", "pdf", "mp4", "mov", "m4a", "webm", "mkv", "mp3", "wav",
/// "ogg", "zip"; "elf" and "exe" for executables (always refused); "" when unknown.
std::string DetectFormat(std::string_view head);

/// True for the formats no requirement may accept (ELF, PE).
bool IsExecutableFormat(std::string_view format);

/// The MIME type served for a detected format ("application/octet-stream" when unknown).
std::string ContentTypeOf(std::string_view format);

/// The formats a requirement of `kind` takes when it lists none. Empty for TEXT.
std::vector<std::string> DefaultFormats(v1::MaterialKind kind);

/// A requirement's format name in its canonical form ("jpeg" → "jpg"), or "" when the
/// name is not a format the sniffer can recognise.
std::string CanonicalFormat(std::string_view name);

}  // namespace admissions::materials
