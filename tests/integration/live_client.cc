#include "integration/live_client.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "google/protobuf/util/json_util.h"

namespace admissions::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

google::protobuf::Struct ParseJson(const std::string& text) {
  google::protobuf::Struct out;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &out).ok()) << text;
  return out;
}

std::string Str(const google::protobuf::Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  if (it == s.fields().end()) return "";
  if (it->second.has_string_value()) return it->second.string_value();
  if (it->second.has_bool_value()) return it->second.bool_value() ? "true" : "false";
  if (!it->second.has_number_value()) return "";
  return std::to_string(static_cast<int64_t>(it->second.number_value()));
}

bool LiveClient::Connect(int port, const std::string& token) {
  beast::error_code ec;
  closed_ = false;
  close_code_ = 0;
  ws_ = std::make_unique<websocket::stream<beast::tcp_stream>>(ioc_);
  beast::get_lowest_layer(*ws_).connect(
      tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)), ec);
  if (ec) return false;
  ws_->handshake("127.0.0.1:" + std::to_string(port), "/v1/live?access_token=" + token, ec);
  if (ec) return false;
  auto ready = Next();
  return ready && Str(*ready, "type") == "ready";
}

void LiveClient::Subscribe(const std::string& room, int64_t after) {
  Send(absl::StrCat(R"({"type":"subscribe","roomId":")", room, R"(","after":")", after, R"("})"));
}

bool LiveClient::Send(const std::string& text) {
  if (ws_ == nullptr || closed_) return false;
  beast::error_code ec;
  ws_->text(true);
  ws_->write(net::buffer(text), ec);
  return !ec;
}

std::optional<google::protobuf::Struct> LiveClient::Next(absl::Duration timeout) {
  if (closed_ || ws_ == nullptr) return std::nullopt;
  std::optional<std::string> text;
  beast::error_code result;
  bool done = false;
  ws_->async_read(buf_, [&](beast::error_code ec, size_t) {
    done = true;
    result = ec;
    if (!ec) text = beast::buffers_to_string(buf_.data());
    buf_.consume(buf_.size());
  });
  ioc_.restart();
  ioc_.run_for(absl::ToChronoMilliseconds(timeout));
  if (!done) {
    beast::get_lowest_layer(*ws_).cancel();
    ioc_.restart();
    ioc_.run();
    return std::nullopt;
  }
  if (result) {
    closed_ = true;
    close_code_ = ws_->reason().code;
    return std::nullopt;
  }
  return ParseJson(*text);
}

std::optional<google::protobuf::Struct> LiveClient::NextOfType(const std::string& type,
                                                               absl::Duration timeout) {
  absl::Time until = absl::Now() + timeout;
  while (absl::Now() < until) {
    auto m = Next(until - absl::Now());
    if (!m) return std::nullopt;
    if (Str(*m, "type") == type) return m;
    skipped_.push_back(std::move(*m));
  }
  return std::nullopt;
}

void LiveClient::Cut() {
  if (ws_ == nullptr) return;
  beast::error_code ec;
  beast::get_lowest_layer(*ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
  beast::get_lowest_layer(*ws_).socket().close(ec);
  closed_ = true;
}

void LiveClient::Record(const google::protobuf::Struct& m) {
  if (Str(m, "type") != "event") return;
  const auto& ev = m.fields().at("event").struct_value();
  ids_.push_back(std::stoll(Str(ev, "id")));
  types_.push_back(Str(ev, "type"));
}

bool LiveClient::ReadEvents(size_t want, absl::Duration quiet) {
  while (ids_.size() < want) {
    auto m = Next(quiet);
    if (!m) return !closed_;
    Record(*m);
  }
  return true;
}

void LiveClient::DrainUntilClosed(absl::Duration timeout) {
  absl::Time until = absl::Now() + timeout;
  while (!closed_ && absl::Now() < until) {
    auto m = Next(absl::Seconds(1));
    if (m) Record(*m);
  }
}

void LiveClient::Reset() {
  closed_ = false;
  close_code_ = 0;
  buf_.consume(buf_.size());
  ws_.reset();
}

}  // namespace admissions::testing
