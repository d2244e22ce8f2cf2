#include "common/token.h"

#include <sodium.h>

#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/status.h"
#include "google/protobuf/util/json_util.h"

namespace admissions {
namespace {

constexpr char kAlg[] = "EdDSA";

absl::Status Unauthenticated(std::string_view why) {
  return Error(absl::StatusCode::kUnauthenticated, reason::kUnauthenticated, why);
}

std::string ToJson(const google::protobuf::Message& m) {
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out);
  return out;
}

}  // namespace

int64_t NowSeconds() { return absl::ToUnixSeconds(absl::Now()); }

std::string KeyId(std::string_view public_key) {
  return HexEncode(Sha256(public_key).substr(0, 8));
}

absl::StatusOr<TokenSigner> TokenSigner::FromBase64Seed(std::string_view seed_b64) {
  auto seed = Base64Decode(seed_b64);
  if (!seed || seed->size() != crypto_sign_SEEDBYTES) {
    return absl::InvalidArgumentError("token signing key must be a 32-byte seed in base64");
  }
  auto keys = KeyPairFromSeed(*seed);
  if (!keys.ok()) return keys.status();
  TokenSigner signer;
  signer.keys_ = *std::move(keys);
  signer.kid_ = KeyId(signer.keys_.public_key);
  return signer;
}

std::string TokenSigner::PublicKeyBase64() const { return Base64Encode(keys_.public_key); }

std::string TokenSigner::Sign(const api::v1::TokenClaims& claims) const {
  api::v1::TokenHeader header;
  header.set_alg(kAlg);
  header.set_typ("JWT");
  header.set_kid(kid_);
  std::string signing_input =
      Base64UrlEncode(ToJson(header)) + "." + Base64UrlEncode(ToJson(claims));
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size(),
                       reinterpret_cast<const unsigned char*>(keys_.secret_key.data()));
  return signing_input + "." +
         Base64UrlEncode(std::string_view(reinterpret_cast<char*>(sig), sizeof(sig)));
}

// Verified claims by token, in shards so that io threads rarely meet on a lock.
// A full shard is emptied (cheaper than LRU bookkeeping; it refills at once).
class TokenVerifier::Cache {
 public:
  static constexpr size_t kShards = 16;
  static constexpr size_t kPerShard = 2048;

  bool Get(std::string_view token, api::v1::TokenClaims* out) {
    Shard& s = ShardOf(token);
    absl::MutexLock lock(&s.mu);
    auto it = s.claims.find(absl::string_view(token.data(), token.size()));
    if (it == s.claims.end()) return false;
    *out = it->second;
    return true;
  }
  void Put(std::string_view token, const api::v1::TokenClaims& claims) {
    Shard& s = ShardOf(token);
    absl::MutexLock lock(&s.mu);
    if (s.claims.size() >= kPerShard) s.claims.clear();
    s.claims.emplace(std::string(token), claims);
  }

 private:
  struct Shard {
    absl::Mutex mu;
    absl::flat_hash_map<std::string, api::v1::TokenClaims> claims ABSL_GUARDED_BY(mu);
  };
  Shard& ShardOf(std::string_view token) {
    return shards_[std::hash<std::string_view>()(token) % kShards];
  }
  Shard shards_[kShards];
};

TokenVerifier::TokenVerifier() : cache_(std::make_unique<Cache>()) {}
TokenVerifier::~TokenVerifier() = default;
TokenVerifier::TokenVerifier(TokenVerifier&&) noexcept = default;
TokenVerifier& TokenVerifier::operator=(TokenVerifier&&) noexcept = default;

absl::StatusOr<TokenVerifier> TokenVerifier::FromBase64PublicKeys(std::string_view keys_b64) {
  TokenVerifier verifier;
  for (absl::string_view part : absl::StrSplit(absl::string_view(keys_b64.data(), keys_b64.size()),
                                               ',', absl::SkipWhitespace())) {
    auto key = Base64Decode(std::string_view(part.data(), part.size()));
    if (!key || key->size() != crypto_sign_PUBLICKEYBYTES) {
      return absl::InvalidArgumentError("token public key must be 32 bytes in base64");
    }
    verifier.public_keys_.push_back(*std::move(key));
  }
  if (verifier.public_keys_.empty()) {
    return absl::InvalidArgumentError("no token public key configured");
  }
  return verifier;
}

absl::StatusOr<api::v1::TokenClaims> TokenVerifier::Verify(std::string_view token,
                                                           int64_t now_seconds) const {
  api::v1::TokenClaims claims;
  if (!cache_->Get(token, &claims)) {
    auto verified = VerifySignature(token);
    if (!verified.ok()) return verified.status();
    claims = *std::move(verified);
    cache_->Put(token, claims);
  }
  if (claims.exp() <= now_seconds) return Unauthenticated("access token has expired");
  return claims;
}

absl::StatusOr<api::v1::TokenClaims> TokenVerifier::VerifySignature(std::string_view token) const {
  if (token.size() > 4096) return Unauthenticated("access token is too long");
  size_t dot1 = token.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Unauthenticated("access token is malformed");
  }
  auto header_json = Base64UrlDecode(token.substr(0, dot1));
  auto claims_json = Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto sig = Base64UrlDecode(token.substr(dot2 + 1));
  if (!header_json || !claims_json || !sig) return Unauthenticated("access token is malformed");

  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = true;
  api::v1::TokenHeader header;
  if (!google::protobuf::util::JsonStringToMessage(*header_json, &header, opts).ok()) {
    return Unauthenticated("access token header is malformed");
  }
  if (header.alg() != kAlg) return Unauthenticated("access token algorithm is not accepted");
  if (sig->size() != crypto_sign_BYTES) return Unauthenticated("access token signature is invalid");

  std::string_view signing_input = token.substr(0, dot2);
  bool valid = false;
  for (const auto& key : public_keys_) {
    if (crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig->data()),
                                    reinterpret_cast<const unsigned char*>(signing_input.data()),
                                    signing_input.size(),
                                    reinterpret_cast<const unsigned char*>(key.data())) == 0) {
      valid = true;
      break;
    }
  }
  if (!valid) return Unauthenticated("access token signature is invalid");

  api::v1::TokenClaims claims;
  if (!google::protobuf::util::JsonStringToMessage(*claims_json, &claims, opts).ok() ||
      claims.sub().empty()) {
    return Unauthenticated("access token claims are malformed");
  }
  return claims;
}

void RevocationList::Add(const std::string& session_id, int64_t until_seconds) {
  absl::MutexLock lock(&mu_);
  int64_t& until = until_[session_id];
  if (until < until_seconds) until = until_seconds;
}

bool RevocationList::IsRevoked(const std::string& session_id, int64_t now_seconds) const {
  absl::MutexLock lock(&mu_);
  auto it = until_.find(session_id);
  return it != until_.end() && it->second > now_seconds;
}

void RevocationList::Prune(int64_t now_seconds) {
  absl::MutexLock lock(&mu_);
  absl::erase_if(until_, [&](const auto& kv) { return kv.second <= now_seconds; });
}

size_t RevocationList::size() const {
  absl::MutexLock lock(&mu_);
  return until_.size();
}

}  // namespace admissions
