#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "api/v1/auth.pb.h"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/websocket.hpp"
#include "gateway/lingering_stream.h"
#include "gateway/live_hub.h"
#include "gateway/live_protocol.h"
#include "gateway/token_bucket.h"
#include "gateway/upstreams.h"

namespace admissions::gateway {

struct SessionContext;
class LiveSession;

/// Settings of the live channel (GatewayOptions::live).
struct LiveOptions {
  /// Without ?access_token, the `auth` message must come within this.
  std::chrono::milliseconds auth_timeout{5000};
  /// A connection with nothing from the peer this long is closed; Beast pings it at half.
  std::chrono::milliseconds idle_timeout{60000};
  /// TouchPresence(online) is repeated this often for each subscribed room.
  std::chrono::milliseconds presence_interval{20000};
  /// How long a close handshake may take before the socket is dropped.
  std::chrono::milliseconds close_timeout{5000};
  /// The largest client message; a larger frame closes the connection with 1009.
  size_t max_message_bytes = 64 * 1024;
  /// The outgoing queue's bounds: past either, the connection is closed as a slow consumer.
  size_t max_queued_messages = 1024;
  size_t max_queued_bytes = 1 << 20;
  /// Rooms one connection may subscribe to at once.
  size_t max_rooms = 8;
  /// Events per ListEvents page during a catch-up (the service's maximum).
  int page_size = 500;
  /// Signaling (`signal` and `screen-share` messages) per connection: a token bucket.
  double signal_rate_per_second = 50;
  double signal_burst = 200;
  /// The idle timeout while the connection has joined an interview session: a dead client is
  /// noticed (and its peers told) soon.
  std::chrono::milliseconds signal_idle_timeout{15000};
  /// Relay / SetScreenShare / Leave calls waiting their turn; past it a message is refused.
  size_t max_queued_signals = 256;
  /// A broken Connect stream is reopened after this, doubling up to the max, until the
  /// session's grace period (or resume_give_up when the service named none) has passed.
  std::chrono::milliseconds resume_min{100};
  std::chrono::milliseconds resume_max{2000};
  std::chrono::milliseconds resume_give_up{15000};
};

/// The open live connections, so that shutdown can close each with 1001.
class LiveTracker {
 public:
  /// Registers a session; closes it at once when the tracker is closing already.
  void Add(const std::shared_ptr<LiveSession>& session);
  void Remove(const LiveSession* session);
  /// Closes every connection with 1001 (going away).
  void CloseAll();
  size_t size() const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<const LiveSession*, std::weak_ptr<LiveSession>> sessions_
      ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
};

/// One WebSocket connection of GET /v1/live (docs/api/live.md): authenticates (?access_token
/// or the first message, with the candidate gates), then serves subscribe / unsubscribe /
/// ping. A subscription is authorized by the service (AuthorizeSubscription with the user's
/// token), then gets every event after its `after` in order and once: from the hub's ring
/// when it covers `after`, else from ListEvents pages, then from the hub's live feed
/// (deduplicated by id), filtered for the subscriber. Presence is touched on subscribe,
/// every presence_interval, and on unsubscribe and close.
///
/// It also carries one interview session's signaling (media_signaling.proto): `join` opens a
/// Connect stream with the user's token and passes its deliveries on; `signal`, `screen-share`
/// and `leave` become Relay, SetScreenShare and Leave calls, one at a time in arrival order (so
/// that signals to a peer keep their order), behind a token bucket. A stream broken by the
/// service (a restart) is reopened after the last seq sent, unseen by the client.
///
/// Everything runs on the io thread of the socket; hub frames and upstream completions are
/// posted to it. One write in flight; the outgoing queue is bounded (slow consumers are
/// closed with 1008 and the id to resume from). Idle memory is kept small: no compression,
/// no write buffer (server role), a read buffer shrunk after each message.
class LiveSession : public LiveSubscriber, public std::enable_shared_from_this<LiveSession> {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;

  LiveSession(boost::asio::ip::tcp::socket&& socket, const SessionContext* context,
              std::string peer, std::string request_id);
  ~LiveSession() override;

