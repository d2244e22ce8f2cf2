#pragma once

#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/caller.h"
#include "common/executor.h"
#include "common/log.h"
#include "common/status.h"
#include "grpcpp/grpcpp.h"

namespace admissions {

/// Blocks SIGINT and SIGTERM in the calling thread and every thread it starts
/// later; RunGrpcServer waits for them with sigwait. Call first thing in main().
void BlockTerminationSignals();

struct GrpcServerOptions {
  std::string service_name;    // For logs, e.g. "identity".
  std::string listen_address;  // "127.0.0.1:0" picks a free port.
  std::string port_file;       // When set, the bound port is written here.
  std::chrono::milliseconds drain_timeout{10000};
  /// The largest request message accepted (gRPC's default is 4 MiB).
  int max_receive_message_bytes = 4 << 20;
};

/// Starts a gRPC server with `services` and the standard health service, writes
/// the port file, then waits for SIGINT/SIGTERM and drains: health turns
/// NOT_SERVING, new calls are refused, in-flight calls get up to drain_timeout.
/// `before_drain` runs after the signal (e.g. to stop background jobs).
absl::Status RunGrpcServer(const GrpcServerOptions& options,
                           const std::vector<grpc::Service*>& services,
                           const std::function<void()>& before_drain = {});

/// Runs `fn` (returning absl::Status) on `executor` and finishes the call with its
/// result; the reaction thread never blocks. A full queue answers UNAVAILABLE.
/// A call whose deadline has passed by the time it is picked up is not run.
template <typename Fn>
grpc::ServerUnaryReactor* RunBlocking(grpc::CallbackServerContext* ctx, BoundedExecutor* executor,
                                      Fn&& fn) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  bool posted = executor->TryPost([ctx, reactor, fn = std::forward<Fn>(fn)]() mutable {
    ScopedRequestId request_id(RequestIdOf(*ctx));
    if (ctx->IsCancelled()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "call cancelled"));
      return;
    }
    absl::Status status;
    try {
      status = fn();
    } catch (const std::exception& e) {
      Log(LogLevel::kError, "unhandled_exception", {{"what", e.what()}});
      status = Error(absl::StatusCode::kInternal, reason::kInternal, "internal error");
    }
    reactor->Finish(ToGrpcStatus(status));
  });
  if (!posted) {
    reactor->Finish(ToGrpcStatus(
        Error(absl::StatusCode::kUnavailable, reason::kUnavailable, "server is busy, try again")));
  }
  return reactor;
}

/// Authenticates the call, then runs `fn(caller, call_context)` on `executor` as
/// RunBlocking does; an unauthenticated call is refused at once.
template <typename Fn>
grpc::ServerUnaryReactor* RunAuthenticated(grpc::CallbackServerContext* ctx,
                                           const Authenticator& auth, BoundedExecutor* executor,
                                           Fn&& fn) {
  auto caller = auth.Authenticate(*ctx);
  if (!caller.ok()) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(ToGrpcStatus(caller.status()));
    return reactor;
  }
  return RunBlocking(ctx, executor,
                     [fn = std::forward<Fn>(fn), caller = *std::move(caller),
                      call = CallContextOf(*ctx)]() mutable { return fn(caller, call); });
}

/// Copies a StatusOr's value into the response and passes its status on.
template <typename T>
absl::Status Into(absl::StatusOr<T> result, T* resp) {
  if (!result.ok()) return result.status();
  *resp = *std::move(result);
  return absl::OkStatus();
}

/// Finishes a call at once with `status` (refused before any work was posted).
inline grpc::ServerUnaryReactor* Refuse(grpc::CallbackServerContext* ctx,
                                        const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

/// A setting's parsed value, or the process exits 2 with a log line naming it.
template <typename T>
T OrDie(absl::StatusOr<T> value, const char* setting) {
  if (!value.ok()) {
    Log(LogLevel::kError, "bad_setting",
        {{"setting", setting}, {"error", value.status().message()}});
    FlushLogs();
    std::exit(2);
  }
  return *std::move(value);
}

/// Writes `port` to `path` atomically (temp file + rename).
absl::Status WritePortFile(const std::string& path, int port);

}  // namespace admissions
