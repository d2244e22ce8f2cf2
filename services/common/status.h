#pragma once

#include <map>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "api/v1/annotations.pb.h"
#include "grpcpp/support/status.h"

/// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                                \
  do {                                                       \
    ::absl::Status admissions_status_ = (expr);              \
    if (!admissions_status_.ok()) return admissions_status_; \
  } while (0)

#define ADMISSIONS_CONCAT_INNER_(a, b) a##b
#define ADMISSIONS_CONCAT_(a, b) ADMISSIONS_CONCAT_INNER_(a, b)

/// `ASSIGN_OR_RETURN(auto x, StatusOrExpr());` binds the value or returns the error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL_(ADMISSIONS_CONCAT_(admissions_statusor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                           \
  if (!tmp.ok()) return tmp.status();          \
  lhs = std::move(tmp).value()

namespace admissions {

/// Stable machine reasons shared across services (API.md "Reasons").
namespace reason {
inline constexpr std::string_view kInvalidArgument = "INVALID_ARGUMENT";
inline constexpr std::string_view kUnauthenticated = "UNAUTHENTICATED";
inline constexpr std::string_view kPermissionDenied = "PERMISSION_DENIED";
inline constexpr std::string_view kNotFound = "NOT_FOUND";
inline constexpr std::string_view kAlreadyExists = "ALREADY_EXISTS";
inline constexpr std::string_view kRateLimited = "RATE_LIMITED";
inline constexpr std::string_view kPayloadTooLarge = "PAYLOAD_TOO_LARGE";
inline constexpr std::string_view kUnsupportedFormat = "UNSUPPORTED_FORMAT";
inline constexpr std::string_view kUnavailable = "UNAVAILABLE";
inline constexpr std::string_view kInternal = "INTERNAL";
}  // namespace reason

using ErrorDetails = std::map<std::string, std::string>;

/// An error with a stable reason and details; the reason travels to the HTTP body.
absl::Status Error(absl::StatusCode code, std::string_view reason, std::string_view message,
                   const ErrorDetails& details = {});

/// INVALID_ARGUMENT naming the field at fault (details.field).
absl::Status InvalidField(std::string_view field, std::string_view message);

/// The stable reason of `status`: its attached reason, or the canonical name of its code.
std::string ReasonOf(const absl::Status& status);
/// The details attached by Error(), empty when none.
ErrorDetails DetailsOf(const absl::Status& status);

/// Canonical name of a code, e.g. "NOT_FOUND".
std::string_view CodeName(absl::StatusCode code);

/// absl → gRPC: same code, the message, and an ErrorInfo as binary error details.
grpc::Status ToGrpcStatus(const absl::Status& status);
/// gRPC → absl, keeping reason and details from the ErrorInfo when present.
absl::Status FromGrpcStatus(const grpc::Status& status);
/// The ErrorInfo carried by a gRPC status; synthesised from the code when absent.
api::v1::ErrorInfo ErrorInfoOf(const grpc::Status& status);

}  // namespace admissions
