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
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "common/token.h"
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
  std::chrono::milliseconds grpc_deadline{5000};
  std::chrono::milliseconds readiness_timeout{1000};
  /// Seconds since the epoch; token expiry and revocations are checked against it.
  std::function<int64_t()> now_seconds;
  /// The current user-agreement version, 0 when unknown.
  std::function<int64_t()> agreement_version;
};

/// One HTTP/1.1 connection: reads a request at a time (keep-alive, pipelining in order),
/// authenticates it, transcodes it to the upstream RPC and the answer back to JSON, and writes
/// one access-log line and the metrics per request. All its handlers run on the io thread
/// its socket was given (one io_context per thread, so no strand is needed); an upstream
/// completion is posted back to it.
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
  };

  void ReadHeader();
  /// The body limit of the route a request header names (the default when none).
  uint64_t BodyLimitFor(const Request& request) const;
  void OnHeader(boost::beast::error_code ec, size_t bytes);
  void OnContinueWritten(boost::beast::error_code ec, size_t bytes);
  void ReadBody();
  void OnBody(boost::beast::error_code ec, size_t bytes);
  void OnReadError(boost::beast::error_code ec);

  /// Starts timing a request; `have_header` when the parser holds its method and fields.
  void BeginExchange(bool have_header);
  void Handle();
  void HandleReady();
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
  void OnUpstreamDone(const std::shared_ptr<UpstreamCall>& call, const grpc::Status& status);

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
  bool in_exchange_ = false;
  bool idle_ = false;
  bool draining_ = false;
  bool close_after_response_ = false;
  bool linger_after_response_ = false;
  bool closed_ = false;
  std::vector<char> linger_buffer_;
  size_t lingered_bytes_ = 0;
};

}  // namespace admissions::gateway
