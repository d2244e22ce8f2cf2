#include "common/status.h"

#include "absl/strings/cord.h"

namespace admissions {
namespace {

constexpr char kReasonPayload[] = "type.admissions/reason";
constexpr char kDetailsPayload[] = "type.admissions/details";

}  // namespace

absl::Status Error(absl::StatusCode code, std::string_view reason, std::string_view message,
                   const ErrorDetails& details) {
  absl::Status status(code, absl::string_view(message.data(), message.size()));
  status.SetPayload(kReasonPayload, absl::Cord(absl::string_view(reason.data(), reason.size())));
  if (!details.empty()) {
    api::v1::ErrorInfo info;
    for (const auto& [k, v] : details) (*info.mutable_details())[k] = v;
    status.SetPayload(kDetailsPayload, absl::Cord(info.SerializeAsString()));
  }
  return status;
}

absl::Status InvalidField(std::string_view field, std::string_view message) {
  return Error(absl::StatusCode::kInvalidArgument, reason::kInvalidArgument, message,
               {{"field", std::string(field)}});
}

std::string ReasonOf(const absl::Status& status) {
  if (auto reason = status.GetPayload(kReasonPayload)) return std::string(*reason);
  return std::string(CodeName(status.code()));
}

ErrorDetails DetailsOf(const absl::Status& status) {
  ErrorDetails out;
  if (auto payload = status.GetPayload(kDetailsPayload)) {
    api::v1::ErrorInfo info;
    if (info.ParseFromString(std::string(*payload))) {
      for (const auto& [k, v] : info.details()) out[k] = v;
    }
  }
  return out;
}

std::string_view CodeName(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return "OK";
    case absl::StatusCode::kCancelled:
      return "CANCELLED";
    case absl::StatusCode::kUnknown:
      return "UNKNOWN";
    case absl::StatusCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case absl::StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case absl::StatusCode::kNotFound:
      return "NOT_FOUND";
    case absl::StatusCode::kAlreadyExists:
      return "ALREADY_EXISTS";
    case absl::StatusCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case absl::StatusCode::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case absl::StatusCode::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case absl::StatusCode::kAborted:
      return "ABORTED";
    case absl::StatusCode::kOutOfRange:
      return "OUT_OF_RANGE";
    case absl::StatusCode::kUnimplemented:
      return "UNIMPLEMENTED";
    case absl::StatusCode::kInternal:
      return "INTERNAL";
    case absl::StatusCode::kUnavailable:
      return "UNAVAILABLE";
    case absl::StatusCode::kDataLoss:
      return "DATA_LOSS";
    case absl::StatusCode::kUnauthenticated:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  api::v1::ErrorInfo info;
  info.set_code(ReasonOf(status));
  info.set_message(std::string(status.message()));
  for (const auto& [k, v] : DetailsOf(status)) (*info.mutable_details())[k] = v;
  // absl and gRPC share code numbers.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()),
                      info.SerializeAsString());
}

api::v1::ErrorInfo ErrorInfoOf(const grpc::Status& status) {
  api::v1::ErrorInfo info;
  if (!status.error_details().empty() && info.ParseFromString(status.error_details()) &&
      !info.code().empty()) {
    return info;
  }
  info.Clear();
  info.set_code(std::string(CodeName(static_cast<absl::StatusCode>(status.error_code()))));
  info.set_message(status.error_message());
  return info;
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  api::v1::ErrorInfo info = ErrorInfoOf(status);
  ErrorDetails details(info.details().begin(), info.details().end());
  return Error(static_cast<absl::StatusCode>(status.error_code()), info.code(), info.message(),
               details);
}

}  // namespace admissions
