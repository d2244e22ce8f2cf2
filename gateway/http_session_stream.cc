// Streamed request and response bodies of HttpSession: stream_body routes (client-streaming
// RPCs) and stream_response routes (server-streaming RPCs returning api.v1.HttpBodyChunk).
// Every handler runs on the session's io thread; the call's events are posted to it.

#include <algorithm>
#include <cstring>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/post.hpp"
#include "common/log.h"
#include "common/status.h"
#include "gateway/http_session.h"
#include "gateway/strings.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpc/slice.h"
#include "grpcpp/support/proto_buffer_reader.h"

namespace admissions::gateway {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Event = UpstreamStream::Event;

// How long an `Expect: 100-continue` upload waits for the service to take the call (send its
// initial metadata) before the gateway sends 100 anyway. A service that refuses the first
// message (a declared size over its limit) does so well within it, and the client gets the
// refusal instead of a 100.
constexpr auto kContinueWait = std::chrono::milliseconds(250);

// One message of a streamed body: only the body field, `piece` as its value. Encoded by hand
// into one slice so that the piece is copied once.
grpc::ByteBuffer PieceMessage(const google::protobuf::FieldDescriptor* field,
                              std::string_view piece) {
  using google::protobuf::internal::WireFormatLite;
  using google::protobuf::io::CodedOutputStream;
  uint8_t header[2 * 5];
  uint8_t* end = CodedOutputStream::WriteTagToArray(
      WireFormatLite::MakeTag(field->number(), WireFormatLite::WIRETYPE_LENGTH_DELIMITED), header);
  end = CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(piece.size()), end);
  size_t header_size = static_cast<size_t>(end - header);
  grpc_slice slice = grpc_slice_malloc(header_size + piece.size());
  std::memcpy(GRPC_SLICE_START_PTR(slice), header, header_size);
  std::memcpy(GRPC_SLICE_START_PTR(slice) + header_size, piece.data(), piece.size());
  grpc::Slice owned(slice, grpc::Slice::STEAL_REF);
  return grpc::ByteBuffer(&owned, 1);
}

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsHeaderName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), IsTokenChar);
}

bool IsHeaderValue(std::string_view value) {
  return std::all_of(value.begin(), value.end(),
                     [](char c) { return c == '\t' || (c >= 0x20 && c <= 0x7e); });
}

// Headers that frame the message or the connection: the gateway alone sets them.
bool IsReservedHeader(std::string_view name) {
  for (std::string_view reserved :
       {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te",
        "trailer", "proxy-connection", "x-request-id"}) {
    if (EqualsIgnoreCase(name, reserved)) return true;
  }
  return false;
}

bool IsHttpParseError(beast::error_code ec) {
  return ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

}  // namespace

std::shared_ptr<UpstreamStream> HttpSession::NewStream(std::chrono::milliseconds deadline) {
  auto self = shared_from_this();
  auto executor = stream_.get_executor();
  auto call = std::make_shared<UpstreamStream>([self, executor](const UpstreamStream* stream,
                                                                Event event, bool ok) {
    net::post(executor, [self, stream, event, ok]() { self->OnStreamEvent(stream, event, ok); });
  });
  SetUpContext(&call->context(), deadline);
  return call;
}

bool HttpSession::StartStream(const std::shared_ptr<UpstreamStream>& call) {
  const Route& route = *exchange_.route;
  exchange_.streamed = true;
  stream_.expires_never();
  if (context_->upstreams->StartStream(route.upstream, route.grpc_method, call)) return true;
  streaming_.reset();
  SetErrorResponse(HttpErrorFromUpstream(
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "the gateway is shutting down")));
  Send();
  return false;
}

