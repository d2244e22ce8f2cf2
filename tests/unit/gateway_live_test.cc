// The live channel (GET /v1/live, a WebSocket) against an in-process fake of the waiting-room
// service whose room events the test appends, and Beast WebSocket clients.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/websocket.hpp"
#include "common/crypto.h"
#include "common/status.h"
#include "common/token.h"
#include "gateway/server.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "waiting_room/v1/waiting_room.grpc.pb.h"

namespace admissions::gateway {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using google::protobuf::Struct;
using waiting_room::v1::Audience;
using waiting_room::v1::Event;

constexpr int64_t kNow = 1'700'000'000;
constexpr char kRoom[] = "r1";

bool WaitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

class FakeWaitingRoom;

// Subscribe the way the service is meant to serve it: every event after `after`, then new
// ones as they are appended, one write at a time. All state is under the fake's mutex.
class SubscribeReactor final : public grpc::ServerWriteReactor<Event> {
 public:
  SubscribeReactor(FakeWaitingRoom* fake, std::string room, int64_t after);
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  /// With the fake's mutex held.
  void Pump();
  void End(grpc::Status status);

 private:
  FakeWaitingRoom* fake_;
  std::string room_;
  int64_t last_;
  Event current_;
  bool writing_ = false;
  bool finished_ = false;
  std::optional<grpc::Status> end_;
};

struct PresenceRecord {
  std::string account;
  std::string room;
  bool online;
};

class FakeWaitingRoom final : public waiting_room::v1::WaitingRoom::CallbackService {
 public:
  struct Caller {
    std::string account;
    bool examiner = false;
  };

  void RegisterToken(const std::string& token, Caller caller) {
    absl::MutexLock lock(&mu_);
    callers_[token] = std::move(caller);
  }

  /// Appends an event to `room` and wakes the streams; its id.
  int64_t Append(const std::string& room, Audience audience, const std::string& to = "",
                 size_t text_bytes = 0) {
    absl::MutexLock lock(&mu_);
    auto& log = events_[room];
    Event event;
    event.set_id(static_cast<int64_t>(log.size()) + 1);
    event.set_type(audience == waiting_room::v1::PRIVATE ? Event::PRIVATE_MESSAGE
                                                         : Event::GROUP_MESSAGE);
    event.set_audience(audience);
    event.set_to_account_id(to);
    event.set_text(text_bytes ? std::string(text_bytes, 'x') : absl::StrCat("m", event.id()));
    event.mutable_at()->set_seconds(kNow);
    log.push_back(event);
    for (SubscribeReactor* stream : streams_) stream->Pump();
    return event.id();
  }

  /// Ends every Subscribe stream (as a restarting service would).
  void EndStreams() {
    absl::MutexLock lock(&mu_);
    for (SubscribeReactor* stream : streams_) stream->End(grpc::Status::OK);
  }

  int subscribe_calls() {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(subscribe_afters_.size());
  }
  std::vector<int64_t> subscribe_afters() {
    absl::MutexLock lock(&mu_);
    return subscribe_afters_;
  }
  int list_calls() {
    absl::MutexLock lock(&mu_);
    return list_calls_;
  }
  int open_streams() {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(streams_.size());
  }
  std::vector<PresenceRecord> presence() {
    absl::MutexLock lock(&mu_);
    return presence_;
  }

  grpc::ServerUnaryReactor* AuthorizeSubscription(
      grpc::CallbackServerContext* context,
      const waiting_room::v1::AuthorizeSubscriptionRequest* request,
      waiting_room::v1::Subscription* response) override {
    auto* reactor = context->DefaultReactor();
    auto caller = CallerOf(context);
    if (!caller) {
      reactor->Finish(ToGrpcStatus(
          Error(absl::StatusCode::kUnauthenticated, reason::kUnauthenticated, "who?")));
    } else if (request->room_id() == "forbidden") {
      reactor->Finish(ToGrpcStatus(
          Error(absl::StatusCode::kPermissionDenied, reason::kPermissionDenied, "not your room")));
    } else if (request->room_id() == "missing") {
      reactor->Finish(
          ToGrpcStatus(Error(absl::StatusCode::kNotFound, reason::kNotFound, "no such room")));
    } else {
      response->set_account_id(caller->account);
      response->set_examiner(caller->examiner);
      reactor->Finish(grpc::Status::OK);
    }
    return reactor;
  }

