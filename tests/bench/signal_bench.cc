// signal-bench: the interview's signal relay latency (issue 8's benchmark).
//
//   signal-bench --gateway=127.0.0.1:PORT --room=ROOM --sender_token=EXAMINER_TOKEN
//                --receiver_token=CANDIDATE_TOKEN --redis=127.0.0.1:PORT
//                [--messages=10000] [--rate=1000] [--warmup=500] [--window=0]
//                [--gateway_pid=PID] [--service_pid=PID] [--redis_pid=PID] [--trace=FILE]
//
// 1. Two WebSocket connections to GET /v1/live, each on an io thread of its own: the
//    receiver (the candidate) joins the interview session of ROOM first, then the sender
//    (the examiner), who addresses the receiver's peer id from its `joined`.
// 2. The sender sends --warmup, then --messages `candidate` signals to the receiver, open
//    loop at --rate a second (message i is due at start + i / rate; a late timer sends
//    every message that is due). Each candidate line carries the message's number and the
//    steady-clock time at which it was handed to the connection's write queue; the
//    receiver takes the difference on arrival. Every message must arrive, in the order
//    sent (numbers and the relay's `seq` both increasing): a loss, a reordering or an
//    `error` from the gateway fails the run.
//    With --window=W, closed loop instead: W signals in flight, each arrival letting the
//    next one go, and no baseline: the most one connection's signals can go through.
// 3. The baseline, in the same run: Redis PUBLISH on one connection, paced the same way,
//    received by SUBSCRIBE on another (hiredis, a thread each), as many messages, each
//    carrying its send time.
//
// With --quickack (a diagnosis, not what a browser does), the receiver's socket acknowledges
// at once instead of delaying its ACKs. With --trace, each measured signal's number, send time and
// latency go to FILE. With the pids, the CPU time (user + system) each process used during each
// phase. Prints one `key value` line per figure for tests/bench/signal_bench.sh to read; exits 1
// when the run is not valid.
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "bench_stats.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/websocket.hpp"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  std::string port;
  std::string room;
  std::string sender_token;
  std::string receiver_token;
  int messages = 10000;
  int rate = 1000;
  int warmup = 500;
  int window = 0;         // > 0: closed loop, this many signals in flight, no pacing.
  bool quickack = false;  // The receiver re-arms TCP_QUICKACK after every read.
  std::string redis_host = "127.0.0.1";
  int redis_port = 0;
  int gateway_pid = 0;
  int service_pid = 0;
  int redis_pid = 0;
  std::string trace_file;  // "<n> <send ns> <latency ms>" per measured signal, if set.
};

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// The string value of `"key":"..."` after `from` in a flat JSON text (no escapes expected).
std::string StringField(absl::string_view text, absl::string_view key, size_t from = 0) {
  std::string needle = absl::StrCat("\"", key, "\":\"");
  size_t at = text.find(needle, from);
  if (at == absl::string_view::npos) return "";
  at += needle.size();
  size_t end = text.find('"', at);
  if (end == absl::string_view::npos) return "";
  return std::string(text.substr(at, end - at));
}

// What the receiver saw; written by its io thread, read by main once the run is over.
struct Received {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<double> latency_ms;                    // Measured messages only, in arrival order.
  std::vector<std::pair<int64_t, int64_t>> sent_at;  // Their numbers and send times.
  int64_t next = 0;                                  // The number of the next message expected.
  int64_t arrived = 0;                               // Every signal, warm-up included.
  int64_t out_of_order = 0;                          // Arrived after a later-numbered one.
  int64_t lost = 0;  // Skipped over (the sender got an error for most).
  int64_t relay_seq_regressions = 0;
  int64_t last_relay_seq = 0;
  int64_t other_messages = 0;  // peer-joined, peer-updated, ...
  // `lastSeq` of the receiver's `joined`: what a session kept from an earlier run is
  // delivered again up to it, and is not part of this one.
  int64_t replay_through = 0;
  int64_t replayed = 0;
  int64_t first_measured_sent_ns = 0;
  int64_t last_arrival_ns = 0;
  std::function<void()> on_arrival;  // Set before the run; called after each signal.
  std::string first_problem;
};

