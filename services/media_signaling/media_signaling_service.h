#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "common/caller.h"
#include "common/executor.h"
#include "media_signaling/media_signaling_logic.h"
#include "media_signaling/redis_relay_store.h"
#include "media_signaling/v1/media_signaling.grpc.pb.h"

namespace admissions::media_signaling {

/// The Connect streams this process holds, by participant, fed by the process's one Redis
/// subscription (its instance channel). Streams are called under the hub's lock, so a stream
/// that removed itself is never called again; a call only queues work or starts a write.
class StreamHub {
 public:
  class Stream {
   public:
    virtual ~Stream() = default;
    virtual void OnRouted(const Routed& routed) = 0;
    /// Re-read the mailbox (the subscription was re-established; messages may be lost).
    virtual void Resync() = 0;
    /// End now (the server is draining); the client reconnects elsewhere.
    virtual void Shutdown() = 0;
    /// The participant and epoch once joined, while the stream is live.
    virtual std::optional<LocalParticipant> Live() = 0;
  };

  void Add(const std::string& interview_id, const std::string& peer_id, Stream* s);
  void Remove(const std::string& interview_id, const std::string& peer_id, Stream* s);
  /// A message of the instance channel.
  void Dispatch(const std::string& payload);
  void ResyncAll();
  void ShutdownAll();
  /// The joined participants with a live stream here (lease renewal).
  std::vector<LocalParticipant> Local() const;
  size_t size() const;

 private:
  static std::string Key(const std::string& interview_id, const std::string& peer_id) {
    return interview_id + "\n" + peer_id;
  }
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::unordered_set<Stream*>> streams_ ABSL_GUARDED_BY(mu_);
};

/// gRPC adapter of media_signaling.v1.MediaSignaling: authenticates (the gateway forwards the
/// caller's token on every call, Connect included), runs MediaSignalingLogic on the executor
/// and maps the status. Connect is a write reactor: joined, the mailbox's backlog, then live
/// deliveries from the hub, in seq order with one write in flight.
class MediaSignalingService final : public v1::MediaSignaling::CallbackService {
 public:
  MediaSignalingService(MediaSignalingLogic* logic, const Authenticator* auth,
                        BoundedExecutor* executor, StreamHub* hub, std::string instance)
      : logic_(logic),
        auth_(auth),
        executor_(executor),
        hub_(hub),
        instance_(std::move(instance)) {}

  /// On SIGTERM: ends every Connect stream so that clients resume on another instance.
  void Drain() { hub_->ShutdownAll(); }

  grpc::ServerUnaryReactor* GetIceServers(grpc::CallbackServerContext* ctx,
                                          const v1::GetIceServersRequest* req,
                                          v1::IceServers* resp) override;
  grpc::ServerUnaryReactor* CreatePairingCode(grpc::CallbackServerContext* ctx,
                                              const v1::CreatePairingCodeRequest* req,
                                              v1::PairingCode* resp) override;
  grpc::ServerUnaryReactor* PairDevice(grpc::CallbackServerContext* ctx,
                                       const v1::PairDeviceRequest* req,
                                       v1::PairDeviceResponse* resp) override;
  grpc::ServerWriteReactor<v1::Delivery>* Connect(grpc::CallbackServerContext* ctx,
                                                  const v1::ConnectRequest* req) override;
  grpc::ServerUnaryReactor* Relay(grpc::CallbackServerContext* ctx, const v1::RelayRequest* req,
                                  v1::RelayResponse* resp) override;
  grpc::ServerUnaryReactor* Leave(grpc::CallbackServerContext* ctx, const v1::LeaveRequest* req,
                                  v1::LeaveResponse* resp) override;
  grpc::ServerUnaryReactor* SetScreenShare(grpc::CallbackServerContext* ctx,
                                           const v1::SetScreenShareRequest* req,
                                           v1::SetScreenShareResponse* resp) override;

 private:
  MediaSignalingLogic* logic_;
  const Authenticator* auth_;
  BoundedExecutor* executor_;
  StreamHub* hub_;
  const std::string instance_;
};

}  // namespace admissions::media_signaling