  grpc::ServerWriteReactor<Event>* Subscribe(
      grpc::CallbackServerContext* context,
      const waiting_room::v1::SubscribeRequest* request) override {
    {
      absl::MutexLock lock(&mu_);
      subscribe_afters_.push_back(request->after());
    }
    return new SubscribeReactor(this, request->room_id(), request->after());
  }

  grpc::ServerUnaryReactor* ListEvents(grpc::CallbackServerContext* context,
                                       const waiting_room::v1::ListEventsRequest* request,
                                       waiting_room::v1::ListEventsResponse* response) override {
    auto* reactor = context->DefaultReactor();
    auto caller = CallerOf(context);
    absl::MutexLock lock(&mu_);
    ++list_calls_;
    int64_t scanned = request->after();
    int limit = request->limit() > 0 ? std::min(request->limit(), 500) : 500;
    for (const Event& event : events_[request->room_id()]) {
      if (event.id() <= request->after()) continue;
      scanned = event.id();
      bool visible = caller->examiner || event.audience() == waiting_room::v1::ROOM ||
                     (event.audience() == waiting_room::v1::PRIVATE &&
                      event.to_account_id() == caller->account);
      if (visible) *response->add_events() = event;
      if (response->events_size() == limit) break;
    }
    response->set_last_event_id(scanned);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* TouchPresence(grpc::CallbackServerContext* context,
                                          const waiting_room::v1::TouchPresenceRequest* request,
                                          waiting_room::v1::TouchPresenceResponse*) override {
    auto caller = CallerOf(context);
    {
      absl::MutexLock lock(&mu_);
      presence_.push_back({caller ? caller->account : "?", request->room_id(), request->online()});
    }
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  friend class SubscribeReactor;

  std::optional<Caller> CallerOf(grpc::CallbackServerContext* context) {
    auto it = context->client_metadata().find("authorization");
    if (it == context->client_metadata().end()) return std::nullopt;
    std::string header(it->second.data(), it->second.size());
    if (header.rfind("Bearer ", 0) != 0) return std::nullopt;
    absl::MutexLock lock(&mu_);
    auto caller = callers_.find(header.substr(7));
    if (caller == callers_.end()) return std::nullopt;
    return caller->second;
  }

  absl::Mutex mu_;
  std::map<std::string, Caller> callers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<Event>> events_ ABSL_GUARDED_BY(mu_);
  std::set<SubscribeReactor*> streams_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> subscribe_afters_ ABSL_GUARDED_BY(mu_);
  int list_calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<PresenceRecord> presence_ ABSL_GUARDED_BY(mu_);
};

SubscribeReactor::SubscribeReactor(FakeWaitingRoom* fake, std::string room, int64_t after)
    : fake_(fake), room_(std::move(room)), last_(after) {
  absl::MutexLock lock(&fake_->mu_);
  fake_->streams_.insert(this);
  Pump();
}

void SubscribeReactor::Pump() {
  if (writing_ || finished_) return;
  if (end_) {
    finished_ = true;
    Finish(*end_);
    return;
  }
  const auto& log = fake_->events_[room_];
  if (last_ >= static_cast<int64_t>(log.size())) return;
  current_ = log[static_cast<size_t>(last_)];
  last_ = current_.id();
  writing_ = true;
  StartWrite(&current_);
}

void SubscribeReactor::End(grpc::Status status) {
  if (!end_) end_ = std::move(status);
  Pump();
}

void SubscribeReactor::OnWriteDone(bool ok) {
  absl::MutexLock lock(&fake_->mu_);
  writing_ = false;
  if (!ok && !end_) end_ = grpc::Status::CANCELLED;
  Pump();
}

void SubscribeReactor::OnCancel() {
  absl::MutexLock lock(&fake_->mu_);
  End(grpc::Status::CANCELLED);
}

void SubscribeReactor::OnDone() {
  {
    absl::MutexLock lock(&fake_->mu_);
    fake_->streams_.erase(this);
  }
  delete this;
}

// A WebSocket client with blocking reads that give up after a few seconds.
class WsClient {
 public:
  explicit WsClient(uint16_t port, const std::string& target = "/v1/live") : ws_(io_) {
    tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), port);
    ws_.next_layer().connect(endpoint);
    timeval timeout{5, 0};
    setsockopt(ws_.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ws_.handshake("127.0.0.1", target);
  }

  void Send(const std::string& text) {
    ws_.text(true);
    ws_.write(net::buffer(text));
  }

  /// The next message, or nullopt when the connection closed (reason() says why).
  std::optional<Struct> Next() {
    beast::flat_buffer buffer;
    beast::error_code ec;
    ws_.read(buffer, ec);
    if (ec) {
      error_ = ec;
      return std::nullopt;
    }
    Struct message;
    auto status = google::protobuf::util::JsonStringToMessage(
        beast::buffers_to_string(buffer.data()), &message);
    EXPECT_TRUE(status.ok()) << beast::buffers_to_string(buffer.data());
    return message;
  }

  /// The next message that is not an event (events are collected).
  std::optional<Struct> NextControl() {
    while (auto message = Next()) {
      if (Type(*message) != "event") return message;
      Collect(*message);
    }
    return std::nullopt;
  }

  /// Reads until `count` events have been collected in all (false on a close or timeout).
  bool ReadEvents(size_t count) {
    while (ids_.size() < count) {
      auto message = Next();
      if (!message) return false;
      if (Type(*message) == "event") Collect(*message);
    }
    return true;
  }

  /// Reads (collecting events) until the connection closes; the close code.
  int ReadUntilClosed() {
    while (auto message = Next()) {
      if (Type(*message) == "event") Collect(*message);
    }
    return ws_.reason().code;
  }

  static std::string Type(const Struct& message) {
    auto it = message.fields().find("type");
    return it == message.fields().end() ? "" : it->second.string_value();
  }
  static std::string Field(const Struct& message, const std::string& name) {
    auto it = message.fields().find(name);
    return it == message.fields().end() ? "" : it->second.string_value();
  }

  const std::vector<int64_t>& ids() const { return ids_; }
  std::vector<std::string> audiences() const { return audiences_; }
  int64_t last_id() const { return ids_.empty() ? 0 : ids_.back(); }
  const websocket::close_reason& reason() const { return ws_.reason(); }
  beast::error_code error() const { return error_; }
  void Close() {
    beast::error_code ec;
    ws_.close(websocket::close_code::normal, ec);
  }
  void Drop() {
    beast::error_code ec;
    ws_.next_layer().close(ec);
  }

 private:
  void Collect(const Struct& message) {
    const Struct& event = message.fields().at("event").struct_value();
    ids_.push_back(std::stoll(event.fields().at("id").string_value()));
    audiences_.push_back(event.fields().at("audience").string_value());
    EXPECT_EQ(Field(message, "roomId"), kRoom);
  }

  net::io_context io_;
  websocket::stream<tcp::socket> ws_;
  std::vector<int64_t> ids_;
  std::vector<std::string> audiences_;
  beast::error_code error_;
};

std::vector<int64_t> Range(int64_t from, int64_t to) {
  std::vector<int64_t> out;
  for (int64_t i = from; i <= to; ++i) out.push_back(i);
  return out;
}

class GatewayLiveTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { InitCrypto(); }

