#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "common/caller.h"
#include "common/executor.h"
#include "common/notification_hub.h"
#include "enrollment/v1/enrollment.grpc.pb.h"
#include "waiting_room/v1/waiting_room.grpc.pb.h"
#include "waiting_room/waiting_room_logic.h"

namespace admissions::waiting_room {

/// The Subscribe streams of this process, by room: woken when a room has a new event
/// (locally, or through Redis from another instance). A woken stream reads what it has not
/// sent from PostgreSQL, so a lost wake-up delays but never loses an event.
class RoomFeeds {
 public:
  class Subscriber {
   public:
    virtual ~Subscriber() = default;
    virtual void Kick() = 0;
  };
  void Add(const std::string& room_id, Subscriber* s);
  void Remove(const std::string& room_id, Subscriber* s);
  void Notify(const std::string& room_id);
  /// After a reconnect to Redis (messages may have been missed).
  void NotifyAll();
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::unordered_set<Subscriber*>> rooms_;
};

/// gRPC adapter of waiting_room.v1.WaitingRoom: authenticates, runs WaitingRoomLogic on the
/// executor, maps the status. ListEvents long-polls on the NotificationHub (no thread waits);
/// Subscribe is a write reactor with one page of events in memory at a time.
class WaitingRoomService final : public v1::WaitingRoom::CallbackService {
 public:
  WaitingRoomService(WaitingRoomLogic* logic, const Authenticator* auth, BoundedExecutor* executor,
                     NotificationHub* hub, RoomFeeds* feeds)
      : logic_(logic), auth_(auth), executor_(executor), hub_(hub), feeds_(feeds) {}

  /// On SIGTERM: long polls answer now with what they have (clients resume from their last
  /// id elsewhere) instead of holding the drain for up to their wait.
  void Drain();

  /// The hub key of a room's events.
  static std::string HubKey(const std::string& room_id) { return "room:" + room_id; }

