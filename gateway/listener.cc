#include "gateway/listener.h"

#include "absl/strings/str_cat.h"
#include "boost/asio/dispatch.hpp"
#include "boost/asio/strand.hpp"
#include "boost/beast/core/bind_handler.hpp"
#include "common/log.h"

namespace admissions::gateway {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);

}  // namespace

Listener::Listener(net::io_context& io, ExecutorFn next_executor, AcceptFn on_accept)
    : io_(io),
      next_executor_(std::move(next_executor)),
      acceptor_(io),
      retry_timer_(io),
      on_accept_(std::move(on_accept)) {}

absl::Status Listener::Open(const tcp::endpoint& endpoint) {
  beast::error_code ec;
  auto fail = [&](std::string_view what) {
    return absl::UnavailableError(absl::StrCat(std::string(what), " ",
                                               endpoint.address().to_string(), ":", endpoint.port(),
                                               ": ", ec.message()));
  };
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return fail("cannot open");
  acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (ec) return fail("cannot set SO_REUSEADDR on");
  acceptor_.bind(endpoint, ec);
  if (ec) return fail("cannot bind");
  acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail("cannot listen on");
  port_ = acceptor_.local_endpoint(ec).port();
  if (ec) return fail("cannot read the port of");
  return absl::OkStatus();
}

uint16_t Listener::port() const { return port_; }

void Listener::Run() {
  net::dispatch(io_, beast::bind_front_handler(&Listener::Accept, shared_from_this()));
}

void Listener::Stop() {
  net::dispatch(io_, [self = shared_from_this()]() {
    self->stopped_ = true;
    beast::error_code ec;
    self->retry_timer_.cancel();
    self->acceptor_.close(ec);
  });
}

void Listener::Accept() {
  if (stopped_) return;
  acceptor_.async_accept(next_executor_(),
                         beast::bind_front_handler(&Listener::OnAccept, shared_from_this()));
}

void Listener::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (stopped_ || ec == net::error::operation_aborted) return;
  if (ec) {
    // Out of descriptors and the like: wait a little rather than spin.
    Log(LogLevel::kWarn, "accept_failed", {{"error", ec.message()}});
    retry_timer_.expires_after(kAcceptRetryDelay);
    retry_timer_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
      if (!wait_ec) self->Accept();
    });
    return;
  }
  // Small frames (a WebSocket signal, an event) go out at once instead of waiting for the
  // client's delayed ACK (Nagle): up to 40 ms per message otherwise. Bodies are written in
  // few large writes, so nothing is lost for them.
  beast::error_code nodelay_ec;
  socket.set_option(tcp::no_delay(true), nodelay_ec);
  on_accept_(std::move(socket));
  Accept();
}

}  // namespace admissions::gateway