  void SetUp() override {
    grpc::ServerBuilder builder;
    int grpc_port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &grpc_port);
    builder.RegisterService(&fake_);
    grpc_server_ = builder.BuildAndStart();
    ASSERT_NE(grpc_server_, nullptr);
    address_ = "127.0.0.1:" + std::to_string(grpc_port);
    auto signer = TokenSigner::FromBase64Seed(Base64Encode(std::string(32, 'k')));
    ASSERT_TRUE(signer.ok());
    signer_.emplace(*std::move(signer));
    candidate_ = Token("acc-1", "CANDIDATE", "s1");
    other_candidate_ = Token("acc-2", "CANDIDATE", "s2");
    examiner_ = Token("ex-1", "EXAMINER", "s3");
    fake_.RegisterToken(candidate_, {"acc-1", false});
    fake_.RegisterToken(other_candidate_, {"acc-2", false});
    fake_.RegisterToken(examiner_, {"ex-1", true});
    StartGateway(DefaultOptions());
  }

  void TearDown() override {
    gateway_.reset();
    grpc_server_->Shutdown();
  }

  GatewayOptions DefaultOptions() {
    GatewayOptions options;
    options.port = 0;
    options.threads = 2;
    options.handle_signals = false;
    options.grpc_deadline = std::chrono::milliseconds(5000);
    options.shutdown_grace = std::chrono::milliseconds(3000);
    options.upstream_addresses["waiting_room"] = address_;
    options.now_seconds = [] { return kNow; };
    options.live.auth_timeout = std::chrono::milliseconds(500);
    options.live.max_message_bytes = 4096;
    options.live.page_size = 10;
    options.live_hub.ring_events = 8;
    options.live_hub.linger = std::chrono::milliseconds(200);
    options.live_hub.restart_min = std::chrono::milliseconds(50);
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

  std::string Token(const std::string& sub, const std::string& role, const std::string& sid) {
    api::v1::TokenClaims claims;
    claims.set_sub(sub);
    claims.set_sid(sid);
    claims.add_roles(role);
    claims.set_iat(kNow);
    claims.set_exp(kNow + 600);
    claims.set_agr(1);
    claims.set_fv(true);
    return signer_->Sign(claims);
  }

  /// A client past authentication (?access_token), its `ready` read.
  std::unique_ptr<WsClient> Connect(const std::string& token) {
    auto client = std::make_unique<WsClient>(gateway_->port(), "/v1/live?access_token=" + token);
    auto ready = client->Next();
    EXPECT_TRUE(ready && WsClient::Type(*ready) == "ready");
    return client;
  }

  /// Subscribes and reads the `subscribed` answer.
  void Subscribe(WsClient* client, int64_t after, const std::string& room = kRoom) {
    client->Send(absl::StrCat(R"({"type":"subscribe","roomId":")", room, R"(","after":)", after,
                              R"(,"id":"s"})"));
    auto answer = client->NextControl();
    ASSERT_TRUE(answer);
    ASSERT_EQ(WsClient::Type(*answer), "subscribed") << answer->DebugString();
    EXPECT_EQ(WsClient::Field(*answer, "ref"), "s");
  }

  FakeWaitingRoom fake_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::string address_;
  std::optional<TokenSigner> signer_;
  std::string candidate_, other_candidate_, examiner_;
  RevocationList revocations_;
  std::unique_ptr<Gateway> gateway_;
};

TEST_F(GatewayLiveTest, UpgradeWithQueryToken) {
  WsClient client(gateway_->port(), "/v1/live?access_token=" + candidate_);
  auto ready = client.Next();
  ASSERT_TRUE(ready);
  EXPECT_EQ(WsClient::Type(*ready), "ready");
  EXPECT_EQ(WsClient::Field(*ready, "accountId"), "acc-1");
  EXPECT_EQ(gateway_->metrics().live_connections(), 1);
}

TEST_F(GatewayLiveTest, UpgradeWithAuthMessage) {
  WsClient client(gateway_->port());
  client.Send(absl::StrCat(R"({"type":"auth","accessToken":")", examiner_, R"("})"));
  auto ready = client.Next();
  ASSERT_TRUE(ready);
  EXPECT_EQ(WsClient::Type(*ready), "ready");
  EXPECT_EQ(WsClient::Field(*ready, "accountId"), "ex-1");
  client.Send(R"({"type":"ping","id":7})");
  auto pong = client.Next();
  ASSERT_TRUE(pong);
  EXPECT_EQ(WsClient::Type(*pong), "pong") << pong->DebugString();
  EXPECT_EQ(pong->fields().at("id").number_value(), 7);
}

TEST_F(GatewayLiveTest, BadTokenIsRefusedWithAnErrorAndClose4401) {
  WsClient client(gateway_->port(), "/v1/live?access_token=not-a-token");
  auto error = client.Next();
  ASSERT_TRUE(error);
  EXPECT_EQ(WsClient::Type(*error), "error");
  EXPECT_EQ(WsClient::Field(*error, "code"), "UNAUTHENTICATED");
  EXPECT_EQ(client.ReadUntilClosed(), 4401);

  revocations_.Add("s1", kNow + 600);
  WsClient revoked(gateway_->port());
  revoked.Send(absl::StrCat(R"({"type":"auth","accessToken":")", candidate_, R"("})"));
  EXPECT_EQ(revoked.ReadUntilClosed(), 4401);

  WsClient quiet(gateway_->port());  // Never authenticates.
  EXPECT_EQ(quiet.ReadUntilClosed(), 4401);

  WsClient early(gateway_->port());
  early.Send(R"({"type":"subscribe","roomId":"r1"})");
  EXPECT_EQ(early.ReadUntilClosed(), 4401);
}

TEST_F(GatewayLiveTest, PlainGetIs426) {
  net::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), gateway_->port()));
  http::request<http::string_body> request(http::verb::get, "/v1/live", 11);
  request.set(http::field::host, "x");
  http::write(socket, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(socket, buffer, response);
  EXPECT_EQ(response.result_int(), 426);
  EXPECT_NE(response.body().find(R"("code":"UPGRADE_REQUIRED")"), std::string::npos);
}

