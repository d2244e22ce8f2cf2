#include <gtest/gtest.h>

#include "common/status.h"

namespace admissions {
namespace {

TEST(StatusTest, ReasonAndDetailsSurviveTheGrpcRoundTrip) {
  absl::Status st = Error(absl::StatusCode::kPermissionDenied, "NOT_ELIGIBLE", "not on the roster",
                          {{"field", "idNumber"}});
  grpc::Status g = ToGrpcStatus(st);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  absl::Status back = FromGrpcStatus(g);
  EXPECT_EQ(back.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ReasonOf(back), "NOT_ELIGIBLE");
  EXPECT_EQ(back.message(), "not on the roster");
  EXPECT_EQ(DetailsOf(back).at("field"), "idNumber");
}

TEST(StatusTest, PlainStatusGetsItsCodeNameAsReason) {
  EXPECT_EQ(ReasonOf(absl::NotFoundError("x")), "NOT_FOUND");
  api::v1::ErrorInfo info = ErrorInfoOf(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"));
  EXPECT_EQ(info.code(), "UNAVAILABLE");
  EXPECT_EQ(info.message(), "down");
}

TEST(StatusTest, InvalidFieldNamesTheField) {
  absl::Status st = InvalidField("phone", "bad phone");
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReasonOf(st), "INVALID_ARGUMENT");
  EXPECT_EQ(DetailsOf(st).at("field"), "phone");
}

// Every absl code maps to the gRPC code of the same number and back.
TEST(StatusTest, CodeTableIsTheIdentity) {
  for (int c = 1; c <= 16; ++c) {
    auto code = static_cast<absl::StatusCode>(c);
    grpc::Status g = ToGrpcStatus(absl::Status(code, "m"));
    EXPECT_EQ(static_cast<int>(g.error_code()), c);
    EXPECT_EQ(FromGrpcStatus(g).code(), code);
    EXPECT_EQ(ErrorInfoOf(g).code(), CodeName(code));
  }
}

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

absl::Status CheckEven(int x) {
  RETURN_IF_ERROR(Half(x).status());
  return absl::OkStatus();
}

TEST(StatusTest, Macros) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckEven(2).ok());
  EXPECT_FALSE(CheckEven(3).ok());
}

}  // namespace
}  // namespace admissions
