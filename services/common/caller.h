#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/token.h"
#include "grpcpp/grpcpp.h"

namespace admissions {

/// Who is calling, from the verified access token in the call's metadata.
struct Caller {
  std::string account_id;
  std::string session_id;
  std::string school_id;
  std::vector<std::string> roles;
  int64_t token_expires_at = 0;

  bool HasRole(std::string_view role) const;
};

/// Verifies the `authorization: Bearer` metadata the gateway forwards, so that no
/// service trusts an unsigned claim. `revoked` may be null.
class Authenticator {
 public:
  Authenticator(TokenVerifier verifier, const RevocationList* revoked)
      : verifier_(std::move(verifier)), revoked_(revoked) {}

  /// UNAUTHENTICATED when the token is missing, invalid, expired or revoked.
  absl::StatusOr<Caller> Authenticate(const grpc::ServerContextBase& ctx) const;

 private:
  TokenVerifier verifier_;
  const RevocationList* revoked_;
};

/// The request id the gateway sent (x-request-id), or "-" when absent.
std::string RequestIdOf(const grpc::ServerContextBase& ctx);

/// The client's address as the gateway saw it (first x-forwarded-for entry), or "".
std::string ClientIpOf(const grpc::ServerContextBase& ctx);

/// What an outgoing call inherits from the call being served: its deadline (a call out
/// never outlives it), its request id (passed on as x-request-id) and the caller's
/// authorization (forwarded where a service asks another on the caller's behalf).
struct CallContext {
  absl::Time deadline = absl::InfiniteFuture();
  std::string request_id;
  std::string authorization;
};
CallContext CallContextOf(const grpc::ServerContextBase& ctx);

/// What a service may log or audit about a request.
struct RequestMeta {
  std::string request_id;
  std::string ip;
};
RequestMeta RequestMetaOf(const grpc::ServerContextBase& ctx);

}  // namespace admissions
