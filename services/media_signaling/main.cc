// media-signaling-service: ICE servers, second-device pairing, the interview's signaling relay.
#include <algorithm>
#include <condition_variable>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/config.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/migrations.h"
#include "common/periodic.h"
#include "common/redis.h"
#include "common/server.h"
#include "common/token.h"
#include "grpcpp/create_channel.h"
#include "media_signaling/clients.h"
#include "media_signaling/media_signaling_logic.h"
#include "media_signaling/media_signaling_service.h"
#include "media_signaling/pg_pairing_store.h"
#include "media_signaling/redis_relay_store.h"

namespace admissions::generated {
const std::vector<Migration>& MediaSignalingMigrations();
}

namespace {

std::vector<std::string> Urls(const std::string& csv) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(csv, ',', absl::SkipWhitespace())) {
    out.emplace_back(absl::StripAsciiWhitespace(part));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace admissions;
  using namespace admissions::media_signaling;
  BlockTerminationSignals();
  InitCrypto();
  Config config(argc, argv);
  const std::string grpc_addr =
      config.String("grpc_addr", "MEDIA_SIGNALING_GRPC_ADDR", "127.0.0.1:50056",
                    "gRPC listen address (port 0 picks a free one)");
  const std::string port_file =
      config.String("port_file", "PORT_FILE", "", "file to write the bound gRPC port to");
  const std::string pg_uri =
      config.String("pg_uri", "PG_URI", "", "PostgreSQL connection URI (required)");
  const std::string redis_url = config.String(
      "redis_url", "REDIS_URL", "",
      "Redis URL redis://host:port: interview sessions, mailboxes, delivery between instances, "
      "session revocations (required)");
  const std::string public_keys =
      config.String("token_public_keys", "TOKEN_PUBLIC_KEYS", "",
                    "accepted access-token public keys, base64, comma-separated (required)");
  const std::string waiting_room_addr = config.String("waiting_room_addr", "WAITING_ROOM_ADDR", "",
                                                      "the waiting room's gRPC address (required)");
  const std::string turn_secret =
      config.String("turn_secret", "TURN_SECRET", "",
                    "TURN REST shared secret (coturn's static-auth-secret); empty: STUN only");
  const std::string turn_urls = config.String(
      "turn_urls", "TURN_URLS", "",
      "TURN URLs, comma-separated, e.g. turn:host:3478?transport=udp,turn:host:3478?transport=tcp");
  const std::string stun_urls = config.String("stun_urls", "STUN_URLS", "",
                                              "STUN URLs, comma-separated, e.g. stun:host:3478");
  const int64_t turn_ttl_s = config.Int("turn_ttl_seconds", "TURN_TTL_SECONDS", 43200,
                                        "how long TURN credentials stay valid");
  const int64_t grace_s =
      config.Int("grace_seconds", "MEDIA_GRACE_SECONDS", 15,
                 "how long a participant whose connection dropped stays in the session");
  const int64_t pairing_ttl_s =
      config.Int("pairing_ttl_seconds", "MEDIA_SIGNALING_PAIRING_TTL_SECONDS", 120,
                 "how long a second-device pairing code is valid");
  const int64_t mailbox_limit = config.Int("mailbox_limit", "MEDIA_SIGNALING_MAILBOX_LIMIT", 512,
                                           "messages kept per participant for resuming");
  const int64_t session_check_ms =
      config.Int("session_check_ms", "MEDIA_SIGNALING_SESSION_CHECK_MS", 2000,
                 "how often a live session is re-checked with the waiting room");
  const int64_t call_timeout_ms =
      config.Int("upstream_timeout_ms", "MEDIA_SIGNALING_UPSTREAM_TIMEOUT_MS", 2000,
                 "deadline of each call to the waiting room (shorter when the caller's is)");
  const int64_t pool_size =
      config.Int("pg_pool_size", "MEDIA_SIGNALING_PG_POOL_SIZE", 4, "PostgreSQL connections");
  const int64_t redis_pool_size = config.Int("redis_pool_size", "MEDIA_SIGNALING_REDIS_POOL_SIZE",
                                             8, "Redis connections (and executor threads)");
  const std::string log_level = config.String("log_level", "LOG_LEVEL", "info", "log level");
  InitLogging("media-signaling", ParseLogLevel(log_level));
  if (auto st = config.Finish(); !st.ok()) {
    std::cerr << "media-signaling-service: " << st.message() << "\n";
    return 2;
  }
  if (pg_uri.empty() || redis_url.empty() || public_keys.empty() || waiting_room_addr.empty()) {
    std::cerr << "media-signaling-service: --pg_uri, --redis_url, --token_public_keys and "
                 "--waiting_room_addr are required\n";
    return 2;
  }
  if (pool_size < 1 || redis_pool_size < 1 || call_timeout_ms < 1 || turn_ttl_s < 1 ||
      grace_s < 1 || pairing_ttl_s < 1 || mailbox_limit < 1 || session_check_ms < 1) {
    std::cerr << "media-signaling-service: pool, timeout, TTL, grace, mailbox and check "
                 "settings must be positive\n";
    return 2;
  }
  if (mailbox_limit > 1024) {
    // A stream holds at most 1024 deliveries before it counts as a slow consumer: a larger
    // mailbox would make every resume of a full one end as slow, over and over.
    std::cerr << "media-signaling-service: --mailbox_limit must be at most 1024\n";
    return 2;
  }

  auto verifier = OrDie(TokenVerifier::FromBase64PublicKeys(public_keys), "token_public_keys");
  auto redis_addr = OrDie(RedisAddress::Parse(redis_url), "redis_url");
  if (auto st = ApplyMigrations(pg_uri, "media", generated::MediaSignalingMigrations()); !st.ok()) {
    Log(LogLevel::kError, "migrations_failed", {{"error", st.message()}});
    return 1;
  }

  RevocationList revoked;
  RevocationFeed feed(redis_addr, &revoked);
  RedisPool redis(redis_addr, static_cast<int>(redis_pool_size));
  PgPairingStore pairings(pg_uri, static_cast<int>(pool_size));
  RelayOptions relay_options;
  relay_options.grace = absl::Seconds(grace_s);
  relay_options.mailbox_limit = static_cast<int>(mailbox_limit);
  relay_options.mailbox_ttl = std::max(absl::Minutes(5), 4 * relay_options.grace);
  RedisRelayStore relay(&redis, relay_options);
  GrpcWaitingRoomClient waiting_room(
      grpc::CreateChannel(waiting_room_addr, grpc::InsecureChannelCredentials()),
      absl::Milliseconds(call_timeout_ms));

  MediaSignalingSettings settings;
  settings.stun_urls = Urls(stun_urls);
  settings.turn_urls = Urls(turn_urls);
  settings.turn_secret = turn_secret;
  settings.turn_ttl = absl::Seconds(turn_ttl_s);
  settings.grace = absl::Seconds(grace_s);
  settings.pairing_ttl = absl::Seconds(pairing_ttl_s);
  settings.session_check = absl::Milliseconds(session_check_ms);
  if (turn_secret.empty() && !settings.turn_urls.empty()) {
    Log(LogLevel::kWarn, "turn_disabled", {{"why", "TURN_URLS is set but TURN_SECRET is empty"}});
  }
  MediaSignalingLogic logic(&pairings, &relay, &waiting_room, settings);

  // This instance's channel: deliveries to the participants whose streams it holds. After a
  // reconnect every stream re-reads its mailbox, in case a message was missed.
  const std::string instance = HexEncode(RandomBytes(8));
  StreamHub hub;
  RedisSubscriber deliveries(
      redis_addr, {kInstanceChannelPrefix + instance},
      [&hub](const std::string&, const std::string& payload) { hub.Dispatch(payload); },
      [&hub] { hub.ResyncAll(); });

  BoundedExecutor executor(static_cast<int>(redis_pool_size), 4096);
  Authenticator auth(std::move(verifier), &revoked);
  MediaSignalingService service(&logic, &auth, &executor, &hub, instance);

  // Two threads: leases every grace/3 on one, so that nothing slow can starve them (a lapsed
  // lease makes another instance mark a live participant disconnected); the sweep every
  // second and the session re-checks every session_check_ms (calls to the waiting room,
  // which may be slow) on the other.
  PeriodicTask leases(settings.grace / 3, [&] { logic.KeepAlive(hub.Local()); });
  absl::Time next_check = absl::Now();
  PeriodicTask maintenance(absl::Seconds(1), [&] {
    logic.Sweep();
    if (absl::Now() < next_check) return;
    std::set<std::string> sessions;
    for (const auto& p : hub.Local()) sessions.insert(p.interview_id);
    logic.CheckSessions({sessions.begin(), sessions.end()});
    next_check = absl::Now() + settings.session_check;
  });

  Log(LogLevel::kInfo, "media_signaling_ready",
      {{"instance", instance},
       {"turn", settings.turn_secret.empty() || settings.turn_urls.empty() ? "off" : "on"}});
  GrpcServerOptions options;
  options.service_name = "media-signaling";
  options.listen_address = grpc_addr;
  options.port_file = port_file;
  auto st = RunGrpcServer(options, {&service}, [&] { service.Drain(); });
  leases.Stop();
  maintenance.Stop();
  executor.Shutdown();
  if (!st.ok()) {
    Log(LogLevel::kError, "server_failed", {{"error", st.message()}});
    return 1;
  }
  return 0;
}
