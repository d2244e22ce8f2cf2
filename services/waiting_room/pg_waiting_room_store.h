#pragma once

#include "common/pg.h"
#include "waiting_room/waiting_room_store.h"

namespace admissions::waiting_room {

/// WaitingRoomStore on PostgreSQL (schema `waiting_room`).
class PgWaitingRoomStore final : public WaitingRoomStore {
 public:
  PgWaitingRoomStore(const std::string& uri, int pool_size);

  absl::StatusOr<std::string> CreateRoom(const RoomRow& room, const std::string& actor) override;
  absl::StatusOr<std::optional<RoomRow>> GetRoom(const std::string& room_id) override;
  absl::StatusOr<bool> IsExaminer(const std::string& room_id,
                                  const std::string& account_id) override;
  absl::StatusOr<std::vector<RoomRow>> ListExaminerRooms(const std::string& account_id) override;
  absl::StatusOr<std::vector<std::pair<RoomRow, AssignmentRow>>> ListCandidateRooms(
      const std::string& exam_id, const std::string& account_id) override;
  absl::StatusOr<ChangeResult> AddAssignment(const AssignmentRow& a,
                                             const std::string& actor) override;
  absl::StatusOr<ChangeResult> DrawSequences(const std::string& room_id, const std::string& seed,
                                             const std::string& actor) override;
  absl::StatusOr<std::vector<AssignmentRow>> ListAssignments(const std::string& room_id) override;
  absl::StatusOr<std::vector<std::string>> Bind(const std::string& exam_id,
                                                const CandidateKey& key) override;
  absl::StatusOr<std::optional<AssignmentRow>> FindAssignment(
      const std::string& room_id, const std::string& account_id) override;
  absl::StatusOr<ChangeResult> Act(const ActRequest& req) override;
  absl::StatusOr<ChangeResult> SendMessage(const std::string& room_id, const std::string& actor,
                                           const std::string& to, const std::string& text) override;
  absl::StatusOr<ChangeResult> SendQuestion(const QuestionRequest& req) override;
  absl::StatusOr<ChangeResult> RecordProctorEvent(const std::string& room_id,
                                                  const std::string& account_id,
                                                  v1::ProctorEventType type) override;
  absl::StatusOr<ChangeResult> SetOnline(const std::string& room_id, const std::string& account_id,
                                         bool online) override;
  absl::StatusOr<ChangeResult> SetSecondDevice(const std::string& room_id,
                                               const std::string& account_id,
                                               const std::string& state) override;
  absl::StatusOr<std::map<std::string, std::string>> SecondDevices(
      const std::string& room_id) override;
  absl::StatusOr<RoomSnapshot> Snapshot(const std::string& room_id) override;
  absl::StatusOr<std::vector<v1::Event>> ReadEvents(const std::string& room_id, int64_t after,
                                                    int limit) override;
  absl::StatusOr<std::vector<v1::SentQuestion>> ListSentQuestions(
      const std::string& room_id, const std::string& account_id) override;
  absl::StatusOr<std::vector<v1::ProctorRecord>> ListProctorEvents(
      const std::string& room_id, const std::string& account_id) override;
  absl::StatusOr<std::vector<AuditEntry>> ReadAudit(const std::string& room_id) override;
  absl::StatusOr<bool> InterviewFinished(const std::string& exam_id,
                                         const std::string& account_id) override;

  bool Ping() { return pool_.Ping(); }

 private:
  PgPool pool_;
};

/// True for the canonical text form of a UUID.
bool IsUuid(std::string_view s);

}  // namespace admissions::waiting_room
