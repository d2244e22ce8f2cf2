// GrpcStepSource against an in-process JourneyStepSource server: the request, the
// deadline (the caller's when sooner) and the request id travel; failures map.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "absl/time/clock.h"
#include "common/status.h"
#include "enrollment/clients.h"
#include "grpcpp/grpcpp.h"

namespace admissions::enrollment {
namespace {

class StepServer final : public v1::JourneyStepSource::Service {
 public:
  grpc::Status GetCandidateStep(grpc::ServerContext* ctx, const v1::GetCandidateStepRequest* req,
                                v1::CandidateStep* resp) override {
    last = *req;
    auto it = ctx->client_metadata().find("x-request-id");
    request_id =
        it == ctx->client_metadata().end() ? "" : std::string(it->second.data(), it->second.size());
    deadline_left = ctx->deadline() - std::chrono::system_clock::now();
    if (sleep.count() > 0) std::this_thread::sleep_for(sleep);
    if (req->step() == v1::ROOM) {
      return ToGrpcStatus(Error(absl::StatusCode::kNotFound, "NOT_FOUND", "no such exam"));
    }
    resp->set_status(v1::IN_REVIEW);
    return grpc::Status::OK;
  }
  v1::GetCandidateStepRequest last;
  std::string request_id;
  std::chrono::system_clock::duration deadline_left{};
  std::chrono::milliseconds sleep{0};
};

class GrpcStepSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    b.RegisterService(&impl_);
    server_ = b.BuildAndStart();
    ASSERT_NE(port_, 0);
  }
  void TearDown() override { server_->Shutdown(); }
  GrpcStepSource Source(absl::Duration timeout = absl::Seconds(2)) {
    return GrpcStepSource("payment",
                          grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                                              grpc::InsecureChannelCredentials()),
                          timeout);
  }
  StepServer impl_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(GrpcStepSourceTest, AsksWithDeadlineAndRequestId) {
  auto source = Source();
  CallContext call;
  call.request_id = "req-42";
  call.deadline = absl::Now() + absl::Milliseconds(500);  // Sooner than the 2 s timeout.
  auto st = source.CandidateStep(call, "exam-1", "acct-1", v1::PAYMENT);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(*st, v1::IN_REVIEW);
  EXPECT_EQ(impl_.last.exam_id(), "exam-1");
  EXPECT_EQ(impl_.last.account_id(), "acct-1");
  EXPECT_EQ(impl_.last.step(), v1::PAYMENT);
  EXPECT_EQ(impl_.request_id, "req-42");
  EXPECT_LE(impl_.deadline_left, std::chrono::milliseconds(600));
  EXPECT_GT(impl_.deadline_left, std::chrono::milliseconds(100));

  CallContext unbounded;  // No caller deadline: the source's own timeout.
  ASSERT_TRUE(source.CandidateStep(unbounded, "e", "a", v1::MATERIALS).ok());
  EXPECT_GT(impl_.deadline_left, std::chrono::milliseconds(1000));
  EXPECT_LE(impl_.deadline_left, std::chrono::milliseconds(2100));  // Wire rounding.
}

TEST_F(GrpcStepSourceTest, FailuresMap) {
  auto source = Source(absl::Milliseconds(100));
  CallContext call;
  auto reasoned = source.CandidateStep(call, "e", "a", v1::ROOM);
  EXPECT_EQ(reasoned.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ReasonOf(reasoned.status()), "NOT_FOUND");

  impl_.sleep = std::chrono::milliseconds(400);
  auto slow = source.CandidateStep(call, "e", "a", v1::PAYMENT);
  EXPECT_EQ(slow.status().code(), absl::StatusCode::kDeadlineExceeded);
  impl_.sleep = std::chrono::milliseconds(0);

  server_->Shutdown();
  auto down = source.CandidateStep(call, "e", "a", v1::PAYMENT);
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable) << down.status();
}

}  // namespace
}  // namespace admissions::enrollment
