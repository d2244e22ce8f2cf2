// LiveSession, continued: the interview's signaling (join, signal, screen-share, leave,
// ice-servers) over media-signaling's Connect, Relay, SetScreenShare, Leave and GetIceServers.
#include "absl/strings/str_cat.h"
#include "boost/asio/post.hpp"
#include "common/log.h"
#include "gateway/http_session.h"
#include "gateway/live_session.h"
#include "gateway/strings.h"

namespace admissions::gateway {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
using media_signaling::v1::ConnectRequest;
using media_signaling::v1::Delivery;
using media_signaling::v1::GetIceServersRequest;
using media_signaling::v1::IceServers;
using media_signaling::v1::LeaveRequest;
using media_signaling::v1::RelayRequest;
using media_signaling::v1::SetScreenShareRequest;
using Event = UpstreamStream::Event;
using Type = LiveClientMessage::Type;

constexpr char kConnectMethod[] = "/admissions.media_signaling.v1.MediaSignaling/Connect";
constexpr char kRelayMethod[] = "/admissions.media_signaling.v1.MediaSignaling/Relay";
constexpr char kLeaveMethod[] = "/admissions.media_signaling.v1.MediaSignaling/Leave";
constexpr char kScreenShareMethod[] =
    "/admissions.media_signaling.v1.MediaSignaling/SetScreenShare";
// A signal or screen-share refused as UNAVAILABLE (a service instance going away), or as
// NOT_JOINED while this connection holds the session (the service dropped the participant:
// its lease lapsed while Redis was unreachable), is sent again, at most this often in all.
constexpr int kMaxSignalAttempts = 3;
constexpr char kIceServersMethod[] = "/admissions.media_signaling.v1.MediaSignaling/GetIceServers";

// A Connect stream that ended this way is reopened: the service went away (a restart) or
// ended the stream without saying why. A refusal (permission, the session over, a stale
// epoch) is final.
bool Resumable(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNAVAILABLE:
      return true;
    default:
      return false;
  }
}

}  // namespace

void LiveSession::Join(const LiveClientMessage& message) {
  if (context_->media_signaling_upstream < 0) {
    SendError(live_error::kUnavailable, "signaling is not configured on this gateway",
              message.room_id, message.id);
    return;
  }
  if (!TokenStillValid()) return;
  if (interview_) {
    SendError(live_error::kAlreadyJoined,
              absl::StrCat("this connection is in the session of room ", interview_->room_id,
                           " already: leave it first"),
              message.room_id, message.id);
    return;
  }
  auto interview = std::make_shared<Interview>();
  interview->room_id = message.room_id;
  interview->ref = message.id;
  interview->last_seq = message.after;
  interview->retry = std::make_unique<net::steady_timer>(ws_.get_executor());
  interview_ = interview;
  // Before the next read starts: it arms Beast's idle timer.
  SetIdleTimeout(context_->live.signal_idle_timeout);
  OpenConnect(interview);
}

