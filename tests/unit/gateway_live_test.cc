// The live channel (GET /v1/live, a WebSocket) against in-process fakes of the waiting-room
// service, whose room events the test appends, and of media-signaling (the interview's
// signaling), and Beast WebSocket clients.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <deque>
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
#include "media_signaling/v1/media_signaling.grpc.pb.h"
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

namespace ms = media_signaling::v1;

class FakeMediaSignaling;

// Connect the way the service is meant to serve it: `joined`, then the participant's mailbox
// after `after_seq` (seq = position in the mailbox), one write at a time, until it is ended.
// All state is under the fake's mutex.
class ConnectReactor final : public grpc::ServerWriteReactor<ms::Delivery> {
 public:
  ConnectReactor(FakeMediaSignaling* fake, std::string peer, int64_t after, ms::Delivery joined)
      : fake_(fake), peer_(std::move(peer)), last_(after) {
    first_.push_back(std::move(joined));
  }
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  /// With the fake's mutex held.
  void Pump();
  /// Ends the stream: at once (after `replaced` when set), or once the mailbox is written out
  /// (`drain`).
  void End(grpc::Status status, bool replaced = false, bool drain = false) {
    if (end_) return;
    end_ = std::move(status);
    drain_ = drain;
    if (replaced) first_.emplace_back().mutable_replaced();
    Pump();
  }

 private:
  FakeMediaSignaling* fake_;
  std::string peer_;
  int64_t last_;
  std::deque<ms::Delivery> first_;
  ms::Delivery current_;
  bool writing_ = false;
  bool finished_ = false;
  bool drain_ = false;
  std::optional<grpc::Status> end_;
};