void HttpSession::OnStreamEvent(const UpstreamStream* call, Event event, bool ok) {
  // kDone is a call's last event, and streaming_ is reset only once it has been handled, so
  // an event never meets another call at the same address.
  if (!streaming_ || streaming_->call.get() != call) return;
  Streaming& s = *streaming_;
  if (event == Event::kDone) s.done = true;
  if (s.detached) {
    if (s.done && s.socket == Streaming::Socket::kIdle) streaming_.reset();
    return;
  }
  if (s.upload) {
    OnUploadEvent(event, ok);
  } else {
    OnDownloadEvent(event, ok);
  }
}

bool HttpSession::StreamSocketIdle() {
  Streaming& s = *streaming_;
  s.socket = Streaming::Socket::kIdle;
  if (s.detached) {
    if (s.done) streaming_.reset();
    return false;
  }
  if (s.ending) {
    if (s.done) AnswerUpload();
    return false;
  }
  return true;
}

void HttpSession::ReleaseStream() {
  Streaming& s = *streaming_;
  if (s.released) return;
  s.released = true;
  s.call->Release();
}

void HttpSession::AbandonStream(int status) {
  Streaming& s = *streaming_;
  s.detached = true;
  s.call->Cancel();
  ReleaseStream();
  if (in_exchange_) {
    exchange_.status = status;
    FinishExchange();
  }
  Close(/*linger=*/false);
}

// ---- Request body ----

void HttpSession::StartUpload(std::string first, std::chrono::milliseconds deadline) {
  const Route& route = *exchange_.route;
  streaming_ = std::make_unique<Streaming>();
  Streaming& s = *streaming_;
  s.upload = true;
  s.body_done = parser_->is_done();
  if (!s.body_done) {
    s.expect_continue = EqualsIgnoreCase(parser_->get()[http::field::expect], "100-continue");
    s.parser.emplace(std::move(*parser_));
    uint64_t limit = BodyLimitFor(&route);
    if (limit == std::numeric_limits<uint64_t>::max()) {
      s.parser->body_limit(boost::none);
    } else {
      s.parser->body_limit(limit);
    }
    s.piece.resize(context_->stream_chunk_bytes);
  }
  s.call = NewStream(deadline);
  if (!StartStream(s.call)) return;
  // The response is asked for at once: a failed read is how an early end shows itself while
  // the gateway waits on the client.
  s.call->Read();
  s.write_in_flight = true;
  s.call->Write(StringToByteBuffer(first), /*last=*/false);
}

void HttpSession::OnUploadEvent(Event event, bool ok) {
  Streaming& s = *streaming_;
  switch (event) {
    case Event::kInitialMetadata:
      s.metadata = ok ? 1 : -1;
      if (ok && s.continue_state == Streaming::Continue::kWaiting && !s.ending) SendContinue();
      return;
    case Event::kWriteDone:
      s.write_in_flight = false;
      if (!ok) {
        EndUploadEarly();
        return;
      }
      if (s.ending) return;
      if (!s.first_written) {
        s.first_written = true;
        if (s.expect_continue) {
          WaitForContinue();
          return;
        }
      }
      ContinueUpload();
      return;
    case Event::kReadDone:
      if (ok) s.response = s.call->TakeResponse();
      // The service answered (or failed) before the body ended.
      if (!s.writes_done) EndUploadEarly();
      return;
    case Event::kDone:
      if (s.socket == Streaming::Socket::kIdle) AnswerUpload();
      return;
  }
}

void HttpSession::WaitForContinue() {
  Streaming& s = *streaming_;
  if (s.metadata < 0) return;  // The call is ending; its failed read follows.
  if (s.metadata > 0) {
    SendContinue();
    return;
  }
  s.continue_state = Streaming::Continue::kWaiting;
  s.continue_timer.emplace(stream_.get_executor());
  s.continue_timer->expires_after(kContinueWait);
  s.continue_timer->async_wait(
      [self = shared_from_this(), call = s.call.get()](beast::error_code ec) {
        if (ec || !self->streaming_ || self->streaming_->call.get() != call) return;
        Streaming& s = *self->streaming_;
        if (s.continue_state == Streaming::Continue::kWaiting && !s.ending && !s.detached) {
          self->SendContinue();
        }
      });
}

