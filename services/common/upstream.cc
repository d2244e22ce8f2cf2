#include "common/upstream.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/status.h"

namespace admissions {

void PrepareUpstreamCall(grpc::ClientContext* ctx, const CallContext& call,
                         absl::Duration timeout) {
  ctx->set_deadline(absl::ToChronoTime(std::min(absl::Now() + timeout, call.deadline)));
  if (!call.request_id.empty() && call.request_id != "-") {
    ctx->AddMetadata("x-request-id", call.request_id);
  }
}

absl::Status FromUpstream(const grpc::Status& status, std::string_view service,
                          std::string_view request_id) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNIMPLEMENTED:
      Log(LogLevel::kWarn, "upstream_failed",
          {{"service", service},
           {"code", std::to_string(status.error_code())},
           {"error", status.error_message()},
           {"request_id", request_id}});
      return Error(absl::StatusCode::kUnavailable, reason::kUnavailable,
                   absl::StrCat(std::string(service), " is unavailable, try again"));
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      Log(LogLevel::kWarn, "upstream_deadline", {{"service", service}, {"request_id", request_id}});
      return Error(absl::StatusCode::kDeadlineExceeded, "DEADLINE_EXCEEDED",
                   absl::StrCat(std::string(service), " did not answer in time"));
    default:
      return FromGrpcStatus(status);
  }
}

}  // namespace admissions
