#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/caller.h"
#include "grpcpp/channel.h"
#include "waiting_room/v1/waiting_room.grpc.pb.h"

namespace admissions::media_signaling {

/// What media signaling asks the waiting room. The first two are internal RPCs (no
/// authorization); RecordProctorEvent is asked with the caller's authorization forwarded, so
/// the waiting room records the event as the candidate's own.
class WaitingRoomClient {
 public:
  virtual ~WaitingRoomClient() = default;
  /// Who may join the room's interview session; `account_id` may be empty (the room only).
  virtual absl::StatusOr<waiting_room::v1::MediaContext> GetMediaContext(
      const CallContext& call, const std::string& room_id, const std::string& account_id) = 0;
  /// `state`: NONE, PAIRED or LOST (LOST records SECOND_DEVICE_LOST for the examiners).
  virtual absl::Status SetSecondDevice(const CallContext& call, const std::string& room_id,
                                       const std::string& account_id, const std::string& state) = 0;
  /// SCREEN_SHARE_STARTED / STOPPED; 403 SCREEN_SHARE_NOT_ALLOWED when the exam forbids it.
  virtual absl::Status RecordProctorEvent(const CallContext& call, const std::string& room_id,
                                          waiting_room::v1::ProctorEventType type) = 0;
};

class GrpcWaitingRoomClient final : public WaitingRoomClient {
 public:
  GrpcWaitingRoomClient(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout);
  absl::StatusOr<waiting_room::v1::MediaContext> GetMediaContext(
      const CallContext& call, const std::string& room_id, const std::string& account_id) override;
  absl::Status SetSecondDevice(const CallContext& call, const std::string& room_id,
                               const std::string& account_id, const std::string& state) override;
  absl::Status RecordProctorEvent(const CallContext& call, const std::string& room_id,
                                  waiting_room::v1::ProctorEventType type) override;

 private:
  std::unique_ptr<waiting_room::v1::WaitingRoom::Stub> stub_;
  absl::Duration timeout_;
};

}  // namespace admissions::media_signaling
