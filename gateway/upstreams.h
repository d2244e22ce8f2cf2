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
#include "grpcpp/support/client_callback.h"

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

/// One streaming call (client- or server-streaming; on the wire every streaming call is the
/// same, so the generic stub drives both as bidi). The gateway starts each operation from its
/// own io thread, one write and one read at most in flight, and learns of their completions
/// through `Sink`, which runs on a gRPC thread and must only hand the event over (post it).
///
/// The call holds a hold (ClientBidiReactor::AddHold) from its start: operations are started
/// from outside the reactions, so OnDone must not run before the owner says it will start no
/// more (Release()). Release() is idempotent and thread-safe; once it has run, Write(), Read()
/// and WritesDone() do nothing, so Upstreams::CancelAll() can release a call whose owner will
/// never run again (the io threads have stopped).
class UpstreamStream final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  enum class Event {
    /// The service sent its initial metadata (`ok`), or ended the call without any (!ok).
    kInitialMetadata,
    kWriteDone,
    /// `ok`: a message is in TakeResponse(); !ok: the service sent no more (the call ends).
    kReadDone,
    /// The last event: status() holds the outcome.
    kDone,
  };
  using Sink = std::function<void(const UpstreamStream* stream, Event event, bool ok)>;

  explicit UpstreamStream(Sink sink) : sink_(std::move(sink)) {}

  /// Set the deadline and metadata here before Upstreams::StartStream().
  grpc::ClientContext& context() { return context_; }

  /// Sends one message; `last` half-closes the call with it. One write at a time.
  void Write(grpc::ByteBuffer message, bool last);
  /// Half-closes the call: the service's read sees the end of the stream.
  void WritesDone();
  /// Asks for the next message (Event::kReadDone). One read at a time.
  void Read();
  /// The message of the last successful read.
  grpc::ByteBuffer TakeResponse() { return std::move(response_); }
  /// The owner starts no more operations: lets the call end once its operations complete.
  void Release();
  /// Thread-safe: fails the call (the service sees it cancelled); operations complete !ok.
  void Cancel() { context_.TryCancel(); }
  /// Valid once Event::kDone has been delivered.
  const grpc::Status& status() const { return status_; }

 private:
  friend class Upstreams;

  void OnReadInitialMetadataDone(bool ok) override { sink_(this, Event::kInitialMetadata, ok); }
  void OnWriteDone(bool ok) override { sink_(this, Event::kWriteDone, ok); }
  void OnReadDone(bool ok) override { sink_(this, Event::kReadDone, ok); }
  void OnDone(const grpc::Status& status) override;

  grpc::ClientContext context_;
  Sink sink_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  grpc::Status status_;
  /// Runs last in OnDone: Upstreams forgets the call (possibly destroying it).
  std::function<void()> on_done_;
  absl::Mutex mu_;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
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

  /// Starts a streaming call of `method` on `upstream` with the stream's context (deadline and
  /// metadata already set). False when shutting down: the call was not started and no event
  /// will come. Otherwise every event reaches the stream's sink, Event::kDone last.
  bool StartStream(int upstream, const std::string& method, std::shared_ptr<UpstreamStream> stream);

  /// Asks every upstream `grpc.health.v1.Health/Check` (service "") with `timeout`; `done`
  /// gets the names of those that did not answer SERVING (empty when all did), on a gRPC thread
  /// or inline when there are no upstreams.
  void CheckHealth(std::chrono::milliseconds timeout,
                   std::function<void(std::vector<std::string> failed)> done);

  /// Cancels every call in flight (releasing streams), refuses new ones, and waits until every
  /// completion has run.
  void CancelAll();

 private:
  struct Upstream {
    UpstreamConfig config;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<grpc::GenericStub> stub;
  };

  void Finish(UpstreamCall* call);
  bool Idle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::vector<Upstream> upstreams_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<UpstreamCall*, std::shared_ptr<UpstreamCall>> calls_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<UpstreamStream*, std::shared_ptr<UpstreamStream>> streams_
      ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

/// True when `bytes` is a grpc.health.v1.HealthCheckResponse with status SERVING.
bool IsServing(const grpc::ByteBuffer& bytes);

/// The bytes of a byte buffer, copied into one string.
std::string ByteBufferToString(const grpc::ByteBuffer& buffer);

/// A byte buffer holding a copy of `bytes` (possibly none).
grpc::ByteBuffer StringToByteBuffer(std::string_view bytes);

}  // namespace admissions::gateway
