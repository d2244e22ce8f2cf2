#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "common/token.h"
#include "gateway/live_hub.h"
#include "gateway/live_session.h"
#include "gateway/metrics.h"
#include "gateway/route_table.h"
#include "gateway/status_map.h"
#include "gateway/upstreams.h"

namespace admissions::gateway {

class HttpSession;

/// The open connections, so that shutdown can ask each to finish and close.
class SessionTracker {
 public:
  /// Registers a session; drains it at once when the tracker is draining already.
  void Add(const std::shared_ptr<HttpSession>& session);
  void Remove(const HttpSession* session);
  /// Asks every session to answer its request in progress, if any, then close.
  void DrainAll();
  size_t size() const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<const HttpSession*, std::weak_ptr<HttpSession>> sessions_
      ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
};

/// Metrics series ids of the requests that match no route of the table. Route series ids are
/// the route ids; these follow them.
struct FixedSeries {
  int healthz = -1;
  int readyz = -1;
  int metrics = -1;
  int live = -1;
  /// Indexed by MethodIndex(): GET, PUT, POST, DELETE, PATCH, other.
  int unmatched[6] = {-1, -1, -1, -1, -1, -1};

  static constexpr std::string_view kMethodNames[6] = {"GET",    "PUT",   "POST",
                                                       "DELETE", "PATCH", "OTHER"};
  static int MethodIndex(std::string_view method);
};

/// The labels of every metrics series: one per route, then the fixed ones (filled in `fixed`).
std::vector<Metrics::SeriesLabels> SeriesLabelsFor(const RouteTable& routes, FixedSeries* fixed);

/// What every session shares. Everything here outlives the sessions and is either immutable or
/// safe to use from any thread.
struct SessionContext {
  const RouteTable* routes = nullptr;
  Metrics* metrics = nullptr;
  FixedSeries series;
  Upstreams* upstreams = nullptr;
  /// The upstream index of identity, asked about candidate gates; -1 when not configured.
  int identity_upstream = -1;
  const TokenVerifier* verifier = nullptr;
  RevocationList* revocations = nullptr;
  SessionTracker* tracker = nullptr;
  uint64_t max_body_bytes = 1 << 20;
  /// The largest of max_body_bytes and every route's own limit: what a header may
  /// announce before the route is known.
  uint64_t max_any_body_bytes = 1 << 20;
  uint32_t max_header_bytes = 16 * 1024;
  std::chrono::milliseconds read_timeout{30000};
  /// The largest piece of a streamed request body: one message to the upstream each.
  size_t stream_chunk_bytes = 256 * 1024;
  /// How long a streamed request body may go without a byte from the client.
  std::chrono::milliseconds stream_idle_timeout{30000};
  std::chrono::milliseconds grpc_deadline{5000};
  std::chrono::milliseconds readiness_timeout{1000};
  /// Seconds since the epoch; token expiry and revocations are checked against it.
  std::function<int64_t()> now_seconds;
  /// The current user-agreement version, 0 when unknown.
  std::function<int64_t()> agreement_version;
  /// The live channel (/v1/live); null when waiting-room is not configured.
  LiveHub* live_hub = nullptr;
  LiveTracker* live_tracker = nullptr;
  int waiting_room_upstream = -1;
  /// The interview's signaling on the live channel; -1 when media-signaling is not configured.
  int media_signaling_upstream = -1;
  LiveOptions live;
};

/// One HTTP/1.1 connection: reads a request at a time (keep-alive, pipelining in order),
/// authenticates it, transcodes it to the upstream RPC and the answer back to JSON, and writes
/// one access-log line and the metrics per request. All its handlers run on the io thread
/// its socket was given (one io_context per thread, so no strand is needed); an upstream
/// completion is posted back to it.
///
/// Routes with stream_body or stream_response move their bodies through a streaming call
/// piece by piece, never holding more than one piece (http_session_stream.cc): the request
/// body is read only once the header has been routed and authorised and the call started,
/// and a piece is read from the socket only after the previous one was written to the call;
/// a response piece is asked of the call only after the previous one was written to the
/// socket.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(boost::asio::ip::tcp::socket&& socket, const SessionContext* context);
  ~HttpSession();