TEST_F(GatewayLiveTest, BacklogThenLiveInOrder) {
  for (int i = 0; i < 5; ++i) fake_.Append(kRoom, waiting_room::v1::ROOM);
  auto client = Connect(candidate_);
  Subscribe(client.get(), 0);
  ASSERT_TRUE(client->ReadEvents(5));
  fake_.Append(kRoom, waiting_room::v1::ROOM);
  fake_.Append(kRoom, waiting_room::v1::ROOM);
  ASSERT_TRUE(client->ReadEvents(7));
  EXPECT_EQ(client->ids(), Range(1, 7));
}

TEST_F(GatewayLiveTest, SubscribersOfARoomShareOneUpstreamStream) {
  fake_.Append(kRoom, waiting_room::v1::ROOM);
  auto a = Connect(candidate_);
  auto b = Connect(examiner_);
  Subscribe(a.get(), 0);
  Subscribe(b.get(), 0);
  fake_.Append(kRoom, waiting_room::v1::ROOM);
  ASSERT_TRUE(a->ReadEvents(2));
  ASSERT_TRUE(b->ReadEvents(2));
  EXPECT_EQ(a->ids(), Range(1, 2));
  EXPECT_EQ(b->ids(), Range(1, 2));
  EXPECT_EQ(fake_.subscribe_calls(), 1);
  EXPECT_EQ(gateway_->metrics().live_upstream_streams(), 1);
  // The last one gone, the stream is cancelled after the linger.
  a->Close();
  b->Close();
  EXPECT_TRUE(WaitFor([&] { return fake_.open_streams() == 0; }));
  EXPECT_TRUE(WaitFor([&] { return gateway_->live_hub()->rooms() == 0; }));
}

