#include "identity/password.h"

#include <sodium.h>

#include "absl/status/status.h"

namespace admissions::identity {

absl::StatusOr<std::string> HashPassword(std::string_view password, const PasswordParams& params) {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), params.opslimit,
                            params.memlimit_bytes, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return absl::ResourceExhaustedError("out of memory hashing a password");
  }
  return std::string(out);
}

bool VerifyPassword(std::string_view password, const std::string& hash) {
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

bool NeedsRehash(const std::string& hash, const PasswordParams& params) {
  return crypto_pwhash_str_needs_rehash(hash.c_str(), params.opslimit, params.memlimit_bytes) != 0;
}

}  // namespace admissions::identity