void LiveSession::OpenConnect(const std::shared_ptr<Interview>& interview) {
  const uint64_t stream_id = ++interview->stream_id;
  interview->stream_joined = false;
  std::weak_ptr<LiveSession> weak_self = weak_from_this();
  std::weak_ptr<Interview> weak_interview = interview;
  auto stream = std::make_shared<UpstreamStream>(
      [weak_self, weak_interview, stream_id](const UpstreamStream* stream, Event event, bool ok) {
        auto self = weak_self.lock();
        auto interview = weak_interview.lock();
        // Gone: the session released the stream when it let go of it.
        if (!self || !interview) return;
        grpc::Status status = event == Event::kDone ? stream->status() : grpc::Status::OK;
        net::post(self->ws_.get_executor(), [self, interview, stream_id, event, ok, status] {
          self->OnConnectEvent(interview, stream_id, event, ok, status);
        });
      });
  // No deadline: the stream lasts as long as the participant stays.
  AddCallMetadata(&stream->context());
  interview->stream = stream;
  if (!context_->upstreams->StartStream(context_->media_signaling_upstream, kConnectMethod,
                                        stream)) {
    interview->stream.reset();
    OnConnectDone(interview, grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down"));
    return;
  }
  ConnectRequest request;
  request.set_room_id(interview->room_id);
  request.set_after_seq(interview->last_seq);
  stream->Write(StringToByteBuffer(request.SerializeAsString()), /*last=*/true);
  stream->Read();
}

void LiveSession::OnConnectEvent(const std::shared_ptr<Interview>& interview, uint64_t stream_id,
                                 Event event, bool ok, const grpc::Status& status) {
  if (!interview->active || interview->stream_id != stream_id || !interview->stream) return;
  switch (event) {
    case Event::kInitialMetadata:
    case Event::kWriteDone:
      return;
    case Event::kReadDone:
      if (ok) {
        OnDelivery(interview);
      } else {
        // The service sent its last message: let the call end (kDone says how).
        interview->stream->Release();
      }
      return;
    case Event::kDone:
      interview->stream.reset();
      OnConnectDone(interview, status);
      return;
  }
}

void LiveSession::OnDelivery(const std::shared_ptr<Interview>& interview) {
  UpstreamStream& stream = *interview->stream;
  Delivery delivery;
  const bool parsed = delivery.ParseFromString(ByteBufferToString(stream.TakeResponse()));
  if (!parsed || (!interview->stream_joined && !delivery.has_joined())) {
    // Reopened after the last seq (the stream ends CANCELLED, which resumes it).
    context_->metrics->RecordUpstreamError(context_->media_signaling_upstream);
    Log(LogLevel::kError, "live_signal_bad_delivery",
        {{"request_id", request_id_}, {"room_id", interview->room_id}});
    stream.Cancel();
    stream.Release();
    return;
  }
  if (delivery.has_joined()) {
    const auto& joined = delivery.joined();
    if (!interview->stream_joined) {
      interview->stream_joined = true;
      interview->interview_id = joined.interview_id();
      interview->peer_id = joined.self().peer_id();
      interview->epoch = joined.epoch();
      interview->grace = std::chrono::seconds(joined.grace_seconds());
      interview->backoff = std::chrono::milliseconds(0);
      if (interview->state == Interview::State::kJoining) {
        interview->state = Interview::State::kJoined;
        auto text = LiveJoinedMessage(joined, interview->ref);
        if (text.ok()) SendText(*std::move(text));
      } else if (interview->state == Interview::State::kResuming) {
        // The client sees nothing of it (only the epoch of later calls changes), unless
        // messages were lost meanwhile: then it gets this `joined` (no `ref`) with `gap`
        // true, and restarts ICE as after its own resume.
        interview->state = Interview::State::kJoined;
        Log(joined.gap() ? LogLevel::kWarn : LogLevel::kInfo, "live_signal_resumed",
            {{"request_id", request_id_},
             {"room_id", interview->room_id},
             {"after_seq", std::to_string(interview->last_seq)},
             {"gap", joined.gap() ? "true" : "false"}});
        if (joined.gap()) {
          auto text = LiveJoinedMessage(joined, std::nullopt);
          if (text.ok()) SendText(*std::move(text));
        }
      }
      PumpSignalCalls(interview);
    }
    stream.Read();
    return;
  }
  if (delivery.seq() > 0) {
    // Sent before the stream was reopened.
    if (delivery.seq() <= interview->last_seq) {
      stream.Read();
      return;
    }
    interview->last_seq = delivery.seq();
  }
  auto text = LiveDeliveryMessage(delivery);
  if (text.ok()) {
    Enqueue(Out{std::make_shared<const std::string>(*std::move(text)), nullptr, 0},
            /*bounded=*/true);
  }
  // A slow consumer's close detaches the session.
  if (!interview->active) return;
  if (delivery.has_session_ended() || delivery.has_replaced()) {
    Detach();
    return;
  }
  stream.Read();
}

void LiveSession::OnConnectDone(const std::shared_ptr<Interview>& interview,
                                const grpc::Status& status) {
  if (!interview->active || closing_) return;
  const int upstream = context_->media_signaling_upstream;
  switch (interview->state) {
    case Interview::State::kLeaving:
      // The Leave call's answer is what the client hears.
      return;
    case Interview::State::kJoining: {
      // Refused (or lost) before `joined`: the client decides whether to try again.
      grpc::Status refusal =
          status.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "the session's stream ended")
                      : status;
      SendUpstreamError(upstream, refusal, interview->room_id, interview->ref);
      Detach();
      return;
    }
    case Interview::State::kJoined:
    case Interview::State::kResuming:
      break;
  }
  const auto now = std::chrono::steady_clock::now();
  if (Resumable(status) &&
      (interview->state == Interview::State::kJoined || now < interview->give_up_at)) {
    if (IsUpstreamFailure(status.error_code())) context_->metrics->RecordUpstreamError(upstream);
    if (interview->state == Interview::State::kJoined) {
      interview->state = Interview::State::kResuming;
      interview->give_up_at =
          now + (interview->grace.count() > 0
                     ? std::chrono::duration_cast<std::chrono::milliseconds>(interview->grace)
                     : context_->live.resume_give_up);
      Log(LogLevel::kWarn, "live_signal_stream_ended",
          {{"request_id", request_id_},
           {"room_id", interview->room_id},
           {"grpc_code", std::to_string(status.error_code())},
           {"message", status.error_message()},
           {"last_seq", std::to_string(interview->last_seq)}});
    }
    ScheduleResume(interview);
    return;
  }
  // Final: the service refused the resume (the session is over, the participant replaced),
  // or it stayed away for the whole grace period.
  std::string reason = "UNAVAILABLE";
  if (!Resumable(status)) reason = HttpErrorFromUpstream(status).info.code();
  SendText(LiveSessionEndedMessage(reason));
  Detach();
}