// One /v1/live connection: authenticates, joins ROOM, then reads until stopped. The
// sender side queues outgoing text frames with one write in flight.
class Client : public std::enable_shared_from_this<Client> {
 public:
  Client(net::io_context& ioc, const Options& opt, std::string name, std::string token,
         Received* received, std::atomic<int>* errors)
      : ws_(ioc),
        opt_(opt),
        name_(std::move(name)),
        token_(std::move(token)),
        received_(received),
        errors_(errors) {}

  void Start(const tcp::resolver::results_type& endpoints) {
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(30));
    beast::get_lowest_layer(ws_).async_connect(endpoints, [self = shared_from_this()](
                                                              beast::error_code ec, auto) {
      if (ec) return self->Fail("connect", ec);
      beast::get_lowest_layer(self->ws_).expires_never();
      beast::get_lowest_layer(self->ws_).socket().set_option(tcp::no_delay(true));
      self->ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
      self->ws_.async_handshake(self->opt_.host + ":" + self->opt_.port,
                                "/v1/live?access_token=" + self->token_,
                                [self](beast::error_code ec) {
                                  if (ec) return self->Fail("handshake", ec);
                                  self->Read();
                                });
    });
  }

  // Runs on the io thread.
  void Send(std::string text) {
    out_.push_back(std::move(text));
    if (out_.size() == 1) WriteNext();
  }

  void Close() {
    net::post(ws_.get_executor(), [self = shared_from_this()] {
      self->closing_ = true;
      beast::error_code ec;
      beast::get_lowest_layer(self->ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
      beast::get_lowest_layer(self->ws_).close();
    });
  }

  // Set once `joined` arrived (or the join failed): joined() then tells which.
  bool WaitJoined(std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return join_done_; });
    return joined_;
  }
  std::string self_peer_id() {
    std::lock_guard<std::mutex> lock(mu_);
    return self_peer_id_;
  }
  size_t max_queued() const { return max_queued_; }

 private:
  void WriteNext() {
    max_queued_ = std::max(max_queued_, out_.size());
    ws_.async_write(net::buffer(out_.front()),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      if (ec) return self->Fail("write", ec);
                      self->out_.pop_front();
                      if (!self->out_.empty()) self->WriteNext();
                    });
  }

  void Read() {
    if (opt_.quickack && received_ != nullptr) {
      int one = 1;
      setsockopt(beast::get_lowest_layer(ws_).socket().native_handle(), IPPROTO_TCP, TCP_QUICKACK,
                 &one, sizeof one);
    }
    ws_.async_read(buf_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Fail("read", ec);
      self->OnMessage(beast::buffers_to_string(self->buf_.data()));
      self->buf_.consume(self->buf_.size());
      self->Read();
    });
  }

  void OnMessage(const std::string& text) {
    const int64_t now = NowNs();
    const std::string type = StringField(text, "type");
    if (type == "signal" && received_ != nullptr) return OnSignal(text, now);
    if (type == "ready") {
      Send(absl::StrCat(R"({"type":"join","id":"bench-join","roomId":")", opt_.room, R"("})"));
      return;
    }
    if (type == "joined") {
      if (received_ != nullptr) {
        std::lock_guard<std::mutex> lock(received_->mu);
        absl::SimpleAtoi(StringField(text, "lastSeq"), &received_->replay_through);
      }
      size_t self_at = text.find("\"self\":");
      std::lock_guard<std::mutex> lock(mu_);
      self_peer_id_ = self_at == std::string::npos ? "" : StringField(text, "peerId", self_at);
      joined_ = !self_peer_id_.empty();
      join_done_ = true;
      cv_.notify_all();
      return;
    }
    if (type == "error" || type == "session-ended" || type == "replaced") {
      if (errors_->fetch_add(1) < 5)
        std::cerr << "signal-bench: " << name_ << " got " << text << "\n";
      std::lock_guard<std::mutex> lock(mu_);
      if (!join_done_) {
        join_done_ = true;
        cv_.notify_all();
      }
      return;
    }
    if (received_ != nullptr) {
      std::lock_guard<std::mutex> lock(received_->mu);
      ++received_->other_messages;
    }
  }

  // The candidate line is "candidate:<n> 1 udp 2122260223 192.0.2.1 <port> typ host
  // bench <send ns>".
  void OnSignal(const std::string& text, int64_t now) {
    if (!Record(text, now)) return;
    std::function<void()> next;
    {
      std::lock_guard<std::mutex> lock(received_->mu);
      next = received_->on_arrival;
    }
    if (next) next();
  }

  // False for a signal of an earlier run.
  bool Record(const std::string& text, int64_t now) {
    const std::string line = StringField(text, "candidate");
    const std::string relay_seq = StringField(text, "seq");
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
    int64_t n = -1, sent = 0, seq = 0;
    bool ok = parts.size() == 10 && absl::ConsumePrefix(&parts[0], "candidate:") &&
              absl::SimpleAtoi(parts[0], &n) && absl::SimpleAtoi(parts[9], &sent) &&
              absl::SimpleAtoi(relay_seq, &seq);
    std::lock_guard<std::mutex> lock(received_->mu);
    if (ok && seq <= received_->replay_through) {
      ++received_->replayed;
      received_->last_relay_seq = seq;
      return false;
    }
    ++received_->arrived;
    if (!ok) {
      if (received_->first_problem.empty()) received_->first_problem = "unreadable: " + text;
      ++received_->out_of_order;
      return true;
    }
    if (seq <= received_->last_relay_seq) ++received_->relay_seq_regressions;
    received_->last_relay_seq = seq;
    if (n != received_->next) {
      if (n > received_->next) {
        received_->lost += n - received_->next;
      } else {
        ++received_->out_of_order;
      }
      if (received_->first_problem.empty()) {
        received_->first_problem = absl::StrCat("expected message ", received_->next, ", got ", n);
      }
    }
    received_->next = std::max(received_->next, n + 1);
    if (n >= opt_.warmup) {
      if (received_->latency_ms.empty()) received_->first_measured_sent_ns = sent;
      received_->last_arrival_ns = now;
      received_->latency_ms.push_back((now - sent) / 1e6);
      received_->sent_at.emplace_back(n, sent);
    }
    received_->cv.notify_all();
    return true;
  }

  void Fail(const char* what, beast::error_code ec) {
    if (closing_ || ec == net::error::operation_aborted) return;
    std::cerr << "signal-bench: " << name_ << ": " << what << ": " << ec.message() << "\n";
    ++*errors_;
    std::lock_guard<std::mutex> lock(mu_);
    join_done_ = true;
    cv_.notify_all();
  }

  websocket::stream<beast::tcp_stream> ws_;
  const Options& opt_;
  std::string name_;
  std::string token_;
  Received* received_;  // The receiver's only.
  std::atomic<int>* errors_;
  beast::flat_buffer buf_;
  std::deque<std::string> out_;
  size_t max_queued_ = 0;
  bool closing_ = false;

  std::mutex mu_;
  std::condition_variable cv_;
  bool join_done_ = false;
  bool joined_ = false;
  std::string self_peer_id_;
};

