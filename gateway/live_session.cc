#include "gateway/live_session.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "boost/asio/post.hpp"
#include "common/log.h"
#include "gateway/access.h"
#include "gateway/http_session.h"
#include "gateway/strings.h"
#include "identity/v1/identity.pb.h"

namespace admissions::gateway {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using waiting_room::v1::AuthorizeSubscriptionRequest;
using waiting_room::v1::ListEventsRequest;
using waiting_room::v1::ListEventsResponse;
using waiting_room::v1::Subscription;
using waiting_room::v1::TouchPresenceRequest;

constexpr char kAuthorizeMethod[] = "/admissions.waiting_room.v1.WaitingRoom/AuthorizeSubscription";
constexpr char kListEventsMethod[] = "/admissions.waiting_room.v1.WaitingRoom/ListEvents";
constexpr char kTouchPresenceMethod[] = "/admissions.waiting_room.v1.WaitingRoom/TouchPresence";
// A catch-up asks for its next page only once the queue is this short, so that reading a
// long history is paced by the client and never counts against the slow-consumer bounds.
constexpr size_t kLowWater = 64;
// A read buffer above this is given back after each message: idle connections stay small.
constexpr size_t kKeptReadBuffer = 4096;
// ListEvents behind the live stream (it should never be): retried this often, then given up.
constexpr int kMaxStalls = 5;
constexpr auto kStallRetry = std::chrono::milliseconds(200);
constexpr size_t kMaxCloseReason = 123;  // RFC 6455: a control frame's payload is 125 bytes.
constexpr size_t kMaxEchoedType = 64;

}  // namespace

void LiveTracker::Add(const std::shared_ptr<LiveSession>& session) {
  bool closing;
  {
    absl::MutexLock lock(&mu_);
    sessions_.emplace(session.get(), session);
    closing = closing_;
  }
  if (closing) session->GoAway();
}

void LiveTracker::Remove(const LiveSession* session) {
  absl::MutexLock lock(&mu_);
  sessions_.erase(session);
}

void LiveTracker::CloseAll() {
  std::vector<std::weak_ptr<LiveSession>> snapshot;
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
    snapshot.reserve(sessions_.size());
    for (const auto& [raw, weak] : sessions_) snapshot.push_back(weak);
  }
  for (const auto& weak : snapshot) {
    if (auto session = weak.lock()) session->GoAway();
  }
}

size_t LiveTracker::size() const {
  absl::MutexLock lock(&mu_);
  return sessions_.size();
}

LiveSession::LiveSession(net::ip::tcp::socket&& socket, const SessionContext* context,
                         std::string peer, std::string request_id)
    : ws_(std::move(socket)),
      timer_(ws_.get_executor()),
      context_(context),
      peer_(std::move(peer)),
      request_id_(std::move(request_id)),
      start_(std::chrono::steady_clock::now()),
      signal_bucket_(context->live.signal_rate_per_second, context->live.signal_burst) {}

LiveSession::~LiveSession() {
  // Its events find the session gone: the stream must be let go of here.
  if (interview_ && interview_->stream) {
    interview_->stream->Cancel();
    interview_->stream->Release();
  }
  // Finish() has not run when the io threads stopped first (shutdown past its grace).
  if (!finished_) context_->metrics->LiveConnections(-1);
  context_->live_tracker->Remove(this);
}

void LiveSession::Start(Request request, std::string token) {
  context_->metrics->LiveConnections(1);
  context_->live_tracker->Add(shared_from_this());
  const LiveOptions& options = context_->live;
  // Beast's own timeouts from here on; the HTTP session's would fight them.
  beast::get_lowest_layer(ws_).expires_never();
  SetIdleTimeout(options.idle_timeout);
  ws_.read_message_max(options.max_message_bytes);
  // Whole messages, and no deflate: the server role then keeps no write buffer.
  ws_.auto_fragment(false);
  request_ = std::make_unique<Request>(std::move(request));
  query_token_ = std::move(token);
  ws_.async_accept(*request_,
                   beast::bind_front_handler(&LiveSession::OnAccept, shared_from_this()));
}

void LiveSession::GoAway() {
  net::post(ws_.get_executor(), [self = shared_from_this()] {
    self->CloseWith(live_close::kGoingAway, "server shutting down", /*flush=*/false);
  });
}

