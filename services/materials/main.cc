// materials-service: requirements, streamed and resumable uploads, submit, review.
#include <condition_variable>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "common/config.h"
#include "common/crypto.h"
#include "common/enrollment_client.h"
#include "common/log.h"
#include "common/migrations.h"
#include "common/periodic.h"
#include "common/redis.h"
#include "common/server.h"
#include "common/token.h"
#include "grpcpp/create_channel.h"
#include "materials/local_blob_store.h"
#include "materials/materials_logic.h"
#include "materials/materials_service.h"
#include "materials/pg_materials_store.h"

namespace admissions::generated {
const std::vector<Migration>& MaterialsMigrations();
}

int main(int argc, char** argv) {
  using namespace admissions;
  BlockTerminationSignals();
  InitCrypto();
  Config config(argc, argv);
  const std::string grpc_addr = config.String("grpc_addr", "MATERIALS_GRPC_ADDR", "127.0.0.1:50054",
                                              "gRPC listen address (port 0 picks a free one)");
  const std::string port_file =
      config.String("port_file", "PORT_FILE", "", "file to write the bound gRPC port to");
  const std::string pg_uri =
      config.String("pg_uri", "PG_URI", "", "PostgreSQL connection URI (required)");
  const std::string redis_url = config.String("redis_url", "REDIS_URL", "",
                                              "Redis URL redis://host:port (session revocation "
                                              "broadcast; optional)");
  const std::string public_keys =
      config.String("token_public_keys", "TOKEN_PUBLIC_KEYS", "",
                    "accepted access-token public keys, base64, comma-separated (required)");
  const std::string enrollment_addr = config.String("enrollment_addr", "ENROLLMENT_ADDR", "",
                                                    "enrollment's gRPC address (required)");
  const std::string blob_dir =
      config.String("blob_dir", "MATERIALS_BLOB_DIR", "/var/lib/admissions/materials",
                    "the local blob store's directory (blobs/, tmp/, uploads/ inside it)");
  const int64_t upload_ttl_s = config.Int("upload_ttl_seconds", "MATERIALS_UPLOAD_TTL_SECONDS",
                                          86400, "how long a resumable upload may stay incomplete");
  const int64_t sweep_every_s =
      config.Int("sweep_interval_seconds", "MATERIALS_SWEEP_INTERVAL_SECONDS", 600,
                 "how often expired uploads, orphaned blobs and stale temp files are removed "
                 "(0: never)");
  const int64_t orphan_grace_s =
      config.Int("orphan_grace_seconds", "MATERIALS_ORPHAN_GRACE_SECONDS", 3600,
                 "a blob no item references is removed once older than this");
  const int64_t checkpoint_bytes =
      config.Int("checkpoint_bytes", "MATERIALS_CHECKPOINT_BYTES", 4 << 20,
                 "a resumable append fsyncs and records its offset every this many bytes");
  const int64_t call_timeout_ms =
      config.Int("upstream_timeout_ms", "MATERIALS_UPSTREAM_TIMEOUT_MS", 2000,
                 "deadline of each call to another service (shorter when the caller's is)");
  const int64_t pool_size = config.Int("pg_pool_size", "MATERIALS_PG_POOL_SIZE", 8,
                                       "PostgreSQL connections (and executor threads)");
  const int64_t io_threads = config.Int("io_threads", "MATERIALS_IO_THREADS", 4,
                                        "threads for the file reads and writes of uploads "
                                        "and downloads");
  const std::string log_level = config.String("log_level", "LOG_LEVEL", "info", "log level");
  InitLogging("materials", ParseLogLevel(log_level));
  if (auto st = config.Finish(); !st.ok()) {
    std::cerr << "materials-service: " << st.message() << "\n";
    return 2;
  }
  if (pg_uri.empty() || public_keys.empty() || enrollment_addr.empty() || blob_dir.empty()) {
    std::cerr << "materials-service: --pg_uri, --token_public_keys, --enrollment_addr and "
                 "--blob_dir are required\n";
    return 2;
  }
  if (pool_size < 1 || io_threads < 1 || call_timeout_ms < 1 || upload_ttl_s < 1 ||
      sweep_every_s < 0 || orphan_grace_s < 0 || checkpoint_bytes < 1) {
    std::cerr << "materials-service: pool, thread, timeout, TTL and checkpoint settings must be "
                 "positive, the sweep settings not negative\n";
    return 2;
  }

  auto verifier = OrDie(TokenVerifier::FromBase64PublicKeys(public_keys), "token_public_keys");
  auto blobs = OrDie(materials::LocalBlobStore::Create(blob_dir), "blob_dir");
  if (auto st = ApplyMigrations(pg_uri, "materials", generated::MaterialsMigrations()); !st.ok()) {
    Log(LogLevel::kError, "migrations_failed", {{"error", st.message()}});
    return 1;
  }

  RevocationList revoked;
  std::unique_ptr<RevocationFeed> feed;
  if (!redis_url.empty()) {
    auto addr = OrDie(RedisAddress::Parse(redis_url), "redis_url");
    feed = std::make_unique<RevocationFeed>(addr, &revoked);
  }

  auto channel = grpc::CreateChannel(enrollment_addr, grpc::InsecureChannelCredentials());
  GrpcEnrollmentClient enrollment(channel, absl::Milliseconds(call_timeout_ms));
  materials::PgMaterialsStore store(pg_uri, static_cast<int>(pool_size));
  materials::MaterialsOptions options;
  options.upload_ttl = absl::Seconds(upload_ttl_s);
  options.orphan_grace = absl::Seconds(orphan_grace_s);
  options.checkpoint_bytes = checkpoint_bytes;
  materials::MaterialsLogic logic(&store, blobs.get(), &enrollment, options);
  Authenticator auth(std::move(verifier), &revoked);
  BoundedExecutor executor(static_cast<int>(pool_size), 1024);
  BoundedExecutor io(static_cast<int>(io_threads), 4096);
  materials::MaterialsService service(&logic, &auth, &executor, &io);
  materials::MaterialsStepService steps(&logic, &executor);
  Log(LogLevel::kInfo, "blob_store", {{"dir", blobs->dir()}});

  // The sweep: expired uploads, orphaned blobs, abandoned temporary files.
  PeriodicTask sweeper(absl::Seconds(sweep_every_s), [&] {
    if (auto st = logic.Sweep(); !st.ok()) {
      Log(LogLevel::kWarn, "sweep_failed", {{"error", st.message()}});
    }
  });

  GrpcServerOptions server_options;
  server_options.service_name = "materials";
  server_options.listen_address = grpc_addr;
  server_options.port_file = port_file;
  // A streamed piece is at most the gateway's --stream_chunk_bytes (256 KiB) plus the
  // request's other fields; 4 MiB leaves room should that setting grow.
  server_options.max_receive_message_bytes = 4 << 20;
  auto st = RunGrpcServer(server_options, {&service, &steps}, [&] { sweeper.Stop(); });
  sweeper.Stop();
  executor.Shutdown();
  io.Shutdown();
  if (!st.ok()) {
    Log(LogLevel::kError, "server_failed", {{"error", st.message()}});
    return 1;
  }
  return 0;
}
