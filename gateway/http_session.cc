#include "gateway/http_session.h"

#include <algorithm>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "boost/asio/dispatch.hpp"
#include "boost/asio/post.hpp"
#include "boost/beast/websocket.hpp"
#include "common/crypto.h"
#include "common/log.h"
#include "common/status.h"
#include "gateway/access.h"
#include "gateway/strings.h"
#include "gateway/transcoder.h"
#include "identity/v1/identity.pb.h"

namespace admissions::gateway {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

constexpr std::string_view kHealthz = "/healthz";
constexpr std::string_view kReadyz = "/readyz";
constexpr std::string_view kMetricsPath = "/metrics";
constexpr std::string_view kLive = "/v1/live";
constexpr std::string_view kUnmatched = "unmatched";
constexpr size_t kMaxRequestIdLength = 128;
constexpr size_t kMaxLingerBytes = 8 << 20;
constexpr auto kLingerTime = std::chrono::seconds(1);

bool IsSaneRequestId(std::string_view id) {
  return !id.empty() && id.size() <= kMaxRequestIdLength &&
         std::all_of(id.begin(), id.end(), [](char c) {
           return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
                  c == '.';
         });
}

// A random per-thread prefix and a counter: unique without a system call per request.
std::string NewRequestId() {
  thread_local const std::string prefix = HexEncode(RandomBytes(8));
  thread_local uint64_t counter = 0;
  return absl::StrCat(prefix, "-", absl::Hex(++counter));
}

bool IsPrintableAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

bool IsJsonContentType(std::string_view value) {
  return EqualsIgnoreCase(StripWhitespace(value.substr(0, value.find(';'))), "application/json");
}

HttpError InvalidArgument(std::string_view message) {
  return MakeHttpError(grpc::StatusCode::INVALID_ARGUMENT, reason::kInvalidArgument, message);
}

}  // namespace

void SessionTracker::Add(const std::shared_ptr<HttpSession>& session) {
  bool draining;
  {
    absl::MutexLock lock(&mu_);
    sessions_.emplace(session.get(), session);
    draining = draining_;
  }
  if (draining) session->Drain();
}

void SessionTracker::Remove(const HttpSession* session) {
  absl::MutexLock lock(&mu_);
  sessions_.erase(session);
}

void SessionTracker::DrainAll() {
  std::vector<std::weak_ptr<HttpSession>> snapshot;
  {
    absl::MutexLock lock(&mu_);
    draining_ = true;
    snapshot.reserve(sessions_.size());
    for (const auto& [raw, weak] : sessions_) snapshot.push_back(weak);
  }
  for (const auto& weak : snapshot) {
    if (auto session = weak.lock()) session->Drain();
  }
}

size_t SessionTracker::size() const {
  absl::MutexLock lock(&mu_);
  return sessions_.size();
}

int FixedSeries::MethodIndex(std::string_view method) {
  for (int i = 0; i < 5; ++i) {
    if (kMethodNames[i] == method) return i;
  }
  return 5;
}

std::vector<Metrics::SeriesLabels> SeriesLabelsFor(const RouteTable& routes, FixedSeries* fixed) {
  std::vector<Metrics::SeriesLabels> labels;
  for (const auto& route : routes.routes()) labels.push_back({route->path, route->http_method});
  auto add = [&](std::string_view route, std::string_view method) {
    labels.push_back({std::string(route), std::string(method)});
    return static_cast<int>(labels.size() - 1);
  };
  fixed->healthz = add(kHealthz, "GET");
  fixed->readyz = add(kReadyz, "GET");
  fixed->metrics = add(kMetricsPath, "GET");
  fixed->live = add(kLive, "GET");
  for (int i = 0; i < 6; ++i) fixed->unmatched[i] = add(kUnmatched, FixedSeries::kMethodNames[i]);
  return labels;
}

HttpSession::HttpSession(tcp::socket&& socket, const SessionContext* context)
    : stream_(std::move(socket)), context_(context) {
  beast::error_code ec;
  auto endpoint = stream_.socket().remote_endpoint(ec);
  if (!ec) peer_ = endpoint.address().to_string();
}