// A Connect refused before its first message.
class RefusedConnect final : public grpc::ServerWriteReactor<ms::Delivery> {
 public:
  explicit RefusedConnect(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

// media-signaling for one interview (room r1, iv-1) of acc-1 and ex-1: a mailbox per peer,
// replacement by a newer connection, epochs, and switches to fail the way a restart does.
class FakeMediaSignaling final : public ms::MediaSignaling::CallbackService {
 public:
  static constexpr int kGraceSeconds = 1;

  void RegisterToken(const std::string& token, const std::string& peer) {
    absl::MutexLock lock(&mu_);
    callers_[token] = peer;
  }
  /// Ends every Connect stream with `status`, as a restarting service does.
  void EndStreams(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    for (auto& [peer, stream] : streams_) stream->End(status);
  }
  /// While down, Connect is refused with UNAVAILABLE.
  void SetDown(bool down) {
    absl::MutexLock lock(&mu_);
    down_ = down;
  }
  /// Connect then replays the whole mailbox whatever `after_seq` says (the gateway must skip
  /// what it delivered).
  void ReplayAll(bool all) {
    absl::MutexLock lock(&mu_);
    replay_all_ = all;
  }
  void AllowScreenShare(bool allowed) {
    absl::MutexLock lock(&mu_);
    screen_share_allowed_ = allowed;
  }
  /// `session_ended` into every mailbox; the streams end once it is written.
  void EndSession(const std::string& reason) {
    absl::MutexLock lock(&mu_);
    for (const auto& peer : joined_) {
      ms::Delivery delivery;
      delivery.mutable_session_ended()->set_reason(reason);
      Append(peer, std::move(delivery));
    }
    for (auto& [peer, stream] : streams_) stream->End(grpc::Status::OK, false, /*drain=*/true);
  }
  /// A signal into `to`'s mailbox as if another participant had sent it.
  void Deliver(const std::string& from, const std::string& to, const std::string& sdp) {
    absl::MutexLock lock(&mu_);
    ms::Delivery delivery;
    delivery.mutable_signal()->set_from(from);
    delivery.mutable_signal()->set_to(to);
    delivery.mutable_signal()->set_kind("offer");
    delivery.mutable_signal()->set_sdp(sdp);
    Append(to, std::move(delivery));
  }

  std::vector<int64_t> connect_afters() {
    absl::MutexLock lock(&mu_);
    return connect_afters_;
  }
  int open_streams() {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(streams_.size());
  }
  int cancels() {
    absl::MutexLock lock(&mu_);
    return cancels_;
  }
  int leaves() {
    absl::MutexLock lock(&mu_);
    return leaves_;
  }
  int relays() {
    absl::MutexLock lock(&mu_);
    return relays_;
  }
  /// The most Relay calls of one participant that were in progress at once.
  int max_relays_in_flight() {
    absl::MutexLock lock(&mu_);
    return max_in_flight_;
  }

  grpc::ServerWriteReactor<ms::Delivery>* Connect(grpc::CallbackServerContext* context,
                                                  const ms::ConnectRequest* request) override {
    auto peer = CallerOf(context);
    absl::MutexLock lock(&mu_);
    connect_afters_.push_back(request->after_seq());
    absl::Status refusal;
    if (!peer) {
      refusal = Error(absl::StatusCode::kUnauthenticated, reason::kUnauthenticated, "who?");
    } else if (request->room_id() == "no-interview") {
      refusal = Error(absl::StatusCode::kFailedPrecondition, "NO_INTERVIEW", "not yet");
    } else if (request->room_id() == "finished") {
      refusal = Error(absl::StatusCode::kFailedPrecondition, "INTERVIEW_FINISHED", "over");
    } else if (down_) {
      refusal = absl::UnavailableError("restarting");
    } else if (*peer != "acc-1" && *peer != "ex-1") {
      refusal = Error(absl::StatusCode::kPermissionDenied, reason::kPermissionDenied,
                      "not in this interview");
    }
    if (!refusal.ok()) return new RefusedConnect(ToGrpcStatus(refusal));
    if (auto it = streams_.find(*peer); it != streams_.end()) {
      it->second->End(grpc::Status::OK, /*replaced=*/true);
    }
    if (joined_.insert(*peer).second) {
      for (const auto& other : joined_) {
        if (other == *peer) continue;
        ms::Delivery delivery;
        delivery.mutable_peer_joined()->set_peer_id(*peer);
        delivery.mutable_peer_joined()->set_connected(true);
        Append(other, std::move(delivery));
      }
    }
    ms::Delivery first;
    ms::Joined* joined = first.mutable_joined();
    joined->set_room_id(request->room_id());
    joined->set_interview_id("iv-1");
    joined->mutable_self()->set_peer_id(*peer);
    joined->mutable_self()->set_role(*peer == "ex-1" ? ms::EXAMINER : ms::CANDIDATE);
    for (const auto& other : joined_) {
      if (other != *peer) joined->add_peers()->set_peer_id(other);
    }
    joined->mutable_ice()->add_ice_servers()->add_urls("stun:127.0.0.1:3478");
    joined->set_last_seq(static_cast<int64_t>(mailboxes_[*peer].size()));
    joined->set_grace_seconds(kGraceSeconds);
    joined->set_epoch(++epochs_[*peer]);
    auto* reactor =
        new ConnectReactor(this, *peer, replay_all_ ? 0 : request->after_seq(), std::move(first));
    streams_[*peer] = reactor;
    reactor->Pump();
    return reactor;
  }

  grpc::ServerUnaryReactor* Relay(grpc::CallbackServerContext* context,
                                  const ms::RelayRequest* request, ms::RelayResponse*) override {
    auto* reactor = context->DefaultReactor();
    auto peer = CallerOf(context);
    absl::Status status = Check(peer, request->peer_id(), request->epoch());
    {
      absl::MutexLock lock(&mu_);
      if (status.ok() && !joined_.count(request->signal().to())) {
        status = Error(absl::StatusCode::kNotFound, "UNKNOWN_PEER", "no such peer here",
                       {{"field", "to"}});
      }
      if (status.ok()) {
        ++relays_;
        max_in_flight_ = std::max(max_in_flight_, ++in_flight_[*peer]);
        ms::Delivery delivery;
        *delivery.mutable_signal() = request->signal();
        delivery.mutable_signal()->set_from(*peer);
        Append(request->signal().to(), std::move(delivery));
      }
    }
    if (!status.ok()) {
      reactor->Finish(ToGrpcStatus(status));
      return reactor;
    }
    // Answered a little later from another thread, so that Relays of one connection issued
    // without waiting for each other would overlap here.
    std::thread([this, reactor, peer = *peer] {
      std::this_thread::sleep_for(std::chrono::microseconds(300));
      {
        absl::MutexLock lock(&mu_);
        --in_flight_[peer];
      }
      reactor->Finish(grpc::Status::OK);
    }).detach();
    return reactor;
  }

  grpc::ServerUnaryReactor* Leave(grpc::CallbackServerContext* context,
                                  const ms::LeaveRequest* request, ms::LeaveResponse*) override {
    auto* reactor = context->DefaultReactor();
    auto peer = CallerOf(context);
    absl::Status status = Check(peer, request->peer_id(), request->epoch());
    if (status.ok()) {
      absl::MutexLock lock(&mu_);
      ++leaves_;
      joined_.erase(*peer);
      for (const auto& other : joined_) {
        ms::Delivery delivery;
        delivery.mutable_peer_left()->set_peer_id(*peer);
        delivery.mutable_peer_left()->set_reason("LEFT");
        Append(other, std::move(delivery));
      }
      if (auto it = streams_.find(*peer); it != streams_.end()) it->second->End(grpc::Status::OK);
    }
    reactor->Finish(ToGrpcStatus(status));
    return reactor;
  }

  grpc::ServerUnaryReactor* SetScreenShare(grpc::CallbackServerContext* context,
                                           const ms::SetScreenShareRequest* request,
                                           ms::SetScreenShareResponse*) override {
    auto* reactor = context->DefaultReactor();
    auto peer = CallerOf(context);
    absl::Status status = Check(peer, request->peer_id(), request->epoch());
    absl::MutexLock lock(&mu_);
    if (status.ok() && request->on() && !screen_share_allowed_) {
      status = Error(absl::StatusCode::kPermissionDenied, "SCREEN_SHARE_NOT_ALLOWED",
                     "this exam does not use screen sharing");
    }
    if (status.ok()) {
      for (const auto& other : joined_) {
        if (other == *peer) continue;
        ms::Delivery delivery;
        delivery.mutable_peer_updated()->set_peer_id(*peer);
        delivery.mutable_peer_updated()->set_screen_sharing(request->on());
        Append(other, std::move(delivery));
      }
    }
    reactor->Finish(ToGrpcStatus(status));
    return reactor;
  }

  grpc::ServerUnaryReactor* GetIceServers(grpc::CallbackServerContext* context,
                                          const ms::GetIceServersRequest*,
                                          ms::IceServers* response) override {
    auto* reactor = context->DefaultReactor();
    auto* server = response->add_ice_servers();
    server->add_urls("turn:127.0.0.1:3478");
    server->set_username("1700000600:acc-1");
    server->set_credential("c2VjcmV0");
    response->mutable_expires_at()->set_seconds(kNow + 600);
    reactor->Finish(CallerOf(context) ? grpc::Status::OK
                                      : ToGrpcStatus(Error(absl::StatusCode::kUnauthenticated,
                                                           reason::kUnauthenticated, "who?")));
    return reactor;
  }

 private:
  friend class ConnectReactor;

  std::optional<std::string> CallerOf(grpc::CallbackServerContext* context) {
    auto it = context->client_metadata().find("authorization");
    if (it == context->client_metadata().end()) return std::nullopt;
    std::string header(it->second.data(), it->second.size());
    if (header.rfind("Bearer ", 0) != 0) return std::nullopt;
    absl::MutexLock lock(&mu_);
    auto caller = callers_.find(header.substr(7));
    if (caller == callers_.end()) return std::nullopt;
    return caller->second;
  }

  absl::Status Check(const std::optional<std::string>& peer, const std::string& peer_id,
                     int64_t epoch) {
    absl::MutexLock lock(&mu_);
    if (!peer || *peer != peer_id) {
      return Error(absl::StatusCode::kPermissionDenied, reason::kPermissionDenied, "not you");
    }
    if (epochs_[*peer] != epoch) {
      return Error(absl::StatusCode::kFailedPrecondition, "REPLACED", "stale epoch");
    }
    return absl::OkStatus();
  }

  void Append(const std::string& peer, ms::Delivery delivery) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto& mailbox = mailboxes_[peer];
    delivery.set_seq(static_cast<int64_t>(mailbox.size()) + 1);
    mailbox.push_back(std::move(delivery));
    if (auto it = streams_.find(peer); it != streams_.end()) it->second->Pump();
  }

  absl::Mutex mu_;
  std::map<std::string, std::string> callers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<ms::Delivery>> mailboxes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, ConnectReactor*> streams_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> joined_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> epochs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> in_flight_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> connect_afters_ ABSL_GUARDED_BY(mu_);
  bool down_ ABSL_GUARDED_BY(mu_) = false;
  bool replay_all_ ABSL_GUARDED_BY(mu_) = false;
  bool screen_share_allowed_ ABSL_GUARDED_BY(mu_) = true;
  int cancels_ ABSL_GUARDED_BY(mu_) = 0;
  int leaves_ ABSL_GUARDED_BY(mu_) = 0;
  int relays_ ABSL_GUARDED_BY(mu_) = 0;
  int max_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

void ConnectReactor::Pump() {
  if (writing_ || finished_) return;
  const auto& mailbox = fake_->mailboxes_[peer_];
  if (!first_.empty()) {
    current_ = std::move(first_.front());
    first_.pop_front();
  } else if ((!end_ || drain_) && last_ < static_cast<int64_t>(mailbox.size())) {
    current_ = mailbox[static_cast<size_t>(last_)];
    last_ = current_.seq();
  } else if (end_) {
    finished_ = true;
    Finish(*end_);
    return;
  } else {
    return;
  }
  writing_ = true;
  StartWrite(&current_);
}

void ConnectReactor::OnWriteDone(bool ok) {
  absl::MutexLock lock(&fake_->mu_);
  writing_ = false;
  if (!ok && !end_) end_ = grpc::Status::CANCELLED;
  Pump();
}

void ConnectReactor::OnCancel() {
  absl::MutexLock lock(&fake_->mu_);
  ++fake_->cancels_;
  End(grpc::Status::CANCELLED);
}

void ConnectReactor::OnDone() {
  {
    absl::MutexLock lock(&fake_->mu_);
    auto it = fake_->streams_.find(peer_);
    if (it != fake_->streams_.end() && it->second == this) fake_->streams_.erase(it);
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
    builder.RegisterService(&media_);
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
    second_login_ = Token("acc-1", "CANDIDATE", "s4");
    media_.RegisterToken(candidate_, "acc-1");
    media_.RegisterToken(second_login_, "acc-1");
    media_.RegisterToken(other_candidate_, "acc-2");
    media_.RegisterToken(examiner_, "ex-1");
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
    options.upstream_addresses["media_signaling"] = address_;
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

  /// Joins the interview session of `room` and reads the `joined` answer.
  Struct Join(WsClient* client, int64_t after_seq = 0, const std::string& room = kRoom) {
    client->Send(absl::StrCat(R"({"type":"join","roomId":")", room, R"(","afterSeq":")", after_seq,
                              R"(","id":"j"})"));
    auto answer = client->Next();
    EXPECT_TRUE(answer && WsClient::Type(*answer) == "joined")
        << (answer ? answer->DebugString() : "closed");
    EXPECT_TRUE(answer && WsClient::Field(*answer, "ref") == "j");
    return answer.value_or(Struct());
  }

  /// The next message of `type`, skipping others (none: an empty Struct).
  static Struct NextOfType(WsClient* client, const std::string& type) {
    while (auto message = client->Next()) {
      if (WsClient::Type(*message) == type) return *message;
    }
    return Struct();
  }

  FakeWaitingRoom fake_;
  FakeMediaSignaling media_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::string address_;
  std::optional<TokenSigner> signer_;
  std::string candidate_, other_candidate_, examiner_, second_login_;
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

  client->Send(R"({"type":"teleport","id":"x1","to":"peer"})");
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

std::string SignalText(const std::string& to, const std::string& kind, const std::string& body,
                       const std::string& id = "") {
  std::string out = absl::StrCat(R"({"type":"signal","to":")", to, R"(","kind":")", kind, R"(")");
  if (kind == "candidate") {
    absl::StrAppend(&out, R"(,"candidate":{"candidate":")", body,
                    R"(","sdpMid":"0","sdpMLineIndex":0})");
  } else if (kind == "offer" || kind == "answer") {
    absl::StrAppend(&out, R"(,"sdp":")", body, R"(")");
  }
  if (!id.empty()) absl::StrAppend(&out, R"(,"id":")", id, R"(")");
  return out + "}";
}

std::string CandidateOf(const Struct& signal) {
  auto it = signal.fields().find("candidate");
  if (it == signal.fields().end()) return "";
  return WsClient::Field(it->second.struct_value(), "candidate");
}

TEST_F(GatewayLiveTest, SignalsBetweenTwoPeersArriveInOrder) {
  auto candidate = Connect(candidate_);
  auto examiner = Connect(examiner_);
  Struct joined = Join(candidate.get());
  EXPECT_EQ(WsClient::Field(joined, "roomId"), kRoom);
  EXPECT_EQ(WsClient::Field(joined, "interviewId"), "iv-1");
  EXPECT_EQ(WsClient::Field(joined.fields().at("self").struct_value(), "peerId"), "acc-1");
  EXPECT_EQ(WsClient::Field(joined.fields().at("self").struct_value(), "role"), "CANDIDATE");
  EXPECT_EQ(WsClient::Field(joined, "epoch"), "1");
  EXPECT_EQ(WsClient::Field(joined, "lastSeq"), "0");
  EXPECT_EQ(joined.fields().at("graceSeconds").number_value(), FakeMediaSignaling::kGraceSeconds);
  EXPECT_EQ(
      joined.fields().at("ice").struct_value().fields().at("iceServers").list_value().values_size(),
      1);
  Join(examiner.get());
  Struct peer_joined = candidate->NextControl().value_or(Struct());
  EXPECT_EQ(WsClient::Type(peer_joined), "peer-joined");
  EXPECT_EQ(WsClient::Field(peer_joined, "seq"), "1");
  EXPECT_EQ(WsClient::Field(peer_joined.fields().at("peer").struct_value(), "peerId"), "ex-1");

  constexpr int kCandidates = 100;
  candidate->Send(SignalText("ex-1", "offer", "v=0 offer"));
  for (int i = 0; i < kCandidates; ++i) {
    candidate->Send(SignalText("ex-1", "candidate", absl::StrCat("c", i)));
  }
  candidate->Send(SignalText("ex-1", "end-of-candidates", ""));
  Struct offer = examiner->Next().value_or(Struct());
  EXPECT_EQ(WsClient::Type(offer), "signal");
  EXPECT_EQ(WsClient::Field(offer, "kind"), "offer");
  EXPECT_EQ(WsClient::Field(offer, "from"), "acc-1");
  EXPECT_EQ(WsClient::Field(offer, "to"), "ex-1");
  EXPECT_EQ(WsClient::Field(offer, "sdp"), "v=0 offer");
  EXPECT_EQ(WsClient::Field(offer, "seq"), "1");
  for (int i = 0; i < kCandidates; ++i) {
    Struct signal = examiner->Next().value_or(Struct());
    ASSERT_EQ(WsClient::Field(signal, "kind"), "candidate") << signal.DebugString();
    EXPECT_EQ(CandidateOf(signal), absl::StrCat("c", i));
    EXPECT_EQ(WsClient::Field(signal, "seq"), absl::StrCat(i + 2));
  }
  EXPECT_EQ(WsClient::Field(examiner->Next().value_or(Struct()), "kind"), "end-of-candidates");
  // One Relay at a time per connection: that is what keeps the order.
  EXPECT_EQ(media_.max_relays_in_flight(), 1);

  examiner->Send(SignalText("acc-1", "answer", "v=0 answer"));
  Struct answer = candidate->Next().value_or(Struct());
  EXPECT_EQ(WsClient::Field(answer, "kind"), "answer");
  EXPECT_EQ(WsClient::Field(answer, "from"), "ex-1");
  EXPECT_EQ(WsClient::Field(answer, "seq"), "2");
}

TEST_F(GatewayLiveTest, SignalingRefusals) {
  auto client = Connect(candidate_);
  client->Send(SignalText("ex-1", "offer", "v=0", "s1"));
  Struct error = client->Next().value_or(Struct());
  EXPECT_EQ(WsClient::Field(error, "code"), "NOT_JOINED");
  EXPECT_EQ(WsClient::Field(error, "ref"), "s1");
  client->Send(R"({"type":"screen-share","on":true,"id":"x"})");
  EXPECT_EQ(WsClient::Field(client->Next().value_or(Struct()), "code"), "NOT_JOINED");
  client->Send(R"({"type":"leave","id":"x"})");
  EXPECT_EQ(WsClient::Field(client->Next().value_or(Struct()), "code"), "NOT_JOINED");

  client->Send(R"({"type":"join","roomId":"no-interview","id":"j1"})");
  error = client->Next().value_or(Struct());
  EXPECT_EQ(WsClient::Type(error), "error");
  EXPECT_EQ(WsClient::Field(error, "code"), "NO_INTERVIEW");
  EXPECT_EQ(WsClient::Field(error, "roomId"), "no-interview");
  EXPECT_EQ(WsClient::Field(error, "ref"), "j1");
  client->Send(R"({"type":"join","roomId":"finished"})");
  EXPECT_EQ(WsClient::Field(client->Next().value_or(Struct()), "code"), "INTERVIEW_FINISHED");
  auto outsider = Connect(other_candidate_);
  outsider->Send(R"({"type":"join","roomId":"r1"})");
  EXPECT_EQ(WsClient::Field(outsider->Next().value_or(Struct()), "code"), "PERMISSION_DENIED");

  Join(client.get());
  client->Send(R"({"type":"join","roomId":"r1","id":"again"})");
  error = client->Next().value_or(Struct());
  EXPECT_EQ(WsClient::Field(error, "code"), "ALREADY_JOINED");
  EXPECT_EQ(WsClient::Field(error, "ref"), "again");

  client->Send(SignalText("acc-2", "offer", "v=0", "s2"));
  error = client->Next().value_or(Struct());
  EXPECT_EQ(WsClient::Field(error, "code"), "UNKNOWN_PEER");
  EXPECT_EQ(WsClient::Field(error, "ref"), "s2");
  EXPECT_EQ(WsClient::Field(error.fields().at("details").struct_value(), "field"), "to");

  client->Send(R"({"type":"signal","to":"ex-1",)");
  EXPECT_EQ(WsClient::Field(client->Next().value_or(Struct()), "code"), "INVALID_ARGUMENT");
  client->Send(R"({"type":"signal","to":"ex-1","kind":"rollback","id":"s3"})");
  error = client->Next().value_or(Struct());
  EXPECT_EQ(WsClient::Field(error, "code"), "INVALID_ARGUMENT");
  EXPECT_EQ(WsClient::Field(error, "ref"), "s3");
  client->Send(R"({"type":"ping","id":"p"})");
  EXPECT_EQ(WsClient::Type(client->Next().value_or(Struct())), "pong");
  EXPECT_EQ(media_.relays(), 0);
}

TEST_F(GatewayLiveTest, SignalsBeyondTheRateAreDroppedForThatConnectionOnly) {
  GatewayOptions options = DefaultOptions();
  options.live.signal_rate_per_second = 20;
  options.live.signal_burst = 10;
  StartGateway(std::move(options));
  auto candidate = Connect(candidate_);
  auto examiner = Connect(examiner_);
  Join(candidate.get());
  Join(examiner.get());
  ASSERT_EQ(WsClient::Type(candidate->NextControl().value_or(Struct())), "peer-joined");
  constexpr int kSent = 200;
  for (int i = 0; i < kSent; ++i) {
    candidate->Send(SignalText("ex-1", "candidate", absl::StrCat("c", i), absl::StrCat(i)));
  }
  candidate->Send(R"({"type":"ping","id":"barrier"})");
  std::set<std::string> limited;
  while (auto message = candidate->Next()) {
    if (WsClient::Type(*message) == "pong") break;
    ASSERT_EQ(WsClient::Field(*message, "code"), "RATE_LIMITED") << message->DebugString();
    limited.insert(WsClient::Field(*message, "ref"));
  }
  EXPECT_GE(limited.size(), 150u);
  const int accepted = kSent - static_cast<int>(limited.size());
  EXPECT_GE(accepted, 10);
  // The other direction has a bucket of its own.
  examiner->Send(SignalText("acc-1", "answer", "v=0"));
  Struct answer = candidate->Next().value_or(Struct());
  EXPECT_EQ(WsClient::Field(answer, "kind"), "answer");
  // What passed arrives in order, the dropped ones missing.
  std::string last;
  for (int i = 0; i < accepted; ++i) {
    Struct signal = examiner->Next().value_or(Struct());
    std::string name = CandidateOf(signal);
    ASSERT_FALSE(name.empty()) << signal.DebugString();
    EXPECT_EQ(limited.count(name.substr(1)), 0u) << name;
    if (!last.empty()) {
      EXPECT_LT(std::stoi(last.substr(1)), std::stoi(name.substr(1)));
    }
    last = name;
  }
}

TEST_F(GatewayLiveTest, ASecondConnectionOfAParticipantReplacesTheFirst) {
  auto first = Connect(candidate_);
  auto examiner = Connect(examiner_);
  Join(first.get());
  Join(examiner.get());
  ASSERT_EQ(WsClient::Type(first->NextControl().value_or(Struct())), "peer-joined");
  auto second = Connect(second_login_);
  Struct joined = Join(second.get(), /*after_seq=*/1);
  EXPECT_EQ(WsClient::Field(joined, "epoch"), "2");
  EXPECT_EQ(WsClient::Type(first->Next().value_or(Struct())), "replaced");
  examiner->Send(SignalText("acc-1", "offer", "to the new one"));
  Struct offer = second->Next().value_or(Struct());
  EXPECT_EQ(WsClient::Field(offer, "sdp"), "to the new one");
  EXPECT_EQ(WsClient::Field(offer, "seq"), "2");
  // The old connection is open but out of the session; its close changes nothing.
  first->Send(SignalText("ex-1", "candidate", "late", "old"));
  EXPECT_EQ(WsClient::Field(first->Next().value_or(Struct()), "code"), "NOT_JOINED");
  first->Close();
  EXPECT_TRUE(WaitFor([&] { return gateway_->live_connections() == 2; }));
  EXPECT_EQ(media_.open_streams(), 2);
  examiner->Send(SignalText("acc-1", "candidate", "still here"));
  EXPECT_EQ(CandidateOf(second->Next().value_or(Struct())), "still here");
  second->Send(SignalText("ex-1", "answer", "from the new one"));
  EXPECT_EQ(WsClient::Field(examiner->Next().value_or(Struct()), "sdp"), "from the new one");
}

TEST_F(GatewayLiveTest, ABrokenConnectStreamIsResumedUnseen) {
  media_.ReplayAll(true);  // The gateway must skip what it delivered before.
  auto candidate = Connect(candidate_);
  auto examiner = Connect(examiner_);
  Join(candidate.get());
  Join(examiner.get());
  ASSERT_EQ(WsClient::Type(candidate->NextControl().value_or(Struct())), "peer-joined");
  for (int i = 0; i < 3; ++i)
    examiner->Send(SignalText("acc-1", "candidate", absl::StrCat("c", i)));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(CandidateOf(candidate->Next().value_or(Struct())), absl::StrCat("c", i));
  }
  media_.EndStreams(grpc::Status(grpc::StatusCode::UNAVAILABLE, "restarting"));
  media_.Deliver("ex-1", "acc-1", "while away");
  Struct missed = candidate->Next().value_or(Struct());
  EXPECT_EQ(WsClient::Type(missed), "signal") << missed.DebugString();
  EXPECT_EQ(WsClient::Field(missed, "sdp"), "while away");
  EXPECT_EQ(WsClient::Field(missed, "seq"), "5");
  ASSERT_TRUE(WaitFor([&] { return media_.connect_afters().size() >= 4; }));
  auto afters = media_.connect_afters();
  EXPECT_NE(std::find(afters.begin(), afters.end(), 4), afters.end());
  // Calls carry the new epoch: a stale one would be refused.
  candidate->Send(SignalText("ex-1", "answer", "after the restart", "a"));
  EXPECT_EQ(WsClient::Field(NextOfType(examiner.get(), "signal"), "sdp"), "after the restart");
  examiner->Send(SignalText("acc-1", "candidate", "c9"));
  Struct next = candidate->Next().value_or(Struct());
  EXPECT_EQ(CandidateOf(next), "c9");
  EXPECT_EQ(WsClient::Field(next, "seq"), "6");
}

