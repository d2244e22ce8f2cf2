#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "api/v1/auth.pb.h"
#include "common/token.h"
#include "gateway/status_map.h"

namespace admissions::gateway {

/// identity's GetGateState, asked when a token's claims do not show a gate as passed.
inline constexpr char kGateStateMethod[] = "/admissions.identity.v1.Identity/GetGateState";

/// The token of "Bearer <token>", empty when the header has another form.
std::string_view BearerToken(std::string_view header);

/// Verifies an access token the one way the gateway does, for HTTP routes and the live
/// channel alike: signature, expiry, then the revocation list. The error is 401
/// UNAUTHENTICATED with a message that says which check failed.
absl::StatusOr<api::v1::TokenClaims> VerifyAccessToken(const TokenVerifier& verifier,
                                                       const RevocationList& revocations,
                                                       std::string_view token, int64_t now_seconds);

/// An UNAUTHENTICATED (401) error with `message`.
HttpError Unauthenticated(std::string_view message);

/// True for an account whose only role is CANDIDATE: the candidate gates apply to it.
bool IsCandidateOnly(const api::v1::TokenClaims& claims);

/// Which candidate gates the token does not show as passed (identity is asked about those).
struct GatesToCheck {
  bool agreement = false;
  bool face_verification = false;
  bool any() const { return agreement || face_verification; }
};
GatesToCheck GatesNotShownPassed(const api::v1::TokenClaims& claims, bool requires_agreement,
                                 bool requires_face_verification, int64_t agreement_version);

/// 403 AGREEMENT_REQUIRED (`agreement`) or VERIFICATION_REQUIRED.
HttpError GateError(bool agreement);

}  // namespace admissions::gateway