TEST_F(GatewayLiveTest, CandidatesSeeOnlyTheirOwnPrivateEvents) {
  fake_.Append(kRoom, waiting_room::v1::ROOM);              // 1
  fake_.Append(kRoom, waiting_room::v1::PRIVATE, "acc-1");  // 2
  fake_.Append(kRoom, waiting_room::v1::PRIVATE, "acc-2");  // 3
  fake_.Append(kRoom, waiting_room::v1::EXAMINERS);         // 4
  auto mine = Connect(candidate_);
  auto examiner = Connect(examiner_);
  Subscribe(mine.get(), 0);
  Subscribe(examiner.get(), 0);
  fake_.Append(kRoom, waiting_room::v1::PRIVATE, "acc-2");  // 5
  fake_.Append(kRoom, waiting_room::v1::ROOM);              // 6
  ASSERT_TRUE(examiner->ReadEvents(6));
  ASSERT_TRUE(mine->ReadEvents(3));
  EXPECT_EQ(mine->ids(), (std::vector<int64_t>{1, 2, 6}));
  EXPECT_EQ(examiner->ids(), Range(1, 6));
  // A late candidate catching up through ListEvents (the ring holds 8) sees the same.
  for (int i = 0; i < 10; ++i) fake_.Append(kRoom, waiting_room::v1::PRIVATE, "acc-2");
  fake_.Append(kRoom, waiting_room::v1::ROOM);  // 17
  ASSERT_TRUE(mine->ReadEvents(4));
  auto late = Connect(candidate_);
  Subscribe(late.get(), 0);
  ASSERT_TRUE(late->ReadEvents(4));
  EXPECT_EQ(late->ids(), (std::vector<int64_t>{1, 2, 6, 17}));
}

