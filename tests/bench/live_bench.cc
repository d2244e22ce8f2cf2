// live-bench: the live channel under many subscribers (issue 7's benchmark).
//
//   live-bench --gateway=127.0.0.1:PORT --token=EXAMINER_TOKEN --rooms=FILE
//              --subscribers=2000 --messages=200 --redis=127.0.0.1:PORT [--gateway_pid=PID]
//
// 1. Opens --subscribers WebSocket connections to GET /v1/live (one io thread), each
//    authenticated with the token and subscribed to one room of FILE (round robin).
//    With --gateway_pid, reads the gateway's VmRSS before connecting and once every
//    connection is subscribed and idle: memory per idle subscriber.
// 2. --messages times, for room after room: POSTs a group message with a unique text to
//    /v1/examiner/rooms/{room}/messages and measures the time from just before the POST
//    until the LAST subscriber of that room has received it: p50 and p99.
// 3. The baseline, in the same run: a Redis PUBLISH until its SUBSCRIBE connection
//    receives it, --messages times (hiredis, two connections): p50 and p99.
//
// Prints one `key value` line per figure for tests/bench/live_bench.sh to read.
#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench_stats.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/strand.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/websocket.hpp"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  std::string port;
  std::string token;
  std::string rooms_file;
  int subscribers = 2000;
  int messages = 200;
  std::string redis_host = "127.0.0.1";
  int redis_port = 0;
  int gateway_pid = 0;
};

// The text of the message a round waits for, and who has seen it.
struct Round {
  std::mutex mu;
  std::condition_variable cv;
  std::string marker;  // Empty between rounds.
  std::string room;
  int expected = 0;
  int seen = 0;
  Clock::time_point last;
};

class Subscriber : public std::enable_shared_from_this<Subscriber> {
 public:
  Subscriber(net::io_context& ioc, const Options& opt, std::string room, Round* round,
             std::atomic<int>* ready, std::atomic<int>* failed)
      : ws_(net::make_strand(ioc)),
        opt_(opt),
        room_(std::move(room)),
        round_(round),
        ready_(ready),
        failed_(failed) {}

  void Start(const tcp::resolver::results_type& endpoints) {
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(30));
    beast::get_lowest_layer(ws_).async_connect(endpoints, [self = shared_from_this()](
                                                              beast::error_code ec, auto) {
      if (ec) return self->Fail("connect", ec);
      beast::get_lowest_layer(self->ws_).expires_never();
      self->ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
      self->ws_.async_handshake(self->opt_.host + ":" + self->opt_.port,
                                "/v1/live?access_token=" + self->opt_.token,
                                [self](beast::error_code ec) {
                                  if (ec) return self->Fail("handshake", ec);
                                  self->Read();  // `ready` first, then the subscribe.
                                });
    });
  }

 private:
  void Send(std::string text) {
    out_ = std::move(text);
    ws_.async_write(net::buffer(out_), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) self->Fail("write", ec);
    });
  }

  void Read() {
    ws_.async_read(buf_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Fail("read", ec);
      self->OnMessage(beast::buffers_to_string(self->buf_.data()));
      self->buf_.consume(self->buf_.size());
      self->Read();
    });
  }

  void OnMessage(const std::string& text) {
    if (!sent_subscribe_ && text.find(R"("type":"ready")") != std::string::npos) {
      sent_subscribe_ = true;
      Send(absl::StrCat(R"({"type":"subscribe","roomId":")", room_, R"(","after":"0"})"));
      return;
    }
    if (!subscribed_ && text.find(R"("type":"subscribed")") != std::string::npos) {
      subscribed_ = true;
      ++*ready_;
      return;
    }
    if (text.find(R"("type":"error")") != std::string::npos) {
      std::cerr << "live-bench: error from the gateway: " << text << "\n";
      ++*failed_;
      return;
    }
    if (text.find(R"("type":"event")") == std::string::npos) return;
    std::lock_guard<std::mutex> lock(round_->mu);
    if (round_->marker.empty() || round_->room != room_) return;
    if (text.find(round_->marker) == std::string::npos) return;
    ++round_->seen;
    round_->last = Clock::now();
    if (round_->seen == round_->expected) round_->cv.notify_all();
  }

  void Fail(const char* what, beast::error_code ec) {
    if (done_) return;
    done_ = true;
    if (ec == net::error::operation_aborted) return;
    std::cerr << "live-bench: " << what << ": " << ec.message() << "\n";
    ++*failed_;
  }

  websocket::stream<beast::tcp_stream> ws_;
  const Options& opt_;
  std::string room_;
  Round* round_;
  std::atomic<int>* ready_;
  std::atomic<int>* failed_;
  beast::flat_buffer buf_;
  std::string out_;
  bool sent_subscribe_ = false;
  bool subscribed_ = false;
  bool done_ = false;
};

