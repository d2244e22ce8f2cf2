#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"

namespace admissions::gateway {

/// A backend service the gateway can route to, and the setting that holds its address.
struct ServiceInfo {
  /// Full proto name, e.g. "admissions.identity.v1.Identity".
  std::string_view full_name;
  /// Short name in settings, logs and metrics, e.g. "identity".
  std::string_view name;
  std::string_view flag;
  std::string_view env;
};

/// Every service of the platform, in a fixed order.
inline constexpr ServiceInfo kServices[] = {
    {"admissions.identity.v1.Identity", "identity", "identity_addr", "IDENTITY_ADDR"},
    {"admissions.enrollment.v1.Enrollment", "enrollment", "enrollment_addr", "ENROLLMENT_ADDR"},
    {"admissions.payment.v1.Payment", "payment", "payment_addr", "PAYMENT_ADDR"},
    {"admissions.materials.v1.Materials", "materials", "materials_addr", "MATERIALS_ADDR"},
    {"admissions.waiting_room.v1.WaitingRoom", "waiting_room", "waiting_room_addr",
     "WAITING_ROOM_ADDR"},
    {"admissions.media_signaling.v1.MediaSignaling", "media_signaling", "media_signaling_addr",
     "MEDIA_SIGNALING_ADDR"},
};

/// A configured upstream: the short service name and its gRPC address ("host:port").
struct UpstreamConfig {
  std::string name;
  std::string address;
};

/// One unary call: its context and the serialized request and response. Shared by the caller
/// and the completion, so it outlives whichever finishes last.
struct UpstreamCall {
  grpc::ClientContext context;
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
};

/// The upstream services: one channel and one generic stub each, and every call in flight so
/// that shutdown can cancel them.
class Upstreams {
 public:
  using Done = std::function<void(const grpc::Status&)>;

  explicit Upstreams(std::vector<UpstreamConfig> configs);
  ~Upstreams();  // Cancels and waits for calls still in flight.

  Upstreams(const Upstreams&) = delete;
  Upstreams& operator=(const Upstreams&) = delete;

  size_t size() const { return upstreams_.size(); }
  const std::string& name(int upstream) const { return upstreams_[upstream].config.name; }
  const std::string& address(int upstream) const { return upstreams_[upstream].config.address; }

  /// Starts `method` ("/pkg.Service/Method") on `upstream` with the call's context (deadline
  /// and metadata already set). `done` runs once, on a gRPC thread, and must not block; after
  /// CancelAll() it runs at once with CANCELLED.
  void StartCall(int upstream, const std::string& method, std::shared_ptr<UpstreamCall> call,
                 Done done);

  /// Asks every upstream `grpc.health.v1.Health/Check` (service "") with `timeout`; `done`
  /// gets the names of those that did not answer SERVING (empty when all did), on a gRPC thread
  /// or inline when there are no upstreams.
  void CheckHealth(std::chrono::milliseconds timeout,
                   std::function<void(std::vector<std::string> failed)> done);

  /// Cancels every call in flight, refuses new ones, and waits until every completion has run.
  void CancelAll();

 private:
  struct Upstream {
    UpstreamConfig config;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<grpc::GenericStub> stub;
  };

  void Finish(UpstreamCall* call);

  std::vector<Upstream> upstreams_;
  absl::Mutex mu_;
  absl::flat_hash_map<UpstreamCall*, std::shared_ptr<UpstreamCall>> calls_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

/// True when `bytes` is a grpc.health.v1.HealthCheckResponse with status SERVING.
bool IsServing(const grpc::ByteBuffer& bytes);

/// The bytes of a byte buffer, copied into one string.
std::string ByteBufferToString(const grpc::ByteBuffer& buffer);

/// A byte buffer holding a copy of `bytes` (possibly none).
grpc::ByteBuffer StringToByteBuffer(std::string_view bytes);

}  // namespace admissions::gateway