HttpSession::~HttpSession() {
  if (in_exchange_) context_->metrics->RequestFinished();
  context_->tracker->Remove(this);
}

void HttpSession::Start() {
  context_->tracker->Add(shared_from_this());
  net::dispatch(stream_.get_executor(),
                beast::bind_front_handler(&HttpSession::ReadHeader, shared_from_this()));
}

void HttpSession::Drain() {
  net::post(stream_.get_executor(),
            beast::bind_front_handler(&HttpSession::OnDrain, shared_from_this()));
}

void HttpSession::OnDrain() {
  draining_ = true;
  if (idle_ && buffer_.size() == 0) stream_.cancel();
}

void HttpSession::ReadHeader() {
  if (draining_ && buffer_.size() == 0) {
    Close(/*linger=*/false);
    return;
  }
  parser_.emplace();
  parser_->header_limit(context_->max_header_bytes);
  parser_->body_limit(context_->max_any_body_bytes);
  idle_ = true;
  stream_.expires_after(context_->read_timeout);
  http::async_read_header(stream_, buffer_, *parser_,
                          beast::bind_front_handler(&HttpSession::OnHeader, shared_from_this()));
}

const Route* HttpSession::RouteOf(const Request& request) const {
  std::string_view target = request.target();
  std::string_view path = target.substr(0, target.find('?'));
  RouteMatch match = context_->routes->Match(request.method_string(), path);
  return match.kind == RouteMatch::Kind::kFound ? match.route : nullptr;
}

uint64_t HttpSession::BodyLimitFor(const Route* route) const {
  if (route != nullptr && route->max_body_bytes > 0) return route->max_body_bytes;
  // A streamed body is held to the service's own limit only.
  if (route != nullptr && route->stream_body_field != nullptr) {
    return std::numeric_limits<uint64_t>::max();
  }
  return context_->max_body_bytes;
}

void HttpSession::OnHeader(beast::error_code ec, size_t) {
  idle_ = false;
  if (ec) {
    OnReadError(ec);
    return;
  }
  BeginExchange(/*have_header=*/true);
  if (parser_->is_done()) {
    Handle();
    return;
  }
  const Request& request = parser_->get();
  // Now that the route is known, hold the body to its own limit.
  const Route* route = RouteOf(request);
  uint64_t limit = BodyLimitFor(route);
  if (auto length = parser_->content_length(); length && *length > limit) {
    close_after_response_ = true;
    linger_after_response_ = true;
    SetErrorResponse(MakeHttpError(grpc::StatusCode::INVALID_ARGUMENT, reason::kPayloadTooLarge,
                                   absl::StrCat("request body is larger than ", limit, " bytes")));
    Send();
    return;
  }
  if (route != nullptr && route->stream_body_field != nullptr) {
    // Routed, authorised and the call started before a byte of the body is read.
    body_unread_ = true;
    Handle();
    return;
  }
  parser_->body_limit(limit);
  if (EqualsIgnoreCase(request[http::field::expect], "100-continue")) {
    continue_ = {};
    continue_.version(request.version());
    continue_.result(http::status::continue_);
    stream_.expires_after(context_->read_timeout);
    http::async_write(
        stream_, continue_,
        beast::bind_front_handler(&HttpSession::OnContinueWritten, shared_from_this()));
    return;
  }
  ReadBody();
}

void HttpSession::OnContinueWritten(beast::error_code ec, size_t) {
  if (ec) {
    FinishExchange();
    Close(/*linger=*/false);
    return;
  }
  ReadBody();
}

void HttpSession::ReadBody() {
  stream_.expires_after(context_->read_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&HttpSession::OnBody, shared_from_this()));
}

void HttpSession::OnBody(beast::error_code ec, size_t) {
  if (ec) {
    OnReadError(ec);
    return;
  }
  Handle();
}

