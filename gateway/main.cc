#include <cstdio>
#include <memory>
#include <string>

#include "common/config.h"
#include "common/log.h"
#include "common/redis.h"
#include "common/token.h"
#include "gateway/server.h"
#include "gateway/upstreams.h"

namespace {

int Fail(std::string_view what, std::string_view error) {
  admissions::Log(admissions::LogLevel::kError, what, {{"error", error}});
  return 2;
}

int Fail(std::string_view what, const absl::Status& status) {
  return Fail(what, std::string(status.message()));
}

}  // namespace

int main(int argc, char** argv) {
  using admissions::gateway::GatewayOptions;
  admissions::Config config(argc, argv);
  GatewayOptions options;
  options.bind = config.String("bind", "GATEWAY_BIND", "127.0.0.1", "address to listen on");
  int64_t port = config.Int("port", "GATEWAY_PORT", 8080, "HTTP port; 0 picks a free one");
  options.port_file = config.String("port_file", "PORT_FILE", "",
                                    "write the bound port to this file once listening");
  options.threads = static_cast<int>(
      config.Int("threads", "GATEWAY_THREADS", 0, "io threads; 0 = hardware concurrency"));
  options.dev_mode = config.Bool("dev_mode", "DEV_MODE", false,
                                 "development mode: adds the /v1/dev/... endpoints");
  std::string public_keys =
      config.String("token_public_keys", "TOKEN_PUBLIC_KEYS", "",
                    "access-token public keys, base64, comma-separated (required)");
  std::string redis_url = config.String("redis_url", "REDIS_URL", "",
                                        "redis://host:port for session revocations; empty = none");
  int64_t max_body = config.Int("max_body_bytes", "GATEWAY_MAX_BODY_BYTES", 1 << 20,
                                "largest request body; larger gets 413");
  int64_t read_timeout = config.Int("read_timeout_ms", "GATEWAY_READ_TIMEOUT_MS", 30000,
                                    "time allowed for each read from a client");
  int64_t chunk = config.Int("stream_chunk_bytes", "GATEWAY_STREAM_CHUNK_BYTES", 256 * 1024,
                             "largest piece of a streamed request body sent upstream at once");
  int64_t idle = config.Int("stream_idle_timeout_ms", "GATEWAY_STREAM_IDLE_TIMEOUT_MS", 30000,
                            "a streamed request body may go this long without a byte");
  int64_t deadline = config.Int("grpc_deadline_ms", "GATEWAY_GRPC_DEADLINE_MS", 5000,
                                "deadline of every upstream call");
  int64_t grace = config.Int("shutdown_grace_ms", "GATEWAY_SHUTDOWN_GRACE_MS", 5000,
                             "on SIGTERM, how long requests in progress may take to finish");
  int64_t live_auth = config.Int("live_auth_timeout_ms", "GATEWAY_LIVE_AUTH_TIMEOUT_MS", 5000,
                                 "/v1/live without ?access_token: the auth message within this");
  int64_t live_idle = config.Int("live_idle_timeout_ms", "GATEWAY_LIVE_IDLE_TIMEOUT_MS", 60000,
                                 "/v1/live: a peer silent this long is dropped (pinged at half)");
  int64_t live_presence =
      config.Int("live_presence_interval_ms", "GATEWAY_LIVE_PRESENCE_INTERVAL_MS", 20000,
                 "/v1/live: TouchPresence(online) repeated this often per subscribed room");
  int64_t live_close = config.Int("live_close_timeout_ms", "GATEWAY_LIVE_CLOSE_TIMEOUT_MS", 5000,
                                  "/v1/live: a close handshake may take this long");
  int64_t live_message = config.Int("live_max_message_bytes", "GATEWAY_LIVE_MAX_MESSAGE_BYTES",
                                    64 * 1024, "/v1/live: largest client message (else 1009)");
  int64_t live_queue_messages =
      config.Int("live_max_queued_messages", "GATEWAY_LIVE_MAX_QUEUED_MESSAGES", 1024,
                 "/v1/live: outgoing messages queued per connection before it is cut off");
  int64_t live_queue_bytes =
      config.Int("live_max_queued_bytes", "GATEWAY_LIVE_MAX_QUEUED_BYTES", 1 << 20,
                 "/v1/live: outgoing bytes queued per connection before it is cut off");
  int64_t live_rooms = config.Int("live_max_rooms", "GATEWAY_LIVE_MAX_ROOMS", 8,
                                  "/v1/live: rooms one connection may subscribe to");
  int64_t live_ring = config.Int("live_ring_events", "GATEWAY_LIVE_RING_EVENTS", 1024,
                                 "/v1/live: recent events kept per room for quick resumes");
  int64_t live_linger =
      config.Int("live_hub_linger_ms", "GATEWAY_LIVE_HUB_LINGER_MS", 5000,
                 "/v1/live: a room's stream outlives its last subscriber by this");
  int64_t live_signal_rate =
      config.Int("live_signal_rate_per_second", "GATEWAY_LIVE_SIGNAL_RATE_PER_SECOND", 50,
                 "/v1/live: signal and screen-share messages per second per connection");
  int64_t live_signal_burst =
      config.Int("live_signal_burst", "GATEWAY_LIVE_SIGNAL_BURST", 200,
                 "/v1/live: signal and screen-share messages a connection may send at once");
  int64_t live_signal_idle =
      config.Int("live_signal_idle_timeout_ms", "GATEWAY_LIVE_SIGNAL_IDLE_TIMEOUT_MS", 15000,
                 "/v1/live: the idle timeout while in an interview session (pinged at half)");
  for (const auto& service : admissions::gateway::kServices) {
    options.upstream_addresses[std::string(service.name)] =
        config.String(std::string(service.flag), std::string(service.env), "",
                      "gRPC address (host:port) of " + std::string(service.name) +
                          "; empty = its endpoints are not served");
  }
  std::string log_level =
      config.String("log_level", "LOG_LEVEL", "info", "debug, info, warn or error");
  admissions::InitLogging("gateway", admissions::ParseLogLevel(log_level));
  if (absl::Status status = config.Finish(); !status.ok()) {
    return Fail("bad_configuration", status);
  }

  if (port < 0 || port > 65535) return Fail("bad_configuration", "--port must be 0..65535");
  if (max_body <= 0 || read_timeout <= 0 || deadline <= 0 || grace < 0 || chunk <= 0 || idle <= 0) {
    return Fail("bad_configuration", "sizes and times must be positive");
  }
  if (live_auth <= 0 || live_idle <= 0 || live_presence <= 0 || live_close <= 0 ||
      live_message <= 0 || live_queue_messages <= 0 || live_queue_bytes <= 0 || live_rooms <= 0 ||
      live_ring <= 0 || live_linger < 0 || live_signal_rate <= 0 || live_signal_burst <= 0 ||
      live_signal_idle <= 0) {
    return Fail("bad_configuration", "live_* settings must be positive");
  }
  options.live.auth_timeout = std::chrono::milliseconds(live_auth);
  options.live.idle_timeout = std::chrono::milliseconds(live_idle);
  options.live.presence_interval = std::chrono::milliseconds(live_presence);
  options.live.close_timeout = std::chrono::milliseconds(live_close);
  options.live.max_message_bytes = static_cast<size_t>(live_message);
  options.live.max_queued_messages = static_cast<size_t>(live_queue_messages);
  options.live.max_queued_bytes = static_cast<size_t>(live_queue_bytes);
  options.live.max_rooms = static_cast<size_t>(live_rooms);
  options.live_hub.ring_events = static_cast<size_t>(live_ring);
  options.live_hub.linger = std::chrono::milliseconds(live_linger);
  options.live.signal_rate_per_second = static_cast<double>(live_signal_rate);
  options.live.signal_burst = static_cast<double>(live_signal_burst);
  options.live.signal_idle_timeout = std::chrono::milliseconds(live_signal_idle);
  if (public_keys.empty()) return Fail("bad_configuration", "--token_public_keys is required");
  options.port = static_cast<uint16_t>(port);
  options.max_body_bytes = static_cast<uint64_t>(max_body);
  options.read_timeout = std::chrono::milliseconds(read_timeout);
  options.stream_chunk_bytes = static_cast<uint64_t>(chunk);
  options.stream_idle_timeout = std::chrono::milliseconds(idle);
  options.grpc_deadline = std::chrono::milliseconds(deadline);
  options.shutdown_grace = std::chrono::milliseconds(grace);

  auto verifier = admissions::TokenVerifier::FromBase64PublicKeys(public_keys);
  if (!verifier.ok()) return Fail("bad_configuration", verifier.status());

  admissions::RevocationList revocations;
  std::unique_ptr<admissions::RevocationFeed> feed;
  std::unique_ptr<admissions::RedisIntFeed> agreement;
  if (!redis_url.empty()) {
    auto address = admissions::RedisAddress::Parse(redis_url);
    if (!address.ok()) return Fail("bad_configuration", address.status());
    feed = std::make_unique<admissions::RevocationFeed>(*address, &revocations);
    agreement = std::make_unique<admissions::RedisIntFeed>(
        *address, admissions::kAgreementVersionKey, admissions::kAgreementChannel);
    options.agreement_version = [feed = agreement.get()] { return feed->value(); };
  }

  auto gateway =
      admissions::gateway::Gateway::Create(std::move(options), *std::move(verifier), &revocations);
  if (!gateway.ok()) return Fail("startup_failed", gateway.status());
  if (absl::Status status = (*gateway)->Start(); !status.ok()) {
    return Fail("startup_failed", status);
  }
  (*gateway)->Wait();
  gateway->reset();
  feed.reset();
  agreement.reset();
  return 0;
}
