#include "common/redis.h"

#include <sodium.h>
#include <sys/socket.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/caller.h"
#include "common/log.h"
#include "common/status.h"

namespace admissions {
namespace {

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

RedisReply Copy(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Copy(r->element[i]));
      break;
    default:
      out.type = RedisReply::Type::kNil;
  }
  return out;
}

absl::Status Unavailable(std::string_view what) {
  return Error(absl::StatusCode::kUnavailable, reason::kUnavailable,
               "redis unavailable: " + std::string(what));
}

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv;
  tv.tv_sec = ms.count() / 1000;
  tv.tv_usec = (ms.count() % 1000) * 1000;
  return tv;
}

}  // namespace

absl::StatusOr<RedisAddress> RedisAddress::Parse(std::string_view url) {
  constexpr std::string_view kScheme = "redis://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return absl::InvalidArgumentError("redis url must start with redis://");
  }
  std::string_view rest = url.substr(kScheme.size());
  RedisAddress addr;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    if (!absl::SimpleAtoi(std::string(rest.substr(slash + 1)), &addr.db)) {
      return absl::InvalidArgumentError("redis url has a bad database number");
    }
    rest = rest.substr(0, slash);
  }
  auto colon = rest.rfind(':');
  if (colon == std::string_view::npos) {
    addr.host = std::string(rest);
  } else {
    addr.host = std::string(rest.substr(0, colon));
    if (!absl::SimpleAtoi(std::string(rest.substr(colon + 1)), &addr.port) || addr.port <= 0 ||
        addr.port > 65535) {
      return absl::InvalidArgumentError("redis url has a bad port");
    }
  }
  if (addr.host.empty()) return absl::InvalidArgumentError("redis url has no host");
  return addr;
}

RedisPool::RedisPool(RedisAddress address, int size, std::chrono::milliseconds timeout)
    : address_(std::move(address)), timeout_(timeout), capacity_(size) {}

RedisPool::~RedisPool() = default;

absl::StatusOr<RedisPool::ContextPtr> RedisPool::Connect() {
  timeval tv = ToTimeval(timeout_);
  ContextPtr c(redisConnectWithTimeout(address_.host.c_str(), address_.port, tv));
  if (!c) return Unavailable("out of memory");
  if (c->err) return Unavailable(c->errstr);
  redisSetTimeout(c.get(), tv);
  if (address_.db != 0) {
    ReplyPtr r(static_cast<redisReply*>(redisCommand(c.get(), "SELECT %d", address_.db)));
    if (!r || r->type == REDIS_REPLY_ERROR) return Unavailable("cannot select database");
  }
  return c;
}

absl::StatusOr<RedisReply> RedisPool::Command(const std::vector<std::string>& argv) {
  ContextPtr ctx;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, timeout_,
                      [this] { return !idle_.empty() || outstanding_ < capacity_; })) {
      return Unavailable("no free connection");
    }
    if (!idle_.empty()) {
      ctx = std::move(idle_.back());
      idle_.pop_back();
    }
    ++outstanding_;
  }
  auto give_back = [this](ContextPtr c) {
    std::lock_guard<std::mutex> lock(mu_);
    --outstanding_;
    if (c) idle_.push_back(std::move(c));
    cv_.notify_one();
  };
  if (!ctx) {
    auto fresh = Connect();
    if (!fresh.ok()) {
      give_back(nullptr);
      return fresh.status();
    }
    ctx = *std::move(fresh);
  }
  std::vector<const char*> args;
  std::vector<size_t> lens;
  args.reserve(argv.size());
  lens.reserve(argv.size());
  for (const auto& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  ReplyPtr reply(static_cast<redisReply*>(
      redisCommandArgv(ctx.get(), static_cast<int>(args.size()), args.data(), lens.data())));
  if (!reply) {
    std::string err = ctx->errstr;
    give_back(nullptr);  // A broken context is dropped; the next call reconnects.
    return Unavailable(err);
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    std::string err(reply->str, reply->len);
    give_back(std::move(ctx));
    return Error(absl::StatusCode::kInternal, reason::kInternal, "redis error: " + err);
  }
  RedisReply out = Copy(reply.get());
  give_back(std::move(ctx));
  return out;
}

RedisScript::RedisScript(std::string source) : source_(std::move(source)) {}

absl::StatusOr<RedisReply> RedisScript::Run(RedisPool& pool, const std::vector<std::string>& keys,
                                            const std::vector<std::string>& args) {
  std::string sha;
  {
    std::lock_guard<std::mutex> lock(mu_);
    sha = sha_;
  }
  if (sha.empty()) {
    auto loaded = pool.Command({"SCRIPT", "LOAD", source_});
    if (!loaded.ok()) return loaded.status();
    sha = loaded->str;
    std::lock_guard<std::mutex> lock(mu_);
    sha_ = sha;
  }
  std::vector<std::string> argv = {"EVALSHA", sha, std::to_string(keys.size())};
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  auto reply = pool.Command(argv);
  if (!reply.ok() && absl::StrContains(reply.status().message(), "NOSCRIPT")) {
    // The server lost its script cache (restart, failover, SCRIPT FLUSH).
    auto loaded = pool.Command({"SCRIPT", "LOAD", source_});
    if (!loaded.ok()) return loaded.status();
    argv[1] = loaded->str;
    reply = pool.Command(argv);
  }
  return reply;
}