TEST_F(GatewayLiveTest, AResumeThatOutlastsTheGracePeriodEndsTheSession) {
  auto candidate = Connect(candidate_);
  Join(candidate.get());
  media_.SetDown(true);
  media_.EndStreams(grpc::Status(grpc::StatusCode::UNAVAILABLE, "gone"));
  auto start = std::chrono::steady_clock::now();
  Struct ended = NextOfType(candidate.get(), "session-ended");
  EXPECT_EQ(WsClient::Field(ended, "reason"), "UNAVAILABLE");
  EXPECT_EQ(ended.fields().count("seq"), 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
  EXPECT_GE(media_.connect_afters().size(), 3u);
  candidate->Send(SignalText("ex-1", "offer", "v=0"));
  EXPECT_EQ(WsClient::Field(candidate->Next().value_or(Struct()), "code"), "NOT_JOINED");
  media_.SetDown(false);
  EXPECT_EQ(WsClient::Field(Join(candidate.get()), "epoch"), "2");
}

TEST_F(GatewayLiveTest, SessionEndedLeaveAndRejoin) {
  auto candidate = Connect(candidate_);
  auto examiner = Connect(examiner_);
  Join(candidate.get());
  Join(examiner.get());
  ASSERT_EQ(WsClient::Type(candidate->NextControl().value_or(Struct())), "peer-joined");
  examiner->Send(R"({"type":"leave","id":"bye"})");
  Struct left = examiner->Next().value_or(Struct());
  EXPECT_EQ(WsClient::Type(left), "left");
  EXPECT_EQ(WsClient::Field(left, "ref"), "bye");
  Struct peer_left = candidate->Next().value_or(Struct());
  EXPECT_EQ(WsClient::Type(peer_left), "peer-left");
  EXPECT_EQ(WsClient::Field(peer_left, "peerId"), "ex-1");
  EXPECT_EQ(WsClient::Field(peer_left, "reason"), "LEFT");
  EXPECT_EQ(media_.leaves(), 1);
  examiner->Send(SignalText("acc-1", "offer", "v=0"));
  EXPECT_EQ(WsClient::Field(examiner->Next().value_or(Struct()), "code"), "NOT_JOINED");
  Join(examiner.get());
  media_.EndSession("FINISHED");
  for (WsClient* client : {candidate.get(), examiner.get()}) {
    Struct ended = NextOfType(client, "session-ended");
    EXPECT_EQ(WsClient::Field(ended, "reason"), "FINISHED");
    EXPECT_FALSE(WsClient::Field(ended, "seq").empty());
    client->Send(R"({"type":"screen-share","on":true})");
    EXPECT_EQ(WsClient::Field(client->Next().value_or(Struct()), "code"), "NOT_JOINED");
  }
  EXPECT_TRUE(WaitFor([&] { return media_.open_streams() == 0; }));
  EXPECT_EQ(media_.connect_afters().size(), 3u);  // Nothing was resumed.
}

TEST_F(GatewayLiveTest, ScreenShareAndIceServers) {
  auto candidate = Connect(candidate_);
  candidate->Send(R"({"type":"ice-servers","id":"i"})");
  Struct ice = candidate->Next().value_or(Struct());
  EXPECT_EQ(WsClient::Type(ice), "ice-servers");
  EXPECT_EQ(WsClient::Field(ice, "ref"), "i");
  EXPECT_EQ(WsClient::Field(ice, "expiresAt"), "2023-11-14T22:23:20Z");
  const Struct& server = ice.fields().at("iceServers").list_value().values(0).struct_value();
  EXPECT_EQ(WsClient::Field(server, "username"), "1700000600:acc-1");

  auto examiner = Connect(examiner_);
  Join(candidate.get());
  Join(examiner.get());
  ASSERT_EQ(WsClient::Type(candidate->NextControl().value_or(Struct())), "peer-joined");
  candidate->Send(R"({"type":"screen-share","on":true,"id":7})");
  Struct on = candidate->Next().value_or(Struct());
  EXPECT_EQ(WsClient::Type(on), "screen-share");
  EXPECT_TRUE(on.fields().at("on").bool_value());
  EXPECT_EQ(on.fields().at("ref").number_value(), 7);
  Struct updated = examiner->Next().value_or(Struct());
  EXPECT_EQ(WsClient::Type(updated), "peer-updated");
  EXPECT_TRUE(updated.fields().at("peer").struct_value().fields().at("screenSharing").bool_value());
  media_.AllowScreenShare(false);
  candidate->Send(R"({"type":"screen-share","on":true,"id":8})");
  Struct refused = candidate->Next().value_or(Struct());
  EXPECT_EQ(WsClient::Field(refused, "code"), "SCREEN_SHARE_NOT_ALLOWED");
  EXPECT_EQ(refused.fields().at("ref").number_value(), 8);
}

TEST_F(GatewayLiveTest, ClosingOrShuttingDownCancelsTheConnectStream) {
  auto candidate = Connect(candidate_);
  auto examiner = Connect(examiner_);
  Join(candidate.get());
  Join(examiner.get());
  ASSERT_EQ(media_.open_streams(), 2);
  candidate->Drop();  // Gone without a close frame.
  EXPECT_TRUE(WaitFor([&] { return media_.cancels() == 1 && media_.open_streams() == 1; }));
  gateway_->Shutdown();
  EXPECT_EQ(examiner->ReadUntilClosed(), 1001);
  EXPECT_TRUE(WaitFor([&] { return media_.cancels() == 2 && media_.open_streams() == 0; }));
}

TEST_F(GatewayLiveTest, WithoutMediaSignalingJoinIsUnavailable) {
  GatewayOptions options = DefaultOptions();
  options.upstream_addresses.erase("media_signaling");
  StartGateway(std::move(options));
  auto client = Connect(candidate_);
  client->Send(R"({"type":"join","roomId":"r1","id":"j"})");
  Struct error = client->Next().value_or(Struct());
  EXPECT_EQ(WsClient::Field(error, "code"), "UNAVAILABLE");
  EXPECT_EQ(WsClient::Field(error, "ref"), "j");
  client->Send(R"({"type":"ice-servers"})");
  EXPECT_EQ(WsClient::Field(client->Next().value_or(Struct()), "code"), "UNAVAILABLE");
}

TEST_F(GatewayLiveTest, AJoinedConnectionHasTheShortIdleTimeout) {
  GatewayOptions options = DefaultOptions();
  options.live.signal_idle_timeout = std::chrono::milliseconds(400);
  StartGateway(std::move(options));
  auto joined = Connect(candidate_);
  auto idle = Connect(examiner_);
  Join(joined.get());
  // Neither client reads, so neither answers the server's pings.
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_FALSE(NextOfType(joined.get(), "never").fields().count("type"));
  EXPECT_TRUE(joined->error());
  EXPECT_TRUE(WaitFor([&] { return media_.cancels() == 1; }));
  idle->Send(R"({"type":"ping","id":"p"})");
  EXPECT_EQ(WsClient::Type(idle->Next().value_or(Struct())), "pong");
}

TEST_F(GatewayLiveTest, AnOversizedSignalClosesOnlyItsConnection) {
  auto candidate = Connect(candidate_);
  auto examiner = Connect(examiner_);
  Join(candidate.get());
  Join(examiner.get());
  ASSERT_EQ(WsClient::Type(candidate->NextControl().value_or(Struct())), "peer-joined");
  candidate->Send(SignalText("ex-1", "offer", std::string(1 << 20, 'x')));
  EXPECT_EQ(candidate->ReadUntilClosed(), 1009);
  EXPECT_TRUE(WaitFor([&] { return media_.cancels() == 1; }));
  examiner->Send(R"({"type":"ping","id":"p"})");
  EXPECT_EQ(WsClient::Type(examiner->Next().value_or(Struct())), "pong");
  EXPECT_EQ(media_.relays(), 0);
}

}  // namespace
}  // namespace admissions::gateway
