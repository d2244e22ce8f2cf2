// payment-service: fee orders, provider notifications, settlement, refunds, reconciliation.
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
#include "payment/payment_logic.h"
#include "payment/payment_service.h"
#include "payment/pg_payment_store.h"
#include "payment/sandbox_provider.h"

namespace admissions::generated {
const std::vector<Migration>& PaymentMigrations();
}

int main(int argc, char** argv) {
  using namespace admissions;
  BlockTerminationSignals();
  InitCrypto();
  Config config(argc, argv);
  const std::string grpc_addr = config.String("grpc_addr", "PAYMENT_GRPC_ADDR", "127.0.0.1:50053",
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
  const std::string enrollment_addr = config.String("enrollment_addr", "ENROLLMENT_ADDR", "",
                                                    "enrollment's gRPC address (required)");
  const std::string sandbox_key =
      config.String("sandbox_key", "PAYMENT_SANDBOX_KEY", "",
                    "development mode: the sandbox provider's signing seed, base64 (empty: a "
                    "fresh one per start)");
  const std::string sandbox_public_key =
      config.String("sandbox_public_key", "PAYMENT_SANDBOX_PUBLIC_KEY", "",
                    "the sandbox provider's notification public key, base64 (default: the "
                    "seed's own; required outside development mode to accept sandbox "
                    "notifications)");
  const std::string merchant_id =
      config.String("merchant_id", "PAYMENT_MERCHANT_ID", "sandbox-merchant-0001",
                    "this school system's merchant id at the provider");
  const std::string pay_url_base =
      config.String("pay_url_base", "PAYMENT_PAY_URL_BASE", "https://sandbox.pay.invalid/pay",
                    "where the sandbox sends the payer (the pay URL's base)");
  const int64_t reconcile_after_s =
      config.Int("reconcile_after_seconds", "PAYMENT_RECONCILE_AFTER_SECONDS", 300,
                 "an order UNPAID this long is checked with the provider's query API");
  const int64_t reconcile_every_s =
      config.Int("reconcile_interval_seconds", "PAYMENT_RECONCILE_INTERVAL_SECONDS", 60,
                 "how often the reconciliation job runs (0: never)");
  const int64_t close_grace_s =
      config.Int("close_grace_seconds", "PAYMENT_CLOSE_GRACE_SECONDS", 300,
                 "an order UNPAID this long after its exam's pay deadline is closed (after one "
                 "last query), here and at the provider; the job runs with reconciliation");
  const int64_t notify_max_age_s =
      config.Int("notify_max_age_seconds", "PAYMENT_NOTIFY_MAX_AGE_SECONDS", 900,
                 "a provider notification signed longer ago than this is refused");
  const int64_t call_timeout_ms =
      config.Int("upstream_timeout_ms", "PAYMENT_UPSTREAM_TIMEOUT_MS", 2000,
                 "deadline of each call to another service (shorter when the caller's is)");
  const int64_t pool_size = config.Int("pg_pool_size", "PAYMENT_PG_POOL_SIZE", 8,
                                       "PostgreSQL connections (and executor threads)");
  const std::string log_level = config.String("log_level", "LOG_LEVEL", "info", "log level");
  InitLogging("payment", ParseLogLevel(log_level));
  if (auto st = config.Finish(); !st.ok()) {
    std::cerr << "payment-service: " << st.message() << "\n";
    return 2;
  }
  if (pg_uri.empty() || public_keys.empty() || enrollment_addr.empty()) {
    std::cerr << "payment-service: --pg_uri, --token_public_keys and --enrollment_addr are "
                 "required\n";
    return 2;
  }
  if (pool_size < 1 || call_timeout_ms < 1 || reconcile_after_s < 0 || reconcile_every_s < 0 ||
      close_grace_s < 0 || notify_max_age_s < 1) {
    std::cerr << "payment-service: --pg_pool_size, --upstream_timeout_ms and "
                 "--notify_max_age_seconds must be positive, the reconciliation and close "
                 "settings not negative\n";
    return 2;
  }

  auto verifier = OrDie(TokenVerifier::FromBase64PublicKeys(public_keys), "token_public_keys");
  if (auto st = ApplyMigrations(pg_uri, "payment", generated::PaymentMigrations()); !st.ok()) {
    Log(LogLevel::kError, "migrations_failed", {{"error", st.message()}});
    return 1;
  }

  RevocationList revoked;
  std::unique_ptr<RevocationFeed> feed;
  if (!redis_url.empty()) {
    auto addr = OrDie(RedisAddress::Parse(redis_url), "redis_url");
    feed = std::make_unique<RevocationFeed>(addr, &revoked);
  }

  std::map<std::string, payment::PaymentProvider*> providers;
  std::unique_ptr<payment::SandboxProvider> sandbox;
  std::unique_ptr<payment::PgSandboxTradeBook> sandbox_book;
  if (dev_mode || !sandbox_public_key.empty()) {
    const std::string seed =
        (dev_mode && !sandbox_key.empty()) ? sandbox_key : Base64Encode(RandomBytes(32));
    // The simulated provider's own records, in the database so that they outlive this
    // process as a real provider's do.
    sandbox_book = std::make_unique<payment::PgSandboxTradeBook>(pg_uri, 2);
    sandbox = OrDie(payment::SandboxProvider::Create(seed, sandbox_public_key, merchant_id,
                                                     pay_url_base, sandbox_book.get()),
                    "sandbox_key");
    providers["sandbox"] = sandbox.get();
  }

  auto channel = grpc::CreateChannel(enrollment_addr, grpc::InsecureChannelCredentials());
  GrpcEnrollmentClient enrollment(channel, absl::Milliseconds(call_timeout_ms));
  payment::PgPaymentStore store(pg_uri, static_cast<int>(pool_size));
  payment::PaymentPolicy policy;
  policy.notify_max_age = absl::Seconds(notify_max_age_s);
  policy.close_grace = absl::Seconds(close_grace_s);
  payment::PaymentLogic logic(&store, &enrollment, providers, "sandbox",
                              dev_mode ? sandbox.get() : nullptr, policy);
  Authenticator auth(std::move(verifier), &revoked);
  BoundedExecutor executor(static_cast<int>(pool_size), 1024);
  payment::PaymentService service(&logic, &auth, &executor, dev_mode);
  payment::PaymentStepService steps(&logic, &executor);

  // The reconciliation job: orders left UNPAID are checked with the provider's query API,
  // and orders UNPAID past their deadline are closed.
  PeriodicTask reconciler(absl::Seconds(reconcile_every_s), [&] {
    auto n = logic.Reconcile(absl::Seconds(reconcile_after_s));
    if (!n.ok()) {
      Log(LogLevel::kWarn, "reconcile_failed", {{"error", n.status().message()}});
    } else if (*n > 0) {
      Log(LogLevel::kInfo, "reconciled", {{"settled", std::to_string(*n)}});
    }
    auto closed = logic.CloseExpired();
    if (!closed.ok()) {
      Log(LogLevel::kWarn, "close_expired_failed", {{"error", closed.status().message()}});
    }
  });

  GrpcServerOptions options;
  options.service_name = "payment";
  options.listen_address = grpc_addr;
  options.port_file = port_file;
  auto st = RunGrpcServer(options, {&service, &steps}, [&] { reconciler.Stop(); });
  reconciler.Stop();
  executor.Shutdown();
  if (!st.ok()) {
    Log(LogLevel::kError, "server_failed", {{"error", st.message()}});
    return 1;
  }
  return 0;
}