TEST_F(GatewayLiveTest, ResumeFromTheRingOrFromListEventsHasNoGapAndNoDuplicate) {
  for (int i = 0; i < 30; ++i) fake_.Append(kRoom, waiting_room::v1::ROOM);
  auto first = Connect(examiner_);
  Subscribe(first.get(), 0);  // Starts the room's stream: the whole room, from the hub.
  ASSERT_TRUE(first->ReadEvents(30));
  EXPECT_EQ(fake_.list_calls(), 0);

  auto recent = Connect(candidate_);
  Subscribe(recent.get(), 25);  // The ring (8 events: 23..30) covers it.
  ASSERT_TRUE(recent->ReadEvents(5));
  EXPECT_EQ(recent->ids(), Range(26, 30));
  EXPECT_EQ(fake_.list_calls(), 0);

  auto old = Connect(candidate_);
  Subscribe(old.get(), 5);  // Older than the ring: ListEvents pages of 10.
  ASSERT_TRUE(old->ReadEvents(25));
  EXPECT_EQ(old->ids(), Range(6, 30));
  EXPECT_GE(fake_.list_calls(), 3);

  fake_.Append(kRoom, waiting_room::v1::ROOM);
  ASSERT_TRUE(first->ReadEvents(31));
  ASSERT_TRUE(recent->ReadEvents(6));
  ASSERT_TRUE(old->ReadEvents(26));
  EXPECT_EQ(first->ids(), Range(1, 31));
  EXPECT_EQ(recent->ids(), Range(26, 31));
  EXPECT_EQ(old->ids(), Range(6, 31));
  EXPECT_EQ(fake_.subscribe_calls(), 1);
}

TEST_F(GatewayLiveTest, CatchUpWhileEventsKeepComing) {
  for (int i = 0; i < 40; ++i) fake_.Append(kRoom, waiting_room::v1::ROOM);
  auto first = Connect(examiner_);
  Subscribe(first.get(), 0);
  ASSERT_TRUE(first->ReadEvents(40));
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    for (int i = 0; i < 200 && !stop; ++i) {
      fake_.Append(kRoom, waiting_room::v1::ROOM);
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
  });
  auto old = Connect(candidate_);
  Subscribe(old.get(), 3);
  producer.join();
  ASSERT_TRUE(old->ReadEvents(237));
  EXPECT_EQ(old->ids(), Range(4, 240));
}

TEST_F(GatewayLiveTest, UpstreamRestartLosesNothingAndRepeatsNothing) {
  for (int i = 0; i < 3; ++i) fake_.Append(kRoom, waiting_room::v1::ROOM);
  auto client = Connect(candidate_);
  Subscribe(client.get(), 0);
  ASSERT_TRUE(client->ReadEvents(3));
  fake_.EndStreams();
  fake_.Append(kRoom, waiting_room::v1::ROOM);
  fake_.Append(kRoom, waiting_room::v1::ROOM);
  ASSERT_TRUE(client->ReadEvents(5));
  ASSERT_TRUE(WaitFor([&] { return fake_.subscribe_calls() == 2; }));
  EXPECT_EQ(fake_.subscribe_afters(), (std::vector<int64_t>{0, 3}));
  fake_.EndStreams();
  ASSERT_TRUE(WaitFor([&] { return fake_.subscribe_calls() == 3; }));
  fake_.Append(kRoom, waiting_room::v1::ROOM);
  ASSERT_TRUE(client->ReadEvents(6));
  EXPECT_EQ(client->ids(), Range(1, 6));
}

TEST_F(GatewayLiveTest, SlowConsumerIsCutOffWithTheResumePoint) {
  GatewayOptions options = DefaultOptions();
  options.live.max_queued_messages = 50;
  StartGateway(std::move(options));
  auto client = Connect(candidate_);
  Subscribe(client.get(), 0);
  // The client reads nothing while the room floods: socket buffers fill, then the queue.
  for (int i = 0; i < 3000; ++i) fake_.Append(kRoom, waiting_room::v1::ROOM, "", 2000);
  ASSERT_TRUE(WaitFor([&] { return gateway_->metrics().live_slow_consumer_closes() == 1; }));
  EXPECT_EQ(client->ReadUntilClosed(), 1008);
  ASSERT_FALSE(client->ids().empty());
  EXPECT_EQ(client->ids(), Range(1, client->last_id()));
  EXPECT_EQ(std::string(client->reason().reason.data(), client->reason().reason.size()),
            absl::StrCat("slow consumer: resume with after=", client->last_id()));
  // Resuming from there gets the rest.
  auto again = Connect(candidate_);
  Subscribe(again.get(), client->last_id());
  ASSERT_TRUE(again->ReadEvents(static_cast<size_t>(3000 - client->last_id())));
  EXPECT_EQ(again->ids(), Range(client->last_id() + 1, 3000));
}