void LiveSession::OnLiveFrame(std::shared_ptr<const LiveFrame> frame) {
  net::post(ws_.get_executor(),
            [self = shared_from_this(), frame = std::move(frame)] { self->OnFrame(frame); });
}

void LiveSession::OnAccept(beast::error_code ec) {
  request_.reset();
  if (ec) {
    Finish();
    return;
  }
  accepted_ = true;
  if (closing_) {
    StartClose();
    return;
  }
  std::string token = std::move(query_token_);
  if (!token.empty()) {
    Authenticate(token, std::nullopt);
  } else {
    timer_.expires_after(context_->live.auth_timeout);
    timer_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
      if (wait_ec || self->authenticated_ || self->closing_) return;
      self->SendError(live_error::kUnauthenticated,
                      "no auth message in time: send {\"type\":\"auth\",\"accessToken\":...} "
                      "first, or connect with ?access_token=",
                      "", std::nullopt);
      self->CloseWith(live_close::kUnauthenticated, "authentication timeout", /*flush=*/true);
    });
  }
  Read();
}

void LiveSession::Read() {
  if (reading_ || paused_ || closing_ || finished_) return;
  reading_ = true;
  ws_.async_read(buffer_, beast::bind_front_handler(&LiveSession::OnRead, shared_from_this()));
}

void LiveSession::OnRead(beast::error_code ec, size_t) {
  reading_ = false;
  if (ec) {
    if (ec == websocket::error::message_too_big) {
      close_code_ = live_close::kTooBig;  // Beast has sent the close frame.
      close_reason_ = "message too big";
    } else if (ec == websocket::error::closed) {
      if (close_code_ == 0) close_code_ = ws_.reason().code;
    } else {
      error_ = ec.message();
    }
    Finish();
    return;
  }
  ++messages_in_;
  // Taken out of the buffer first: handling it may start the next read into the buffer.
  std::string text = beast::buffers_to_string(buffer_.data());
  buffer_.consume(buffer_.size());
  if (buffer_.capacity() > kKeptReadBuffer) buffer_.shrink_to_fit();
  if (!closing_) {
    if (!ws_.got_text()) {
      SendError(live_error::kInvalidArgument, "messages must be JSON text frames", "",
                std::nullopt);
    } else {
      HandleMessage(text);
    }
  }
  Read();
}

void LiveSession::HandleMessage(std::string_view text) {
  LiveClientMessage message;
  absl::Status status = ParseLiveMessage(text, &message);
  if (!authenticated_) {
    if (status.ok() && message.type == LiveClientMessage::Type::kAuth) {
      Authenticate(message.access_token, message.id);
      return;
    }
    if (paused_) return;  // An auth is being checked; nothing else is read meanwhile.
    SendError(live_error::kUnauthenticated,
              status.ok() ? "authenticate first: {\"type\":\"auth\",\"accessToken\":...}"
                          : ToStd(status.message()),
              "", message.id);
    CloseWith(live_close::kUnauthenticated, "authentication required", /*flush=*/true);
    return;
  }
  if (!status.ok()) {
    SendError(live_error::kInvalidArgument, ToStd(status.message()), message.room_id, message.id);
    return;
  }
  switch (message.type) {
    case LiveClientMessage::Type::kAuth:
      Authenticate(message.access_token, message.id);
      return;
    case LiveClientMessage::Type::kSubscribe:
      Subscribe(message);
      return;
    case LiveClientMessage::Type::kUnsubscribe:
      Unsubscribe(message);
      return;
    case LiveClientMessage::Type::kPing:
      SendText(LivePongMessage(message.id));
      return;
    case LiveClientMessage::Type::kJoin:
      Join(message);
      return;
    case LiveClientMessage::Type::kSignal:
    case LiveClientMessage::Type::kScreenShare:
    case LiveClientMessage::Type::kLeave:
      QueueSignalCall(message);
      return;
    case LiveClientMessage::Type::kIceServers:
      GetIceServers(message);
      return;
    case LiveClientMessage::Type::kUnknown:
      SendError(
          live_error::kUnknownType,
          absl::StrCat("unknown message type \"",
                       ToAbsl(std::string_view(message.type_name).substr(0, kMaxEchoedType)), "\""),
          "", message.id);
      return;
  }
}