void HttpSession::OnReadError(beast::error_code ec) {
  const bool http_error =
      ec.category() == http::make_error_code(http::error::end_of_stream).category();
  if (!http_error || ec == http::error::end_of_stream || ec == http::error::partial_message) {
    // The client left, the read timed out, or the session is draining: nothing to answer.
    if (in_exchange_) {
      exchange_.status = ec == beast::error::timeout ? 408 : 499;
      FinishExchange();
    }
    Close(/*linger=*/false);
    return;
  }
  // A Content-Length over the limit fails the header read after every field was parsed.
  if (!in_exchange_) {
    BeginExchange(parser_ && (parser_->is_header_done() || ec == http::error::body_limit));
  }
  close_after_response_ = true;
  linger_after_response_ = true;
  if (ec == http::error::body_limit) {
    SetErrorResponse(MakeHttpError(
        grpc::StatusCode::INVALID_ARGUMENT, reason::kPayloadTooLarge,
        absl::StrCat("request body is larger than ", context_->max_body_bytes, " bytes")));
  } else if (ec == http::error::header_limit) {
    HttpError error = InvalidArgument(
        absl::StrCat("request header is larger than ", context_->max_header_bytes, " bytes"));
    error.status = 431;
    SetErrorResponse(error);
  } else {
    SetErrorResponse(InvalidArgument(absl::StrCat("malformed HTTP request: ", ec.message())));
  }
  Send();
}

void HttpSession::BeginExchange(bool have_header) {
  in_exchange_ = true;
  context_->metrics->RequestStarted();
  exchange_ = Exchange{};
  body_unread_ = false;
  exchange_.start = std::chrono::steady_clock::now();
  std::string_view method = "OTHER";
  if (have_header) {
    const Request& request = parser_->get();
    method = request.method_string();
    exchange_.version = request.version();
    exchange_.keep_alive = request.keep_alive();
    std::string_view incoming = request["X-Request-Id"];
    if (IsSaneRequestId(incoming)) exchange_.request_id = std::string(incoming);
  }
  if (exchange_.request_id.empty()) exchange_.request_id = NewRequestId();
  int index = FixedSeries::MethodIndex(method);
  exchange_.method = std::string(FixedSeries::kMethodNames[index]);
  exchange_.series = context_->series.unmatched[index];
}

void HttpSession::Handle() {
  const Request& request = parser_->get();
  std::string_view target = request.target();
  size_t question = target.find('?');
  std::string_view path = target.substr(0, question);
  std::string_view query =
      question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
  std::string_view method = request.method_string();

  if (path == kHealthz || path == kReadyz || path == kMetricsPath) {
    if (method != "GET") {
      SetErrorResponse(MakeHttpError(grpc::StatusCode::UNIMPLEMENTED, kReasonMethodNotAllowed,
                                     "method not allowed"));
      response_.set(http::field::allow, "GET");
      Send();
      return;
    }
    if (path == kHealthz) {
      exchange_.series = context_->series.healthz;
      exchange_.route_label = kHealthz;
      SetJsonResponse(200, R"({"status":"ok"})");
    } else if (path == kMetricsPath) {
      exchange_.series = context_->series.metrics;
      exchange_.route_label = kMetricsPath;
      SetJsonResponse(200, context_->metrics->Render());
      response_.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    } else {
      exchange_.series = context_->series.readyz;
      exchange_.route_label = kReadyz;
      HandleReady();
      return;
    }
    Send();
    return;
  }
  if (path == kLive) {
    exchange_.series = context_->series.live;
    exchange_.route_label = kLive;
    if (method != "GET") {
      SetErrorResponse(MakeHttpError(grpc::StatusCode::UNIMPLEMENTED, kReasonMethodNotAllowed,
                                     "method not allowed"));
      response_.set(http::field::allow, "GET");
      Send();
      return;
    }
    HandleLive(query);
    return;
  }

  RouteMatch match = context_->routes->Match(method, path);
  switch (match.kind) {
    case RouteMatch::Kind::kNotFound:
      SetErrorResponse(
          MakeHttpError(grpc::StatusCode::NOT_FOUND, reason::kNotFound, "no such endpoint"));
      Send();
      return;
    case RouteMatch::Kind::kMethodNotAllowed:
      SetErrorResponse(MakeHttpError(
          grpc::StatusCode::UNIMPLEMENTED, kReasonMethodNotAllowed,
          absl::StrCat("method ", ToAbsl(method),
                       " is not allowed here; allowed: ", absl::StrJoin(match.allowed, ", "))));
      response_.set(http::field::allow, absl::StrJoin(match.allowed, ", "));
      Send();
      return;
    case RouteMatch::Kind::kBadPath:
      exchange_.route = match.route;
      exchange_.series = match.route->id;
      exchange_.route_label = match.route->path;
      SetErrorResponse(HttpErrorFromStatus(InvalidField(match.error_field, match.error)));
      Send();
      return;
    case RouteMatch::Kind::kFound:
      HandleRoute(std::move(match), query);
      return;
  }
}