  /// Starts reading (registers with the tracker).
  void Start();
  /// Thread-safe: finish the request in progress, then close; close at once when idle.
  void Drain();

 private:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

  /// The request being handled.
  struct Exchange {
    std::chrono::steady_clock::time_point start;
    std::string request_id;
    std::string method;
    int series = -1;
    std::string_view route_label = "unmatched";
    const Route* route = nullptr;
    std::vector<PathVariable> variables;
    std::string query;
    std::optional<api::v1::TokenClaims> claims;
    std::string authorization;
    unsigned version = 11;
    bool keep_alive = false;
    int status = 0;
    /// A stream_body or stream_response route: its body bytes are logged and counted.
    bool streamed = false;
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
  };

  /// The streaming call of a stream_body or stream_response exchange and its progress.
  struct Streaming {
    enum class Socket { kIdle, kReading, kWriting };
    enum class Continue { kNotAsked, kWaiting, kSent };

    std::shared_ptr<UpstreamStream> call;
    bool upload = false;
    Socket socket = Socket::kIdle;
    bool write_in_flight = false;
    bool released = false;
    /// Event::kDone has arrived.
    bool done = false;
    /// The client went away or was answered by the gateway itself: the call's outcome no
    /// longer matters, only its end.
    bool detached = false;

    // Request body (upload).
    std::optional<boost::beast::http::request_parser<boost::beast::http::buffer_body>> parser;
    std::string piece;
    size_t piece_size = 0;
    bool first_written = false;
    Continue continue_state = Continue::kNotAsked;
    /// The service's initial metadata: 0 not yet, 1 sent (it took the call), -1 ended without.
    int metadata = 0;
    bool expect_continue = false;
    std::optional<boost::asio::steady_timer> continue_timer;
    bool body_done = false;
    bool writes_done = false;
    /// The call ended (or answered) before the body did: answer as soon as it is done.
    bool ending = false;
    std::optional<grpc::ByteBuffer> response;

    // Response body (download).
    std::optional<boost::beast::http::response<boost::beast::http::buffer_body>> head;
    std::optional<boost::beast::http::response_serializer<boost::beast::http::buffer_body>>
        serializer;
    std::string data;
    int64_t content_length = -1;
    bool head_sent = false;
    bool keep_alive = false;
    /// The service broke the stream's rules (a bad message, more data than it announced).
    bool broken = false;
  };

  void ReadHeader();
  /// The route a request header names, or null.
  const Route* RouteOf(const Request& request) const;
  /// The body limit of a route (the default when none; none for a streamed body without one).
  uint64_t BodyLimitFor(const Route* route) const;
  void OnHeader(boost::beast::error_code ec, size_t bytes);
  void OnContinueWritten(boost::beast::error_code ec, size_t bytes);
  void ReadBody();
  void OnBody(boost::beast::error_code ec, size_t bytes);
  void OnReadError(boost::beast::error_code ec);

  /// Starts timing a request; `have_header` when the parser holds its method and fields.
  void BeginExchange(bool have_header);
  void Handle();
  void HandleReady();
  /// GET /v1/live: hands the connection to a LiveSession (WebSocket), or explains why not.
  void HandleLive(std::string_view query);
  /// Authenticates, then checks the candidate gates, then calls.
  void HandleRoute(RouteMatch match, std::string_view query);
  /// Asks identity (GetGateState) whether the caller has passed the gates that the token's
  /// claims do not show as passed: they may have been passed after the token was issued.
  void CheckGates(bool agreement, bool face_verification);
  void OnGatesChecked(const std::shared_ptr<UpstreamCall>& call, const grpc::Status& status,
                      bool agreement, bool face_verification);
  /// Transcodes the request and calls the route's RPC.
  void CallRoute();
  /// A call with the exchange's metadata and the configured deadline.
  std::shared_ptr<UpstreamCall> NewCall() const;
  /// Sets the exchange's metadata and a deadline `deadline` from now.
  void SetUpContext(grpc::ClientContext* context, std::chrono::milliseconds deadline) const;
  void OnUpstreamDone(const std::shared_ptr<UpstreamCall>& call, const grpc::Status& status);
  /// Answers the route's RPC outcome: the response message as JSON (or the response_body
  /// field), or the mapped error.
  void AnswerUpstream(const grpc::Status& status, const grpc::ByteBuffer* response);

