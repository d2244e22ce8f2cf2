// enrollment-service: schools, exams, rosters, the notice, admission, commitment, journey.
#include <iostream>
#include <memory>

#include "common/config.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/migrations.h"
#include "common/redis.h"
#include "common/server.h"
#include "common/token.h"
#include "enrollment/clients.h"
#include "enrollment/enrollment_logic.h"
#include "enrollment/enrollment_service.h"
#include "enrollment/pg_enrollment_store.h"
#include "grpcpp/create_channel.h"

namespace admissions::generated {
const std::vector<Migration>& EnrollmentMigrations();
}

namespace {

// The roster route takes 16 MiB bodies; the message around them is a little bigger.
constexpr int kMaxReceiveBytes = 17 * 1024 * 1024;

}  // namespace

int main(int argc, char** argv) {
  using namespace admissions;
  BlockTerminationSignals();
  InitCrypto();
  Config config(argc, argv);
  const std::string grpc_addr =
      config.String("grpc_addr", "ENROLLMENT_GRPC_ADDR", "127.0.0.1:50052",
                    "gRPC listen address (port 0 picks a free one)");
  const std::string port_file =
      config.String("port_file", "PORT_FILE", "", "file to write the bound gRPC port to");
  const std::string pg_uri =
      config.String("pg_uri", "PG_URI", "", "PostgreSQL connection URI (required)");
  const std::string redis_url = config.String("redis_url", "REDIS_URL", "",
                                              "Redis URL redis://host:port (session revocation "
                                              "broadcast; optional)");
  const bool dev_mode = config.Bool("dev_mode", "DEV_MODE", false, "development mode");
  const std::string public_keys =
      config.String("token_public_keys", "TOKEN_PUBLIC_KEYS", "",
                    "accepted access-token public keys, base64, comma-separated (required)");
  const std::string index_key =
      config.String("pii_index_key", "PII_INDEX_KEY", "",
                    "key of the ID-number blind index, base64; identity's (required)");
  const std::string identity_addr =
      config.String("identity_addr", "IDENTITY_ADDR", "", "identity's gRPC address (required)");
  const std::string payment_addr =
      config.String("payment_addr", "PAYMENT_ADDR", "",
                    "payment's gRPC address (JourneyStepSource); empty: nobody can have paid yet");
  const std::string materials_addr = config.String(
      "materials_addr", "MATERIALS_ADDR", "",
      "materials' gRPC address (JourneyStepSource); empty: nobody can have submitted yet");
  const std::string waiting_room_addr =
      config.String("waiting_room_addr", "WAITING_ROOM_ADDR", "",
                    "waiting-room's gRPC address (JourneyStepSource); empty: no room step is done");
  const int64_t call_timeout_ms =
      config.Int("upstream_timeout_ms", "ENROLLMENT_UPSTREAM_TIMEOUT_MS", 2000,
                 "deadline of each call to another service (shorter when the caller's is)");
  const int64_t pool_size = config.Int("pg_pool_size", "ENROLLMENT_PG_POOL_SIZE", 8,
                                       "PostgreSQL connections (and executor threads)");
  const std::string log_level = config.String("log_level", "LOG_LEVEL", "info", "log level");
  InitLogging("enrollment", ParseLogLevel(log_level));
  if (auto st = config.Finish(); !st.ok()) {
    std::cerr << "enrollment-service: " << st.message() << "\n";
    return 2;
  }
  if (pg_uri.empty() || public_keys.empty() || index_key.empty() || identity_addr.empty()) {
    std::cerr << "enrollment-service: --pg_uri, --token_public_keys, --pii_index_key and "
                 "--identity_addr are required\n";
    return 2;
  }
  if (pool_size < 1 || call_timeout_ms < 1) {
    std::cerr << "enrollment-service: --pg_pool_size and --upstream_timeout_ms must be "
                 "positive\n";
    return 2;
  }
  (void)dev_mode;

  auto verifier = OrDie(TokenVerifier::FromBase64PublicKeys(public_keys), "token_public_keys");
  auto index = OrDie(BlindIndex::FromBase64Key(index_key), "pii_index_key");

  if (auto st = ApplyMigrations(pg_uri, "enrollment", generated::EnrollmentMigrations());
      !st.ok()) {
    Log(LogLevel::kError, "migrations_failed", {{"error", st.message()}});
    return 1;
  }

  RevocationList revoked;
  std::unique_ptr<RevocationFeed> feed;
  if (!redis_url.empty()) {
    auto addr = OrDie(RedisAddress::Parse(redis_url), "redis_url");
    feed = std::make_unique<RevocationFeed>(addr, &revoked);
  }

  const absl::Duration timeout = absl::Milliseconds(call_timeout_ms);
  auto channel = [](const std::string& addr) {
    return grpc::CreateChannel(addr, grpc::InsecureChannelCredentials());
  };
  GrpcIdentityClient identity_grpc(channel(identity_addr), timeout);
  CachingIdentityClient identity(&identity_grpc, absl::Seconds(60));
  std::unique_ptr<enrollment::StepSource> payment, materials, room;
  enrollment::StepSources sources;
  if (!payment_addr.empty()) {
    payment =
        std::make_unique<enrollment::GrpcStepSource>("payment", channel(payment_addr), timeout);
    sources.payment = payment.get();
  }
  if (!materials_addr.empty()) {
    materials =
        std::make_unique<enrollment::GrpcStepSource>("materials", channel(materials_addr), timeout);
    sources.materials = materials.get();
  }
  if (!waiting_room_addr.empty()) {
    room = std::make_unique<enrollment::GrpcStepSource>("waiting-room", channel(waiting_room_addr),
                                                        timeout);
    sources.room = room.get();
  }

  enrollment::PgEnrollmentStore store(pg_uri, static_cast<int>(pool_size));
  enrollment::EnrollmentLogic logic(&store, &identity, std::move(index), sources);
  Authenticator auth(std::move(verifier), &revoked);
  BoundedExecutor executor(static_cast<int>(pool_size), 1024);
  enrollment::EnrollmentService service(&logic, &auth, &executor);

  GrpcServerOptions options;
  options.service_name = "enrollment";
  options.listen_address = grpc_addr;
  options.port_file = port_file;
  options.max_receive_message_bytes = kMaxReceiveBytes;
  auto st = RunGrpcServer(options, {&service});
  executor.Shutdown();
  if (!st.ok()) {
    Log(LogLevel::kError, "server_failed", {{"error", st.message()}});
    return 1;
  }
  return 0;
}