void LiveSession::Authenticate(const std::string& token, const std::optional<Value>& ref) {
  auto claims = VerifyAccessToken(*context_->verifier, *context_->revocations, token,
                                  context_->now_seconds());
  if (!claims.ok()) {
    SendError(live_error::kUnauthenticated, ToStd(claims.status().message()), "", ref);
    CloseWith(live_close::kUnauthenticated, "unauthenticated", /*flush=*/true);
    return;
  }
  if (authenticated_) {
    // A fresh token for the same account extends the connection past the old one's expiry.
    if (claims->sub() != claims_->sub()) {
      SendError(live_error::kUnauthenticated, "the new token is for another account", "", ref);
      CloseWith(live_close::kUnauthenticated, "account changed", /*flush=*/true);
      return;
    }
    claims_ = *std::move(claims);
    authorization_ = absl::StrCat("Bearer ", token);
    SendText(LiveReadyMessage(claims_->sub(), claims_->exp()));
    ArmTick();
    return;
  }
  claims_ = *std::move(claims);
  authorization_ = absl::StrCat("Bearer ", token);
  GatesToCheck gates =
      GatesNotShownPassed(*claims_, /*requires_agreement=*/true,
                          /*requires_face_verification=*/true, context_->agreement_version());
  if (!gates.any()) {
    BecomeReady();
    return;
  }
  if (context_->identity_upstream < 0) {
    HttpError error = GateError(gates.agreement);
    SendError(ToStd(error.info.code()), ToStd(error.info.message()), "", ref);
    CloseWith(live_close::kForbidden, error.info.code(), /*flush=*/true);
    return;
  }
  paused_ = true;
  identity::v1::GetGateStateRequest request;
  request.set_account_id(claims_->sub());
  auto call = NewCall();
  call->request = StringToByteBuffer(request.SerializeAsString());
  auto self = shared_from_this();
  context_->upstreams->StartCall(context_->identity_upstream, kGateStateMethod, call,
                                 [self, call, gates](const grpc::Status& status) {
                                   net::post(self->ws_.get_executor(), [self, call, gates, status] {
                                     self->OnGatesChecked(call, status, gates.agreement,
                                                          gates.face_verification);
                                   });
                                 });
}

void LiveSession::OnGatesChecked(const std::shared_ptr<UpstreamCall>& call,
                                 const grpc::Status& status, bool agreement,
                                 bool face_verification) {
  paused_ = false;
  if (closing_) return;
  if (!status.ok()) {
    if (IsUpstreamFailure(status.error_code())) {
      context_->metrics->RecordUpstreamError(context_->identity_upstream);
    }
    HttpError error = HttpErrorFromUpstream(status);
    SendError(ToStd(error.info.code()), ToStd(error.info.message()), "", std::nullopt);
    CloseWith(live_close::kInternal, "identity unavailable", /*flush=*/true);
    return;
  }
  identity::v1::GateState state;
  if (!state.ParseFromString(ByteBufferToString(call->response))) {
    context_->metrics->RecordUpstreamError(context_->identity_upstream);
    CloseWith(live_close::kInternal, "internal error", /*flush=*/false);
    return;
  }
  bool agreement_missing = agreement && !state.agreement_accepted();
  if (agreement_missing || (face_verification && !state.face_verified())) {
    HttpError error = GateError(agreement_missing);
    SendError(ToStd(error.info.code()), ToStd(error.info.message()), "", std::nullopt);
    CloseWith(live_close::kForbidden, error.info.code(), /*flush=*/true);
    return;
  }
  BecomeReady();
}

void LiveSession::BecomeReady() {
  authenticated_ = true;
  SendText(LiveReadyMessage(claims_->sub(), claims_->exp()));
  ArmTick();
  Read();
}

bool LiveSession::TokenStillValid() {
  int64_t now = context_->now_seconds();
  std::string_view why;
  if (now >= claims_->exp()) {
    why =
        "the access token has expired: send a fresh one with {\"type\":\"auth\"} before it "
        "does, or reconnect";
  } else if (context_->revocations->IsRevoked(claims_->sid(), now)) {
    why = "the session of this access token has ended";
  } else {
    return true;
  }
  SendError(live_error::kUnauthenticated, why, "", std::nullopt);
  CloseWith(live_close::kUnauthenticated, "token expired or revoked", /*flush=*/true);
  return false;
}