  grpc::ServerUnaryReactor* CreateRoom(grpc::CallbackServerContext* ctx,
                                       const v1::CreateRoomRequest* req,
                                       v1::CreateRoomResponse* resp) override;
  grpc::ServerUnaryReactor* AddAssignment(grpc::CallbackServerContext* ctx,
                                          const v1::AddAssignmentRequest* req,
                                          v1::Assignment* resp) override;
  grpc::ServerUnaryReactor* DrawSequences(grpc::CallbackServerContext* ctx,
                                          const v1::DrawSequencesRequest* req,
                                          v1::DrawSequencesResponse* resp) override;
  grpc::ServerUnaryReactor* ListAssignments(grpc::CallbackServerContext* ctx,
                                            const v1::ListAssignmentsRequest* req,
                                            v1::ListAssignmentsResponse* resp) override;
  grpc::ServerUnaryReactor* ExportAudit(grpc::CallbackServerContext* ctx,
                                        const v1::ExportAuditRequest* req,
                                        v1::ExportAuditResponse* resp) override;
  grpc::ServerUnaryReactor* ListExamRooms(grpc::CallbackServerContext* ctx,
                                          const v1::ListExamRoomsRequest* req,
                                          v1::ListExamRoomsResponse* resp) override;
  grpc::ServerUnaryReactor* EnterRoom(grpc::CallbackServerContext* ctx,
                                      const v1::EnterRoomRequest* req, v1::Lobby* resp) override;
  grpc::ServerUnaryReactor* GetLobby(grpc::CallbackServerContext* ctx,
                                     const v1::GetLobbyRequest* req, v1::Lobby* resp) override;
  grpc::ServerUnaryReactor* ListEvents(grpc::CallbackServerContext* ctx,
                                       const v1::ListEventsRequest* req,
                                       v1::ListEventsResponse* resp) override;
  grpc::ServerUnaryReactor* AcceptInvitation(grpc::CallbackServerContext* ctx,
                                             const v1::AcceptInvitationRequest* req,
                                             v1::AcceptInvitationResponse* resp) override;
  grpc::ServerUnaryReactor* ListQuestions(grpc::CallbackServerContext* ctx,
                                          const v1::ListQuestionsRequest* req,
                                          v1::ListQuestionsResponse* resp) override;
  grpc::ServerUnaryReactor* RecordProctorEvent(grpc::CallbackServerContext* ctx,
                                               const v1::RecordProctorEventRequest* req,
                                               v1::RecordProctorEventResponse* resp) override;
  grpc::ServerUnaryReactor* LeaveRoom(grpc::CallbackServerContext* ctx,
                                      const v1::LeaveRoomRequest* req,
                                      v1::LeaveRoomResponse* resp) override;
  grpc::ServerUnaryReactor* ListExaminerRooms(grpc::CallbackServerContext* ctx,
                                              const v1::ListExaminerRoomsRequest* req,
                                              v1::ListExaminerRoomsResponse* resp) override;
  grpc::ServerUnaryReactor* ListRoomCandidates(grpc::CallbackServerContext* ctx,
                                               const v1::ListRoomCandidatesRequest* req,
                                               v1::ListRoomCandidatesResponse* resp) override;
  grpc::ServerUnaryReactor* Invite(grpc::CallbackServerContext* ctx,
                                   const v1::CandidateActionRequest* req,
                                   v1::CandidateActionResponse* resp) override;
  grpc::ServerUnaryReactor* Defer(grpc::CallbackServerContext* ctx,
                                  const v1::CandidateActionRequest* req,
                                  v1::CandidateActionResponse* resp) override;
  grpc::ServerUnaryReactor* End(grpc::CallbackServerContext* ctx,
                                const v1::CandidateActionRequest* req,
                                v1::CandidateActionResponse* resp) override;
  grpc::ServerUnaryReactor* MarkAbsent(grpc::CallbackServerContext* ctx,
                                       const v1::CandidateActionRequest* req,
                                       v1::CandidateActionResponse* resp) override;
  grpc::ServerUnaryReactor* SendMessage(grpc::CallbackServerContext* ctx,
                                        const v1::SendMessageRequest* req,
                                        v1::SendMessageResponse* resp) override;
  grpc::ServerUnaryReactor* SendQuestion(grpc::CallbackServerContext* ctx,
                                         const v1::SendQuestionRequest* req,
                                         v1::SendQuestionResponse* resp) override;
  grpc::ServerUnaryReactor* ListProctorEvents(grpc::CallbackServerContext* ctx,
                                              const v1::ListProctorEventsRequest* req,
                                              v1::ListProctorEventsResponse* resp) override;
  grpc::ServerUnaryReactor* AuthorizeSubscription(grpc::CallbackServerContext* ctx,
                                                  const v1::AuthorizeSubscriptionRequest* req,
                                                  v1::Subscription* resp) override;
  grpc::ServerWriteReactor<v1::Event>* Subscribe(grpc::CallbackServerContext* ctx,
                                                 const v1::SubscribeRequest* req) override;
  grpc::ServerUnaryReactor* TouchPresence(grpc::CallbackServerContext* ctx,
                                          const v1::TouchPresenceRequest* req,
                                          v1::TouchPresenceResponse* resp) override;
  grpc::ServerUnaryReactor* GetMediaContext(grpc::CallbackServerContext* ctx,
                                            const v1::GetMediaContextRequest* req,
                                            v1::MediaContext* resp) override;
  grpc::ServerUnaryReactor* SetSecondDevice(grpc::CallbackServerContext* ctx,
                                            const v1::SetSecondDeviceRequest* req,
                                            v1::SetSecondDeviceResponse* resp) override;

 private:
  template <typename Fn>
  grpc::ServerUnaryReactor* Authed(grpc::CallbackServerContext* ctx, Fn&& fn);
  grpc::ServerUnaryReactor* Action(grpc::CallbackServerContext* ctx,
                                   const v1::CandidateActionRequest* req,
                                   v1::CandidateActionResponse* resp, waiting_room::Action action);
  struct Poll;
  void Attempt(std::shared_ptr<Poll> poll);

  WaitingRoomLogic* logic_;
  const Authenticator* auth_;
  BoundedExecutor* executor_;
  NotificationHub* hub_;
  RoomFeeds* feeds_;
  std::atomic<bool> draining_{false};
  std::mutex polls_mu_;
  std::unordered_map<std::string, int> polling_rooms_;  // Room → long polls waiting on it.
};

/// enrollment.v1.JourneyStepSource for the ROOM step (internal, unauthenticated like the
/// other internal RPCs). Runs on its own executor: enrollment asks it while answering
/// GetJourney, which the waiting room itself calls when a candidate enters.
class WaitingRoomStepService final : public enrollment::v1::JourneyStepSource::CallbackService {
 public:
  WaitingRoomStepService(WaitingRoomLogic* logic, BoundedExecutor* executor)
      : logic_(logic), executor_(executor) {}
  grpc::ServerUnaryReactor* GetCandidateStep(grpc::CallbackServerContext* ctx,
                                             const enrollment::v1::GetCandidateStepRequest* req,
                                             enrollment::v1::CandidateStep* resp) override;

 private:
  WaitingRoomLogic* logic_;
  BoundedExecutor* executor_;
};

}  // namespace admissions::waiting_room
