#include "gateway/status_map.h"

#include "absl/strings/numbers.h"
#include "google/protobuf/util/json_util.h"

namespace admissions::gateway {
namespace {

struct CodeRow {
  grpc::StatusCode code;
  int http_status;
};

// CANCELLED means the call was abandoned on the way (the gateway or the service gave up);
// the client did not cancel anything it can see, so it is told to retry.
constexpr CodeRow kCodeTable[] = {
    {grpc::StatusCode::OK, 200},
    {grpc::StatusCode::CANCELLED, 503},
    {grpc::StatusCode::UNKNOWN, 500},
    {grpc::StatusCode::INVALID_ARGUMENT, 400},
    {grpc::StatusCode::DEADLINE_EXCEEDED, 504},
    {grpc::StatusCode::NOT_FOUND, 404},
    {grpc::StatusCode::ALREADY_EXISTS, 409},
    {grpc::StatusCode::PERMISSION_DENIED, 403},
    {grpc::StatusCode::RESOURCE_EXHAUSTED, 429},
    {grpc::StatusCode::FAILED_PRECONDITION, 409},
    {grpc::StatusCode::ABORTED, 409},
    {grpc::StatusCode::OUT_OF_RANGE, 400},
    {grpc::StatusCode::UNIMPLEMENTED, 501},
    {grpc::StatusCode::INTERNAL, 500},
    {grpc::StatusCode::UNAVAILABLE, 503},
    {grpc::StatusCode::DATA_LOSS, 500},
    {grpc::StatusCode::UNAUTHENTICATED, 401},
};

struct ReasonRow {
  std::string_view reason;
  int http_status;
};

constexpr ReasonRow kReasonTable[] = {
    {reason::kPayloadTooLarge, 413},
    {reason::kUnsupportedFormat, 415},
    {reason::kRateLimited, 429},
    {kReasonMethodNotAllowed, 405},
};

// Empty when the upstream's own message may be shown.
std::string_view NeutralMessage(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
      return "the service is unavailable, try again later";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "the service did not answer in time";
    case grpc::StatusCode::CANCELLED:
      return "the call was cancelled, try again";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "this endpoint is not implemented";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "too many requests, try again later";
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::DATA_LOSS:
      return "internal error";
    default:
      return "";
  }
}

}  // namespace

bool IsUpstreamFailure(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::UNIMPLEMENTED:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DATA_LOSS:
      return true;
    default:
      return false;
  }
}

int HttpStatusForCode(grpc::StatusCode code) {
  for (const CodeRow& row : kCodeTable) {
    if (row.code == code) return row.http_status;
  }
  return 500;
}

int HttpStatusFor(grpc::StatusCode code, std::string_view reason) {
  if (code != grpc::StatusCode::OK) {
    for (const ReasonRow& row : kReasonTable) {
      if (row.reason == reason) return row.http_status;
    }
  }
  return HttpStatusForCode(code);
}

HttpError MakeHttpError(grpc::StatusCode code, std::string_view reason, std::string_view message,
                        const ErrorDetails& details) {
  HttpError error;
  error.status = HttpStatusFor(code, reason);
  error.info.set_code(std::string(reason));
  error.info.set_message(std::string(message));
  for (const auto& [k, v] : details) (*error.info.mutable_details())[k] = v;
  return error;
}

HttpError HttpErrorFromStatus(const absl::Status& status) {
  absl::string_view message = status.message();
  return MakeHttpError(static_cast<grpc::StatusCode>(status.code()), ReasonOf(status),
                       std::string_view(message.data(), message.size()), DetailsOf(status));
}

HttpError HttpErrorFromUpstream(const grpc::Status& status) {
  HttpError error;
  api::v1::ErrorInfo info;
  if (!status.error_details().empty() && info.ParseFromString(status.error_details()) &&
      !info.code().empty()) {
    error.info = std::move(info);
  } else {
    error.info = ErrorInfoOf(grpc::Status(status.error_code(), status.error_message()));
    std::string_view neutral = NeutralMessage(status.error_code());
    if (!neutral.empty()) error.info.set_message(std::string(neutral));
  }
  error.status = HttpStatusFor(status.error_code(), error.info.code());
  return error;
}

std::string ErrorBodyJson(const api::v1::ErrorInfo& info) {
  api::v1::ErrorBody body;
  *body.mutable_error() = info;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(body, &out, options).ok()) {
    return R"({"error":{"code":"INTERNAL","message":"internal error","details":{}}})";
  }
  return out;
}

int64_t RetryAfterSeconds(const api::v1::ErrorInfo& info) {
  auto it = info.details().find("retryAfterSeconds");
  if (it == info.details().end()) return -1;
  int64_t seconds = 0;
  if (!absl::SimpleAtoi(it->second, &seconds) || seconds < 0) return -1;
  return seconds;
}

}  // namespace admissions::gateway