void HttpSession::SendContinue() {
  Streaming& s = *streaming_;
  if (s.continue_timer) s.continue_timer->cancel();
  s.continue_state = Streaming::Continue::kSent;
  continue_ = {};
  continue_.version(exchange_.version);
  continue_.result(http::status::continue_);
  s.socket = Streaming::Socket::kWriting;
  stream_.expires_after(context_->read_timeout);
  http::async_write(stream_, continue_,
                    beast::bind_front_handler(&HttpSession::OnContinueSent, shared_from_this()));
}

void HttpSession::OnContinueSent(beast::error_code ec, size_t) {
  if (!StreamSocketIdle()) return;
  if (ec) {
    AbandonStream(499);
    return;
  }
  ReadPiece();
}

void HttpSession::ContinueUpload() {
  Streaming& s = *streaming_;
  if (!s.body_done) {
    s.piece_size = 0;
    ReadPiece();
    return;
  }
  if (!s.writes_done) {
    s.writes_done = true;
    s.call->WritesDone();
    ReleaseStream();
  }
}

void HttpSession::ReadPiece() {
  Streaming& s = *streaming_;
  auto& body = s.parser->get().body();
  body.data = s.piece.data() + s.piece_size;
  body.size = s.piece.size() - s.piece_size;
  s.socket = Streaming::Socket::kReading;
  stream_.expires_after(context_->stream_idle_timeout);
  http::async_read_some(stream_, buffer_, *s.parser,
                        beast::bind_front_handler(&HttpSession::OnPieceRead, shared_from_this()));
}

void HttpSession::OnPieceRead(beast::error_code ec, size_t) {
  Streaming& s = *streaming_;
  size_t filled = s.piece.size() - s.parser->get().body().size;
  exchange_.bytes_in += filled - s.piece_size;
  s.piece_size = filled;
  if (!StreamSocketIdle()) return;
  if (ec == http::error::need_buffer) ec = {};
  if (ec == http::error::body_limit) {
    AnswerUploadItself(MakeHttpError(
        grpc::StatusCode::INVALID_ARGUMENT, reason::kPayloadTooLarge,
        absl::StrCat("request body is larger than ", BodyLimitFor(exchange_.route), " bytes")));
    return;
  }
  if (ec && IsHttpParseError(ec)) {
    AnswerUploadItself(MakeHttpError(grpc::StatusCode::INVALID_ARGUMENT, reason::kInvalidArgument,
                                     absl::StrCat("malformed HTTP request: ", ec.message())));
    return;
  }
  if (ec) {
    // The client left or went quiet: the service must not keep half a body.
    AbandonStream(ec == beast::error::timeout ? 408 : 499);
    return;
  }
  if (s.parser->is_done()) {
    s.body_done = true;
    body_unread_ = false;
  }
  if (!s.body_done && s.piece_size < s.piece.size()) {
    ReadPiece();
    return;
  }
  if (s.piece_size > 0) {
    const Route& route = *exchange_.route;
    s.write_in_flight = true;
    s.call->Write(
        PieceMessage(route.stream_body_field, std::string_view(s.piece.data(), s.piece_size)),
        /*last=*/false);
    s.piece_size = 0;
    return;
  }
  ContinueUpload();
}

void HttpSession::EndUploadEarly() {
  Streaming& s = *streaming_;
  if (s.ending) return;
  s.ending = true;
  if (s.continue_timer) s.continue_timer->cancel();
  // A pending read is cancelled so that the answer goes out at once; a pending write (the
  // 100) is left to finish so that no response is cut in two.
  if (s.socket == Streaming::Socket::kReading) stream_.cancel();
  ReleaseStream();
}

void HttpSession::AnswerUploadItself(const HttpError& error) {
  Streaming& s = *streaming_;
  s.detached = true;
  s.call->Cancel();
  ReleaseStream();
  SetErrorResponse(error);
  Send();
}

