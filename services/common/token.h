#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "api/v1/auth.pb.h"
#include "common/crypto.h"

namespace admissions {

/// Access tokens: `base64url(header).base64url(claims).base64url(signature)`, JWT
/// compact form with alg "EdDSA" (Ed25519). Header and claims are the JSON of
/// api.v1.TokenHeader / TokenClaims. Only identity holds the signing seed; the
/// gateway and every service verify with the public key, without a round trip.
class TokenSigner {
 public:
  /// `seed_b64`: 32 bytes, standard base64 (setting TOKEN_SIGNING_KEY).
  static absl::StatusOr<TokenSigner> FromBase64Seed(std::string_view seed_b64);
  std::string Sign(const api::v1::TokenClaims& claims) const;
  /// The public key, standard base64 (setting TOKEN_PUBLIC_KEY).
  std::string PublicKeyBase64() const;

 private:
  SigningKeyPair keys_;
  std::string kid_;
};

class TokenVerifier {
 public:
  TokenVerifier();
  ~TokenVerifier();
  TokenVerifier(TokenVerifier&&) noexcept;
  TokenVerifier& operator=(TokenVerifier&&) noexcept;

  /// `keys_b64`: one or more public keys, standard base64, comma-separated (the
  /// extra ones let a key rotation overlap).
  static absl::StatusOr<TokenVerifier> FromBase64PublicKeys(std::string_view keys_b64);
  /// UNAUTHENTICATED (reason UNAUTHENTICATED, message saying why) unless the token is
  /// well formed, alg EdDSA, signed by one of the keys, and `now_seconds` < exp.
  /// A token that verified once is remembered (up to a bounded number), so a
  /// client's repeated requests cost a hash look-up, not a signature check; the
  /// expiry is checked every time.
  absl::StatusOr<api::v1::TokenClaims> Verify(std::string_view token, int64_t now_seconds) const;

 private:
  class Cache;
  absl::StatusOr<api::v1::TokenClaims> VerifySignature(std::string_view token) const;

  std::vector<std::string> public_keys_;
  std::unique_ptr<Cache> cache_;
};

/// Current time in seconds since the epoch.
int64_t NowSeconds();

/// The key id of a public key: hex of the first 8 bytes of its SHA-256.
std::string KeyId(std::string_view public_key);

/// Login sessions ended before their access tokens expire. Fed from Redis pub/sub
/// (common/redis.h, RevocationFeed) and by the process itself; read on every request.
class RevocationList {
 public:
  void Add(const std::string& session_id, int64_t until_seconds);
  bool IsRevoked(const std::string& session_id, int64_t now_seconds) const;
  /// Drops entries past their time; called now and then by the feed.
  void Prune(int64_t now_seconds);
  size_t size() const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, int64_t> until_ ABSL_GUARDED_BY(mu_);
};

}  // namespace admissions
