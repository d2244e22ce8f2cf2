#include "gateway/access.h"

#include "absl/status/status.h"
#include "common/status.h"
#include "gateway/strings.h"

namespace admissions::gateway {
namespace {

constexpr std::string_view kCandidateRole = "CANDIDATE";
constexpr std::string_view kReasonAgreementRequired = "AGREEMENT_REQUIRED";
constexpr std::string_view kReasonVerificationRequired = "VERIFICATION_REQUIRED";

}  // namespace

std::string_view BearerToken(std::string_view header) {
  header = StripWhitespace(header);
  size_t space = header.find(' ');
  if (space == std::string_view::npos) return {};
  if (!EqualsIgnoreCase(header.substr(0, space), "bearer")) return {};
  return StripWhitespace(header.substr(space + 1));
}

absl::StatusOr<api::v1::TokenClaims> VerifyAccessToken(const TokenVerifier& verifier,
                                                       const RevocationList& revocations,
                                                       std::string_view token,
                                                       int64_t now_seconds) {
  auto claims = verifier.Verify(token, now_seconds);
  if (!claims.ok()) return absl::UnauthenticatedError(claims.status().message());
  if (revocations.IsRevoked(claims->sid(), now_seconds)) {
    return absl::UnauthenticatedError("the session of this access token has ended");
  }
  return claims;
}

HttpError Unauthenticated(std::string_view message) {
  return MakeHttpError(grpc::StatusCode::UNAUTHENTICATED, reason::kUnauthenticated, message);
}

bool IsCandidateOnly(const api::v1::TokenClaims& claims) {
  return claims.roles_size() == 1 && claims.roles(0) == kCandidateRole;
}

GatesToCheck GatesNotShownPassed(const api::v1::TokenClaims& claims, bool requires_agreement,
                                 bool requires_face_verification, int64_t agreement_version) {
  GatesToCheck gates;
  if (!IsCandidateOnly(claims)) return gates;
  // A token issued before the current agreement version was published (or before the
  // candidate accepted) is checked with identity.
  gates.agreement = requires_agreement && (claims.agr() <= 0 || claims.agr() < agreement_version);
  gates.face_verification = requires_face_verification && !claims.fv();
  return gates;
}

HttpError GateError(bool agreement) {
  if (agreement) {
    return MakeHttpError(grpc::StatusCode::PERMISSION_DENIED, kReasonAgreementRequired,
                         "accept the current user agreement first");
  }
  return MakeHttpError(grpc::StatusCode::PERMISSION_DENIED, kReasonVerificationRequired,
                       "pass the real-person verification first");
}

}  // namespace admissions::gateway
