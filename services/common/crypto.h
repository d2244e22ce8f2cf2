#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace admissions {

/// Initialises libsodium; safe to call more than once. Aborts if it cannot.
void InitCrypto();

std::string RandomBytes(size_t n);
/// URL-safe base64 without padding (tokens, ids in URLs).
std::string Base64UrlEncode(std::string_view bin);
std::optional<std::string> Base64UrlDecode(std::string_view text);
/// Standard base64 with padding (keys in settings, TURN passwords).
std::string Base64Encode(std::string_view bin);
std::optional<std::string> Base64Decode(std::string_view text);
std::string HexEncode(std::string_view bin);
/// SHA-256 of `data`, raw 32 bytes.
std::string Sha256(std::string_view data);
/// Compares in time independent of the contents.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

/// Authenticated encryption of personal data at rest (XSalsa20-Poly1305).
/// Output is nonce || ciphertext; a fresh nonce every time.
class SecretBox {
 public:
  /// `key_b64`: 32 bytes, standard base64.
  static absl::StatusOr<SecretBox> FromBase64Key(std::string_view key_b64);
  std::string Seal(std::string_view plaintext) const;
  absl::StatusOr<std::string> Open(std::string_view sealed) const;

 private:
  std::string key_;
};

/// A keyed, deterministic index over personal data (HMAC-SHA-256), so that a value
/// can be looked up without storing it in plain text. The domain separates kinds
/// ("phone", "id") so equal strings of different kinds never collide.
class BlindIndex {
 public:
  static absl::StatusOr<BlindIndex> FromBase64Key(std::string_view key_b64);
  /// Raw 32 bytes.
  std::string Compute(std::string_view domain, std::string_view value) const;

 private:
  std::string key_;
};

/// Ed25519 key pair from a 32-byte seed.
struct SigningKeyPair {
  std::string seed;        // 32 bytes
  std::string public_key;  // 32 bytes
  std::string secret_key;  // 64 bytes (libsodium form)
};
absl::StatusOr<SigningKeyPair> KeyPairFromSeed(std::string_view seed);

}  // namespace admissions
