#pragma once

#include <hiredis/hiredis.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/token.h"

namespace admissions {

/// Where a Redis server is: "redis://host:port" (optionally "/db").
struct RedisAddress {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  static absl::StatusOr<RedisAddress> Parse(std::string_view url);
};

/// A reply, copied out of hiredis so that it outlives the connection.
struct RedisReply {
  enum class Type { kNil, kString, kInteger, kArray, kStatus };
  Type type = Type::kNil;
  std::string str;
  long long integer = 0;
  std::vector<RedisReply> elements;

  bool is_nil() const { return type == Type::kNil; }
};

/// A fixed pool of synchronous hiredis connections. Blocking: call it from an
/// executor thread, never from an io or gRPC reaction thread. Arguments are passed
/// binary-safe (redisCommandArgv), never formatted into the command.
class RedisPool {
 public:
  RedisPool(RedisAddress address, int size,
            std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));
  ~RedisPool();

  /// UNAVAILABLE when the server cannot be reached; INTERNAL for an error reply.
  absl::StatusOr<RedisReply> Command(const std::vector<std::string>& argv);

  const RedisAddress& address() const { return address_; }

 private:
  struct ContextDeleter {
    void operator()(redisContext* c) const { redisFree(c); }
  };
  using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;
  absl::StatusOr<ContextPtr> Connect();

  RedisAddress address_;
  std::chrono::milliseconds timeout_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ContextPtr> idle_;
  int capacity_;
  int outstanding_ = 0;
};

/// A Lua script loaded once (SCRIPT LOAD) and called by EVALSHA, reloaded on NOSCRIPT.
class RedisScript {
 public:
  explicit RedisScript(std::string source);
  absl::StatusOr<RedisReply> Run(RedisPool& pool, const std::vector<std::string>& keys,
                                 const std::vector<std::string>& args);

 private:
  std::string source_;
  std::mutex mu_;
  std::string sha_;  // From SCRIPT LOAD; empty until the first call.
};

/// SUBSCRIBE on a connection of its own, on a thread of its own, reconnecting with
/// back-off. `on_message(channel, payload)` runs on that thread; `on_connect` runs
/// after every (re)subscription, before messages, so a caller can reload state that
/// it may have missed.
class RedisSubscriber {
 public:
  using MessageFn = std::function<void(const std::string& channel, const std::string& payload)>;
  RedisSubscriber(RedisAddress address, std::vector<std::string> channels, MessageFn on_message,
                  std::function<void()> on_connect = {});
  ~RedisSubscriber();  // Stops the thread.

 private:
  void Loop();
  RedisAddress address_;
  std::vector<std::string> channels_;
  MessageFn on_message_;
  std::function<void()> on_connect_;
  std::atomic<bool> stop_{false};
  std::atomic<redisContext*> live_{nullptr};
  std::thread thread_;
};

/// Where revoked login sessions are published: a sorted set (member = session id,
/// score = until when, epoch seconds) and a channel carrying "sid:until".
inline constexpr char kRevokedSessionsKey[] = "auth:revoked-sessions";
inline constexpr char kRevokedSessionsChannel[] = "auth:session-revoked";

/// Publishes a revocation (identity's logout, password reset, refresh-token reuse).
absl::Status PublishRevocation(RedisPool& pool, const std::string& session_id,
                               int64_t until_seconds);

/// Keeps a RevocationList current: loads the sorted set on every (re)connect, then
/// applies the channel's messages. Used by the gateway and by services.
class RevocationFeed {
 public:
  RevocationFeed(RedisAddress address, RevocationList* list);

 private:
  RevocationList* list_;
  std::unique_ptr<RedisPool> loader_;
  std::unique_ptr<RedisSubscriber> subscriber_;
};

/// Where identity publishes the current user-agreement version for gateways: a key
/// holding the number and a channel announcing a new one.
inline constexpr char kAgreementVersionKey[] = "auth:agreement-version";
inline constexpr char kAgreementChannel[] = "auth:agreement-published";

/// Keeps a number current from a Redis key (read on every (re)connect) and the
/// channel that announces its new values. 0 until known.
class RedisIntFeed {
 public:
  RedisIntFeed(RedisAddress address, std::string key, std::string channel);
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  void Set(const std::string& text);
  std::string key_;
  std::atomic<int64_t> value_{0};
  std::unique_ptr<RedisPool> loader_;
  std::unique_ptr<RedisSubscriber> subscriber_;
};

}  // namespace admissions
