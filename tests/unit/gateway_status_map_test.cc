#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "gateway/status_map.h"

namespace admissions::gateway {
namespace {

struct CodeCase {
  grpc::StatusCode code;
  int http_status;
};

class StatusTableTest : public ::testing::TestWithParam<CodeCase> {};

TEST_P(StatusTableTest, MapsCode) {
  EXPECT_EQ(HttpStatusForCode(GetParam().code), GetParam().http_status);
  // The canonical reason of a code follows the code table.
  auto name = CodeName(static_cast<absl::StatusCode>(GetParam().code));
  EXPECT_EQ(HttpStatusFor(GetParam().code, std::string(name)), GetParam().http_status);
}

INSTANTIATE_TEST_SUITE_P(
    AllCodes, StatusTableTest,
    ::testing::Values(
        CodeCase{grpc::StatusCode::OK, 200}, CodeCase{grpc::StatusCode::CANCELLED, 503},
        CodeCase{grpc::StatusCode::UNKNOWN, 500}, CodeCase{grpc::StatusCode::INVALID_ARGUMENT, 400},
        CodeCase{grpc::StatusCode::DEADLINE_EXCEEDED, 504},
        CodeCase{grpc::StatusCode::NOT_FOUND, 404}, CodeCase{grpc::StatusCode::ALREADY_EXISTS, 409},
        CodeCase{grpc::StatusCode::PERMISSION_DENIED, 403},
        CodeCase{grpc::StatusCode::RESOURCE_EXHAUSTED, 429},
        CodeCase{grpc::StatusCode::FAILED_PRECONDITION, 409},
        CodeCase{grpc::StatusCode::ABORTED, 409}, CodeCase{grpc::StatusCode::OUT_OF_RANGE, 400},
        CodeCase{grpc::StatusCode::UNIMPLEMENTED, 501}, CodeCase{grpc::StatusCode::INTERNAL, 500},
        CodeCase{grpc::StatusCode::UNAVAILABLE, 503}, CodeCase{grpc::StatusCode::DATA_LOSS, 500},
        CodeCase{grpc::StatusCode::UNAUTHENTICATED, 401},
        CodeCase{static_cast<grpc::StatusCode>(30), 500}),
    [](const ::testing::TestParamInfo<CodeCase>& info) {
      return absl::StrCat(info.index, "_",
                          std::string(CodeName(static_cast<absl::StatusCode>(info.param.code))));
    });

struct ReasonCase {
  grpc::StatusCode code;
  std::string reason;
  int http_status;
};

class ReasonTableTest : public ::testing::TestWithParam<ReasonCase> {};

TEST_P(ReasonTableTest, ReasonOverridesCode) {
  EXPECT_EQ(HttpStatusFor(GetParam().code, GetParam().reason), GetParam().http_status);
}

INSTANTIATE_TEST_SUITE_P(
    Reasons, ReasonTableTest,
    ::testing::Values(ReasonCase{grpc::StatusCode::INVALID_ARGUMENT, "PAYLOAD_TOO_LARGE", 413},
                      ReasonCase{grpc::StatusCode::RESOURCE_EXHAUSTED, "PAYLOAD_TOO_LARGE", 413},
                      ReasonCase{grpc::StatusCode::INVALID_ARGUMENT, "UNSUPPORTED_FORMAT", 415},
                      ReasonCase{grpc::StatusCode::RESOURCE_EXHAUSTED, "RATE_LIMITED", 429},
                      ReasonCase{grpc::StatusCode::UNAVAILABLE, "RATE_LIMITED", 429},
                      ReasonCase{grpc::StatusCode::UNIMPLEMENTED, "METHOD_NOT_ALLOWED", 405},
                      // Domain reasons follow their code.
                      ReasonCase{grpc::StatusCode::PERMISSION_DENIED, "NOT_ELIGIBLE", 403},
                      ReasonCase{grpc::StatusCode::PERMISSION_DENIED, "AGREEMENT_REQUIRED", 403},
                      ReasonCase{grpc::StatusCode::FAILED_PRECONDITION, "ALREADY_SUBMITTED", 409},
                      ReasonCase{grpc::StatusCode::FAILED_PRECONDITION, "VERIFY_ON_WEB_FIRST", 409},
                      ReasonCase{grpc::StatusCode::FAILED_PRECONDITION, "WINDOW_CLOSED", 409},
                      // OK is OK whatever the reason says.
                      ReasonCase{grpc::StatusCode::OK, "RATE_LIMITED", 200}),
    [](const ::testing::TestParamInfo<ReasonCase>& info) {
      return absl::StrCat(info.index, "_", info.param.reason);
    });

TEST(HttpErrorFromUpstreamTest, PassesTheServicesErrorInfoThrough) {
  grpc::Status status = ToGrpcStatus(Error(absl::StatusCode::kPermissionDenied, "NOT_ELIGIBLE",
                                           "not on the roster", {{"examId", "e1"}}));
  HttpError error = HttpErrorFromUpstream(status);
  EXPECT_EQ(error.status, 403);
  EXPECT_EQ(error.info.code(), "NOT_ELIGIBLE");
  EXPECT_EQ(error.info.message(), "not on the roster");
  EXPECT_EQ(error.info.details().at("examId"), "e1");
}

TEST(HttpErrorFromUpstreamTest, RateLimitedKeepsRetryAfter) {
  grpc::Status status =
      ToGrpcStatus(Error(absl::StatusCode::kResourceExhausted, reason::kRateLimited, "slow down",
                         {{"retryAfterSeconds", "30"}}));
  HttpError error = HttpErrorFromUpstream(status);
  EXPECT_EQ(error.status, 429);
  EXPECT_EQ(RetryAfterSeconds(error.info), 30);
}

TEST(HttpErrorFromUpstreamTest, TransportFailuresGetNeutralMessages) {
  HttpError unavailable = HttpErrorFromUpstream(grpc::Status(
      grpc::StatusCode::UNAVAILABLE, "failed to connect to all addresses; ipv4:10.0.0.3:50051"));
  EXPECT_EQ(unavailable.status, 503);
  EXPECT_EQ(unavailable.info.code(), "UNAVAILABLE");
  EXPECT_EQ(unavailable.info.message().find("10.0.0.3"), std::string::npos);

  HttpError deadline =
      HttpErrorFromUpstream(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded"));
  EXPECT_EQ(deadline.status, 504);
  EXPECT_EQ(deadline.info.code(), "DEADLINE_EXCEEDED");

  HttpError internal =
      HttpErrorFromUpstream(grpc::Status(grpc::StatusCode::INTERNAL, "stack trace here"));
  EXPECT_EQ(internal.status, 500);
  EXPECT_EQ(internal.info.message(), "internal error");
}

TEST(HttpErrorFromUpstreamTest, PlainBusinessStatusKeepsItsMessage) {
  HttpError error =
      HttpErrorFromUpstream(grpc::Status(grpc::StatusCode::NOT_FOUND, "no such exam"));
  EXPECT_EQ(error.status, 404);
  EXPECT_EQ(error.info.code(), "NOT_FOUND");
  EXPECT_EQ(error.info.message(), "no such exam");
}

TEST(HttpErrorFromStatusTest, KeepsReasonAndField) {
  HttpError error = HttpErrorFromStatus(InvalidField("phone", "phone is malformed"));
  EXPECT_EQ(error.status, 400);
  EXPECT_EQ(error.info.code(), "INVALID_ARGUMENT");
  EXPECT_EQ(error.info.details().at("field"), "phone");
}

TEST(ErrorBodyJsonTest, HasCodeMessageAndDetails) {
  api::v1::ErrorInfo info;
  info.set_code("NOT_ELIGIBLE");
  info.set_message("not on the roster");
  EXPECT_EQ(ErrorBodyJson(info),
            R"({"error":{"code":"NOT_ELIGIBLE","message":"not on the roster","details":{}}})");
  (*info.mutable_details())["step"] = "PAYMENT";
  EXPECT_EQ(
      ErrorBodyJson(info),
      R"({"error":{"code":"NOT_ELIGIBLE","message":"not on the roster","details":{"step":"PAYMENT"}}})");
}

TEST(RetryAfterSecondsTest, ParsesOnlyNonNegativeIntegers) {
  api::v1::ErrorInfo info;
  EXPECT_EQ(RetryAfterSeconds(info), -1);
  (*info.mutable_details())["retryAfterSeconds"] = "abc";
  EXPECT_EQ(RetryAfterSeconds(info), -1);
  (*info.mutable_details())["retryAfterSeconds"] = "-3";
  EXPECT_EQ(RetryAfterSeconds(info), -1);
  (*info.mutable_details())["retryAfterSeconds"] = "0";
  EXPECT_EQ(RetryAfterSeconds(info), 0);
}

}  // namespace
}  // namespace admissions::gateway