  /// Accepts the upgrade `request`; `token` is the ?access_token (empty: expect `auth`).
  void Start(Request request, std::string token);
  /// Thread-safe: close with 1001 (the gateway is shutting down).
  void GoAway();
  /// Thread-safe (the hub's threads): posts the frame to the session's thread.
  void OnLiveFrame(std::shared_ptr<const LiveFrame> frame) override;

 private:
  using Value = google::protobuf::Value;

  /// One subscribed room.
  struct Room {
    enum class State { kAuthorizing, kCatchingUp, kLive };
    std::string id;
    State state = State::kAuthorizing;
    bool active = true;
    bool joined = false;
    std::string account_id;
    bool examiner = false;
    /// The highest event id handled (sent, queued or filtered out); the next page's `after`.
    int64_t position = 0;
    /// Catching up: every id up to this must be read from ListEvents before going live.
    int64_t target = 0;
    /// The id of the last event frame written to the socket (the resume point).
    int64_t last_sent = 0;
    bool page_in_flight = false;
    bool waiting_for_drain = false;
    /// Pages in a row that made no progress while short of `target`.
    int stalls = 0;
    std::optional<Value> ref;
  };

  /// The interview session this connection has joined (at most one at a time).
  struct Interview {
    enum class State {
      kJoining,   // Connect opened; its `joined` not seen yet.
      kJoined,    // Deliveries flow.
      kResuming,  // The stream broke; reopened after last_seq (the client is not told).
      kLeaving,   // `leave` received: Leave waits in the queue; nothing new is accepted.
    };
    /// One Relay, SetScreenShare or Leave call waiting its turn.
    struct Call {
      LiveClientMessage::Type type = LiveClientMessage::Type::kSignal;
      media_signaling::v1::Signal signal;
      bool on = false;
      std::optional<Value> ref;
      int attempts = 0;  // Sent again after a transient refusal (see OnSignalCallDone).
    };
    State state = State::kJoining;
    bool active = true;
    std::string room_id;
    std::optional<Value> ref;  // The join's `id`.
    std::string interview_id;
    std::string peer_id;
    int64_t epoch = 0;
    /// The newest seq queued for the client: the resume point, and deliveries at or below it
    /// are not sent again.
    int64_t last_seq = 0;
    std::chrono::seconds grace{0};
    std::shared_ptr<UpstreamStream> stream;
    /// The current stream has sent its `joined`.
    bool stream_joined = false;
    /// Names `stream` in its events (a stream of an earlier attempt may still report).
    uint64_t stream_id = 0;
    std::chrono::milliseconds backoff{0};
    std::chrono::steady_clock::time_point give_up_at;
    std::unique_ptr<boost::asio::steady_timer> retry;
    std::deque<Call> calls;
    bool call_in_flight = false;
  };

  /// A message waiting to be written.
  struct Out {
    std::shared_ptr<const std::string> text;
    std::shared_ptr<Room> room;  // Event frames: the room whose last_sent it advances.
    int64_t id = 0;
  };

  void OnAccept(boost::beast::error_code ec);
  void Read();
  void OnRead(boost::beast::error_code ec, size_t bytes);
  void HandleMessage(std::string_view text);
  void Authenticate(const std::string& token, const std::optional<Value>& ref);
  void OnGatesChecked(const std::shared_ptr<UpstreamCall>& call, const grpc::Status& status,
                      bool agreement, bool face_verification);
  void BecomeReady();
  /// False (and the connection closing) when the token has expired or its session ended.
  bool TokenStillValid();
  void ArmTick();
  void OnTick();

  void Subscribe(const LiveClientMessage& message);
  void OnAuthorized(const std::shared_ptr<Room>& room, const std::shared_ptr<UpstreamCall>& call,
                    const grpc::Status& status);
  void FetchPage(const std::shared_ptr<Room>& room);
  void OnPage(const std::shared_ptr<Room>& room, const std::shared_ptr<UpstreamCall>& call,
              const grpc::Status& status);
  void GoLive(Room& room);
  void Unsubscribe(const LiveClientMessage& message);
  /// Ends a subscription: leaves the hub and, when it was authorized, says offline.
  void DropRoom(const std::shared_ptr<Room>& room);
  void OnFrame(const std::shared_ptr<const LiveFrame>& frame);
  std::shared_ptr<Room> FindRoom(std::string_view room_id) const;
  void TouchPresence(const Room& room, bool online);
  std::shared_ptr<UpstreamCall> NewCall() const;
  /// Sets the authorization, request id and client address of an upstream call.
  void AddCallMetadata(grpc::ClientContext* context) const;