void HttpSession::HandleReady() {
  stream_.expires_never();
  auto self = shared_from_this();
  context_->upstreams->CheckHealth(
      context_->readiness_timeout, [self](std::vector<std::string> failed) {
        net::post(self->stream_.get_executor(), [self, failed = std::move(failed)]() {
          if (failed.empty()) {
            self->SetJsonResponse(200, R"({"status":"ok"})");
          } else {
            self->SetJsonResponse(503, absl::StrCat(R"({"status":"unavailable","failed":[")",
                                                    absl::StrJoin(failed, R"(",")"), R"("]})"));
          }
          self->Send();
        });
      });
}

void HttpSession::HandleLive(std::string_view query) {
  const Request& request = parser_->get();
  if (!websocket::is_upgrade(request)) {
    HttpError error = MakeHttpError(
        grpc::StatusCode::FAILED_PRECONDITION, "UPGRADE_REQUIRED",
        "GET /v1/live is a WebSocket: send Connection: Upgrade and Upgrade: websocket");
    error.status = 426;
    SetErrorResponse(error);
    response_.set(http::field::upgrade, "websocket");
    response_.set(http::field::connection, "Upgrade");
    Send();
    return;
  }
  if (context_->live_hub == nullptr || draining_) {
    SetErrorResponse(MakeHttpError(
        grpc::StatusCode::UNAVAILABLE, "UNAVAILABLE",
        draining_ ? "the gateway is shutting down" : "the live channel is not configured here"));
    close_after_response_ = true;
    Send();
    return;
  }
  std::string token;
  auto params = ParseQuery(query);
  if (!params.ok()) {
    SetErrorResponse(HttpErrorFromStatus(params.status()));
    Send();
    return;
  }
  for (const QueryParam& param : *params) {
    if (param.name == "access_token") token = param.value;
  }
  // The token is checked after the upgrade: a browser cannot read a refused handshake's
  // status, but it can read an error message and the close code.
  exchange_.status = 101;
  FinishExchange();
  stream_.expires_never();
  closed_ = true;
  auto live = std::make_shared<LiveSession>(stream_.release_socket(), context_, peer_,
                                            exchange_.request_id);
  live->Start(parser_->release(), std::move(token));
}

void HttpSession::HandleRoute(RouteMatch match, std::string_view query) {
  const Route& route = *match.route;
  const Request& request = parser_->get();
  exchange_.route = &route;
  exchange_.series = route.id;
  exchange_.route_label = route.path;
  exchange_.variables = std::move(match.variables);
  exchange_.query = std::string(query);

  std::string_view authorization = request[http::field::authorization];
  if (!route.no_auth) {
    if (authorization.empty()) {
      SetErrorResponse(Unauthenticated("missing access token (send Authorization: Bearer TOKEN)"));
      Send();
      return;
    }
    std::string_view token = BearerToken(authorization);
    if (token.empty()) {
      SetErrorResponse(Unauthenticated("Authorization header must be Bearer TOKEN"));
      Send();
      return;
    }
    auto claims = VerifyAccessToken(*context_->verifier, *context_->revocations, token,
                                    context_->now_seconds());
    if (!claims.ok()) {
      SetErrorResponse(Unauthenticated(ToStd(claims.status().message())));
      Send();
      return;
    }
    exchange_.claims = *std::move(claims);
  }
  if (!authorization.empty() && IsPrintableAscii(authorization)) {
    exchange_.authorization = std::string(authorization);
  }

  if (exchange_.claims) {
    GatesToCheck gates =
        GatesNotShownPassed(*exchange_.claims, route.requires_agreement,
                            route.requires_face_verification, context_->agreement_version());
    if (gates.any()) {
      CheckGates(gates.agreement, gates.face_verification);
      return;
    }
  }
  CallRoute();
}