void LiveSession::ArmTick() {
  int64_t left = claims_->exp() - context_->now_seconds();
  auto delay = std::min<std::chrono::milliseconds>(
      context_->live.presence_interval, std::chrono::seconds(std::max<int64_t>(left, 0)));
  timer_.expires_after(delay);
  timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec) self->OnTick();
  });
}

void LiveSession::OnTick() {
  if (closing_ || !TokenStillValid()) return;
  for (const auto& room : rooms_) {
    if (room->joined) TouchPresence(*room, /*online=*/true);
  }
  ArmTick();
}

void LiveSession::Subscribe(const LiveClientMessage& message) {
  if (!TokenStillValid()) return;
  if (FindRoom(message.room_id)) {
    SendError(live_error::kAlreadySubscribed, "already subscribed to this room", message.room_id,
              message.id);
    return;
  }
  if (rooms_.size() >= context_->live.max_rooms) {
    SendError(live_error::kTooManySubscriptions,
              absl::StrCat("at most ", context_->live.max_rooms, " rooms per connection"),
              message.room_id, message.id);
    return;
  }
  auto room = std::make_shared<Room>();
  room->id = message.room_id;
  room->position = message.after;
  room->last_sent = message.after;
  room->ref = message.id;
  rooms_.push_back(room);
  AuthorizeSubscriptionRequest request;
  request.set_room_id(room->id);
  auto call = NewCall();
  call->request = StringToByteBuffer(request.SerializeAsString());
  auto self = shared_from_this();
  context_->upstreams->StartCall(context_->waiting_room_upstream, kAuthorizeMethod, call,
                                 [self, room, call](const grpc::Status& status) {
                                   net::post(self->ws_.get_executor(), [self, room, call, status] {
                                     self->OnAuthorized(room, call, status);
                                   });
                                 });
}

void LiveSession::OnAuthorized(const std::shared_ptr<Room>& room,
                               const std::shared_ptr<UpstreamCall>& call,
                               const grpc::Status& status) {
  if (!room->active || closing_) return;
  Subscription subscription;
  if (status.ok() && !subscription.ParseFromString(ByteBufferToString(call->response))) {
    context_->metrics->RecordUpstreamError(context_->waiting_room_upstream);
    SendError("INTERNAL", "internal error", room->id, room->ref);
    DropRoom(room);
    return;
  }
  if (!status.ok()) {
    if (IsUpstreamFailure(status.error_code())) {
      context_->metrics->RecordUpstreamError(context_->waiting_room_upstream);
    }
    HttpError error = HttpErrorFromUpstream(status);
    SendError(ToStd(error.info.code()), ToStd(error.info.message()), room->id, room->ref);
    DropRoom(room);
    return;
  }
  room->account_id = subscription.account_id().empty() ? claims_->sub() : subscription.account_id();
  room->examiner = subscription.examiner();
  LiveHub::Joined joined =
      context_->live_hub->Join(room->id, room->position, this, weak_from_this());
  room->joined = true;
  TouchPresence(*room, /*online=*/true);
  SendText(LiveSubscribedMessage(room->id, std::max(room->position, joined.last_id), room->ref));
  if (!joined.covered) {
    room->state = Room::State::kCatchingUp;
    room->target = joined.last_id;
    FetchPage(room);
    return;
  }
  for (const auto& frame : joined.backlog) {
    if (frame->id <= room->position) continue;
    room->position = frame->id;
    if (!LiveEventVisible(frame->audience, frame->to_account_id, room->examiner,
                          room->account_id)) {
      continue;
    }
    // The ring's frames are shared, not copied: the queue holds references to them.
    SendEvent(room, std::shared_ptr<const std::string>(frame, &frame->text), frame->id,
              /*bounded=*/false);
  }
  room->position = std::max(room->position, joined.last_id);
  GoLive(*room);
}

