#include "media_signaling/clients.h"

#include "common/status.h"
#include "common/upstream.h"

namespace admissions::media_signaling {

namespace wr = waiting_room::v1;

GrpcWaitingRoomClient::GrpcWaitingRoomClient(std::shared_ptr<grpc::Channel> channel,
                                             absl::Duration timeout)
    : stub_(wr::WaitingRoom::NewStub(std::move(channel))), timeout_(timeout) {}

absl::StatusOr<wr::MediaContext> GrpcWaitingRoomClient::GetMediaContext(
    const CallContext& call, const std::string& room_id, const std::string& account_id) {
  grpc::ClientContext ctx;
  PrepareUpstreamCall(&ctx, call, timeout_);
  // The caller's own token, when there is one: the waiting room then binds the candidate's
  // assignment on first sight, as it does for the candidate's own calls.
  if (!call.authorization.empty()) ctx.AddMetadata("authorization", call.authorization);
  wr::GetMediaContextRequest req;
  req.set_room_id(room_id);
  req.set_account_id(account_id);
  wr::MediaContext resp;
  grpc::Status st = stub_->GetMediaContext(&ctx, req, &resp);
  if (!st.ok()) return FromUpstream(st, "waiting-room", call.request_id);
  return resp;
}

absl::Status GrpcWaitingRoomClient::SetSecondDevice(const CallContext& call,
                                                    const std::string& room_id,
                                                    const std::string& account_id,
                                                    const std::string& state) {
  grpc::ClientContext ctx;
  PrepareUpstreamCall(&ctx, call, timeout_);
  wr::SetSecondDeviceRequest req;
  req.set_room_id(room_id);
  req.set_account_id(account_id);
  req.set_state(state);
  wr::SetSecondDeviceResponse resp;
  grpc::Status st = stub_->SetSecondDevice(&ctx, req, &resp);
  if (!st.ok()) return FromUpstream(st, "waiting-room", call.request_id);
  return absl::OkStatus();
}

absl::Status GrpcWaitingRoomClient::RecordProctorEvent(const CallContext& call,
                                                       const std::string& room_id,
                                                       wr::ProctorEventType type) {
  grpc::ClientContext ctx;
  PrepareUpstreamCall(&ctx, call, timeout_);
  ctx.AddMetadata("authorization", call.authorization);
  wr::RecordProctorEventRequest req;
  req.set_room_id(room_id);
  req.set_type(type);
  wr::RecordProctorEventResponse resp;
  grpc::Status st = stub_->RecordProctorEvent(&ctx, req, &resp);
  if (!st.ok()) return FromUpstream(st, "waiting-room", call.request_id);
  return absl::OkStatus();
}

}  // namespace admissions::media_signaling
