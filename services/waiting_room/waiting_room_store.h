#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "waiting_room/room_rules.h"
#include "waiting_room/v1/waiting_room.pb.h"

namespace admissions::waiting_room {

struct RoomRow {
  std::string id, exam_id, school_id, name;
  absl::Time starts_at, ends_at;
  bool hide_wait_estimate = false;
  std::vector<std::string> examiner_ids;
  std::string draw_seed;
};

struct AssignmentRow {
  std::string room_id;
  int id_type = 0;
  std::string id_number_index, id_number_masked, name;
  int32_t sequence = 0;  // 0 on input: the next free one.
  std::string account_id;
  v1::CandidateStatus status = v1::NOT_ENTERED;
  std::string interview_id;
};

/// What the candidate's roster identity is (identity's eligibility view).
struct CandidateKey {
  std::string account_id;
  int id_type = 0;
  std::string id_number_index;
  std::string name;
};

/// What a change of a room did: the events it appended (with ids), the candidate's status
/// afterwards and the room's snapshot as of the change (for Redis).
struct ChangeResult {
  v1::CandidateStatus status = v1::CANDIDATE_STATUS_UNSPECIFIED;
  std::string interview_id;
  std::vector<v1::Event> events;
  RoomSnapshot snapshot;
  std::vector<AssignmentRow> assignments;        // AddAssignment, DrawSequences.
  std::string question_id, question_text, seed;  // SendQuestion.
};

/// One examiner's or candidate's action on a candidate.
struct ActRequest {
  std::string room_id;
  Action action = Action::kEnter;
  std::string account_id;  // The candidate.
  std::string actor;       // Who acts (the candidate themself, or an examiner).
};

struct QuestionRequest {
  std::string room_id, account_id, actor;
  std::vector<std::pair<std::string, std::string>> bank;  // (id, text) of the exam.
  std::string question_id;                                // Chosen, or
  bool draw = false;  // drawn at random among those not sent in this room.
  std::string seed;   // The draw's seed (fresh, recorded).
};

struct StoredEvent {
  v1::Event event;
};

/// The waiting room's storage. Each change is one transaction that first locks the room's
/// row: changes of one room are serialised, event ids are allocated gap-free under that
/// lock, and the audit entry and snapshot come from the same transaction. Blocking.
class WaitingRoomStore {
 public:
  virtual ~WaitingRoomStore() = default;

  virtual absl::StatusOr<std::string> CreateRoom(const RoomRow& room, const std::string& actor) = 0;
  virtual absl::StatusOr<std::optional<RoomRow>> GetRoom(const std::string& room_id) = 0;
  virtual absl::StatusOr<bool> IsExaminer(const std::string& room_id,
                                          const std::string& account_id) = 0;
  virtual absl::StatusOr<std::vector<RoomRow>> ListExaminerRooms(const std::string& account_id) = 0;
  /// The rooms of the exam the account is assigned to, with its sequence.
  virtual absl::StatusOr<std::vector<std::pair<RoomRow, AssignmentRow>>> ListCandidateRooms(
      const std::string& exam_id, const std::string& account_id) = 0;

  /// ALREADY_EXISTS ALREADY_ASSIGNED (same exam), SEQUENCE_TAKEN.
  virtual absl::StatusOr<ChangeResult> AddAssignment(const AssignmentRow& a,
                                                     const std::string& actor) = 0;
  /// FAILED_PRECONDITION ROOM_STARTED once anyone has entered.
  virtual absl::StatusOr<ChangeResult> DrawSequences(const std::string& room_id,
                                                     const std::string& seed,
                                                     const std::string& actor) = 0;
  virtual absl::StatusOr<std::vector<AssignmentRow>> ListAssignments(
      const std::string& room_id) = 0;
  /// Binds the unbound assignments of the exam's rooms that match the key; returns the
  /// rooms whose snapshot changed.
  virtual absl::StatusOr<std::vector<std::string>> Bind(const std::string& exam_id,
                                                        const CandidateKey& key) = 0;
  virtual absl::StatusOr<std::optional<AssignmentRow>> FindAssignment(
      const std::string& room_id, const std::string& account_id) = 0;

  /// The state machine (room_rules NextStatus) with its events and audit.
  virtual absl::StatusOr<ChangeResult> Act(const ActRequest& req) = 0;
  /// A group message (`to` empty) or a private one.
  virtual absl::StatusOr<ChangeResult> SendMessage(const std::string& room_id,
                                                   const std::string& actor, const std::string& to,
                                                   const std::string& text) = 0;
  virtual absl::StatusOr<ChangeResult> SendQuestion(const QuestionRequest& req) = 0;
  virtual absl::StatusOr<ChangeResult> RecordProctorEvent(const std::string& room_id,
                                                          const std::string& account_id,
                                                          v1::ProctorEventType type) = 0;
  /// Records presence when it changed (CANDIDATE_ONLINE / CANDIDATE_OFFLINE); no events
  /// when it did not.
  virtual absl::StatusOr<ChangeResult> SetOnline(const std::string& room_id,
                                                 const std::string& account_id, bool online) = 0;
  /// The candidate's second device: NONE, PAIRED or LOST. A change to LOST appends a
  /// SECOND_DEVICE_LOST proctoring event for the examiners; no change, no event.
  /// NOT_FOUND unless the candidate is assigned to the room.
  virtual absl::StatusOr<ChangeResult> SetSecondDevice(const std::string& room_id,
                                                       const std::string& account_id,
                                                       const std::string& state) = 0;
  /// Second-device state by account, for the candidates that have one other than NONE.
  virtual absl::StatusOr<std::map<std::string, std::string>> SecondDevices(
      const std::string& room_id) = 0;

  /// The room as of now (for rebuilding Redis).
  virtual absl::StatusOr<RoomSnapshot> Snapshot(const std::string& room_id) = 0;
  /// Events with id > after, in order, at most `limit`.
  virtual absl::StatusOr<std::vector<v1::Event>> ReadEvents(const std::string& room_id,
                                                            int64_t after, int limit) = 0;
  /// The questions sent to the candidate in this room.
  virtual absl::StatusOr<std::vector<v1::SentQuestion>> ListSentQuestions(
      const std::string& room_id, const std::string& account_id) = 0;
  virtual absl::StatusOr<std::vector<v1::ProctorRecord>> ListProctorEvents(
      const std::string& room_id, const std::string& account_id) = 0;
  virtual absl::StatusOr<std::vector<AuditEntry>> ReadAudit(const std::string& room_id) = 0;
  /// True when the candidate's interview in one of the exam's rooms has FINISHED.
  virtual absl::StatusOr<bool> InterviewFinished(const std::string& exam_id,
                                                 const std::string& account_id) = 0;
};

}  // namespace admissions::waiting_room
