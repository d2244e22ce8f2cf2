#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "boost/asio/io_context.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/websocket.hpp"
#include "google/protobuf/struct.pb.h"

namespace admissions::testing {

/// A JSON object (a live-channel message) as a Struct; a test failure when it is not one.
google::protobuf::Struct ParseJson(const std::string& text);
/// The field as text: strings as they are, numbers as integers, "" when absent or an object.
std::string Str(const google::protobuf::Struct& s, const std::string& key);

/// One synchronous WebSocket client of GET /v1/live for tests; every wait is bounded.
class LiveClient {
 public:
  /// Connects with ?access_token= and waits for `ready`; false when that did not happen.
  bool Connect(int port, const std::string& token);
  void Subscribe(const std::string& room, int64_t after);
  /// Sends a text frame; false when the write failed.
  bool Send(const std::string& text);
  /// The next message, or nullopt on timeout or a closed connection (closed() says which).
  /// A timeout cancels the read, which leaves the WebSocket unusable: wait for something
  /// known to come rather than for silence, unless nothing is read afterwards.
  std::optional<google::protobuf::Struct> Next(absl::Duration timeout = absl::Seconds(5));
  /// Reads until a message of `type` arrives (others are kept in skipped()), or nullopt.
  std::optional<google::protobuf::Struct> NextOfType(const std::string& type,
                                                     absl::Duration timeout = absl::Seconds(5));
  /// Cuts the TCP connection without a close handshake (a phone losing its network).
  void Cut();

  /// Reads events until `want` event ids have arrived in total or nothing comes for
  /// `quiet`; records every id. False when the connection closed.
  bool ReadEvents(size_t want, absl::Duration quiet = absl::Seconds(5));
  /// Reads until the connection closes (the gateway going away), keeping events.
  void DrainUntilClosed(absl::Duration timeout);
  /// Forgets the connection (not the events read), for a reconnect.
  void Reset();

  int64_t last_id() const { return ids_.empty() ? 0 : ids_.back(); }
  const std::vector<int64_t>& ids() const { return ids_; }
  const std::vector<std::string>& types() const { return types_; }
  const std::vector<google::protobuf::Struct>& skipped() const { return skipped_; }
  bool closed() const { return closed_; }
  int close_code() const { return close_code_; }

 private:
  void Record(const google::protobuf::Struct& m);

  boost::asio::io_context ioc_;
  std::unique_ptr<boost::beast::websocket::stream<boost::beast::tcp_stream>> ws_;
  boost::beast::flat_buffer buf_;
  std::vector<int64_t> ids_;
  std::vector<std::string> types_;
  std::vector<google::protobuf::Struct> skipped_;
  bool closed_ = false;
  int close_code_ = 0;
};

}  // namespace admissions::testing