  // Streamed bodies (http_session_stream.cc).
  std::shared_ptr<UpstreamStream> NewStream(std::chrono::milliseconds deadline);
  bool StartStream(const std::shared_ptr<UpstreamStream>& call);
  void OnStreamEvent(const UpstreamStream* call, UpstreamStream::Event event, bool ok);
  /// Called first by every socket completion of a stream: false when the handler is to stop
  /// (the stream is detached, or ending and answered from here).
  bool StreamSocketIdle();
  void ReleaseStream();
  /// Cancels the call and closes the connection without an answer (the client is gone).
  void AbandonStream(int status);
  /// Starts a stream_body call with `first` (every field but the body) as its first message.
  void StartUpload(std::string first, std::chrono::milliseconds deadline);
  void OnUploadEvent(UpstreamStream::Event event, bool ok);
  void WaitForContinue();
  void SendContinue();
  void OnContinueSent(boost::beast::error_code ec, size_t bytes);
  void ReadPiece();
  void OnPieceRead(boost::beast::error_code ec, size_t bytes);
  /// After a write to the call: the next piece, or the end of the body.
  void ContinueUpload();
  /// The call ended before the body did: stop reading and answer once it is done.
  void EndUploadEarly();
  /// The gateway answers a stream itself (413, 400 while reading the body) and cancels it.
  void AnswerUploadItself(const HttpError& error);
  void AnswerUpload();
  /// Starts a stream_response call with `request` as its only message.
  void StartDownload(std::string request, std::chrono::milliseconds deadline);
  void OnDownloadEvent(UpstreamStream::Event event, bool ok);
  void WriteHead(api::v1::HttpBodyChunk chunk);
  void OnHeadWritten(boost::beast::error_code ec, size_t bytes);
  void WriteData();
  void OnDataWritten(boost::beast::error_code ec, size_t bytes);
  /// The service broke the stream's rules: cancel; FinishDownload() closes or answers 500.
  void BreakDownload(std::string_view why);
  void FinishDownload();
  void OnDownloadEnd(boost::beast::error_code ec, size_t bytes);

  void SetJsonResponse(int status, std::string body);
  void SetErrorResponse(const HttpError& error);
  /// Writes `response_`, then reads the next request or closes.
  void Send();
  void OnWrite(bool close, boost::beast::error_code ec, size_t bytes);
  void FinishExchange();
  void OnDrain();
  /// Half-closes and, when `linger`, reads and discards what the client still sends (for up
  /// to a second) so that it can read the answer before the socket closes.
  void Close(bool linger);
  void Linger();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  const SessionContext* context_;
  std::string peer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  boost::beast::http::response<boost::beast::http::empty_body> continue_;
  Response response_;
  Exchange exchange_;
  std::unique_ptr<Streaming> streaming_;
  bool in_exchange_ = false;
  /// The request's body has not been read to its end: the connection cannot be reused.
  bool body_unread_ = false;
  bool idle_ = false;
  bool draining_ = false;
  bool close_after_response_ = false;
  bool linger_after_response_ = false;
  bool closed_ = false;
  std::vector<char> linger_buffer_;
  size_t lingered_bytes_ = 0;
};

}  // namespace admissions::gateway