long RssKiB(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      long kib = 0;
      std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &kib)) return kib;
    }
  }
  return -1;
}

// POST `body` to `target` on a fresh connection; the status.
int Post(const Options& opt, const std::string& target, const std::string& body) {
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  stream.connect(resolver.resolve(opt.host, opt.port));
  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, opt.host);
  req.set(http::field::authorization, "Bearer " + opt.token);
  req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  if (res.result_int() >= 300) std::cerr << "live-bench: POST answered " << res.body() << "\n";
  return res.result_int();
}

using admissions::bench::Percentile;

// PUBLISH → SUBSCRIBE round trips on the same Redis, `n` times, in milliseconds.
std::vector<double> RedisRoundTrips(const Options& opt, int n) {
  std::vector<double> out;
  redisContext* sub = redisConnect(opt.redis_host.c_str(), opt.redis_port);
  redisContext* pub = redisConnect(opt.redis_host.c_str(), opt.redis_port);
  if (sub == nullptr || sub->err || pub == nullptr || pub->err) {
    std::cerr << "live-bench: cannot connect to Redis\n";
    return out;
  }
  auto* r = static_cast<redisReply*>(redisCommand(sub, "SUBSCRIBE live-bench"));
  freeReplyObject(r);
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    r = static_cast<redisReply*>(redisCommand(pub, "PUBLISH live-bench m%d", i));
    freeReplyObject(r);
    void* reply = nullptr;
    if (redisGetReply(sub, &reply) != REDIS_OK) break;
    freeReplyObject(reply);
    out.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  redisFree(sub);
  redisFree(pub);
  return out;
}

