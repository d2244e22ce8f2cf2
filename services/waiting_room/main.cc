// waiting-room-service: rooms, the live lobby, the interview, the room's event stream.
#include <condition_variable>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/strings/numbers.h"
#include "common/config.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/migrations.h"
#include "common/notification_hub.h"
#include "common/periodic.h"
#include "common/redis.h"
#include "common/server.h"
#include "common/token.h"
#include "grpcpp/create_channel.h"
#include "waiting_room/clients.h"
#include "waiting_room/live_state.h"
#include "waiting_room/pg_waiting_room_store.h"
#include "waiting_room/waiting_room_logic.h"
#include "waiting_room/waiting_room_service.h"

namespace admissions::generated {
const std::vector<Migration>& WaitingRoomMigrations();
}

int main(int argc, char** argv) {
  using namespace admissions;
  BlockTerminationSignals();
  InitCrypto();
  Config config(argc, argv);
  const std::string grpc_addr =
      config.String("grpc_addr", "WAITING_ROOM_GRPC_ADDR", "127.0.0.1:50055",
                    "gRPC listen address (port 0 picks a free one)");
  const std::string port_file =
      config.String("port_file", "PORT_FILE", "", "file to write the bound gRPC port to");
  const std::string pg_uri =
      config.String("pg_uri", "PG_URI", "", "PostgreSQL connection URI (required)");
  const std::string redis_url =
      config.String("redis_url", "REDIS_URL", "",
                    "Redis URL redis://host:port: live lobby, presence, event wake-ups, session "
                    "revocations (required)");
  const std::string public_keys =
      config.String("token_public_keys", "TOKEN_PUBLIC_KEYS", "",
                    "accepted access-token public keys, base64, comma-separated (required)");
  const std::string identity_addr =
      config.String("identity_addr", "IDENTITY_ADDR", "", "identity's gRPC address (required)");
  const std::string enrollment_addr = config.String("enrollment_addr", "ENROLLMENT_ADDR", "",
                                                    "enrollment's gRPC address (required)");
  const std::string materials_addr =
      config.String("materials_addr", "MATERIALS_ADDR", "",
                    "materials' gRPC address (the examiners' materials status); empty: UNKNOWN");
  const int64_t verification_max_age_s =
      config.Int("room_verification_max_age_seconds", "ROOM_VERIFICATION_MAX_AGE_SECONDS", 300,
                 "how recent a candidate's PASSED ROOM verification must be to enter");
  const int64_t presence_ttl_s =
      config.Int("presence_ttl_seconds", "WAITING_ROOM_PRESENCE_TTL_SECONDS", 45,
                 "a candidate is online this long after their last sign of life");
  const int64_t sweep_ms = config.Int("presence_sweep_ms", "WAITING_ROOM_PRESENCE_SWEEP_MS", 2000,
                                      "how often lapsed presence becomes CANDIDATE_OFFLINE");
  const int64_t call_timeout_ms =
      config.Int("upstream_timeout_ms", "WAITING_ROOM_UPSTREAM_TIMEOUT_MS", 2000,
                 "deadline of each call to another service (shorter when the caller's is)");
  const int64_t pool_size = config.Int("pg_pool_size", "WAITING_ROOM_PG_POOL_SIZE", 8,
                                       "PostgreSQL connections (and executor threads)");
  const int64_t redis_pool_size =
      config.Int("redis_pool_size", "WAITING_ROOM_REDIS_POOL_SIZE", 8, "Redis connections");
  const std::string log_level = config.String("log_level", "LOG_LEVEL", "info", "log level");
  InitLogging("waiting-room", ParseLogLevel(log_level));
  if (auto st = config.Finish(); !st.ok()) {
    std::cerr << "waiting-room-service: " << st.message() << "\n";
    return 2;
  }
  if (pg_uri.empty() || redis_url.empty() || public_keys.empty() || identity_addr.empty() ||
      enrollment_addr.empty()) {
    std::cerr << "waiting-room-service: --pg_uri, --redis_url, --token_public_keys, "
                 "--identity_addr and --enrollment_addr are required\n";
    return 2;
  }
  if (pool_size < 1 || redis_pool_size < 1 || call_timeout_ms < 1 || verification_max_age_s < 1 ||
      presence_ttl_s < 1 || sweep_ms < 1) {
    std::cerr << "waiting-room-service: pool, timeout, age, TTL and sweep settings must be "
                 "positive\n";
    return 2;
  }

  auto verifier = OrDie(TokenVerifier::FromBase64PublicKeys(public_keys), "token_public_keys");
  auto redis_addr = OrDie(RedisAddress::Parse(redis_url), "redis_url");
  if (auto st = ApplyMigrations(pg_uri, "waiting_room", generated::WaitingRoomMigrations());
      !st.ok()) {
    Log(LogLevel::kError, "migrations_failed", {{"error", st.message()}});
    return 1;
  }

  RevocationList revoked;
  RevocationFeed feed(redis_addr, &revoked);
  RedisPool redis(redis_addr, static_cast<int>(redis_pool_size));

  const absl::Duration timeout = absl::Milliseconds(call_timeout_ms);
  auto channel = [](const std::string& addr) {
    return grpc::CreateChannel(addr, grpc::InsecureChannelCredentials());
  };
  GrpcIdentityClient identity_grpc(channel(identity_addr), timeout);
  // An account's name, ID type and number do not change in identity: cached briefly.
  CachingIdentityClient identity(&identity_grpc, absl::Seconds(60));
  waiting_room::GrpcEnrollmentClient enrollment(channel(enrollment_addr), timeout);
  std::unique_ptr<waiting_room::GrpcStepClient> materials;
  if (!materials_addr.empty()) {
    materials = std::make_unique<waiting_room::GrpcStepClient>(channel(materials_addr), timeout);
  }

  // Declared before the hub: the hub's destructor fires pending long polls, which post here.
  BoundedExecutor executor(static_cast<int>(pool_size), 4096);
  // The ROOM step is asked by enrollment while the waiting room waits on enrollment
  // (entering): its own threads, so that a busy executor cannot deadlock the two.
  BoundedExecutor step_executor(2, 1024);
  waiting_room::PgWaitingRoomStore store(pg_uri, static_cast<int>(pool_size));
  waiting_room::LiveState live(&redis, absl::Seconds(presence_ttl_s));
  NotificationHub hub;
  waiting_room::RoomFeeds feeds;
  auto wake = [&hub, &feeds](const std::string& room_id) {
    hub.Notify(waiting_room::WaitingRoomService::HubKey(room_id));
    feeds.Notify(room_id);
  };
  waiting_room::WaitingRoomSettings settings;
  settings.room_verification_max_age = absl::Seconds(verification_max_age_s);
  waiting_room::WaitingRoomLogic logic(
      &store, &live, &identity, &enrollment, materials.get(), settings,
      [&wake](const std::string& room_id, int64_t) { wake(room_id); });
  // "<room id> <event id>" from every instance (this one included) wakes long polls and
  // streams here; after a reconnect every stream re-reads, in case a message was missed.
  RedisSubscriber events(
      redis_addr, {waiting_room::kEventsChannel},
      [&wake](const std::string&, const std::string& payload) {
        wake(payload.substr(0, payload.find(' ')));
      },
      [&feeds] { feeds.NotifyAll(); });

  Authenticator auth(std::move(verifier), &revoked);
  waiting_room::WaitingRoomService service(&logic, &auth, &executor, &hub, &feeds);
  waiting_room::WaitingRoomStepService steps(&logic, &step_executor);

  PeriodicTask sweeper(absl::Milliseconds(sweep_ms), [&] { logic.SweepPresence(); });
  auto before_drain = [&] {
    sweeper.Stop();
    service.Drain();
  };

  GrpcServerOptions options;
  options.service_name = "waiting-room";
  options.listen_address = grpc_addr;
  options.port_file = port_file;
  auto st = RunGrpcServer(options, {&service, &steps}, before_drain);
  sweeper.Stop();
  executor.Shutdown();
  step_executor.Shutdown();
  if (!st.ok()) {
    Log(LogLevel::kError, "server_failed", {{"error", st.message()}});
    return 1;
  }
  return 0;
}