// Sends `total` messages, message i due at start + i / rate, through `send(i)` on the
// sender's io thread; returns how late the latest message went out, in milliseconds.
class Pacer {
 public:
  Pacer(net::io_context& ioc, int64_t total, int rate, std::function<void(int64_t)> send)
      : timer_(ioc), total_(total), rate_(rate), send_(std::move(send)) {}

  void Start(std::function<void()> done) {
    done_ = std::move(done);
    start_ = Clock::now();
    Tick();
  }
  double max_late_ms() const { return max_late_ms_; }

 private:
  Clock::time_point Due(int64_t i) const {
    return start_ + std::chrono::nanoseconds(i * 1000000000LL / rate_);
  }
  void Tick() {
    const auto now = Clock::now();
    while (next_ < total_ && Due(next_) <= now) {
      max_late_ms_ = std::max(max_late_ms_,
                              std::chrono::duration<double, std::milli>(now - Due(next_)).count());
      send_(next_++);
    }
    if (next_ == total_) return done_();
    timer_.expires_at(Due(next_));
    timer_.async_wait([this](beast::error_code ec) {
      if (!ec) Tick();
    });
  }

  net::steady_timer timer_;
  int64_t total_;
  int rate_;
  std::function<void(int64_t)> send_;
  std::function<void()> done_;
  Clock::time_point start_;
  int64_t next_ = 0;
  double max_late_ms_ = 0;
};