void HttpSession::CheckGates(bool agreement, bool face_verification) {
  if (context_->identity_upstream < 0) {
    SetErrorResponse(GateError(agreement));
    Send();
    return;
  }
  identity::v1::GetGateStateRequest request;
  request.set_account_id(exchange_.claims->sub());
  auto call = NewCall();
  call->request = StringToByteBuffer(request.SerializeAsString());
  stream_.expires_never();
  auto self = shared_from_this();
  context_->upstreams->StartCall(
      context_->identity_upstream, kGateStateMethod, call,
      [self, call, agreement, face_verification](const grpc::Status& status) {
        net::post(self->stream_.get_executor(),
                  [self, call, status, agreement, face_verification]() {
                    self->OnGatesChecked(call, status, agreement, face_verification);
                  });
      });
}

void HttpSession::OnGatesChecked(const std::shared_ptr<UpstreamCall>& call,
                                 const grpc::Status& status, bool agreement,
                                 bool face_verification) {
  if (!status.ok()) {
    if (IsUpstreamFailure(status.error_code())) {
      context_->metrics->RecordUpstreamError(context_->identity_upstream);
    }
    SetErrorResponse(HttpErrorFromUpstream(status));
    Send();
    return;
  }
  identity::v1::GateState state;
  if (!state.ParseFromString(ByteBufferToString(call->response))) {
    context_->metrics->RecordUpstreamError(context_->identity_upstream);
    SetErrorResponse(
        MakeHttpError(grpc::StatusCode::INTERNAL, reason::kInternal, "internal error"));
    Send();
    return;
  }
  if (agreement && !state.agreement_accepted()) {
    SetErrorResponse(GateError(/*agreement=*/true));
    Send();
    return;
  }
  if (face_verification && !state.face_verified()) {
    SetErrorResponse(GateError(/*agreement=*/false));
    Send();
    return;
  }
  CallRoute();
}

std::shared_ptr<UpstreamCall> HttpSession::NewCall() const {
  auto call = std::make_shared<UpstreamCall>();
  SetUpContext(&call->context, context_->grpc_deadline);
  return call;
}

void HttpSession::SetUpContext(grpc::ClientContext* context,
                               std::chrono::milliseconds deadline) const {
  context->set_deadline(std::chrono::system_clock::now() + deadline);
  if (!exchange_.authorization.empty()) {
    context->AddMetadata("authorization", exchange_.authorization);
  }
  context->AddMetadata("x-request-id", exchange_.request_id);
  if (!peer_.empty()) context->AddMetadata("x-forwarded-for", peer_);
}

