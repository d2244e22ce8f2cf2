#include "gateway/server.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "boost/asio/post.hpp"
#include "common/crypto.h"
#include "common/log.h"
#include "google/protobuf/descriptor.h"

namespace admissions::gateway {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr auto kDrainPollInterval = std::chrono::milliseconds(20);
constexpr auto kPruneInterval = std::chrono::seconds(60);

}  // namespace

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Create(GatewayOptions options,
                                                         TokenVerifier verifier,
                                                         RevocationList* revocations) {
  InitCrypto();
  if (options.max_body_bytes == 0) {
    return absl::InvalidArgumentError("max_body_bytes must be positive");
  }
  if (options.read_timeout.count() <= 0 || options.grpc_deadline.count() <= 0) {
    return absl::InvalidArgumentError("read_timeout_ms and grpc_deadline_ms must be positive");
  }
  if (options.stream_chunk_bytes == 0 || options.stream_chunk_bytes > kMaxStreamChunkBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("stream_chunk_bytes must be 1..", kMaxStreamChunkBytes));
  }
  if (options.stream_idle_timeout.count() <= 0) {
    return absl::InvalidArgumentError("stream_idle_timeout_ms must be positive");
  }
  const LiveOptions& live = options.live;
  if (live.auth_timeout.count() <= 0 || live.idle_timeout.count() <= 0 ||
      live.presence_interval.count() <= 0 || live.close_timeout.count() <= 0 ||
      live.max_message_bytes == 0 || live.max_queued_messages == 0 || live.max_queued_bytes == 0 ||
      live.max_rooms == 0 || live.page_size <= 0 || options.live_hub.ring_events == 0 ||
      options.live_hub.linger.count() < 0 || !(live.signal_rate_per_second > 0) ||
      !(live.signal_burst >= 1) || live.signal_idle_timeout.count() <= 0 ||
      live.max_queued_signals == 0 || live.resume_min.count() <= 0 ||
      live.resume_max < live.resume_min || live.resume_give_up.count() <= 0) {
    return absl::InvalidArgumentError("live_* settings must be positive");
  }
  if (options.threads <= 0) {
    options.threads = std::max(1u, std::thread::hardware_concurrency());
  }
  if (!options.now_seconds) {
    options.now_seconds = [] { return absl::ToUnixSeconds(absl::Now()); };
  }

  std::vector<UpstreamConfig> configs;
  std::vector<ServiceBinding> bindings;
  int identity_upstream = -1;
  int waiting_room_upstream = -1;
  int media_signaling_upstream = -1;
  for (const ServiceInfo& info : kServices) {
    auto it = options.upstream_addresses.find(std::string(info.name));
    if (it == options.upstream_addresses.end() || it->second.empty()) continue;
    const auto* service = google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
        std::string(info.full_name));
    if (service == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("service ", std::string(info.full_name), " is not linked into the gateway"));
    }
    if (info.name == "identity") identity_upstream = static_cast<int>(configs.size());
    if (info.name == "waiting_room") waiting_room_upstream = static_cast<int>(configs.size());
    if (info.name == "media_signaling") {
      media_signaling_upstream = static_cast<int>(configs.size());
    }
    bindings.push_back({service, static_cast<int>(configs.size())});
    configs.push_back({std::string(info.name), it->second});
  }
  auto routes = BuildRouteTable(bindings, options.dev_mode);
  if (!routes.ok()) return routes.status();

  std::unique_ptr<Gateway> gateway(
      new Gateway(std::move(options), std::move(verifier), revocations));
  gateway->routes_ = *std::move(routes);
  std::vector<std::string> service_names;
  for (const auto& config : configs) service_names.push_back(config.name);
  gateway->upstreams_ = std::make_unique<Upstreams>(std::move(configs));
  gateway->metrics_ = std::make_unique<Metrics>(
      SeriesLabelsFor(gateway->routes_, &gateway->context_.series), std::move(service_names));

  SessionContext& context = gateway->context_;
  const GatewayOptions& o = gateway->options_;
  context.routes = &gateway->routes_;
  context.metrics = gateway->metrics_.get();
  context.upstreams = gateway->upstreams_.get();
  context.identity_upstream = identity_upstream;
  context.verifier = &gateway->verifier_;
  context.revocations = gateway->revocations_;
  context.tracker = &gateway->tracker_;
  context.max_body_bytes = o.max_body_bytes;
  context.max_any_body_bytes = o.max_body_bytes;
  for (const auto& route : gateway->routes_.routes()) {
    context.max_any_body_bytes = std::max(context.max_any_body_bytes, route->max_body_bytes);
    // A streamed body without a limit of its own has none at the gateway.
    if (route->stream_body_field != nullptr && route->max_body_bytes == 0) {
      context.max_any_body_bytes = std::numeric_limits<uint64_t>::max();
    }
  }
  context.read_timeout = o.read_timeout;
  context.stream_chunk_bytes = static_cast<size_t>(o.stream_chunk_bytes);
  context.stream_idle_timeout = o.stream_idle_timeout;
  context.grpc_deadline = o.grpc_deadline;
  context.readiness_timeout = o.readiness_timeout;
  context.now_seconds = o.now_seconds;
  context.live_tracker = &gateway->live_tracker_;
  context.live = o.live;
  context.waiting_room_upstream = waiting_room_upstream;
  context.media_signaling_upstream = media_signaling_upstream;
  if (waiting_room_upstream >= 0) {
    LiveHubOptions hub_options = o.live_hub;
    hub_options.upstream = waiting_room_upstream;
    gateway->live_hub_ =
        std::make_unique<LiveHub>(gateway->upstreams_.get(), gateway->metrics_.get(),
                                  gateway->ios_[0]->get_executor(), hub_options);
    context.live_hub = gateway->live_hub_.get();
  }
  context.agreement_version = o.agreement_version
                                  ? o.agreement_version
                                  : std::function<int64_t()>([] { return int64_t{0}; });
  return gateway;
}

