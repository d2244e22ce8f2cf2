#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/read.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "common/crypto.h"
#include "common/status.h"
#include "common/token.h"
#include "gateway/server.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "identity/v1/identity.grpc.pb.h"

namespace admissions::gateway {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using identity::v1::Identity;

constexpr int64_t kNow = 1'700'000'000;

// Identity as the gateway sees it: canned answers, and a record of the metadata it got.
class FakeIdentity final : public Identity::CallbackService {
 public:
  ~FakeIdentity() override { JoinAll(); }

  grpc::ServerUnaryReactor* GetMe(grpc::CallbackServerContext* context,
                                  const identity::v1::GetMeRequest*,
                                  identity::v1::Me* me) override {
    Record(context);
    me->set_account_id("acc-1");
    me->set_name("Li Lei");
    me->add_roles(identity::v1::CANDIDATE);
    return Finish(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* CreateSession(grpc::CallbackServerContext* context,
                                          const identity::v1::CreateSessionRequest* request,
                                          identity::v1::SessionTokens* tokens) override {
    Record(context);
    if (request->login() == "ineligible") {
      return Finish(context, ToGrpcStatus(Error(absl::StatusCode::kPermissionDenied, "NOT_ELIGIBLE",
                                                "not on the roster", {{"examId", "e1"}})));
    }
    if (request->login() == "limited") {
      return Finish(context,
                    ToGrpcStatus(Error(absl::StatusCode::kResourceExhausted, reason::kRateLimited,
                                       "too many attempts", {{"retryAfterSeconds", "7"}})));
    }
    tokens->set_access_token("access-for-" + request->login());
    tokens->set_expires_in_seconds(900);
    if (request->login() == "slow") {
      auto* reactor = context->DefaultReactor();
      absl::MutexLock lock(&mu_);
      threads_.emplace_back([reactor] {
        std::this_thread::sleep_for(std::chrono::milliseconds(700));
        reactor->Finish(grpc::Status::OK);
      });
      return reactor;
    }
    return Finish(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* DeleteCurrentSession(
      grpc::CallbackServerContext* context, const identity::v1::DeleteCurrentSessionRequest*,
      identity::v1::DeleteCurrentSessionResponse*) override {
    Record(context);
    return Finish(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* ListSmsOutbox(grpc::CallbackServerContext* context,
                                          const identity::v1::ListSmsOutboxRequest* request,
                                          identity::v1::ListSmsOutboxResponse* response) override {
    Record(context);
    auto* message = response->add_messages();
    message->set_phone(request->phone());
    message->set_code("123456");
    message->set_purpose(identity::v1::REGISTER);
    return Finish(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* FaceNotify(grpc::CallbackServerContext* context,
                                       const identity::v1::FaceNotifyRequest* request,
                                       identity::v1::FaceNotifyResponse* response) override {
    Record(context);
    {
      absl::MutexLock lock(&mu_);
      last_face_notify_ = *request;
    }
    response->set_result("OK");
    return Finish(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* CreateVerification(
      grpc::CallbackServerContext* context, const identity::v1::CreateVerificationRequest*,
      identity::v1::CreateVerificationResponse* response) override {
    Record(context);
    response->set_verification_id("v-1");
    return Finish(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* ListManualReviews(grpc::CallbackServerContext* context,
                                              const identity::v1::ListManualReviewsRequest*,
                                              identity::v1::ListManualReviewsResponse*) override {
    Record(context);
    return Finish(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* GetGateState(grpc::CallbackServerContext* context,
                                         const identity::v1::GetGateStateRequest* request,
                                         identity::v1::GateState* state) override {
    absl::MutexLock lock(&mu_);
    ++gate_checks_;
    gate_account_ = request->account_id();
    *state = gate_state_;
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  void SetGateState(bool agreement, bool face) {
    absl::MutexLock lock(&mu_);
    gate_state_.set_agreement_accepted(agreement);
    gate_state_.set_face_verified(face);
  }
  int gate_checks() {
    absl::MutexLock lock(&mu_);
    return gate_checks_;
  }
  std::string gate_account() {
    absl::MutexLock lock(&mu_);
    return gate_account_;
  }
  identity::v1::FaceNotifyRequest last_face_notify() {
    absl::MutexLock lock(&mu_);
    return last_face_notify_;
  }

  std::string Metadata(const std::string& key) {
    absl::MutexLock lock(&mu_);
    auto it = metadata_.find(key);
    return it == metadata_.end() ? "" : it->second;
  }
  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  void JoinAll() {
    std::vector<std::thread> threads;
    {
      absl::MutexLock lock(&mu_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }

 private:
  grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context, grpc::Status status) {
    auto* reactor = context->DefaultReactor();
    reactor->Finish(std::move(status));
    return reactor;
  }
  void Record(grpc::CallbackServerContext* context) {
    absl::MutexLock lock(&mu_);
    ++calls_;
    metadata_.clear();
    for (const auto& [key, value] : context->client_metadata()) {
      metadata_[std::string(key.data(), key.size())] = std::string(value.data(), value.size());
    }
  }

  absl::Mutex mu_;
  std::map<std::string, std::string> metadata_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  identity::v1::GateState gate_state_ ABSL_GUARDED_BY(mu_);
  int gate_checks_ ABSL_GUARDED_BY(mu_) = 0;
  std::string gate_account_ ABSL_GUARDED_BY(mu_);
  identity::v1::FaceNotifyRequest last_face_notify_ ABSL_GUARDED_BY(mu_);
};

using Response = http::response<http::string_body>;
using Headers = std::vector<std::pair<std::string, std::string>>;

// A plain HTTP/1.1 client on one connection.
class Client {
 public:
  explicit Client(uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  }

  Response Fetch(http::verb method, const std::string& target, const std::string& body = "",
                 const Headers& headers = {}) {
    http::request<http::string_body> request(method, target, 11);
    request.set(http::field::host, "localhost");
    if (!body.empty()) request.set(http::field::content_type, "application/json");
    for (const auto& [k, v] : headers) request.set(k, v);
    request.body() = body;
    request.prepare_payload();
    http::write(socket_, request);
    return Read();
  }

  void SendRaw(std::string_view bytes) { net::write(socket_, net::buffer(bytes)); }

  Response Read() {
    Response response;
    http::read(socket_, buffer_, response);
    return response;
  }

  /// True when the server closed the connection.
  bool Closed() {
    beast::error_code ec;
    char byte;
    socket_.read_some(net::buffer(&byte, 1), ec);
    return ec == net::error::eof || ec == net::error::connection_reset;
  }

 private:
  net::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

uint16_t ClosedPort() {
  net::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

class GatewayServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { InitCrypto(); }

  void SetUp() override {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    int grpc_port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &grpc_port);
    builder.RegisterService(&identity_);
    grpc_server_ = builder.BuildAndStart();
    ASSERT_NE(grpc_server_, nullptr);
    identity_address_ = "127.0.0.1:" + std::to_string(grpc_port);

    auto signer = TokenSigner::FromBase64Seed(Base64Encode(std::string(32, 'k')));
    ASSERT_TRUE(signer.ok());
    signer_.emplace(*std::move(signer));
    StartGateway(DefaultOptions());
  }

  void TearDown() override {
    gateway_.reset();
    identity_.JoinAll();
    grpc_server_->Shutdown();
  }

  GatewayOptions DefaultOptions() {
    GatewayOptions options;
    options.port = 0;
    options.threads = 2;
    options.dev_mode = true;
    options.handle_signals = false;
    options.max_body_bytes = 4096;
    options.grpc_deadline = std::chrono::milliseconds(2000);
    options.shutdown_grace = std::chrono::milliseconds(3000);
    options.upstream_addresses["identity"] = identity_address_;
    options.now_seconds = [this] { return now_.load(); };
    return options;
  }

  void StartGateway(GatewayOptions options) {
    gateway_.reset();
    auto verifier = TokenVerifier::FromBase64PublicKeys(signer_->PublicKeyBase64());
    ASSERT_TRUE(verifier.ok());
    auto gateway = Gateway::Create(std::move(options), *std::move(verifier), &revocations_);
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = *std::move(gateway);
    ASSERT_TRUE(gateway_->Start().ok());
  }

  std::string Token(const std::string& sid, int64_t exp = kNow + 600) {
    return Sign(Claims(sid, exp));
  }

  /// A candidate who has accepted the agreement and passed verification.
  api::v1::TokenClaims Claims(const std::string& sid, int64_t exp = kNow + 600) {
    api::v1::TokenClaims claims;
    claims.set_sub("acc-1");
    claims.set_sid(sid);
    claims.add_roles("CANDIDATE");
    claims.set_iat(kNow);
    claims.set_exp(exp);
    claims.set_agr(1);
    claims.set_fv(true);
    return claims;
  }

  std::string Sign(const api::v1::TokenClaims& claims) { return signer_->Sign(claims); }

  Headers Bearer(const api::v1::TokenClaims& claims) {
    return {{"Authorization", "Bearer " + Sign(claims)}};
  }

  Headers Auth(const std::string& sid = "s1") {
    return {{"Authorization", "Bearer " + Token(sid)}};
  }

  Response Fetch(http::verb method, const std::string& target, const std::string& body = "",
                 const Headers& headers = {}) {
    Client client(gateway_->port());
    return client.Fetch(method, target, body, headers);
  }

  FakeIdentity identity_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::string identity_address_;
  std::optional<TokenSigner> signer_;
  RevocationList revocations_;
  std::atomic<int64_t> now_{kNow};
  std::unique_ptr<Gateway> gateway_;
};

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

TEST_F(GatewayServerTest, Healthz) {
  Response r = Fetch(http::verb::get, "/healthz");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), R"({"status":"ok"})");
  EXPECT_EQ(identity_.calls(), 0);
}

TEST_F(GatewayServerTest, ReadyzWhenUpstreamServes) {
  Response r = Fetch(http::verb::get, "/readyz");
  EXPECT_EQ(r.result_int(), 200) << r.body();
}

TEST_F(GatewayServerTest, ReadyzNamesFailedUpstream) {
  GatewayOptions options = DefaultOptions();
  options.upstream_addresses["identity"] = "127.0.0.1:" + std::to_string(ClosedPort());
  StartGateway(std::move(options));
  Response r = Fetch(http::verb::get, "/readyz");
  EXPECT_EQ(r.result_int(), 503);
  EXPECT_TRUE(Contains(r.body(), R"("failed":["identity"])")) << r.body();
}

TEST_F(GatewayServerTest, AuthenticatedCallForwardsTokenAndRequestId) {
  Headers headers = Auth();
  headers.push_back({"X-Request-Id", "req-123.abc_d"});
  Response r = Fetch(http::verb::get, "/v1/me", "", headers);
  ASSERT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(r[http::field::content_type], "application/json");
  EXPECT_EQ(r["X-Request-Id"], "req-123.abc_d");
  EXPECT_TRUE(Contains(r.body(), R"("accountId":"acc-1")")) << r.body();
  EXPECT_TRUE(Contains(r.body(), R"("roles":["CANDIDATE"])"));
  EXPECT_TRUE(Contains(r.body(), R"("agreementAccepted":false)"));
  EXPECT_EQ(identity_.Metadata("authorization"), "Bearer " + Token("s1"));
  EXPECT_EQ(identity_.Metadata("x-request-id"), "req-123.abc_d");
  EXPECT_EQ(identity_.Metadata("x-forwarded-for"), "127.0.0.1");
}

TEST_F(GatewayServerTest, InsaneRequestIdIsReplaced) {
  Headers headers = Auth();
  headers.push_back({"X-Request-Id", "has spaces and ; semicolons"});
  Response r = Fetch(http::verb::get, "/v1/me", "", headers);
  ASSERT_EQ(r.result_int(), 200);
  std::string id(r["X-Request-Id"]);
  EXPECT_FALSE(id.empty());
  EXPECT_NE(id, "has spaces and ; semicolons");
  EXPECT_EQ(identity_.Metadata("x-request-id"), id);
}

TEST_F(GatewayServerTest, MissingTokenIs401) {
  Response r = Fetch(http::verb::get, "/v1/me");
  EXPECT_EQ(r.result_int(), 401);
  EXPECT_EQ(r[http::field::www_authenticate], "Bearer");
  EXPECT_TRUE(Contains(r.body(), R"("code":"UNAUTHENTICATED")")) << r.body();
  EXPECT_TRUE(Contains(r.body(), "missing"));
  EXPECT_EQ(identity_.calls(), 0);
}

TEST_F(GatewayServerTest, BadTokensAre401) {
  for (const std::string& value :
       {std::string("Basic abc"), std::string("Bearer"), std::string("Bearer not.a.token"),
        "Bearer " + Token("s1") + "x"}) {
    Response r = Fetch(http::verb::get, "/v1/me", "", {{"Authorization", value}});
    EXPECT_EQ(r.result_int(), 401) << value;
  }
  EXPECT_EQ(identity_.calls(), 0);
}

TEST_F(GatewayServerTest, ExpiredTokenIs401) {
  std::string token = Token("s1", kNow + 10);
  now_ = kNow + 11;
  Response r = Fetch(http::verb::get, "/v1/me", "", {{"Authorization", "Bearer " + token}});
  EXPECT_EQ(r.result_int(), 401);
  EXPECT_TRUE(Contains(r.body(), "expired")) << r.body();
}

TEST_F(GatewayServerTest, RevokedSessionIs401) {
  revocations_.Add("s-revoked", kNow + 600);
  Response r = Fetch(http::verb::get, "/v1/me", "", Auth("s-revoked"));
  EXPECT_EQ(r.result_int(), 401);
  EXPECT_TRUE(Contains(r.body(), "ended")) << r.body();
}

TEST_F(GatewayServerTest, LogoutRevokesTheTokenAtOnce) {
  Headers headers = Auth("s-logout");
  EXPECT_EQ(Fetch(http::verb::get, "/v1/me", "", headers).result_int(), 200);
  Response r = Fetch(http::verb::delete_, "/v1/sessions/current", "", headers);
  EXPECT_EQ(r.result_int(), 204);
  EXPECT_TRUE(r.body().empty());
  EXPECT_EQ(r[http::field::content_length], "");
  EXPECT_EQ(Fetch(http::verb::get, "/v1/me", "", headers).result_int(), 401);
  EXPECT_TRUE(revocations_.IsRevoked("s-logout", kNow));
  EXPECT_FALSE(revocations_.IsRevoked("s-logout", kNow + 600));
}

TEST_F(GatewayServerTest, NoAuthRouteWithBody) {
  Response r = Fetch(http::verb::post, "/v1/sessions", R"({"login":"13800000000","password":"p"})");
  ASSERT_EQ(r.result_int(), 200) << r.body();
  EXPECT_TRUE(Contains(r.body(), R"("accessToken":"access-for-13800000000")")) << r.body();
  EXPECT_TRUE(Contains(r.body(), R"("refreshToken":"")"));
  EXPECT_TRUE(Contains(r.body(), R"("expiresInSeconds":900)"));
}

TEST_F(GatewayServerTest, ContentTypeWithCharsetIsAccepted) {
  Response r = Fetch(http::verb::post, "/v1/sessions", R"({"login":"a"})",
                     {{"Content-Type", "application/json; charset=utf-8"}});
  EXPECT_EQ(r.result_int(), 200) << r.body();
}

TEST_F(GatewayServerTest, OtherContentTypeIs415) {
  Response r = Fetch(http::verb::post, "/v1/sessions", "login=a",
                     {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(r.result_int(), 415);
  EXPECT_TRUE(Contains(r.body(), R"("code":"UNSUPPORTED_FORMAT")"));
}

TEST_F(GatewayServerTest, BadJsonIs400NamingTheField) {
  Response r = Fetch(http::verb::post, "/v1/sessions", R"({"login": 5})");
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_TRUE(Contains(r.body(), R"("details":{"field":"login"})")) << r.body();
  r = Fetch(http::verb::post, "/v1/sessions", R"({"login":"a","extra":1})");
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_TRUE(Contains(r.body(), R"("field":"extra")")) << r.body();
  r = Fetch(http::verb::post, "/v1/sessions", "{not json");
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_EQ(identity_.calls(), 0);
}

TEST_F(GatewayServerTest, BodyOnBodilessRouteIs400) {
  Response r = Fetch(http::verb::get, "/v1/me", "{}", Auth());
  EXPECT_EQ(r.result_int(), 400);
}

TEST_F(GatewayServerTest, QueryParametersFillTheRequest) {
  Response r = Fetch(http::verb::get, "/v1/dev/sms-outbox?phone=138%2000");
  ASSERT_EQ(r.result_int(), 200) << r.body();
  EXPECT_TRUE(Contains(r.body(), R"("phone":"138 00")")) << r.body();
  EXPECT_TRUE(Contains(r.body(), R"("purpose":"REGISTER")"));
  r = Fetch(http::verb::get, "/v1/dev/sms-outbox?phone=1&limit=3");
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_TRUE(Contains(r.body(), R"("field":"limit")")) << r.body();
}

TEST_F(GatewayServerTest, DevRoutesNeedDevMode) {
  GatewayOptions options = DefaultOptions();
  options.dev_mode = false;
  StartGateway(std::move(options));
  EXPECT_EQ(Fetch(http::verb::get, "/v1/dev/sms-outbox?phone=1").result_int(), 404);
  EXPECT_EQ(Fetch(http::verb::get, "/v1/me", "", Auth()).result_int(), 200);
}

TEST_F(GatewayServerTest, UnconfiguredServiceHasNoRoutes) {
  GatewayOptions options = DefaultOptions();
  options.upstream_addresses.clear();
  StartGateway(std::move(options));
  EXPECT_EQ(gateway_->routes().size(), 0u);
  EXPECT_EQ(Fetch(http::verb::get, "/v1/me", "", Auth()).result_int(), 404);
  EXPECT_EQ(Fetch(http::verb::get, "/readyz").result_int(), 200);
}

TEST_F(GatewayServerTest, UnknownPathIs404AndWrongMethodIs405) {
  Response r = Fetch(http::verb::get, "/v1/nowhere");
  EXPECT_EQ(r.result_int(), 404);
  EXPECT_TRUE(Contains(r.body(), R"("code":"NOT_FOUND")"));
  r = Fetch(http::verb::put, "/v1/me", "", Auth());
  EXPECT_EQ(r.result_int(), 405);
  EXPECT_EQ(r[http::field::allow], "GET");
  EXPECT_TRUE(Contains(r.body(), R"("code":"METHOD_NOT_ALLOWED")"));
  r = Fetch(http::verb::post, "/healthz");
  EXPECT_EQ(r.result_int(), 405);
}

TEST_F(GatewayServerTest, UpstreamReasonsMapToHttp) {
  Response r = Fetch(http::verb::post, "/v1/sessions", R"({"login":"ineligible"})");
  EXPECT_EQ(r.result_int(), 403);
  EXPECT_EQ(
      r.body(),
      R"({"error":{"code":"NOT_ELIGIBLE","message":"not on the roster","details":{"examId":"e1"}}})");
  r = Fetch(http::verb::post, "/v1/sessions", R"({"login":"limited"})");
  EXPECT_EQ(r.result_int(), 429);
  EXPECT_EQ(r[http::field::retry_after], "7");
  EXPECT_TRUE(Contains(r.body(), R"("code":"RATE_LIMITED")"));
}

TEST_F(GatewayServerTest, UnreachableUpstreamIs503) {
  GatewayOptions options = DefaultOptions();
  options.upstream_addresses["identity"] = "127.0.0.1:" + std::to_string(ClosedPort());
  StartGateway(std::move(options));
  Response r = Fetch(http::verb::get, "/v1/me", "", Auth());
  EXPECT_EQ(r.result_int(), 503);
  EXPECT_TRUE(Contains(r.body(), R"("code":"UNAVAILABLE")")) << r.body();
  Response metrics = Fetch(http::verb::get, "/metrics");
  EXPECT_TRUE(Contains(metrics.body(), R"(gateway_upstream_errors_total{service="identity"} 1)"))
      << metrics.body();
}

TEST_F(GatewayServerTest, SlowUpstreamIs504) {
  GatewayOptions options = DefaultOptions();
  options.grpc_deadline = std::chrono::milliseconds(200);
  StartGateway(std::move(options));
  Response r = Fetch(http::verb::post, "/v1/sessions", R"({"login":"slow"})");
  EXPECT_EQ(r.result_int(), 504);
  EXPECT_TRUE(Contains(r.body(), R"("code":"DEADLINE_EXCEEDED")")) << r.body();
}

TEST_F(GatewayServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  Client client(gateway_->port());
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(client.Fetch(http::verb::get, "/v1/me", "", Auth()).result_int(), 200);
    EXPECT_EQ(client.Fetch(http::verb::get, "/v1/nowhere").result_int(), 404);
  }
}

TEST_F(GatewayServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Client client(gateway_->port());
  client.SendRaw(
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /v1/nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(client.Read().result_int(), 200);
  EXPECT_EQ(client.Read().result_int(), 404);
}

TEST_F(GatewayServerTest, OversizedBodyIs413AndCloses) {
  Client client(gateway_->port());
  client.SendRaw(
      "POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 100000\r\n\r\n{\"login\":");
  Response r = client.Read();
  EXPECT_EQ(r.result_int(), 413);
  EXPECT_TRUE(Contains(r.body(), R"("code":"PAYLOAD_TOO_LARGE")"));
  EXPECT_FALSE(r.keep_alive());
  EXPECT_TRUE(client.Closed());
}

TEST_F(GatewayServerTest, OversizedChunkedBodyIs413) {
  Client client(gateway_->port());
  std::string chunk(5000, 'a');
  client.SendRaw("POST /v1/sessions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                 absl::StrCat(absl::Hex(chunk.size())) + "\r\n" + chunk + "\r\n0\r\n\r\n");
  EXPECT_EQ(client.Read().result_int(), 413);
}

TEST_F(GatewayServerTest, ExpectContinueIsHonoured) {
  Client client(gateway_->port());
  std::string body = R"({"login":"a"})";
  client.SendRaw(
      "POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Expect: 100-continue\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n");
  Response interim = client.Read();
  EXPECT_EQ(interim.result_int(), 100);
  client.SendRaw(body);
  EXPECT_EQ(client.Read().result_int(), 200);
}

TEST_F(GatewayServerTest, MalformedHttpIs400AndCloses) {
  Client client(gateway_->port());
  client.SendRaw("GET /healthz HTTP/1.1\r\nBad Header Line\r\n\r\n");
  Response r = client.Read();
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_TRUE(client.Closed());
}

TEST_F(GatewayServerTest, HugeHeaderIs431) {
  Client client(gateway_->port());
  client.SendRaw("GET /healthz HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
  EXPECT_EQ(client.Read().result_int(), 431);
}

// The live channel itself is tested in gateway_live_test.cc, with a waiting-room service.
TEST_F(GatewayServerTest, LiveChannelNeedsTheWaitingRoomServiceAndAnUpgrade) {
  Response r =
      Fetch(http::verb::get, "/v1/live", "", {{"Connection", "Upgrade"}, {"Upgrade", "websocket"}});
  EXPECT_EQ(r.result_int(), 503);
  EXPECT_EQ(Fetch(http::verb::get, "/v1/live").result_int(), 426);
  EXPECT_EQ(Fetch(http::verb::post, "/v1/live").result_int(), 405);
}

TEST_F(GatewayServerTest, MetricsCountRequests) {
  Fetch(http::verb::get, "/v1/me", "", Auth());
  Fetch(http::verb::get, "/v1/me");
  Fetch(http::verb::get, "/v1/nowhere");
  Response r = Fetch(http::verb::get, "/metrics");
  ASSERT_EQ(r.result_int(), 200);
  EXPECT_TRUE(Contains(r[http::field::content_type], "text/plain"));
  const std::string& text = r.body();
  EXPECT_TRUE(
      Contains(text, R"(gateway_requests_total{route="/v1/me",method="GET",status="200"} 1)"))
      << text;
  EXPECT_TRUE(
      Contains(text, R"(gateway_requests_total{route="/v1/me",method="GET",status="401"} 1)"));
  EXPECT_TRUE(
      Contains(text, R"(gateway_requests_total{route="unmatched",method="GET",status="404"} 1)"));
  EXPECT_TRUE(
      Contains(text, R"(gateway_request_duration_seconds_count{route="/v1/me",method="GET"} 2)"));
  EXPECT_TRUE(Contains(text, "gateway_in_flight_requests 1\n"));
}

TEST_F(GatewayServerTest, ShutdownLetsTheRequestInProgressFinish) {
  std::atomic<int> status{0};
  std::thread request([&] {
    status = Fetch(http::verb::post, "/v1/sessions", R"({"login":"slow"})").result_int();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  gateway_->Shutdown();
  request.join();
  EXPECT_EQ(status.load(), 200);
  gateway_->Wait();
  net::io_context io;
  tcp::socket socket(io);
  beast::error_code ec;
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), gateway_->port()), ec);
  EXPECT_TRUE(ec) << "still accepting after shutdown";
}

TEST_F(GatewayServerTest, ShutdownClosesIdleConnections) {
  Client client(gateway_->port());
  EXPECT_EQ(client.Fetch(http::verb::get, "/healthz").result_int(), 200);
  gateway_->Shutdown();
  EXPECT_TRUE(client.Closed());
  gateway_->Wait();
}

TEST_F(GatewayServerTest, RawBodyAndHeadersReachTheirFields) {
  std::string body = "ts=1&sig=abc {not json} \x01";
  Response r = Fetch(http::verb::post, "/v1/providers/face/notify", body,
                     {{"Content-Type", "application/x-www-form-urlencoded"},
                      {"X-Face-Signature", "c2lnbmF0dXJl"},
                      {"x-face-timestamp", "1700000000"}});
  ASSERT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(r.body(), R"({"result":"OK"})");
  identity::v1::FaceNotifyRequest got = identity_.last_face_notify();
  EXPECT_EQ(got.raw_body(), body);
  EXPECT_EQ(got.signature(), "c2lnbmF0dXJl");
  EXPECT_EQ(got.timestamp(), "1700000000");
  EXPECT_EQ(got.nonce(), "");
}

TEST_F(GatewayServerTest, HeaderBoundFieldsAreNotQueryParameters) {
  Response r = Fetch(http::verb::post, "/v1/providers/face/notify?signature=forged", "x",
                     {{"X-Face-Signature", "real"}});
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_TRUE(Contains(r.body(), R"("field":"signature")")) << r.body();
}

TEST_F(GatewayServerTest, CandidateWithoutAgreementIsGated) {
  api::v1::TokenClaims claims = Claims("s-gate");
  claims.set_agr(0);
  identity_.SetGateState(/*agreement=*/false, /*face=*/true);
  Response r =
      Fetch(http::verb::post, "/v1/verifications", R"({"purpose":"ACCOUNT"})", Bearer(claims));
  EXPECT_EQ(r.result_int(), 403);
  EXPECT_TRUE(Contains(r.body(), R"("code":"AGREEMENT_REQUIRED")")) << r.body();
  EXPECT_EQ(identity_.gate_checks(), 1);
  EXPECT_EQ(identity_.gate_account(), "acc-1");
  EXPECT_EQ(identity_.calls(), 0);

  // Accepted since the token was issued: identity says so, the call goes through.
  identity_.SetGateState(/*agreement=*/true, /*face=*/false);
  r = Fetch(http::verb::post, "/v1/verifications", R"({"purpose":"ACCOUNT"})", Bearer(claims));
  EXPECT_EQ(r.result_int(), 201) << r.body();
  EXPECT_EQ(identity_.calls(), 1);
}

TEST_F(GatewayServerTest, CandidateWithoutVerificationIsGated) {
  api::v1::TokenClaims claims = Claims("s-fv");
  claims.set_fv(false);
  identity_.SetGateState(/*agreement=*/true, /*face=*/false);
  Response r = Fetch(http::verb::get, "/v1/admin/manual-reviews", "", Bearer(claims));
  EXPECT_EQ(r.result_int(), 403);
  EXPECT_TRUE(Contains(r.body(), R"("code":"VERIFICATION_REQUIRED")")) << r.body();
  // The verification endpoints themselves skip that gate.
  r = Fetch(http::verb::post, "/v1/verifications", R"({"purpose":"ACCOUNT"})", Bearer(claims));
  EXPECT_EQ(r.result_int(), 201) << r.body();
  EXPECT_EQ(identity_.gate_checks(), 1);
}

TEST_F(GatewayServerTest, GatesPassedInTheTokenNeedNoLookup) {
  Response r = Fetch(http::verb::get, "/v1/admin/manual-reviews", "", Bearer(Claims("s-ok")));
  EXPECT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(identity_.gate_checks(), 0);
}

TEST_F(GatewayServerTest, StaffAreNeverGated) {
  api::v1::TokenClaims claims = Claims("s-staff");
  claims.clear_roles();
  claims.add_roles("SCHOOL_ADMIN");
  claims.set_agr(0);
  claims.set_fv(false);
  Response r = Fetch(http::verb::get, "/v1/admin/manual-reviews", "", Bearer(claims));
  EXPECT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(identity_.gate_checks(), 0);
}

TEST_F(GatewayServerTest, SkippedGatesNeedNoLookup) {
  api::v1::TokenClaims claims = Claims("s-new");
  claims.set_agr(0);
  claims.set_fv(false);
  EXPECT_EQ(Fetch(http::verb::get, "/v1/me", "", Bearer(claims)).result_int(), 200);
  EXPECT_EQ(identity_.gate_checks(), 0);
}

TEST(WritePortFileTest, WritesThePort) {
  std::string path = ::testing::TempDir() + "/gateway_port_test";
  ASSERT_TRUE(WritePortFile(path, 43210).ok());
  std::ifstream in(path);
  int port = 0;
  in >> port;
  EXPECT_EQ(port, 43210);
}

}  // namespace
}  // namespace admissions::gateway