bool ParseArgs(int argc, char** argv, Options* opt) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      std::string prefix = std::string("--") + name + "=";
      return a.rfind(prefix, 0) == 0 ? argv[i] + prefix.size() : nullptr;
    };
    if (const char* v = value("gateway")) {
      std::vector<std::string> hp = absl::StrSplit(v, ':');
      if (hp.size() != 2) return false;
      opt->host = hp[0];
      opt->port = hp[1];
    } else if (const char* v = value("token")) {
      opt->token = v;
    } else if (const char* v = value("rooms")) {
      opt->rooms_file = v;
    } else if (const char* v = value("subscribers")) {
      if (!absl::SimpleAtoi(v, &opt->subscribers)) return false;
    } else if (const char* v = value("messages")) {
      if (!absl::SimpleAtoi(v, &opt->messages)) return false;
    } else if (const char* v = value("redis")) {
      std::vector<std::string> hp = absl::StrSplit(v, ':');
      if (hp.size() != 2 || !absl::SimpleAtoi(hp[1], &opt->redis_port)) return false;
      opt->redis_host = hp[0];
    } else if (const char* v = value("gateway_pid")) {
      if (!absl::SimpleAtoi(v, &opt->gateway_pid)) return false;
    } else {
      return false;
    }
  }
  return !opt->port.empty() && !opt->token.empty() && !opt->rooms_file.empty() &&
         opt->subscribers > 0 && opt->messages > 0 && opt->redis_port > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (!ParseArgs(argc, argv, &opt)) {
    std::cerr << "usage: live-bench --gateway=HOST:PORT --token=T --rooms=FILE "
                 "--subscribers=N --messages=M --redis=HOST:PORT [--gateway_pid=PID]\n";
    return 2;
  }
  std::vector<std::string> rooms;
  {
    std::ifstream in(opt.rooms_file);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) rooms.push_back(line);
    }
  }
  if (rooms.empty()) {
    std::cerr << "live-bench: no rooms in " << opt.rooms_file << "\n";
    return 2;
  }

  const long rss_before = opt.gateway_pid ? RssKiB(opt.gateway_pid) : -1;
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  auto endpoints = resolver.resolve(opt.host, opt.port);
  Round round;
  std::atomic<int> ready{0}, failed{0};
  std::map<std::string, int> per_room;
  std::vector<std::shared_ptr<Subscriber>> subs;
  for (int i = 0; i < opt.subscribers; ++i) {
    const std::string& room = rooms[i % rooms.size()];
    ++per_room[room];
    subs.push_back(std::make_shared<Subscriber>(ioc, opt, room, &round, &ready, &failed));
  }
  // Connect in batches so that the listen backlog never overflows.
  std::thread io([&] {
    auto guard = net::make_work_guard(ioc);
    ioc.run();
  });
  auto started = Clock::now();
  for (size_t i = 0; i < subs.size(); ++i) {
    net::post(ioc, [s = subs[i], &endpoints] { s->Start(endpoints); });
    if (i % 100 == 99) {
      while (ready.load() + failed.load() + 50 < static_cast<int>(i) &&
             Clock::now() - started < std::chrono::seconds(120)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
  }
  while (ready.load() + failed.load() < opt.subscribers &&
         Clock::now() - started < std::chrono::seconds(120)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double connect_s = std::chrono::duration<double>(Clock::now() - started).count();
  if (failed.load() > 0 || ready.load() < opt.subscribers) {
    std::cerr << "live-bench: " << ready.load() << " of " << opt.subscribers << " subscribed, "
              << failed.load() << " failed\n";
    ioc.stop();
    io.join();
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));  // Let them settle idle.
  const long rss_idle = opt.gateway_pid ? RssKiB(opt.gateway_pid) : -1;

  std::vector<double> fanout;
  for (int m = 0; m < opt.messages; ++m) {
    const std::string& room = rooms[m % rooms.size()];
    std::string marker = absl::StrCat("bench-", m, "-", Clock::now().time_since_epoch().count());
    {
      std::lock_guard<std::mutex> lock(round.mu);
      round.marker = marker;
      round.room = room;
      round.expected = per_room[room];
      round.seen = 0;
    }
    auto t0 = Clock::now();
    int status = Post(opt, "/v1/examiner/rooms/" + room + "/messages",
                      absl::StrCat(R"({"text":")", marker, R"("})"));
    if (status >= 300) {
      ioc.stop();
      io.join();
      return 1;
    }
    std::unique_lock<std::mutex> lock(round.mu);
    if (!round.cv.wait_for(lock, std::chrono::seconds(10),
                           [&] { return round.seen == round.expected; })) {
      std::cerr << "live-bench: message " << m << " reached " << round.seen << " of "
                << round.expected << " subscribers in 10 s\n";
      lock.unlock();
      ioc.stop();
      io.join();
      return 1;
    }
    fanout.push_back(std::chrono::duration<double, std::milli>(round.last - t0).count());
    round.marker.clear();
  }
  ioc.stop();
  io.join();

  std::vector<double> redis = RedisRoundTrips(opt, opt.messages);
  std::cout << "subscribers " << opt.subscribers << "\n"
            << "rooms " << rooms.size() << "\n"
            << "connect_seconds " << connect_s << "\n"
            << "fanout_p50_ms " << Percentile(fanout, 0.5) << "\n"
            << "fanout_p99_ms " << Percentile(fanout, 0.99) << "\n"
            << "redis_p50_ms " << Percentile(redis, 0.5) << "\n"
            << "redis_p99_ms " << Percentile(redis, 0.99) << "\n";
  if (rss_before >= 0 && rss_idle >= 0) {
    std::cout << "gateway_rss_before_kib " << rss_before << "\n"
              << "gateway_rss_idle_kib " << rss_idle << "\n"
              << "kib_per_idle_subscriber "
              << static_cast<double>(rss_idle - rss_before) / opt.subscribers << "\n";
  }
  return 0;
}
