#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/caller.h"
#include "grpcpp/grpcpp.h"

namespace admissions {

/// Prepares a call to another service made while serving `call`: its deadline is `timeout`
/// from now but never past the incoming call's, and the request id goes along
/// (x-request-id) so that both services' log lines carry it.
void PrepareUpstreamCall(grpc::ClientContext* ctx, const CallContext& call, absl::Duration timeout);

/// What a failed call to `service` means to this one: a failure of the transport or of the
/// other side (UNAVAILABLE, CANCELLED, UNKNOWN, INTERNAL, UNIMPLEMENTED) becomes this
/// service's UNAVAILABLE and a DEADLINE_EXCEEDED stays one, both logged with the request
/// id; an answer with a reason (NOT_FOUND, PERMISSION_DENIED, ...) passes through as it
/// came.
absl::Status FromUpstream(const grpc::Status& status, std::string_view service,
                          std::string_view request_id);

}  // namespace admissions