void HttpSession::AnswerUpload() {
  Streaming& s = *streaming_;
  grpc::Status status = s.call->status();
  std::optional<grpc::ByteBuffer> response = std::move(s.response);
  streaming_.reset();
  // A body not read to its end (the service finished first) makes Send() close and linger.
  AnswerUpstream(status, status.ok() && response ? &*response : nullptr);
}

// ---- Response body ----

void HttpSession::StartDownload(std::string request, std::chrono::milliseconds deadline) {
  streaming_ = std::make_unique<Streaming>();
  Streaming& s = *streaming_;
  s.call = NewStream(deadline);
  if (!StartStream(s.call)) return;
  s.write_in_flight = true;
  s.call->Write(StringToByteBuffer(request), /*last=*/true);
  s.call->Read();
}

void HttpSession::OnDownloadEvent(Event event, bool ok) {
  Streaming& s = *streaming_;
  switch (event) {
    case Event::kInitialMetadata:
      return;
    case Event::kWriteDone:
      // A failed write shows again as the end of the reads.
      s.write_in_flight = false;
      return;
    case Event::kReadDone: {
      if (!ok) {
        ReleaseStream();
        return;
      }
      grpc::ByteBuffer bytes = s.call->TakeResponse();
      api::v1::HttpBodyChunk chunk;
      grpc::ProtoBufferReader reader(&bytes);
      if (!chunk.ParseFromZeroCopyStream(&reader)) {
        BreakDownload("a message that is no HttpBodyChunk");
        return;
      }
      if (!s.head_sent) {
        WriteHead(std::move(chunk));
        return;
      }
      s.data = std::move(*chunk.mutable_data());
      WriteData();
      return;
    }
    case Event::kDone:
      if (s.socket == Streaming::Socket::kIdle) FinishDownload();
      return;
  }
}

void HttpSession::WriteHead(api::v1::HttpBodyChunk chunk) {
  Streaming& s = *streaming_;
  const api::v1::HttpResponseHead& head = chunk.head();
  int status = head.status() == 0 ? 200 : head.status();
  if (status < 200 || status > 599) {
    BreakDownload(absl::StrCat("status ", status, " in the head"));
    return;
  }
  s.head.emplace();
  auto& response = *s.head;
  response.version(exchange_.version);
  response.result(static_cast<unsigned>(status));
  response.set("X-Request-Id", exchange_.request_id);
  if (!head.content_type().empty() && IsHeaderValue(head.content_type())) {
    response.set(http::field::content_type, head.content_type());
  }
  for (const auto& [name, value] : head.headers()) {
    if (!IsHeaderName(name) || !IsHeaderValue(value) || IsReservedHeader(name)) {
      Log(LogLevel::kWarn, "stream_header_dropped",
          {{"request_id", exchange_.request_id}, {"header", name}});
      continue;
    }
    response.set(name, value);
  }
  if (response.find(http::field::cache_control) == response.end()) {
    response.set(http::field::cache_control, "no-store");
  }
  bool keep_alive = exchange_.keep_alive && !draining_;
  if (status == 204 || status == 304) {
    s.content_length = 0;
  } else {
    s.content_length = head.content_length();
    if (s.content_length >= 0) {
      response.content_length(static_cast<uint64_t>(s.content_length));
    } else if (exchange_.version >= 11) {
      response.chunked(true);
    } else {
      // HTTP/1.0 has no chunks: the end of the body is the end of the connection.
      keep_alive = false;
    }
  }
  response.keep_alive(keep_alive);
  s.keep_alive = keep_alive;
  response.body().data = nullptr;
  response.body().size = 0;
  response.body().more = true;
  s.serializer.emplace(response);
  s.data = std::move(*chunk.mutable_data());
  s.head_sent = true;
  exchange_.status = status;
  s.socket = Streaming::Socket::kWriting;
  stream_.expires_after(context_->read_timeout);
  http::async_write_header(
      stream_, *s.serializer,
      beast::bind_front_handler(&HttpSession::OnHeadWritten, shared_from_this()));
}

