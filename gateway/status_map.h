#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "api/v1/annotations.pb.h"
#include "common/status.h"
#include "grpcpp/support/status.h"

namespace admissions::gateway {

/// The reason that only the gateway produces (405).
inline constexpr std::string_view kReasonMethodNotAllowed = "METHOD_NOT_ALLOWED";

/// An error on its way to the client: the HTTP status and the `error` object of the body.
struct HttpError {
  int status = 500;
  api::v1::ErrorInfo info;
};

/// The one table from gRPC code to HTTP status. OK is 200; codes outside the table give 500.
int HttpStatusForCode(grpc::StatusCode code);

/// The HTTP status for an error with a reason: a few reasons name their own status
/// (PAYLOAD_TOO_LARGE 413, UNSUPPORTED_FORMAT 415, RATE_LIMITED 429, METHOD_NOT_ALLOWED 405);
/// every other reason follows its code through HttpStatusForCode().
int HttpStatusFor(grpc::StatusCode code, std::string_view reason);

/// True for codes that say the call failed in transport or on the server's side (counted as
/// upstream errors), not that the service refused the request.
bool IsUpstreamFailure(grpc::StatusCode code);

/// An error built by the gateway itself.
HttpError MakeHttpError(grpc::StatusCode code, std::string_view reason, std::string_view message,
                        const ErrorDetails& details = {});

/// An error from an absl::Status carrying a reason and details (common/status.h).
HttpError HttpErrorFromStatus(const absl::Status& status);

/// An error answered by an upstream service. The service's ErrorInfo is passed on as is.
/// A status without one keeps its code; when that code says the transport or the server
/// failed (unreachable, deadline, internal, ...) the message is replaced by a neutral one so
/// that no internal address or stack detail reaches the client.
HttpError HttpErrorFromUpstream(const grpc::Status& status);

/// The body `{"error": {"code": ..., "message": ..., "details": {...}}}`: the JSON form of
/// api.v1.ErrorBody.
std::string ErrorBodyJson(const api::v1::ErrorInfo& info);

/// Seconds from details["retryAfterSeconds"] when it is a non-negative integer, else -1.
int64_t RetryAfterSeconds(const api::v1::ErrorInfo& info);

}  // namespace admissions::gateway
