#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "identity/v1/identity.pb.h"

namespace admissions::identity {

/// True when `id` is 18 characters, 17 digits then a digit or X, with a valid
/// birth date and the GB 11643-1999 check character (ISO 7064 MOD 11-2).
bool IsValidResidentId(std::string_view id);

/// Normalises and validates an ID number for its type: trims, upper-cases, checks
/// the shape (and the check digit for RESIDENT_ID). INVALID_ARGUMENT naming
/// `field` otherwise.
absl::StatusOr<std::string> NormalizeIdNumber(v1::IdType type, std::string_view raw,
                                              std::string_view field = "idNumber");

/// A mainland mobile number: ^1[3-9]\d{9}$.
absl::Status ValidatePhone(std::string_view phone, std::string_view field = "phone");
/// 8 to 64 characters (code points).
absl::Status ValidatePassword(std::string_view password, std::string_view field = "password");
/// A real name: 1 to 64 characters, no control characters; returns it trimmed.
absl::StatusOr<std::string> NormalizeName(std::string_view name);

/// "110***********002X": the first 3 and last 4 characters (1 and 1 for short ones).
std::string MaskIdNumber(std::string_view id);
/// "138****8000".
std::string MaskPhone(std::string_view phone);

}  // namespace admissions::identity