Gateway::Gateway(GatewayOptions options, TokenVerifier verifier, RevocationList* revocations)
    : options_(std::move(options)), verifier_(std::move(verifier)), revocations_(revocations) {
  for (int i = 0; i < options_.threads; ++i) {
    ios_.push_back(std::make_unique<net::io_context>(1));
    guards_.push_back(net::make_work_guard(*ios_.back()));
  }
}

Gateway::~Gateway() {
  Shutdown();
  Wait();
  if (upstreams_) upstreams_->CancelAll();
  listener_.reset();
}

absl::Status Gateway::Start() {
  boost::system::error_code ec;
  auto address = net::ip::make_address(options_.bind, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad bind address ", options_.bind));
  listener_ = std::make_shared<Listener>(
      *ios_[0],
      [this]() -> net::any_io_executor {
        return ios_[next_io_.fetch_add(1, std::memory_order_relaxed) % ios_.size()]->get_executor();
      },
      [this](tcp::socket&& socket) {
        std::make_shared<HttpSession>(std::move(socket), &context_)->Start();
      });
  if (absl::Status status = listener_->Open(tcp::endpoint(address, options_.port)); !status.ok()) {
    return status;
  }
  port_ = listener_->port();
  if (!options_.port_file.empty()) {
    if (absl::Status status = WritePortFile(options_.port_file, port_); !status.ok()) {
      return status;
    }
  }
  if (options_.handle_signals) {
    signals_.emplace(*ios_[0], SIGINT, SIGTERM);
    signals_->async_wait([this](const boost::system::error_code& wait_ec, int signal) {
      if (wait_ec) return;
      Log(LogLevel::kInfo, "signal", {{"signal", std::to_string(signal)}});
      Shutdown();
    });
  }
  prune_timer_.emplace(*ios_[0]);
  SchedulePrune();
  listener_->Run();
  Log(LogLevel::kInfo, "listening",
      {{"bind", options_.bind},
       {"port", std::to_string(port_)},
       {"routes", std::to_string(routes_.size())},
       {"upstreams", std::to_string(upstreams_->size())},
       {"dev_mode", options_.dev_mode ? "true" : "false"}});
  threads_.reserve(options_.threads);
  for (int i = 0; i < options_.threads; ++i) {
    threads_.emplace_back([this, i] { ios_[i]->run(); });
  }
  return absl::OkStatus();
}

void Gateway::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) return;
    shutting_down_ = true;
  }
  net::post(*ios_[0], [this] { OnShutdown(); });
}

void Gateway::OnShutdown() {
  Log(LogLevel::kInfo, "shutting_down",
      {{"connections", std::to_string(tracker_.size())},
       {"in_flight", std::to_string(metrics_->in_flight())}});
  if (listener_) listener_->Stop();
  if (signals_) {
    boost::system::error_code ignored;
    signals_->cancel(ignored);
  }
  if (prune_timer_) prune_timer_->cancel();
  tracker_.DrainAll();
  // Live clients reconnect elsewhere with their last event id (close code 1001).
  live_tracker_.CloseAll();
  drain_deadline_ = std::chrono::steady_clock::now() + options_.shutdown_grace;
  drain_timer_.emplace(*ios_[0]);
  PollDrained();
}

void Gateway::PollDrained() {
  bool drained = tracker_.size() == 0 && live_tracker_.size() == 0;
  if (drained || std::chrono::steady_clock::now() >= drain_deadline_) {
    Log(LogLevel::kInfo, "stopped", {{"drained", drained ? "true" : "false"}});
    if (live_hub_) live_hub_->Stop();
    for (auto& guard : guards_) guard.reset();
    for (auto& io : ios_) io->stop();
    return;
  }
  drain_timer_->expires_after(kDrainPollInterval);
  drain_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) PollDrained();
  });
}

void Gateway::SchedulePrune() {
  prune_timer_->expires_after(kPruneInterval);
  prune_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    revocations_->Prune(options_.now_seconds());
    SchedulePrune();
  });
}

void Gateway::Wait() {
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

absl::Status WritePortFile(const std::string& path, uint16_t port) {
  std::string temp = absl::StrCat(path, ".tmp.", getpid());
  {
    std::ofstream out(temp, std::ios::trunc);
    out << port << "\n";
    out.flush();
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", temp));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    std::remove(temp.c_str());
    return absl::UnavailableError(absl::StrCat("cannot rename ", temp, " to ", path));
  }
  return absl::OkStatus();
}

}  // namespace admissions::gateway