RedisSubscriber::RedisSubscriber(RedisAddress address, std::vector<std::string> channels,
                                 MessageFn on_message, std::function<void()> on_connect)
    : address_(std::move(address)),
      channels_(std::move(channels)),
      on_message_(std::move(on_message)),
      on_connect_(std::move(on_connect)),
      thread_([this] { Loop(); }) {}

RedisSubscriber::~RedisSubscriber() {
  stop_ = true;
  // Wake a blocked read: shutting the socket down makes redisGetReply return.
  if (redisContext* c = live_.load()) ::shutdown(c->fd, SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
}

void RedisSubscriber::Loop() {
  std::chrono::milliseconds backoff(100);
  while (!stop_) {
    timeval tv = ToTimeval(std::chrono::milliseconds(2000));
    redisContext* raw = redisConnectWithTimeout(address_.host.c_str(), address_.port, tv);
    std::unique_ptr<redisContext, void (*)(redisContext*)> ctx(raw, [](redisContext* c) {
      if (c) redisFree(c);
    });
    if (!ctx || ctx->err) {
      Log(LogLevel::kWarn, "redis_subscribe_connect_failed",
          {{"error", ctx ? ctx->errstr : "oom"}});
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      continue;
    }
    std::vector<const char*> args = {"SUBSCRIBE"};
    std::vector<size_t> lens = {9};
    for (const auto& ch : channels_) {
      args.push_back(ch.data());
      lens.push_back(ch.size());
    }
    redisAppendCommandArgv(ctx.get(), static_cast<int>(args.size()), args.data(), lens.data());
    // Read the subscription confirmations, then reload state, then stream messages.
    bool ok = true;
    for (size_t i = 0; i < channels_.size() && ok; ++i) {
      void* r = nullptr;
      ok = redisGetReply(ctx.get(), &r) == REDIS_OK;
      if (r) freeReplyObject(r);
    }
    if (!ok) continue;
    // Block without a timeout from now on; the destructor wakes us via shutdown().
    timeval zero{0, 0};
    redisSetTimeout(ctx.get(), zero);
    live_ = ctx.get();
    if (stop_) {
      live_ = nullptr;
      break;
    }
    backoff = std::chrono::milliseconds(100);
    if (on_connect_) on_connect_();
    while (!stop_) {
      void* r = nullptr;
      if (redisGetReply(ctx.get(), &r) != REDIS_OK) break;
      ReplyPtr reply(static_cast<redisReply*>(r));
      if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 3 &&
          reply->element[0]->type == REDIS_REPLY_STRING &&
          std::string_view(reply->element[0]->str, reply->element[0]->len) == "message") {
        on_message_(std::string(reply->element[1]->str, reply->element[1]->len),
                    std::string(reply->element[2]->str, reply->element[2]->len));
      }
    }
    live_ = nullptr;
    if (!stop_) {
      Log(LogLevel::kWarn, "redis_subscription_lost", {});
      std::this_thread::sleep_for(backoff);
    }
  }
}

absl::Status PublishRevocation(RedisPool& pool, const std::string& session_id,
                               int64_t until_seconds) {
  auto added =
      pool.Command({"ZADD", kRevokedSessionsKey, std::to_string(until_seconds), session_id});
  if (!added.ok()) return added.status();
  // Entries past their time are of no use to anyone.
  (void)pool.Command(
      {"ZREMRANGEBYSCORE", kRevokedSessionsKey, "-inf", std::to_string(NowSeconds())});
  auto published = pool.Command(
      {"PUBLISH", kRevokedSessionsChannel, absl::StrCat(session_id, ":", until_seconds)});
  return published.status();
}

RevocationFeed::RevocationFeed(RedisAddress address, RevocationList* list)
    : list_(list), loader_(std::make_unique<RedisPool>(address, 1)) {
  subscriber_ = std::make_unique<RedisSubscriber>(
      address, std::vector<std::string>{kRevokedSessionsChannel},
      [this](const std::string&, const std::string& payload) {
        auto colon = payload.rfind(':');
        int64_t until = 0;
        if (colon == std::string::npos || !absl::SimpleAtoi(payload.substr(colon + 1), &until)) {
          return;
        }
        list_->Add(payload.substr(0, colon), until);
        list_->Prune(NowSeconds());
      },
      [this] {
        auto all = loader_->Command({"ZRANGEBYSCORE", kRevokedSessionsKey,
                                     std::to_string(NowSeconds()), "+inf", "WITHSCORES"});
        if (!all.ok()) {
          Log(LogLevel::kWarn, "revocation_reload_failed",
              {{"error", std::string(all.status().message())}});
          return;
        }
        const auto& e = all->elements;
        for (size_t i = 0; i + 1 < e.size(); i += 2) {
          int64_t until = 0;
          if (absl::SimpleAtoi(e[i + 1].str, &until)) list_->Add(e[i].str, until);
        }
      });
}

RedisIntFeed::RedisIntFeed(RedisAddress address, std::string key, std::string channel)
    : key_(std::move(key)), loader_(std::make_unique<RedisPool>(address, 1)) {
  subscriber_ = std::make_unique<RedisSubscriber>(
      address, std::vector<std::string>{std::move(channel)},
      [this](const std::string&, const std::string& payload) { Set(payload); },
      [this] {
        auto v = loader_->Command({"GET", key_});
        if (v.ok() && !v->is_nil()) Set(v->str);
      });
}

void RedisIntFeed::Set(const std::string& text) {
  int64_t v = 0;
  if (absl::SimpleAtoi(text, &v)) value_.store(v, std::memory_order_relaxed);
}

}  // namespace admissions