// CPU seconds (user + system) a process has used so far; -1 when unknown.
double CpuSeconds(int pid) {
  if (pid <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {  // Field 3 is the state.
    if (i == 14) absl::SimpleAtoi(f, &utime);
    if (i == 15) absl::SimpleAtoi(f, &stime);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct CpuWatch {
  std::vector<std::pair<std::string, int>> procs;
  std::vector<double> start;
  Clock::time_point t0;
  void Begin() {
    start.clear();
    for (const auto& p : procs) start.push_back(CpuSeconds(p.second));
    t0 = Clock::now();
  }
  // `PREFIX_cpu_NAME_percent V` (of one core) for each process whose figures are known.
  void Print(const std::string& prefix) const {
    const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    for (size_t i = 0; i < procs.size(); ++i) {
      double end = CpuSeconds(procs[i].second);
      if (start[i] < 0 || end < 0 || wall <= 0) continue;
      std::cout << prefix << "_cpu_" << procs[i].first << "_percent "
                << 100.0 * (end - start[i]) / wall << "\n";
    }
  }
};

using admissions::bench::Percentile;

void PrintLatencies(const std::string& prefix, const std::vector<double>& v) {
  std::cout << prefix << "_p50_ms " << Percentile(v, 0.5) << "\n"
            << prefix << "_p99_ms " << Percentile(v, 0.99) << "\n"
            << prefix << "_max_ms " << (v.empty() ? 0 : *std::max_element(v.begin(), v.end()))
            << "\n";
}

using RedisContext = std::unique_ptr<redisContext, decltype(&redisFree)>;
using RedisReply = std::unique_ptr<redisReply, decltype(&freeReplyObject)>;

RedisContext RedisConnect(const Options& opt) {
  RedisContext c(redisConnect(opt.redis_host.c_str(), opt.redis_port), &redisFree);
  if (c == nullptr || c->err) return RedisContext(nullptr, &redisFree);
  return c;
}

// The baseline: PUBLISH paced like the signals, SUBSCRIBE on its own connection and
// thread; each message "<n> <send ns>". Latencies of every message after the warm-up;
// false when one was lost or reordered.
bool RedisBaseline(const Options& opt, std::vector<double>* latency, double* max_late_ms) {
  RedisContext sub = RedisConnect(opt);
  RedisContext pub = RedisConnect(opt);
  if (sub == nullptr || pub == nullptr) {
    std::cerr << "signal-bench: cannot connect to Redis\n";
    return false;
  }
  const std::string channel = absl::StrCat("signal-bench:", getpid());
  {
    const char* argv[] = {"SUBSCRIBE", channel.c_str()};
    RedisReply r(static_cast<redisReply*>(redisCommandArgv(sub.get(), 2, argv, nullptr)),
                 &freeReplyObject);
    if (r == nullptr) return false;
  }
  const int64_t total = static_cast<int64_t>(opt.warmup) + opt.messages;
  bool in_order = true;
  std::thread receiver([&] {
    for (int64_t expected = 0; expected < total; ++expected) {
      void* raw = nullptr;
      if (redisGetReply(sub.get(), &raw) != REDIS_OK) {
        in_order = false;
        return;
      }
      const int64_t now = NowNs();
      RedisReply r(static_cast<redisReply*>(raw), &freeReplyObject);
      if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
        in_order = false;
        return;
      }
      std::vector<absl::string_view> parts =
          absl::StrSplit(absl::string_view(r->element[2]->str, r->element[2]->len), ' ');
      int64_t n = -1, sent = 0;
      if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &n) ||
          !absl::SimpleAtoi(parts[1], &sent) || n != expected) {
        in_order = false;
        return;
      }
      if (n >= opt.warmup) latency->push_back((now - sent) / 1e6);
    }
  });
  const auto start = Clock::now();
  for (int64_t i = 0; i < total; ++i) {
    const auto due = start + std::chrono::nanoseconds(i * 1000000000LL / opt.rate);
    std::this_thread::sleep_until(due);
    *max_late_ms = std::max(*max_late_ms,
                            std::chrono::duration<double, std::milli>(Clock::now() - due).count());
    const std::string body = absl::StrCat(i, " ", NowNs());
    const char* argv[] = {"PUBLISH", channel.c_str(), body.c_str()};
    const size_t lens[] = {7, channel.size(), body.size()};
    RedisReply r(static_cast<redisReply*>(redisCommandArgv(pub.get(), 3, argv, lens)),
                 &freeReplyObject);
    if (r == nullptr) {
      in_order = false;
      break;
    }
  }
  receiver.join();
  return in_order && latency->size() == static_cast<size_t>(opt.messages);
}