  // Signaling (live_session_signal.cc).
  void Join(const LiveClientMessage& message);
  void OpenConnect(const std::shared_ptr<Interview>& interview);
  void OnConnectEvent(const std::shared_ptr<Interview>& interview, uint64_t stream_id,
                      UpstreamStream::Event event, bool ok, const grpc::Status& status);
  void OnDelivery(const std::shared_ptr<Interview>& interview);
  void OnConnectDone(const std::shared_ptr<Interview>& interview, const grpc::Status& status);
  void ScheduleResume(const std::shared_ptr<Interview>& interview);
  /// `signal`, `screen-share` or `leave`: throttled, then queued for its call.
  void QueueSignalCall(const LiveClientMessage& message);
  void PumpSignalCalls(const std::shared_ptr<Interview>& interview);
  void OnSignalCallDone(const std::shared_ptr<Interview>& interview, const Interview::Call& call,
                        const grpc::Status& status);
  void GetIceServers(const LiveClientMessage& message);
  /// Ends the session on this connection: cancels its stream (the service then counts the
  /// participant's grace period) and its queued calls; the idle timeout is restored.
  void Detach();
  /// Sets Beast's timeouts with `idle` as the idle timeout (pings at half).
  void SetIdleTimeout(std::chrono::milliseconds idle);
  void SendUpstreamError(int upstream, const grpc::Status& status, std::string_view room_id,
                         const std::optional<Value>& ref);

  void SendText(std::string text);
  void SendError(std::string_view code, std::string_view message, std::string_view room_id,
                 const std::optional<Value>& ref);
  /// Queues an event frame of `room`; `bounded` checks the slow-consumer limits.
  void SendEvent(const std::shared_ptr<Room>& room, std::shared_ptr<const std::string> text,
                 int64_t id, bool bounded);
  void Enqueue(Out out, bool bounded);
  void Write();
  void OnWrite(boost::beast::error_code ec, size_t bytes);
  void ResumeCatchUps();
  void SlowConsumer();
  /// Starts closing with `code`: after the queued messages when `flush`, else at once.
  void CloseWith(uint16_t code, std::string reason, bool flush);
  void StartClose();
  void OnClosed(boost::beast::error_code ec);
  /// The connection is over: rooms left, accounting done, socket closed.
  void Finish();

  boost::beast::websocket::stream<LingeringTcpStream> ws_;
  boost::beast::flat_buffer buffer_;
  boost::asio::steady_timer timer_;
  const SessionContext* context_;
  std::string peer_;
  std::string request_id_;
  std::chrono::steady_clock::time_point start_;
  /// Held only until the handshake is answered.
  std::unique_ptr<Request> request_;
  std::string query_token_;

  bool accepted_ = false;
  bool authenticated_ = false;
  bool reading_ = false;
  /// Reading stops while authentication waits for identity.
  bool paused_ = false;
  std::optional<api::v1::TokenClaims> claims_;
  std::string authorization_;

  std::vector<std::shared_ptr<Room>> rooms_;
  std::shared_ptr<Interview> interview_;
  TokenBucket signal_bucket_;
  std::vector<Out> out_;
  size_t out_head_ = 0;
  size_t queued_bytes_ = 0;
  bool writing_ = false;

  bool closing_ = false;
  bool close_started_ = false;
  bool finished_ = false;
  uint16_t close_code_ = 0;
  std::string close_reason_;
  /// The socket error that ended the connection, if one did.
  std::string error_;
  uint64_t messages_in_ = 0;
  uint64_t messages_out_ = 0;
};

}  // namespace admissions::gateway
