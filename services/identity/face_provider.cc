#include "identity/face_provider.h"

#include <sodium.h>

#include "absl/strings/numbers.h"
#include "common/status.h"
#include "google/protobuf/util/json_util.h"
#include "identity/v1/identity.pb.h"

namespace admissions::identity {
namespace {

std::string SigningInput(const SignedCallback& cb) {
  return cb.timestamp + "." + cb.nonce + "." + cb.body;
}

absl::Status Unauthenticated(std::string_view why) {
  return Error(absl::StatusCode::kUnauthenticated, reason::kUnauthenticated, why);
}

}  // namespace

absl::StatusOr<FaceCallbackVerifier> FaceCallbackVerifier::FromBase64PublicKey(
    std::string_view key_b64) {
  auto key = Base64Decode(key_b64);
  if (!key || key->size() != crypto_sign_PUBLICKEYBYTES) {
    return absl::InvalidArgumentError("face provider public key must be 32 bytes in base64");
  }
  FaceCallbackVerifier v;
  v.public_key_ = *key;
  return v;
}

absl::StatusOr<FaceResult> FaceCallbackVerifier::Verify(const SignedCallback& cb, absl::Time now,
                                                        absl::Duration skew) const {
  auto sig = Base64Decode(cb.signature);
  if (!sig || sig->size() != crypto_sign_BYTES) return Unauthenticated("bad callback signature");
  if (cb.nonce.empty() || cb.nonce.size() > 128) return Unauthenticated("bad callback nonce");
  int64_t ts = 0;
  if (!absl::SimpleAtoi(cb.timestamp, &ts)) return Unauthenticated("bad callback timestamp");
  std::string input = SigningInput(cb);
  if (crypto_sign_verify_detached(
          reinterpret_cast<const unsigned char*>(sig->data()),
          reinterpret_cast<const unsigned char*>(input.data()), input.size(),
          reinterpret_cast<const unsigned char*>(public_key_.data())) != 0) {
    return Unauthenticated("bad callback signature");
  }
  if (absl::AbsDuration(absl::FromUnixSeconds(ts) - now) > skew) {
    return Unauthenticated("stale callback timestamp");
  }
  v1::FaceProviderResult body;
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = true;  // The provider may add fields.
  if (!google::protobuf::util::JsonStringToMessage(cb.body, &body, opts).ok()) {
    return InvalidField("body", "the callback body is not a face result");
  }
  if (body.verification_id().empty() || (body.result() != "PASSED" && body.result() != "FAILED")) {
    return InvalidField("body", "the callback body needs verificationId and result");
  }
  FaceResult r;
  r.verification_id = body.verification_id();
  r.passed = body.result() == "PASSED";
  r.score = body.score();
  r.provider_ref = body.provider_ref();
  return r;
}

absl::StatusOr<FaceSimulator> FaceSimulator::FromBase64Seed(std::string_view seed_b64) {
  auto seed = Base64Decode(seed_b64);
  if (!seed) return absl::InvalidArgumentError("face simulator key must be base64");
  auto keys = KeyPairFromSeed(*seed);
  if (!keys.ok()) return keys.status();
  FaceSimulator sim;
  sim.keys_ = *std::move(keys);
  return sim;
}

std::string FaceSimulator::PublicKeyBase64() const { return Base64Encode(keys_.public_key); }

SignedCallback FaceSimulator::Sign(const FaceResult& result, absl::Time now) const {
  v1::FaceProviderResult body;
  body.set_verification_id(result.verification_id);
  body.set_result(result.passed ? "PASSED" : "FAILED");
  body.set_score(result.score);
  body.set_provider_ref(result.provider_ref);
  SignedCallback cb;
  (void)google::protobuf::util::MessageToJsonString(body, &cb.body);
  cb.timestamp = std::to_string(absl::ToUnixSeconds(now));
  cb.nonce = Base64UrlEncode(RandomBytes(16));
  std::string input = SigningInput(cb);
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(input.data()),
                       input.size(),
                       reinterpret_cast<const unsigned char*>(keys_.secret_key.data()));
  cb.signature = Base64Encode(std::string(reinterpret_cast<char*>(sig), sizeof(sig)));
  return cb;
}

}  // namespace admissions::identity
