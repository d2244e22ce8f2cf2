#pragma once

#include <functional>
#include <mutex>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/caller.h"
#include "enrollment/v1/enrollment.pb.h"
#include "waiting_room/clients.h"
#include "waiting_room/live_state.h"
#include "waiting_room/room_rules.h"
#include "waiting_room/v1/waiting_room.pb.h"
#include "waiting_room/waiting_room_store.h"

namespace admissions::waiting_room {

struct WaitingRoomSettings {
  /// How recent the candidate's PASSED ROOM verification must be to enter (R13).
  absl::Duration room_verification_max_age = absl::Seconds(300);
  /// Events per ListEvents answer (and the most a client may ask for).
  int max_events = 500;
  int max_message_chars = 2000;
};

/// Who reads a room's stream, and so which events they see: examiners everything, a
/// candidate ROOM events and PRIVATE events addressed to them.
struct Reader {
  std::string room_id;
  std::string account_id;
  bool examiner = false;
};
bool Visible(const v1::Event& e, const Reader& reader);

/// The waiting room's domain: rooms and assignments (school admins), entering and the
/// lobby (candidates), the interview's state machine (examiners and candidates), messages,
/// questions, proctoring events, presence and the event stream. Plain C++, blocking
/// (PostgreSQL, Redis and the other services); no gRPC types.
///
/// Every change is written to PostgreSQL first (the store, one transaction); then the
/// room's snapshot goes to Redis (newest version wins) and "room <id> has event <n>" is
/// published so that long polls and streams on every instance wake. `notify` is called for
/// this instance at once (Redis may be down).
class WaitingRoomLogic {
 public:
  using Notify = std::function<void(const std::string& room_id, int64_t event_id)>;

  /// `live` and `materials` may be null (no Redis: every read rebuilds from PostgreSQL;
  /// no materials service: materials status UNKNOWN).
  WaitingRoomLogic(WaitingRoomStore* store, LiveState* live, IdentityClient* identity,
                   EnrollmentClient* enrollment, StepClient* materials,
                   WaitingRoomSettings settings, Notify notify);

  // School admins of the exam's school (or operators).
  absl::StatusOr<v1::CreateRoomResponse> CreateRoom(const Caller& caller, const CallContext& call,
                                                    const v1::CreateRoomRequest& req);
  absl::StatusOr<v1::Assignment> AddAssignment(const Caller& caller, const CallContext& call,
                                               const v1::AddAssignmentRequest& req);
  absl::StatusOr<v1::DrawSequencesResponse> DrawSequences(const Caller& caller,
                                                          const v1::DrawSequencesRequest& req);
  absl::StatusOr<v1::ListAssignmentsResponse> ListAssignments(
      const Caller& caller, const v1::ListAssignmentsRequest& req);
  absl::StatusOr<v1::ExportAuditResponse> ExportAudit(const Caller& caller,
                                                      const v1::ExportAuditRequest& req);

  // Candidates.
  absl::StatusOr<v1::ListExamRoomsResponse> ListExamRooms(const Caller& caller,
                                                          const CallContext& call,
                                                          const v1::ListExamRoomsRequest& req);
  absl::StatusOr<v1::Lobby> EnterRoom(const Caller& caller, const CallContext& call,
                                      const v1::EnterRoomRequest& req);
  absl::StatusOr<v1::Lobby> GetLobby(const Caller& caller, const CallContext& call,
                                     const v1::GetLobbyRequest& req);
  absl::StatusOr<v1::AcceptInvitationResponse> AcceptInvitation(
      const Caller& caller, const CallContext& call, const v1::AcceptInvitationRequest& req);
  absl::StatusOr<v1::ListQuestionsResponse> ListQuestions(const Caller& caller,
                                                          const CallContext& call,
                                                          const v1::ListQuestionsRequest& req);
  absl::Status RecordProctorEvent(const Caller& caller, const CallContext& call,
                                  const v1::RecordProctorEventRequest& req);
  absl::Status LeaveRoom(const Caller& caller, const CallContext& call,
                         const v1::LeaveRoomRequest& req);