void LiveSession::FetchPage(const std::shared_ptr<Room>& room) {
  if (!room->active || room->page_in_flight || closing_) return;
  if (out_.size() - out_head_ > kLowWater) {
    room->waiting_for_drain = true;
    return;
  }
  room->page_in_flight = true;
  ListEventsRequest request;
  request.set_room_id(room->id);
  request.set_after(room->position);
  request.set_limit(context_->live.page_size);
  auto call = NewCall();
  call->request = StringToByteBuffer(request.SerializeAsString());
  auto self = shared_from_this();
  context_->upstreams->StartCall(context_->waiting_room_upstream, kListEventsMethod, call,
                                 [self, room, call](const grpc::Status& status) {
                                   net::post(self->ws_.get_executor(), [self, room, call, status] {
                                     self->OnPage(room, call, status);
                                   });
                                 });
}

void LiveSession::OnPage(const std::shared_ptr<Room>& room,
                         const std::shared_ptr<UpstreamCall>& call, const grpc::Status& status) {
  room->page_in_flight = false;
  if (!room->active || closing_) return;
  ListEventsResponse page;
  if (!status.ok() || !page.ParseFromString(ByteBufferToString(call->response))) {
    if (status.ok() || IsUpstreamFailure(status.error_code())) {
      context_->metrics->RecordUpstreamError(context_->waiting_room_upstream);
    }
    HttpError error = status.ok()
                          ? MakeHttpError(grpc::StatusCode::INTERNAL, "INTERNAL", "internal error")
                          : HttpErrorFromUpstream(status);
    SendError(ToStd(error.info.code()),
              absl::StrCat("reading the room's events failed (subscription ended; subscribe "
                           "again with after=",
                           room->last_sent, "): ", error.info.message()),
              room->id, room->ref);
    DropRoom(room);
    return;
  }
  const int64_t before = room->position;
  for (const auto& event : page.events()) {
    if (event.id() <= room->position) continue;
    room->position = event.id();
    // The service filters for the caller already; the gateway's rule is applied again so that
    // both paths deliver exactly the same events.
    if (!LiveEventVisible(event.audience(), event.to_account_id(), room->examiner,
                          room->account_id)) {
      continue;
    }
    auto text = LiveEventFrame(room->id, event);
    if (!text.ok()) continue;
    SendEvent(room, std::make_shared<const std::string>(*std::move(text)), event.id(),
              /*bounded=*/false);
  }
  room->position = std::max(room->position, page.last_event_id());
  if (room->position >= room->target) {
    GoLive(*room);
    return;
  }
  if (room->position > before) {
    room->stalls = 0;
    FetchPage(room);
    return;
  }
  // The live stream has ids that ListEvents does not show yet: wait a little for it.
  if (++room->stalls > kMaxStalls) {
    Log(LogLevel::kWarn, "live_catch_up_stalled",
        {{"room_id", room->id},
         {"position", std::to_string(room->position)},
         {"target", std::to_string(room->target)}});
    SendError(live_error::kUnavailable,
              absl::StrCat("the room's events could not be read up to the live stream; "
                           "subscribe again with after=",
                           room->last_sent),
              room->id, room->ref);
    DropRoom(room);
    return;
  }
  auto retry = std::make_shared<net::steady_timer>(ws_.get_executor(), kStallRetry);
  retry->async_wait([self = shared_from_this(), room, retry](beast::error_code ec) {
    if (!ec) self->FetchPage(room);
  });
}

void LiveSession::GoLive(Room& room) {
  room.state = Room::State::kLive;
  room.stalls = 0;
}

void LiveSession::Unsubscribe(const LiveClientMessage& message) {
  auto room = FindRoom(message.room_id);
  if (!room) {
    SendError(live_error::kNotSubscribed, "not subscribed to this room", message.room_id,
              message.id);
    return;
  }
  DropRoom(room);
  SendText(LiveUnsubscribedMessage(message.room_id, message.id));
}

void LiveSession::DropRoom(const std::shared_ptr<Room>& room) {
  room->active = false;
  if (room->joined) {
    room->joined = false;
    context_->live_hub->Leave(room->id, this);
    TouchPresence(*room, /*online=*/false);
  }
  rooms_.erase(std::remove(rooms_.begin(), rooms_.end(), room), rooms_.end());
}

