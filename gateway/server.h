#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/signal_set.hpp"
#include "boost/asio/steady_timer.hpp"
#include "common/token.h"
#include "gateway/http_session.h"
#include "gateway/listener.h"
#include "gateway/metrics.h"
#include "gateway/route_table.h"
#include "gateway/upstreams.h"

namespace admissions::gateway {

/// Everything the gateway is told at start-up (see docs/configuration-gateway.md).
struct GatewayOptions {
  std::string bind = "127.0.0.1";
  /// 0 binds any free port; port() says which.
  uint16_t port = 8080;
  /// When set, the bound port is written here (temporary file, then rename) once listening.
  std::string port_file;
  /// io threads, each with its own io_context; 0 means the hardware concurrency.
  int threads = 0;
  /// Adds the dev_only routes (/v1/dev/...).
  bool dev_mode = false;
  uint64_t max_body_bytes = 1 << 20;
  std::chrono::milliseconds read_timeout{30000};
  /// A streamed request body is sent upstream in pieces of at most this many bytes.
  uint64_t stream_chunk_bytes = 256 * 1024;
  /// How long a streamed request body may go without a byte from the client.
  std::chrono::milliseconds stream_idle_timeout{30000};
  std::chrono::milliseconds grpc_deadline{5000};
  /// How long /readyz waits for the upstreams' health checks.
  std::chrono::milliseconds readiness_timeout{1000};
  /// How long a shutdown waits for requests in progress before it stops anyway.
  std::chrono::milliseconds shutdown_grace{5000};
  /// Upstream address by service short name (ServiceInfo::name). A service that is absent or
  /// empty here gets no routes.
  std::map<std::string, std::string> upstream_addresses;
  /// SIGINT and SIGTERM start a graceful shutdown.
  bool handle_signals = true;
  /// Seconds since the epoch; the wall clock when unset.
  std::function<int64_t()> now_seconds;
  /// The current user-agreement version (0 when unknown): a candidate token whose
  /// accepted version is older is checked with identity.
  std::function<int64_t()> agreement_version;
  /// The live channel (GET /v1/live), served when waiting_room has an address.
  LiveOptions live;
  /// Recent events kept per room, linger and restart back-off of its upstream stream.
  LiveHubOptions live_hub;
};

/// The largest --stream_chunk_bytes: a piece and its field tag must fit gRPC's default 4 MiB
/// message limit of the receiving service.
inline constexpr uint64_t kMaxStreamChunkBytes = 4 * 1024 * 1024 - 1024;

/// The HTTP gateway: a listener, io threads, the route table built from the linked service
/// descriptors, one channel per configured upstream, metrics.
///
///   auto gateway = Gateway::Create(options, std::move(verifier), &revocations);
///   RETURN_IF_ERROR((*gateway)->Start());
///   (*gateway)->Wait();  // until SIGTERM, or Shutdown() from another thread
class Gateway {
 public:
  /// Builds routes and upstreams. INVALID_ARGUMENT for a bad HTTP rule in a proto, or a
  /// service whose descriptors are not linked in. `revocations` must outlive the gateway.
  static absl::StatusOr<std::unique_ptr<Gateway>> Create(GatewayOptions options,
                                                         TokenVerifier verifier,
                                                         RevocationList* revocations);
  ~Gateway();  // Shuts down (if still running) and waits.

  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  /// Listens, writes the port file, starts the io threads; returns at once.
  absl::Status Start();
  /// The bound port, after Start().
  uint16_t port() const { return port_; }
  /// Thread-safe and idempotent: stops accepting, lets requests in progress finish (up to
  /// shutdown_grace), then stops the io threads.
  void Shutdown();
  /// Blocks until the io threads have stopped.
  void Wait();

  const RouteTable& routes() const { return routes_; }
  const Metrics& metrics() const { return *metrics_; }
  /// Null when waiting_room is not configured.
  const LiveHub* live_hub() const { return live_hub_.get(); }
  size_t live_connections() const { return live_tracker_.size(); }

 private:
  Gateway(GatewayOptions options, TokenVerifier verifier, RevocationList* revocations);
  void OnShutdown();
  void PollDrained();
  /// Drops expired revocations now and then.
  void SchedulePrune();

  GatewayOptions options_;
  TokenVerifier verifier_;
  RevocationList* revocations_;
  RouteTable routes_;
  std::unique_ptr<Upstreams> upstreams_;
  std::unique_ptr<Metrics> metrics_;
  SessionTracker tracker_;
  LiveTracker live_tracker_;
  SessionContext context_;

  // Destroyed before everything above: pending handlers hold sessions that use them.
  // One io_context per io thread, each run by that thread alone, so a session's
  // handlers never need a strand; ios_[0] also runs the listener, signals and timers.
  std::vector<std::unique_ptr<boost::asio::io_context>> ios_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards_;
  std::atomic<size_t> next_io_{0};
  std::shared_ptr<Listener> listener_;
  std::optional<boost::asio::signal_set> signals_;
  std::optional<boost::asio::steady_timer> drain_timer_;
  std::optional<boost::asio::steady_timer> prune_timer_;
  std::chrono::steady_clock::time_point drain_deadline_;
  std::vector<std::thread> threads_;
  // Before the io contexts go: its timers belong to ios_[0]. Its streams are all done by
  // then (~Gateway cancels every upstream call first).
  std::unique_ptr<LiveHub> live_hub_;
  uint16_t port_ = 0;
  absl::Mutex mu_;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
};

/// Writes `port` and a newline to `path` through a temporary file and a rename, so that a
/// reader never sees a partial number.
absl::Status WritePortFile(const std::string& path, uint16_t port);

}  // namespace admissions::gateway