void HttpSession::CallRoute() {
  const Route& route = *exchange_.route;
  const Request& request = parser_->get();
  if (route.body_is_message && !request.body().empty()) {
    std::string_view content_type = request[http::field::content_type];
    if (!content_type.empty() && !IsJsonContentType(content_type)) {
      SetErrorResponse(MakeHttpError(grpc::StatusCode::INVALID_ARGUMENT, reason::kUnsupportedFormat,
                                     "request body must be application/json"));
      Send();
      return;
    }
  }
  if (route.method == nullptr) {
    SetErrorResponse(MakeHttpError(grpc::StatusCode::UNIMPLEMENTED, "UNIMPLEMENTED",
                                   "this endpoint is not implemented"));
    Send();
    return;
  }

  RequestParts parts;
  parts.body_is_message = route.body_is_message;
  parts.raw_body_field = route.raw_body_field;
  parts.body = request.body();
  if (route.stream_body_field != nullptr) {
    // The first message carries an empty piece; binding the field keeps the query off it.
    parts.raw_body_field = route.stream_body_field;
    parts.body = {};
  }
  parts.path = exchange_.variables;
  for (const Route::HeaderField& binding : route.header_fields) {
    auto it = request.find(binding.header);
    if (it != request.end()) parts.headers.push_back({binding.header, binding.field, it->value()});
  }
  auto params = ParseQuery(exchange_.query);
  if (!params.ok()) {
    SetErrorResponse(HttpErrorFromStatus(params.status()));
    Send();
    return;
  }
  parts.query = *std::move(params);
  auto message = NewMessage(route.method->input_type());
  if (absl::Status status = TranscodeRequest(parts, message.get()); !status.ok()) {
    SetErrorResponse(HttpErrorFromStatus(status));
    Send();
    return;
  }

  if (route.stream_body_field != nullptr || route.stream_response) {
    auto deadline = route.deadline.count() > 0 ? route.deadline : context_->grpc_deadline;
    if (route.stream_body_field != nullptr) {
      StartUpload(message->SerializeAsString(), deadline);
    } else {
      StartDownload(message->SerializeAsString(), deadline);
    }
    return;
  }
  auto call = NewCall();
  if (route.deadline.count() > 0) {
    call->context.set_deadline(std::chrono::system_clock::now() + route.deadline);
  }
  // A long poll (a request field wait_seconds) gets its wait on top of the deadline.
  if (const auto* wait = message->GetDescriptor()->FindFieldByName("wait_seconds");
      wait != nullptr && wait->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_INT32) {
    int32_t seconds = message->GetReflection()->GetInt32(*message, wait);
    if (seconds > 0) {
      call->context.set_deadline(std::chrono::system_clock::now() + context_->grpc_deadline +
                                 std::chrono::seconds(std::min(seconds, 60)));
    }
  }
  call->request = StringToByteBuffer(message->SerializeAsString());
  stream_.expires_never();
  auto self = shared_from_this();
  context_->upstreams->StartCall(
      route.upstream, route.grpc_method, call, [self, call](const grpc::Status& status) {
        net::post(self->stream_.get_executor(),
                  [self, call, status]() { self->OnUpstreamDone(call, status); });
      });
}

void HttpSession::OnUpstreamDone(const std::shared_ptr<UpstreamCall>& call,
                                 const grpc::Status& status) {
  AnswerUpstream(status, &call->response);
}

void HttpSession::AnswerUpstream(const grpc::Status& status, const grpc::ByteBuffer* response) {
  const Route& route = *exchange_.route;
  if (!status.ok()) {
    if (IsUpstreamFailure(status.error_code())) {
      context_->metrics->RecordUpstreamError(route.upstream);
      Log(LogLevel::kWarn, "upstream_error",
          {{"request_id", exchange_.request_id},
           {"rpc", route.grpc_method},
           {"grpc_code", CodeName(static_cast<absl::StatusCode>(status.error_code()))},
           {"message", status.error_message()}});
    }
    SetErrorResponse(HttpErrorFromUpstream(status));
    Send();
    return;
  }
  auto message = NewMessage(route.method->output_type());
  if (response == nullptr || !message->ParseFromString(ByteBufferToString(*response))) {
    context_->metrics->RecordUpstreamError(route.upstream);
    Log(LogLevel::kError, "upstream_bad_response",
        {{"request_id", exchange_.request_id}, {"rpc", route.grpc_method}});
    SetErrorResponse(
        MakeHttpError(grpc::StatusCode::INTERNAL, reason::kInternal, "internal error"));
    Send();
    return;
  }
  if (route.ends_session && exchange_.claims) {
    context_->revocations->Add(exchange_.claims->sid(), exchange_.claims->exp());
  }
  if (route.success_status == 204) {
    response_ = {};
    response_.result(204);
    Send();
    return;
  }
  auto body = ResponseBody(*message, route.response_body_field);
  if (!body.ok()) {
    SetErrorResponse(
        MakeHttpError(grpc::StatusCode::INTERNAL, reason::kInternal, "internal error"));
    Send();
    return;
  }
  SetJsonResponse(route.success_status, *std::move(body));
  if (route.response_body_field != nullptr) {
    response_.set(http::field::content_type, "text/plain; charset=utf-8");
  }
  Send();
}

