#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace admissions::identity {

/// Argon2id cost. The defaults are OWASP's minimum for Argon2id (m = 19 MiB, t = 2,
/// p = 1); raising them makes every stored hash "need rehash" at its next login.
struct PasswordParams {
  unsigned long long opslimit = 2;
  size_t memlimit_bytes = 19u * 1024 * 1024;
};

/// Argon2id through libsodium's crypto_pwhash_str (the PHC string form).
absl::StatusOr<std::string> HashPassword(std::string_view password, const PasswordParams& params);
bool VerifyPassword(std::string_view password, const std::string& hash);
bool NeedsRehash(const std::string& hash, const PasswordParams& params);

}  // namespace admissions::identity
