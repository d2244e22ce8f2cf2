// identity-service: accounts, SMS codes, login sessions and tokens.
#include <algorithm>
#include <iostream>
#include <memory>
#include <thread>

#include "common/config.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/migrations.h"
#include "common/redis.h"
#include "common/server.h"
#include "identity/identity_logic.h"
#include "identity/identity_service.h"
#include "identity/pg_identity_store.h"
#include "identity/verification_logic.h"

namespace admissions::generated {
const std::vector<Migration>& IdentityMigrations();
}

int main(int argc, char** argv) {
  using namespace admissions;
  BlockTerminationSignals();
  InitCrypto();
  Config config(argc, argv);
  const std::string grpc_addr = config.String("grpc_addr", "IDENTITY_GRPC_ADDR", "127.0.0.1:50051",
                                              "gRPC listen address (port 0 picks a free one)");
  const std::string port_file =
      config.String("port_file", "PORT_FILE", "", "file to write the bound gRPC port to");
  const std::string pg_uri =
      config.String("pg_uri", "PG_URI", "", "PostgreSQL connection URI (required)");
  const std::string redis_url = config.String("redis_url", "REDIS_URL", "",
                                              "Redis URL redis://host:port (rate limits, "
                                              "session revocation broadcast)");
  const bool dev_mode = config.Bool("dev_mode", "DEV_MODE", false,
                                    "development mode: SMS outbox endpoint, dev operator account");
  const std::string signing_key =
      config.String("token_signing_key", "TOKEN_SIGNING_KEY", "",
                    "Ed25519 seed for access tokens, base64 (required)");
  const std::string public_keys =
      config.String("token_public_keys", "TOKEN_PUBLIC_KEYS", "",
                    "accepted token public keys, base64, comma-separated (default: the signing "
                    "key's)");
  const std::string pii_key = config.String("pii_encryption_key", "PII_ENCRYPTION_KEY", "",
                                            "key sealing ID numbers and phones, base64 (required)");
  const std::string index_key = config.String("pii_index_key", "PII_INDEX_KEY", "",
                                              "key of the blind indexes, base64 (required)");
  const int64_t pool_size = config.Int("pg_pool_size", "IDENTITY_PG_POOL_SIZE", 8,
                                       "PostgreSQL connections (and executor threads)");
  const int64_t access_ttl = config.Int("access_token_ttl_seconds", "ACCESS_TOKEN_TTL_SECONDS", 900,
                                        "access token lifetime");
  const int64_t session_ttl = config.Int("session_ttl_seconds", "SESSION_TTL_SECONDS",
                                         30 * 24 * 3600, "login session (refresh) lifetime");
  const int64_t sms_interval =
      config.Int("sms_min_interval_seconds", "SMS_MIN_INTERVAL_SECONDS", 60,
                 "least time between two SMS codes to one phone for one purpose");
  const int64_t argon_ops =
      config.Int("argon2_opslimit", "ARGON2_OPSLIMIT", 2, "Argon2id passes (OWASP minimum 2)");
  const int64_t argon_mem = config.Int("argon2_memlimit_kib", "ARGON2_MEMLIMIT_KIB", 19456,
                                       "Argon2id memory in KiB (OWASP minimum 19456)");
  const std::string face_public_key =
      config.String("face_provider_public_key", "FACE_PROVIDER_PUBLIC_KEY", "",
                    "Ed25519 public key of the face provider's callbacks, base64 (required "
                    "outside development mode)");
  const std::string face_sim_key =
      config.String("face_simulator_key", "FACE_SIMULATOR_KEY", "",
                    "development mode: the simulated face provider's signing seed, base64 "
                    "(random when empty)");
  const int64_t qr_ttl = config.Int("verification_ttl_seconds", "VERIFICATION_TTL_SECONDS", 600,
                                    "lifetime of a verification QR code (at most 600)");
  const int64_t hash_threads = config.Int(
      "hash_threads", "IDENTITY_HASH_THREADS",
      std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()) - 1),
      "threads that hash passwords (low priority); default: the cores less one");
  const std::string log_level = config.String("log_level", "LOG_LEVEL", "info", "log level");
  InitLogging("identity", ParseLogLevel(log_level));
  if (auto st = config.Finish(); !st.ok()) {
    std::cerr << "identity-service: " << st.message() << "\n";
    return 2;
  }
  if (pg_uri.empty() || signing_key.empty() || pii_key.empty() || index_key.empty()) {
    std::cerr << "identity-service: --pg_uri, --token_signing_key, --pii_encryption_key and "
                 "--pii_index_key are required\n";
    return 2;
  }

  auto signer = OrDie(TokenSigner::FromBase64Seed(signing_key), "token_signing_key");
  auto verifier = OrDie(TokenVerifier::FromBase64PublicKeys(
                            public_keys.empty() ? signer.PublicKeyBase64() : public_keys),
                        "token_public_keys");
  auto box = OrDie(SecretBox::FromBase64Key(pii_key), "pii_encryption_key");
  auto index = OrDie(BlindIndex::FromBase64Key(index_key), "pii_index_key");

  std::optional<identity::FaceSimulator> simulator;
  std::string face_key = face_public_key;
  if (dev_mode) {
    simulator = OrDie(identity::FaceSimulator::FromBase64Seed(
                          face_sim_key.empty() ? Base64Encode(RandomBytes(32)) : face_sim_key),
                      "face_simulator_key");
    if (face_key.empty()) face_key = simulator->PublicKeyBase64();
  }
  if (face_key.empty()) {
    std::cerr << "identity-service: --face_provider_public_key is required outside development "
                 "mode\n";
    return 2;
  }
  if (qr_ttl <= 0 || qr_ttl > 600) {
    std::cerr << "identity-service: --verification_ttl_seconds must be 1 to 600\n";
    return 2;
  }
  auto face_verifier =
      OrDie(identity::FaceCallbackVerifier::FromBase64PublicKey(face_key), "face public key");

  if (auto st = ApplyMigrations(pg_uri, "identity", generated::IdentityMigrations()); !st.ok()) {
    Log(LogLevel::kError, "migrations_failed", {{"error", st.message()}});
    return 1;
  }

  std::unique_ptr<RedisPool> redis;
  RevocationList revoked;
  std::unique_ptr<RevocationFeed> feed;
  if (!redis_url.empty()) {
    auto addr = OrDie(RedisAddress::Parse(redis_url), "redis_url");
    redis = std::make_unique<RedisPool>(addr, 4);
    feed = std::make_unique<RevocationFeed>(addr, &revoked);
  }

  identity::PgIdentityStore store(pg_uri, static_cast<int>(pool_size));
  identity::OutboxSmsSender sms(&store, &box, &index);
  identity::IdentitySettings settings;
  settings.dev_mode = dev_mode;
  settings.access_token_ttl = absl::Seconds(access_ttl);
  settings.session_ttl = absl::Seconds(session_ttl);
  settings.sms_min_interval = absl::Seconds(sms_interval);
  settings.password.opslimit = static_cast<unsigned long long>(argon_ops);
  settings.password.memlimit_bytes = static_cast<size_t>(argon_mem) * 1024;
  identity::IdentityLogic logic(&store, &sms, redis.get(), std::move(signer), box, index, settings);

  NotificationHub hub;
  identity::VerificationSettings vsettings;
  vsettings.dev_mode = dev_mode;
  vsettings.qr_ttl = absl::Seconds(qr_ttl);
  vsettings.password = settings.password;
  identity::VerificationLogic verification(&store, &store, redis.get(), &hub,
                                           std::move(face_verifier), std::move(simulator),
                                           &logic.box(), vsettings);
  verification.AnnounceAgreementVersion();
  std::unique_ptr<RedisSubscriber> changes;
  if (redis) {
    changes = std::make_unique<RedisSubscriber>(
        redis->address(), std::vector<std::string>{identity::kVerificationChannel},
        [&verification](const std::string&, const std::string& id) { verification.Changed(id); });
  }

  if (dev_mode) {
    if (auto st = logic.EnsureDevOperator("operator-dev-pass"); !st.ok()) {
      Log(LogLevel::kError, "dev_operator_failed", {{"error", st.message()}});
      return 1;
    }
  }

  Authenticator auth(std::move(verifier), &revoked);
  BoundedExecutor executor(static_cast<int>(pool_size), 1024);
  BoundedExecutor hash_executor(static_cast<int>(std::max<int64_t>(1, hash_threads)), 1024,
                                /*nice=*/10);
  identity::IdentityService service(&logic, &verification, &auth, &executor, &hash_executor);

  GrpcServerOptions options;
  options.service_name = "identity";
  options.listen_address = grpc_addr;
  options.port_file = port_file;
  auto st = RunGrpcServer(options, {&service});
  hash_executor.Shutdown();
  executor.Shutdown();
  if (!st.ok()) {
    Log(LogLevel::kError, "server_failed", {{"error", st.message()}});
    return 1;
  }
  return 0;
}
