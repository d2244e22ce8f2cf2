#pragma once

#include <chrono>
#include <memory>
#include <utility>

#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/websocket/teardown.hpp"

namespace admissions::gateway {

/// beast::tcp_stream whose WebSocket teardown (the TCP end of a close) drains what the client
/// is still sending before closing the socket. Beast 1.74's own TCP teardown stops after the
/// first read, so closing a connection whose client is in the middle of a large message
/// (1009 "message too big") resets it, and a client still writing loses the close frame it
/// was sent: it sees a broken pipe instead of 1009. Draining is bounded by the stream's
/// time (kDrainTimeout) and size (kMaxDrainBytes).
class LingeringTcpStream : public boost::beast::tcp_stream {
 public:
  static constexpr size_t kMaxDrainBytes = 16 << 20;
  static constexpr std::chrono::seconds kDrainTimeout{5};
  explicit LingeringTcpStream(boost::asio::ip::tcp::socket&& socket)
      : boost::beast::tcp_stream(std::move(socket)) {}
};

namespace detail {

template <class Handler>
struct LingeringTeardown {
  static constexpr auto kDrainTimeout = LingeringTcpStream::kDrainTimeout;
  struct State {
    LingeringTcpStream& stream;
    Handler handler;
    char buffer[4096];
    size_t drained = 0;
  };
  std::shared_ptr<State> state;

  void Start(boost::beast::role_type role) {
    boost::beast::error_code ec;
    auto& socket = state->stream.socket();
    if (role == boost::beast::role_type::server) {
      socket.shutdown(boost::asio::socket_base::shutdown_send, ec);  // FIN after the frame.
    }
    if (ec) return Done(ec);
    state->stream.expires_after(kDrainTimeout);
    Read();
  }

  void Read() {
    auto s = state;
    s->stream.async_read_some(
        boost::asio::buffer(s->buffer),
        [self = *this](boost::beast::error_code ec, size_t n) mutable {
          self.state->drained += n;
          if (!ec && self.state->drained < LingeringTcpStream::kMaxDrainBytes) return self.Read();
          // EOF is the clean end; a timeout or a reset ends the drain too.
          self.Done(ec == boost::asio::error::eof ? boost::beast::error_code{} : ec);
        });
  }

  void Done(boost::beast::error_code ec) {
    boost::beast::error_code ignored;
    state->stream.socket().close(ignored);
    auto s = state;
    boost::asio::post(s->stream.get_executor(), [s, ec]() mutable { std::move(s->handler)(ec); });
  }
};

}  // namespace detail

/// Found by argument-dependent lookup from beast::websocket::stream<LingeringTcpStream>.
template <class TeardownHandler>
void async_teardown(boost::beast::role_type role, LingeringTcpStream& stream,
                    TeardownHandler&& handler) {
  using H = std::decay_t<TeardownHandler>;
  detail::LingeringTeardown<H> op{std::make_shared<typename detail::LingeringTeardown<H>::State>(
      typename detail::LingeringTeardown<H>::State{
          stream, std::forward<TeardownHandler>(handler), {}, 0})};
  op.Start(role);
}

inline void teardown(boost::beast::role_type role, LingeringTcpStream& stream,
                     boost::beast::error_code& ec) {
  boost::beast::websocket::teardown(role, stream.socket(), ec);
}

}  // namespace admissions::gateway