void LiveSession::OnFrame(const std::shared_ptr<const LiveFrame>& frame) {
  if (closing_) return;
  auto room = FindRoom(frame->room_id);
  if (!room || !room->joined) return;
  if (room->state == Room::State::kCatchingUp) {
    // Read from ListEvents instead, so that the page and the stream never interleave.
    room->target = std::max(room->target, frame->id);
    return;
  }
  if (frame->id <= room->position) return;
  room->position = frame->id;
  if (!LiveEventVisible(frame->audience, frame->to_account_id, room->examiner, room->account_id)) {
    return;
  }
  SendEvent(room, std::shared_ptr<const std::string>(frame, &frame->text), frame->id,
            /*bounded=*/true);
}

std::shared_ptr<LiveSession::Room> LiveSession::FindRoom(std::string_view room_id) const {
  for (const auto& room : rooms_) {
    if (room->id == room_id) return room;
  }
  return nullptr;
}

void LiveSession::TouchPresence(const Room& room, bool online) {
  TouchPresenceRequest request;
  request.set_room_id(room.id);
  request.set_online(online);
  auto call = NewCall();
  call->request = StringToByteBuffer(request.SerializeAsString());
  // Fire and forget: the answer changes nothing here, and an offline touch is sent while the
  // connection goes away.
  Metrics* metrics = context_->metrics;
  int upstream = context_->waiting_room_upstream;
  context_->upstreams->StartCall(upstream, kTouchPresenceMethod, call,
                                 [metrics, upstream](const grpc::Status& status) {
                                   if (!status.ok() && IsUpstreamFailure(status.error_code())) {
                                     metrics->RecordUpstreamError(upstream);
                                   }
                                 });
}

std::shared_ptr<UpstreamCall> LiveSession::NewCall() const {
  auto call = std::make_shared<UpstreamCall>();
  call->context.set_deadline(std::chrono::system_clock::now() + context_->grpc_deadline);
  AddCallMetadata(&call->context);
  return call;
}

void LiveSession::AddCallMetadata(grpc::ClientContext* context) const {
  if (!authorization_.empty()) context->AddMetadata("authorization", authorization_);
  context->AddMetadata("x-request-id", request_id_);
  if (!peer_.empty()) context->AddMetadata("x-forwarded-for", peer_);
}

void LiveSession::SendText(std::string text) {
  Enqueue(Out{std::make_shared<const std::string>(std::move(text)), nullptr, 0},
          /*bounded=*/false);
}

void LiveSession::SendError(std::string_view code, std::string_view message,
                            std::string_view room_id, const std::optional<Value>& ref) {
  SendText(LiveErrorMessage(code, message, room_id, ref));
}

void LiveSession::SendEvent(const std::shared_ptr<Room>& room,
                            std::shared_ptr<const std::string> text, int64_t id, bool bounded) {
  Enqueue(Out{std::move(text), room, id}, bounded);
}

void LiveSession::Enqueue(Out out, bool bounded) {
  if (closing_ || finished_) return;
  queued_bytes_ += out.text->size();
  out_.push_back(std::move(out));
  const LiveOptions& options = context_->live;
  if (bounded && (out_.size() - out_head_ > options.max_queued_messages ||
                  queued_bytes_ > options.max_queued_bytes)) {
    SlowConsumer();
    return;
  }
  Write();
}

void LiveSession::Write() {
  if (writing_ || close_started_ || finished_ || out_head_ == out_.size()) return;
  writing_ = true;
  ws_.text(true);
  ws_.async_write(net::buffer(*out_[out_head_].text),
                  beast::bind_front_handler(&LiveSession::OnWrite, shared_from_this()));
}

void LiveSession::OnWrite(beast::error_code ec, size_t) {
  writing_ = false;
  if (ec) {
    if (error_.empty()) error_ = ec.message();
    Finish();
    return;
  }
  Out& sent = out_[out_head_];
  if (sent.room) sent.room->last_sent = sent.id;
  queued_bytes_ -= sent.text->size();
  sent = Out{};
  ++out_head_;
  ++messages_out_;
  context_->metrics->LiveMessagesOut(1);
  if (out_head_ == out_.size()) {
    out_.clear();
    out_head_ = 0;
    if (out_.capacity() > kLowWater) out_.shrink_to_fit();
  } else if (out_head_ >= kLowWater && out_head_ * 2 >= out_.size()) {
    out_.erase(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(out_head_));
    out_head_ = 0;
  }
  if (finished_) return;
  if (closing_ && out_head_ == out_.size()) {
    StartClose();
    return;
  }
  Write();
  ResumeCatchUps();
}

