#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/crypto.h"
#include "identity/identity_store.h"

namespace admissions::identity {

/// The face-verification provider's callback, as it signs it: Ed25519 over
/// `timestamp "." nonce "." raw_body`, the signature in base64 in X-Face-Signature,
/// the timestamp (epoch seconds) in X-Face-Timestamp, a unique nonce in X-Face-Nonce.
/// The body is the JSON of identity.v1.FaceProviderResult.
struct SignedCallback {
  std::string body;
  std::string signature;
  std::string timestamp;
  std::string nonce;
};

/// Checks a callback before anything in it is believed.
class FaceCallbackVerifier {
 public:
  static absl::StatusOr<FaceCallbackVerifier> FromBase64PublicKey(std::string_view key_b64);
  /// UNAUTHENTICATED for a bad signature or a timestamp more than `skew` away from
  /// `now`; INVALID_ARGUMENT for a body that is not a result.
  absl::StatusOr<FaceResult> Verify(const SignedCallback& cb, absl::Time now,
                                    absl::Duration skew = absl::Minutes(5)) const;

 private:
  std::string public_key_;
};

/// Development form of the provider: signs results exactly as the real one would,
/// with its own key; driven by POST /v1/dev/verifications/{id}:complete.
class FaceSimulator {
 public:
  static absl::StatusOr<FaceSimulator> FromBase64Seed(std::string_view seed_b64);
  SignedCallback Sign(const FaceResult& result, absl::Time now) const;
  std::string PublicKeyBase64() const;

 private:
  SigningKeyPair keys_;
};

}  // namespace admissions::identity