void LiveSession::ScheduleResume(const std::shared_ptr<Interview>& interview) {
  const LiveOptions& options = context_->live;
  interview->backoff = interview->backoff.count() == 0
                           ? options.resume_min
                           : std::min(interview->backoff * 2, options.resume_max);
  auto delay = std::min<std::chrono::steady_clock::duration>(
      interview->backoff, interview->give_up_at - std::chrono::steady_clock::now());
  interview->retry->expires_after(std::max<std::chrono::steady_clock::duration>(delay, {}));
  interview->retry->async_wait([self = shared_from_this(), interview](beast::error_code ec) {
    if (ec || !interview->active || self->closing_ ||
        interview->state != Interview::State::kResuming) {
      return;
    }
    self->OpenConnect(interview);
  });
}

void LiveSession::QueueSignalCall(const LiveClientMessage& message) {
  auto interview = interview_;
  if (interview && interview->state == Interview::State::kJoining && message.type == Type::kLeave) {
    // Not joined yet: dropping the stream is all there is to do.
    Detach();
    SendText(LiveLeftMessage(message.id));
    return;
  }
  if (!interview || interview->state == Interview::State::kJoining ||
      interview->state == Interview::State::kLeaving) {
    SendError(live_error::kNotJoined, "join an interview session first", "", message.id);
    return;
  }
  if (message.type != Type::kLeave) {
    if (!signal_bucket_.Take(std::chrono::steady_clock::now())) {
      SendError(live_error::kRateLimited,
                absl::StrCat("more than ", context_->live.signal_rate_per_second,
                             " signaling messages a second: this one was dropped"),
                "", message.id);
      return;
    }
    if (interview->calls.size() >= context_->live.max_queued_signals) {
      SendError(live_error::kRateLimited,
                "too many signaling messages waiting for the service: this one was dropped", "",
                message.id);
      return;
    }
  }
  Interview::Call call;
  call.type = message.type;
  call.signal = message.signal;
  call.on = message.on;
  call.ref = message.id;
  interview->calls.push_back(std::move(call));
  if (message.type == Type::kLeave && interview->state != Interview::State::kResuming) {
    // After the calls before it. While the stream is being reopened the leave waits for the
    // new `joined`: sent now, it would carry the epoch the reopening is replacing.
    interview->state = Interview::State::kLeaving;
    interview->retry->cancel();
  }
  PumpSignalCalls(interview);
}

void LiveSession::PumpSignalCalls(const std::shared_ptr<Interview>& interview) {
  if (!interview->active || interview->call_in_flight || interview->calls.empty()) return;
  // While the stream is reopened the epoch may change: calls wait for the new one.
  if (interview->state != Interview::State::kJoined &&
      interview->state != Interview::State::kLeaving) {
    return;
  }
  auto call = std::make_shared<Interview::Call>(std::move(interview->calls.front()));
  interview->calls.pop_front();
  interview->call_in_flight = true;
  auto upstream = NewCall();
  const char* method = kRelayMethod;
  if (call->type == Type::kSignal) {
    RelayRequest request;
    request.set_interview_id(interview->interview_id);
    request.set_peer_id(interview->peer_id);
    request.set_epoch(interview->epoch);
    *request.mutable_signal() = call->signal;  // Kept: the call may be sent again.
    upstream->request = StringToByteBuffer(request.SerializeAsString());
  } else if (call->type == Type::kScreenShare) {
    SetScreenShareRequest request;
    request.set_interview_id(interview->interview_id);
    request.set_peer_id(interview->peer_id);
    request.set_epoch(interview->epoch);
    request.set_on(call->on);
    upstream->request = StringToByteBuffer(request.SerializeAsString());
    method = kScreenShareMethod;
  } else {
    LeaveRequest request;
    request.set_interview_id(interview->interview_id);
    request.set_peer_id(interview->peer_id);
    request.set_epoch(interview->epoch);
    upstream->request = StringToByteBuffer(request.SerializeAsString());
    method = kLeaveMethod;
  }
  auto self = shared_from_this();
  context_->upstreams->StartCall(context_->media_signaling_upstream, method, upstream,
                                 [self, interview, call](const grpc::Status& status) {
                                   net::post(self->ws_.get_executor(),
                                             [self, interview, call, status] {
                                               self->OnSignalCallDone(interview, *call, status);
                                             });
                                 });
}