void LiveSession::ResumeCatchUps() {
  if (closing_ || out_.size() - out_head_ > kLowWater) return;
  // Copied: a page may end a subscription (and change rooms_).
  auto rooms = rooms_;
  for (const auto& room : rooms) {
    if (room->waiting_for_drain) {
      room->waiting_for_drain = false;
      FetchPage(room);
    }
  }
}

void LiveSession::SlowConsumer() {
  context_->metrics->LiveSlowConsumerClose();
  // The message being written stays and precedes the close frame: it counts as delivered.
  auto last_delivered = [this](const Room& room) {
    if (writing_ && out_[out_head_].room.get() == &room) return out_[out_head_].id;
    return room.last_sent;
  };
  std::string reason = "slow consumer: resume with after=";
  if (rooms_.empty()) {
    reason = "slow consumer";
  } else if (rooms_.size() == 1) {
    absl::StrAppend(&reason, last_delivered(*rooms_[0]));
  } else {
    for (size_t i = 0; i < rooms_.size(); ++i) {
      absl::StrAppend(&reason, i ? "," : "", rooms_[i]->id, ":", last_delivered(*rooms_[i]));
    }
    if (reason.size() > kMaxCloseReason) {
      reason = "slow consumer: resume each room with after=<its last event id>";
    }
  }
  Log(LogLevel::kWarn, "live_slow_consumer",
      {{"request_id", request_id_},
       {"queued_messages", std::to_string(out_.size() - out_head_)},
       {"queued_bytes", std::to_string(queued_bytes_)},
       {"reason", reason}});
  CloseWith(live_close::kPolicy, std::move(reason), /*flush=*/false);
}

void LiveSession::CloseWith(uint16_t code, std::string reason, bool flush) {
  if (closing_ || finished_) return;
  closing_ = true;
  close_code_ = code;
  if (reason.size() > kMaxCloseReason) reason.resize(kMaxCloseReason);
  close_reason_ = std::move(reason);
  Detach();
  auto rooms = std::move(rooms_);
  rooms_.clear();
  for (const auto& room : rooms) DropRoom(room);
  if (!flush) {
    // Only the message being written stays (Beast reads it until its write completes).
    size_t keep = writing_ ? out_head_ + 1 : out_head_;
    for (size_t i = keep; i < out_.size(); ++i) queued_bytes_ -= out_[i].text->size();
    out_.resize(keep);
  }
  // Whatever the peer does, the socket is gone after the close timeout.
  timer_.expires_after(context_->live.close_timeout * (flush ? 2 : 1));
  timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec) self->Finish();
  });
  if (!writing_ && out_head_ == out_.size()) {
    StartClose();
  } else {
    Write();
  }
}

void LiveSession::StartClose() {
  if (close_started_ || finished_ || !accepted_) return;  // OnAccept closes then.
  close_started_ = true;
  websocket::close_reason reason(close_code_);
  reason.reason = close_reason_;
  ws_.async_close(reason, beast::bind_front_handler(&LiveSession::OnClosed, shared_from_this()));
}

void LiveSession::OnClosed(beast::error_code) { Finish(); }

void LiveSession::Finish() {
  if (finished_) return;
  finished_ = true;
  closing_ = true;
  Detach();
  auto rooms = std::move(rooms_);
  rooms_.clear();
  for (const auto& room : rooms) DropRoom(room);
  timer_.cancel();
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
  beast::get_lowest_layer(ws_).socket().close(ignored);
  // A write in flight still reads its message until its handler runs.
  out_.resize(writing_ ? out_head_ + 1 : out_head_);
  context_->metrics->LiveConnections(-1);
  context_->live_tracker->Remove(this);
  auto elapsed = std::chrono::steady_clock::now() - start_;
  Log(LogLevel::kInfo, "live_connection",
      {{"request_id", request_id_},
       {"duration_ms",
        std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count())},
       {"messages_in", std::to_string(messages_in_)},
       {"messages_out", std::to_string(messages_out_)},
       {"close_code", std::to_string(close_code_)},
       {"close_reason", close_reason_},
       {"authenticated", authenticated_ ? "true" : "false"},
       {"error", error_},
       {"peer", peer_}});
}

}  // namespace admissions::gateway