TEST_F(GatewayLiveTest, BadMessagesGetErrorsAndTheConnectionStays) {
  auto client = Connect(candidate_);
  client->Send("{not json");
  auto error = client->Next();
  ASSERT_TRUE(error);
  EXPECT_EQ(WsClient::Type(*error), "error");
  EXPECT_EQ(WsClient::Field(*error, "code"), "INVALID_ARGUMENT");

  client->Send(R"({"type":"signal","id":"x1","to":"peer"})");
  error = client->Next();
  ASSERT_TRUE(error);
  EXPECT_EQ(WsClient::Field(*error, "code"), "UNKNOWN_TYPE");
  EXPECT_EQ(WsClient::Field(*error, "ref"), "x1");

  client->Send(R"({"type":"subscribe","roomId":"r1","after":-1})");
  EXPECT_EQ(WsClient::Field(*client->Next(), "code"), "INVALID_ARGUMENT");
  client->Send(R"({"type":"subscribe","roomId":"r1\"x"})");
  EXPECT_EQ(WsClient::Field(*client->Next(), "code"), "INVALID_ARGUMENT");
  client->Send(R"({"type":"subscribe","roomId":"forbidden"})");
  error = client->Next();
  EXPECT_EQ(WsClient::Field(*error, "code"), "PERMISSION_DENIED");
  EXPECT_EQ(WsClient::Field(*error, "roomId"), "forbidden");
  client->Send(R"({"type":"subscribe","roomId":"missing"})");
  EXPECT_EQ(WsClient::Field(*client->Next(), "code"), "NOT_FOUND");
  client->Send(R"({"type":"unsubscribe","roomId":"r1"})");
  EXPECT_EQ(WsClient::Field(*client->Next(), "code"), "NOT_SUBSCRIBED");

  client->Send(R"({"type":"ping","id":"p"})");
  EXPECT_EQ(WsClient::Type(*client->Next()), "pong");

  client->Send(std::string(5000, ' '));  // Over the 4096-byte message limit.
  EXPECT_EQ(client->ReadUntilClosed(), 1009);
}

TEST_F(GatewayLiveTest, PresenceOnSubscribeAndOnClose) {
  auto client = Connect(candidate_);
  Subscribe(client.get(), 0);
  ASSERT_TRUE(WaitFor([&] { return fake_.presence().size() == 1; }));
  EXPECT_EQ(fake_.presence()[0].account, "acc-1");
  EXPECT_EQ(fake_.presence()[0].room, kRoom);
  EXPECT_TRUE(fake_.presence()[0].online);
  client->Close();
  ASSERT_TRUE(WaitFor([&] { return fake_.presence().size() == 2; }));
  EXPECT_FALSE(fake_.presence()[1].online);
  EXPECT_TRUE(WaitFor([&] { return gateway_->metrics().live_connections() == 0; }));
}

TEST_F(GatewayLiveTest, HundredClientsResumeAfterAGatewayRestart) {
  constexpr int kClients = 100;
  for (int i = 0; i < 10; ++i) fake_.Append(kRoom, waiting_room::v1::ROOM);
  std::vector<std::unique_ptr<WsClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(Connect(i % 2 ? candidate_ : examiner_));
    Subscribe(clients.back().get(), 0);
  }
  for (auto& client : clients) ASSERT_TRUE(client->ReadEvents(10));

  std::atomic<bool> stop{false};
  std::thread producer([&] {
    while (!stop) {
      fake_.Append(kRoom, waiting_room::v1::ROOM);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto old = std::move(gateway_);
  StartGateway(DefaultOptions());  // The new instance, on another port, same service.
  old->Shutdown();
  for (auto& client : clients) EXPECT_EQ(client->ReadUntilClosed(), 1001);
  old.reset();
  std::vector<std::unique_ptr<WsClient>> resumed;
  for (auto& client : clients) {
    resumed.push_back(Connect(client->ids().size() % 2 ? candidate_ : examiner_));
    Subscribe(resumed.back().get(), client->last_id());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop = true;
  producer.join();
  const int64_t last = fake_.Append(kRoom, waiting_room::v1::ROOM);
  for (int i = 0; i < kClients; ++i) {
    std::vector<int64_t> ids = clients[i]->ids();
    ASSERT_TRUE(resumed[i]->ReadEvents(static_cast<size_t>(last - clients[i]->last_id())));
    ids.insert(ids.end(), resumed[i]->ids().begin(), resumed[i]->ids().end());
    ASSERT_EQ(ids, Range(1, last)) << "client " << i;
  }
}

}  // namespace
}  // namespace admissions::gateway