  // Examiners of the room.
  absl::StatusOr<v1::ListExaminerRoomsResponse> ListExaminerRooms(const Caller& caller);
  absl::StatusOr<v1::ListRoomCandidatesResponse> ListRoomCandidates(
      const Caller& caller, const CallContext& call, const v1::ListRoomCandidatesRequest& req);
  absl::StatusOr<v1::CandidateActionResponse> Act(const Caller& caller,
                                                  const v1::CandidateActionRequest& req,
                                                  Action action);
  absl::StatusOr<v1::SendMessageResponse> SendMessage(const Caller& caller,
                                                      const v1::SendMessageRequest& req);
  absl::StatusOr<v1::SendQuestionResponse> SendQuestion(const Caller& caller,
                                                        const CallContext& call,
                                                        const v1::SendQuestionRequest& req);
  absl::StatusOr<v1::ListProctorEventsResponse> ListProctorEvents(
      const Caller& caller, const v1::ListProctorEventsRequest& req);

  // The stream.
  /// Who the caller is in the room (examiner, or an assigned candidate); a candidate's
  /// call counts as presence when `touch`.
  absl::StatusOr<Reader> AuthorizeReader(const Caller& caller, const CallContext& call,
                                         const std::string& room_id, bool touch);
  /// The events after `after` the reader may see, at most `limit` scanned per page; an
  /// empty answer means nothing new (the caller may wait). last_event_id is the last id
  /// scanned, so that invisible events are skipped once.
  absl::StatusOr<v1::ListEventsResponse> ReadEvents(const Reader& reader, int64_t after, int limit);
  /// NOT_FOUND ROOM_NOT_FOUND unless the room exists.
  absl::Status CheckRoom(const std::string& room_id) { return Room(room_id).status(); }
  /// Every event after `after` (all audiences), for the gateway's stream.
  absl::StatusOr<std::vector<v1::Event>> Backlog(const std::string& room_id, int64_t after,
                                                 int limit);
  absl::Status TouchPresence(const Caller& caller, const CallContext& call,
                             const v1::TouchPresenceRequest& req);
  /// Marks offline (with a CANDIDATE_OFFLINE event) whoever's presence lapsed in the rooms
  /// this instance has seen presence in. Run periodically.
  void SweepPresence();

  // Media signaling (internal, no caller).
  /// `caller` (may be null): the candidate the request is about, from a forwarded token;
  /// their assignments of the room's exam are bound first, as on their own calls.
  absl::StatusOr<v1::MediaContext> GetMediaContext(const CallContext& call,
                                                   const v1::GetMediaContextRequest& req,
                                                   const Caller* caller = nullptr);
  absl::Status SetSecondDevice(const v1::SetSecondDeviceRequest& req);

  /// enrollment.v1.JourneyStepSource for ROOM: DONE once the interview has FINISHED.
  absl::StatusOr<enrollment::v1::CandidateStep> GetCandidateStep(
      const enrollment::v1::GetCandidateStepRequest& req);

 private:
  absl::StatusOr<RoomRow> Room(const std::string& room_id);
  absl::Status RequireAdmin(const Caller& caller, const RoomRow& room);
  /// An EXAMINER assigned to the room: another room's examiner gets PERMISSION_DENIED.
  absl::Status RequireExaminer(const Caller& caller, const RoomRow& room);
  /// The caller's assignment in the room (binding their account on first sight).
  absl::StatusOr<AssignmentRow> CandidateIn(const Caller& caller, const CallContext& call,
                                            const RoomRow& room);
  absl::StatusOr<CandidateKey> KeyOf(const Caller& caller, const CallContext& call);
  /// Binds the caller to assignments of the exam; refreshes the rooms that changed.
  absl::Status BindCandidate(const Caller& caller, const CallContext& call,
                             const std::string& exam_id);
  /// Redis's snapshot of the room, rebuilt from PostgreSQL when it is gone.
  absl::StatusOr<RoomSnapshot> Live(const std::string& room_id);
  void Refresh(const std::string& room_id);
  /// After a committed change: snapshot to Redis, event announced.
  void Publish(const ChangeResult& change);
  void Presence(const std::string& room_id, const std::string& account_id, bool online);

  WaitingRoomStore* store_;
  LiveState* live_;
  IdentityClient* identity_;
  EnrollmentClient* enrollment_;
  StepClient* materials_;
  WaitingRoomSettings settings_;
  Notify notify_;
  std::mutex presence_mu_;
  std::set<std::string> presence_rooms_;  // Rooms with presence seen here (swept).
};

}  // namespace admissions::waiting_room