void HttpSession::OnHeadWritten(beast::error_code ec, size_t) {
  if (!StreamSocketIdle()) return;
  if (ec) {
    AbandonStream(499);
    return;
  }
  WriteData();
}

void HttpSession::WriteData() {
  Streaming& s = *streaming_;
  if (s.data.empty()) {
    s.call->Read();
    return;
  }
  if (s.content_length >= 0 &&
      exchange_.bytes_out + s.data.size() > static_cast<uint64_t>(s.content_length)) {
    BreakDownload("more data than its content_length");
    return;
  }
  auto& body = s.head->body();
  body.data = s.data.data();
  body.size = s.data.size();
  body.more = true;
  s.socket = Streaming::Socket::kWriting;
  stream_.expires_after(context_->read_timeout);
  http::async_write(stream_, *s.serializer,
                    beast::bind_front_handler(&HttpSession::OnDataWritten, shared_from_this()));
}

void HttpSession::OnDataWritten(beast::error_code ec, size_t) {
  if (!StreamSocketIdle()) return;
  if (ec == http::error::need_buffer) ec = {};
  if (ec) {
    AbandonStream(499);
    return;
  }
  Streaming& s = *streaming_;
  exchange_.bytes_out += s.data.size();
  s.data.clear();
  s.call->Read();
}

void HttpSession::BreakDownload(std::string_view why) {
  Streaming& s = *streaming_;
  Log(LogLevel::kError, "upstream_bad_stream",
      {{"request_id", exchange_.request_id}, {"rpc", exchange_.route->grpc_method}, {"why", why}});
  s.broken = true;
  s.call->Cancel();
  ReleaseStream();
}

void HttpSession::FinishDownload() {
  Streaming& s = *streaming_;
  const Route& route = *exchange_.route;
  grpc::Status status = s.call->status();
  if (!s.head_sent) {
    bool broken = s.broken || status.ok();
    streaming_.reset();
    if (broken) {
      // The stream ended without a head, or with a bad one.
      context_->metrics->RecordUpstreamError(route.upstream);
      SetErrorResponse(
          MakeHttpError(grpc::StatusCode::INTERNAL, reason::kInternal, "internal error"));
      Send();
      return;
    }
    AnswerUpstream(status, nullptr);
    return;
  }
  bool complete =
      status.ok() && !s.broken &&
      (s.content_length < 0 || exchange_.bytes_out == static_cast<uint64_t>(s.content_length));
  if (!complete) {
    // The head is out: all the client can be told is a short body.
    if (s.broken || IsUpstreamFailure(status.error_code())) {
      context_->metrics->RecordUpstreamError(route.upstream);
    }
    Log(LogLevel::kWarn, "stream_cut_short",
        {{"request_id", exchange_.request_id},
         {"rpc", route.grpc_method},
         {"grpc_code", CodeName(static_cast<absl::StatusCode>(status.error_code()))},
         {"message", status.error_message()},
         {"bytes", std::to_string(exchange_.bytes_out)}});
    streaming_.reset();
    FinishExchange();
    Close(/*linger=*/false);
    return;
  }
  if (s.serializer->is_done()) {
    OnDownloadEnd({}, 0);
    return;
  }
  auto& body = s.head->body();
  body.data = nullptr;
  body.size = 0;
  body.more = false;
  s.socket = Streaming::Socket::kWriting;
  stream_.expires_after(context_->read_timeout);
  http::async_write(stream_, *s.serializer,
                    beast::bind_front_handler(&HttpSession::OnDownloadEnd, shared_from_this()));
}

void HttpSession::OnDownloadEnd(beast::error_code ec, size_t) {
  bool keep_alive = streaming_->keep_alive && !draining_;
  streaming_.reset();
  if (ec) exchange_.status = 499;
  FinishExchange();
  if (ec || !keep_alive) {
    Close(/*linger=*/false);
    return;
  }
  ReadHeader();
}

}  // namespace admissions::gateway
