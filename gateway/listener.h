#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/strand.hpp"
#include "boost/beast/core/error.hpp"

namespace admissions::gateway {

/// Accepts TCP connections and hands each socket, bound to the executor that
/// `next_executor` picks (one single-threaded io_context per io thread, round robin),
/// to `on_accept`.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  using AcceptFn = std::function<void(boost::asio::ip::tcp::socket&&)>;
  using ExecutorFn = std::function<boost::asio::any_io_executor()>;

  /// `io` runs on one thread only: the acceptor needs no strand.
  Listener(boost::asio::io_context& io, ExecutorFn next_executor, AcceptFn on_accept);

  /// Opens, binds (address reuse on) and listens. The error names the endpoint.
  absl::Status Open(const boost::asio::ip::tcp::endpoint& endpoint);
  /// The bound port (the real one when opened with port 0).
  uint16_t port() const;
  /// Starts accepting.
  void Run();
  /// Thread-safe: stops accepting and closes the socket.
  void Stop();

 private:
  void Accept();
  void OnAccept(boost::beast::error_code ec, boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& io_;
  ExecutorFn next_executor_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
  AcceptFn on_accept_;
  uint16_t port_ = 0;
  bool stopped_ = false;
};

}  // namespace admissions::gateway