void LiveSession::OnSignalCallDone(const std::shared_ptr<Interview>& interview,
                                   const Interview::Call& call, const grpc::Status& status) {
  interview->call_in_flight = false;
  if (closing_) return;
  const int upstream = context_->media_signaling_upstream;
  if (call.type == Type::kLeave) {
    if (interview_ == interview) Detach();
    if (status.ok()) {
      SendText(LiveLeftMessage(call.ref));
    } else {
      SendUpstreamError(upstream, status, "", call.ref);
    }
    return;
  }
  // The session ended meanwhile: its `session-ended` or `replaced` said all there is.
  if (!interview->active) return;
  if (!status.ok() && call.attempts + 1 < kMaxSignalAttempts) {
    const bool lost = interview->state == Interview::State::kJoined &&
                      HttpErrorFromUpstream(status).info.code() == "NOT_JOINED";
    if (lost || status.error_code() == grpc::StatusCode::UNAVAILABLE) {
      Interview::Call again = call;
      ++again.attempts;
      interview->calls.push_front(std::move(again));  // Its place in the order is kept.
      if (lost && interview->stream != nullptr) {
        // Rejoin after the last seq delivered (the stream's end resumes it); the call goes
        // again after the new `joined`.
        Log(LogLevel::kWarn, "live_signal_participant_lost",
            {{"request_id", request_id_}, {"room_id", interview->room_id}});
        interview->stream->Cancel();
        return;
      }
      PumpSignalCalls(interview);  // Waits while the stream is being reopened.
      return;
    }
  }
  if (!status.ok()) {
    SendUpstreamError(upstream, status, "", call.ref);
  } else if (call.type == Type::kScreenShare) {
    SendText(LiveScreenShareMessage(call.on, call.ref));
  }
  PumpSignalCalls(interview);
}

void LiveSession::GetIceServers(const LiveClientMessage& message) {
  if (context_->media_signaling_upstream < 0) {
    SendError(live_error::kUnavailable, "signaling is not configured on this gateway", "",
              message.id);
    return;
  }
  if (!TokenStillValid()) return;
  auto call = NewCall();
  call->request = StringToByteBuffer(GetIceServersRequest().SerializeAsString());
  auto self = shared_from_this();
  std::optional<Value> ref = message.id;
  context_->upstreams->StartCall(
      context_->media_signaling_upstream, kIceServersMethod, call,
      [self, call, ref](const grpc::Status& status) {
        net::post(self->ws_.get_executor(), [self, call, ref, status] {
          if (self->closing_) return;
          const int upstream = self->context_->media_signaling_upstream;
          if (!status.ok()) {
            self->SendUpstreamError(upstream, status, "", ref);
            return;
          }
          IceServers servers;
          absl::StatusOr<std::string> text = absl::InternalError("unreadable answer");
          if (servers.ParseFromString(ByteBufferToString(call->response))) {
            text = LiveIceServersMessage(servers, ref);
          }
          if (!text.ok()) {
            self->context_->metrics->RecordUpstreamError(upstream);
            self->SendError("INTERNAL", "internal error", "", ref);
            return;
          }
          self->SendText(*std::move(text));
        });
      });
}

void LiveSession::Detach() {
  std::shared_ptr<Interview> interview = std::move(interview_);
  interview_.reset();
  if (!interview) return;
  interview->active = false;
  interview->calls.clear();
  if (interview->retry) interview->retry->cancel();
  if (interview->stream) {
    interview->stream->Cancel();
    interview->stream->Release();
    interview->stream.reset();
  }
  if (!closing_) SetIdleTimeout(context_->live.idle_timeout);
}

void LiveSession::SetIdleTimeout(std::chrono::milliseconds idle) {
  boost::beast::websocket::stream_base::timeout timeout{};
  timeout.handshake_timeout = context_->live.close_timeout;
  timeout.idle_timeout = idle;
  timeout.keep_alive_pings = true;
  ws_.set_option(timeout);
}

void LiveSession::SendUpstreamError(int upstream, const grpc::Status& status,
                                    std::string_view room_id, const std::optional<Value>& ref) {
  if (IsUpstreamFailure(status.error_code())) context_->metrics->RecordUpstreamError(upstream);
  SendText(LiveErrorMessage(HttpErrorFromUpstream(status).info, room_id, ref));
}

}  // namespace admissions::gateway