void HttpSession::SetJsonResponse(int status, std::string body) {
  response_ = {};
  response_.result(status);
  response_.set(http::field::content_type, "application/json");
  response_.body() = std::move(body);
}

void HttpSession::SetErrorResponse(const HttpError& error) {
  SetJsonResponse(error.status, ErrorBodyJson(error.info));
  if (error.status == 401) response_.set(http::field::www_authenticate, "Bearer");
  if (int64_t seconds = RetryAfterSeconds(error.info); seconds >= 0) {
    response_.set(http::field::retry_after, std::to_string(seconds));
  }
}

void HttpSession::Send() {
  response_.version(exchange_.version);
  response_.set("X-Request-Id", exchange_.request_id);
  response_.set(http::field::cache_control, "no-store");
  if (body_unread_) {
    // What is left of the body would be read as the next request.
    close_after_response_ = true;
    linger_after_response_ = true;
  }
  const bool keep_alive = exchange_.keep_alive && !draining_ && !close_after_response_;
  response_.keep_alive(keep_alive);
  if (response_.result() == http::status::no_content) {
    // No body and no Content-Length (RFC 9110, 8.6).
    response_.body().clear();
    response_.erase(http::field::content_type);
    response_.erase(http::field::content_length);
  } else {
    response_.prepare_payload();
  }
  exchange_.status = response_.result_int();
  FinishExchange();
  stream_.expires_after(context_->read_timeout);
  http::async_write(
      stream_, response_,
      beast::bind_front_handler(&HttpSession::OnWrite, shared_from_this(), !keep_alive));
}

void HttpSession::OnWrite(bool close, beast::error_code ec, size_t) {
  if (ec) {
    Close(/*linger=*/false);
    return;
  }
  if (close) {
    Close(linger_after_response_);
    return;
  }
  ReadHeader();
}

void HttpSession::FinishExchange() {
  if (!in_exchange_) return;
  in_exchange_ = false;
  auto elapsed = std::chrono::steady_clock::now() - exchange_.start;
  double seconds = std::chrono::duration<double>(elapsed).count();
  context_->metrics->RecordRequest(exchange_.series, exchange_.status, seconds);
  context_->metrics->RequestFinished();
  std::string duration =
      absl::StrCat(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count());
  if (exchange_.streamed) {
    context_->metrics->RecordStreamedBytes(exchange_.series, exchange_.bytes_in,
                                           exchange_.bytes_out);
    Log(LogLevel::kInfo, "http_request",
        {{"request_id", exchange_.request_id},
         {"method", exchange_.method},
         {"route", exchange_.route_label},
         {"status", std::to_string(exchange_.status)},
         {"duration_ms", duration},
         {"request_bytes", std::to_string(exchange_.bytes_in)},
         {"response_bytes", std::to_string(exchange_.bytes_out)},
         {"peer", peer_}});
    return;
  }
  Log(LogLevel::kInfo, "http_request",
      {{"request_id", exchange_.request_id},
       {"method", exchange_.method},
       {"route", exchange_.route_label},
       {"status", std::to_string(exchange_.status)},
       {"duration_ms", duration},
       {"peer", peer_}});
}

void HttpSession::Close(bool linger) {
  if (closed_) return;
  closed_ = true;
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (!linger || ec) return;
  buffer_.consume(buffer_.size());
  linger_buffer_.resize(16 * 1024);
  stream_.expires_after(kLingerTime);
  Linger();
}

void HttpSession::Linger() {
  stream_.async_read_some(net::buffer(linger_buffer_),
                          [self = shared_from_this()](beast::error_code ec, size_t bytes) {
                            self->lingered_bytes_ += bytes;
                            if (ec || self->lingered_bytes_ > kMaxLingerBytes) {
                              beast::error_code ignored;
                              self->stream_.socket().close(ignored);
                              return;
                            }
                            self->Linger();
                          });
}

}  // namespace admissions::gateway