bool ParseHostPort(const char* v, std::string* host, std::string* port) {
  std::vector<std::string> hp = absl::StrSplit(v, ':');
  if (hp.size() != 2) return false;
  *host = hp[0];
  *port = hp[1];
  return true;
}

bool ParseArgs(int argc, char** argv, Options* opt) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      std::string prefix = std::string("--") + name + "=";
      return a.rfind(prefix, 0) == 0 ? argv[i] + prefix.size() : nullptr;
    };
    std::string redis_port;
    if (const char* v = value("gateway")) {
      if (!ParseHostPort(v, &opt->host, &opt->port)) return false;
    } else if (const char* v = value("room")) {
      opt->room = v;
    } else if (const char* v = value("sender_token")) {
      opt->sender_token = v;
    } else if (const char* v = value("receiver_token")) {
      opt->receiver_token = v;
    } else if (const char* v = value("messages")) {
      if (!absl::SimpleAtoi(v, &opt->messages)) return false;
    } else if (const char* v = value("rate")) {
      if (!absl::SimpleAtoi(v, &opt->rate)) return false;
    } else if (a == "--quickack") {
      opt->quickack = true;
    } else if (const char* v = value("window")) {
      if (!absl::SimpleAtoi(v, &opt->window)) return false;
    } else if (const char* v = value("warmup")) {
      if (!absl::SimpleAtoi(v, &opt->warmup)) return false;
    } else if (const char* v = value("redis")) {
      if (!ParseHostPort(v, &opt->redis_host, &redis_port) ||
          !absl::SimpleAtoi(redis_port, &opt->redis_port)) {
        return false;
      }
    } else if (const char* v = value("gateway_pid")) {
      if (!absl::SimpleAtoi(v, &opt->gateway_pid)) return false;
    } else if (const char* v = value("service_pid")) {
      if (!absl::SimpleAtoi(v, &opt->service_pid)) return false;
    } else if (const char* v = value("redis_pid")) {
      if (!absl::SimpleAtoi(v, &opt->redis_pid)) return false;
    } else if (const char* v = value("trace")) {
      opt->trace_file = v;
    } else {
      return false;
    }
  }
  return !opt->port.empty() && !opt->room.empty() && !opt->sender_token.empty() &&
         !opt->receiver_token.empty() && opt->messages > 0 && opt->rate > 0 && opt->window >= 0 &&
         opt->warmup >= 0 && opt->redis_port > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (!ParseArgs(argc, argv, &opt)) {
    std::cerr << "usage: signal-bench --gateway=HOST:PORT --room=ROOM --sender_token=T "
                 "--receiver_token=T --redis=HOST:PORT [--messages=N] [--rate=R] "
                 "[--warmup=W] [--window=W] [--quickack] [--gateway_pid=P] [--service_pid=P] "
                 "[--redis_pid=P] "
                 "[--trace=FILE]\n";
    return 2;
  }
  CpuWatch cpu;
  cpu.procs = {{"gateway", opt.gateway_pid},
               {"media_signaling", opt.service_pid},
               {"redis", opt.redis_pid},
               {"self", static_cast<int>(getpid())}};

  net::io_context sender_ioc, receiver_ioc;
  auto endpoints = tcp::resolver(sender_ioc).resolve(opt.host, opt.port);
  Received received;
  std::atomic<int> errors{0};
  auto receiver = std::make_shared<Client>(receiver_ioc, opt, "receiver", opt.receiver_token,
                                           &received, &errors);
  auto sender =
      std::make_shared<Client>(sender_ioc, opt, "sender", opt.sender_token, nullptr, &errors);
  auto sender_work = net::make_work_guard(sender_ioc);
  auto receiver_work = net::make_work_guard(receiver_ioc);
  std::thread sender_io([&] { sender_ioc.run(); });
  std::thread receiver_io([&] { receiver_ioc.run(); });
  // Closing the sockets ends the reads; the io threads then run out of work.
  auto stop = [&](int code) {
    sender->Close();
    receiver->Close();
    sender_work.reset();
    receiver_work.reset();
    sender_io.join();
    receiver_io.join();
    return code;
  };

  net::post(receiver_ioc, [&] { receiver->Start(endpoints); });
  if (!receiver->WaitJoined(std::chrono::seconds(20))) {
    std::cerr << "signal-bench: the receiver could not join room " << opt.room << "\n";
    return stop(1);
  }
  net::post(sender_ioc, [&] { sender->Start(endpoints); });
  if (!sender->WaitJoined(std::chrono::seconds(20))) {
    std::cerr << "signal-bench: the sender could not join room " << opt.room << "\n";
    return stop(1);
  }
  const std::string to = receiver->self_peer_id();
  std::cerr << "signal-bench: sender " << sender->self_peer_id() << " → receiver " << to << ", "
            << opt.warmup << " + " << opt.messages << " signals at " << opt.rate << "/s\n";

  const int64_t total = static_cast<int64_t>(opt.warmup) + opt.messages;
  std::mutex done_mu;
  std::condition_variable done_cv;
  bool sent_all = false;
  auto send = [&](int64_t i) {
    sender->Send(absl::StrCat(R"({"type":"signal","to":")", to,
                              R"(","kind":"candidate","candidate":{"candidate":"candidate:)", i,
                              " 1 udp 2122260223 192.0.2.1 ", 10000 + i % 50000, " typ host bench ",
                              NowNs(), R"(","sdpMid":"0","sdpMLineIndex":0}})"));
  };
  auto all_sent = [&] {
    std::lock_guard<std::mutex> lock(done_mu);
    sent_all = true;
    done_cv.notify_all();
  };
  Pacer pacer(sender_ioc, total, opt.rate, send);
  // Closed loop: each arrival lets the next signal go (on the sender's io thread).
  int64_t next_unpaced = 0;
  auto send_next = [&] {
    if (next_unpaced >= total) return;
    send(next_unpaced++);
    if (next_unpaced == total) all_sent();
  };
  if (opt.window > 0) {
    std::lock_guard<std::mutex> lock(received.mu);
    received.on_arrival = [&] { net::post(sender_ioc, send_next); };
  }
  // The CPU window opens when the warm-up has been sent.
  std::thread cpu_start([&] {
    if (opt.window == 0) {
      std::this_thread::sleep_for(std::chrono::nanoseconds(opt.warmup * 1000000000LL / opt.rate));
    }
    cpu.Begin();
  });
  net::post(sender_ioc, [&] {
    if (opt.window == 0) return pacer.Start(all_sent);
    for (int i = 0; i < opt.window; ++i) send_next();
  });
  {
    std::unique_lock<std::mutex> lock(done_mu);
    // A stalled closed loop (a signal lost) sends no more: give up after a while.
    done_cv.wait_for(lock, std::chrono::seconds(total / opt.rate + 60), [&] { return sent_all; });
  }
  cpu_start.join();
  {
    std::unique_lock<std::mutex> lock(received.mu);
    received.cv.wait_for(lock, std::chrono::seconds(10),
                         [&] { return received.arrived >= total || received.next >= total; });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // Any stragglers or errors.
  cpu.Print("relay");
  const double sender_late = pacer.max_late_ms();
  const size_t sender_queue = sender->max_queued();
  stop(0);

  std::vector<double> relay;
  int64_t arrived, out_of_order, lost, regressions, other, replayed;
  double throughput;
  std::string problem;
  {
    std::lock_guard<std::mutex> lock(received.mu);
    relay = received.latency_ms;
    arrived = received.arrived;
    out_of_order = received.out_of_order;
    lost = received.lost;
    regressions = received.relay_seq_regressions;
    other = received.other_messages;
    replayed = received.replayed;
    const int64_t span = received.last_arrival_ns - received.first_measured_sent_ns;
    throughput = span > 0 ? received.latency_ms.size() * 1e9 / span : 0;
    problem = received.first_problem;
    if (!opt.trace_file.empty()) {
      std::ofstream trace(opt.trace_file);
      for (size_t i = 0; i < relay.size(); ++i) {
        trace << received.sent_at[i].first << " " << received.sent_at[i].second << " " << relay[i]
              << "\n";
      }
    }
  }
  std::cout << "rate " << (opt.window > 0 ? 0 : opt.rate) << "\n"
            << "window " << opt.window << "\n"
            << "relay_throughput_per_s " << throughput << "\n"
            << "messages " << opt.messages << "\n"
            << "warmup " << opt.warmup << "\n"
            << "relay_sent " << total << "\n"
            << "relay_delivered " << arrived << "\n"
            << "relay_out_of_order " << out_of_order << "\n"
            << "relay_skipped " << lost << "\n"
            << "relay_seq_regressions " << regressions << "\n"
            << "relay_errors " << errors.load() << "\n"
            << "relay_other_messages " << other << "\n"
            << "relay_replayed_from_before " << replayed << "\n"
            << "relay_sender_max_late_ms " << sender_late << "\n"
            << "relay_sender_max_queued " << sender_queue << "\n";
  PrintLatencies("relay", relay);

  bool redis_ok = true;
  if (opt.window == 0) {
    std::vector<double> redis;
    double redis_late = 0;
    cpu.Begin();
    redis_ok = RedisBaseline(opt, &redis, &redis_late);
    cpu.Print("redis");
    std::cout << "redis_delivered " << redis.size() << "\n"
              << "redis_in_order " << (redis_ok ? 1 : 0) << "\n"
              << "redis_sender_max_late_ms " << redis_late << "\n";
    PrintLatencies("redis", redis);
  }

  bool valid = true;
  if (arrived != total || out_of_order != 0 || lost != 0 || regressions != 0 ||
      relay.size() != static_cast<size_t>(opt.messages)) {
    std::cerr << "signal-bench: " << arrived << " of " << total << " signals delivered, " << lost
              << " skipped, " << out_of_order << " out of order, " << regressions
              << " relay seq regressions" << (problem.empty() ? "" : "; first: " + problem) << "\n";
    valid = false;
  }
  if (errors.load() != 0) {
    std::cerr << "signal-bench: " << errors.load() << " errors from the gateway\n";
    valid = false;
  }
  if (!redis_ok) {
    std::cerr << "signal-bench: the Redis baseline lost or reordered messages\n";
    valid = false;
  }
  std::cout << "valid " << (valid ? 1 : 0) << "\n";
  return valid ? 0 : 1;
}
