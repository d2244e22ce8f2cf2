#include "waiting_room/pg_waiting_room_store.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/crypto.h"
#include "common/status.h"

namespace admissions::waiting_room {
namespace {

#define ROOM_COLUMNS                                                                     \
  "r.id::text, r.exam_id, r.school_id, r.name, "                                         \
  "(extract(epoch FROM r.starts_at) * 1000000)::int8, "                                  \
  "(extract(epoch FROM r.ends_at) * 1000000)::int8, r.hide_wait_estimate, r.draw_seed, " \
  "coalesce((SELECT string_agg(e.account_id, ',' ORDER BY e.account_id) FROM "           \
  "room_examiners e WHERE e.room_id = r.id), '') "
#define ASSIGN_COLUMNS                                                                      \
  "a.room_id::text, a.id_type, a.id_number_index, a.id_number_masked, a.name, a.sequence, " \
  "coalesce(a.account_id, ''), a.status, coalesce(a.interview_id::text, '') "
#define HEAD_COLUMNS                                                 \
  "last_event_id, audit_seq, audit_hash, exam_id, school_id, name, " \
  "(extract(epoch FROM starts_at) * 1000000)::int8, "                \
  "(extract(epoch FROM ends_at) * 1000000)::int8, hide_wait_estimate, version "

constexpr char kInsertRoom[] = "insert_room";
constexpr char kInsertExaminer[] = "insert_examiner";
constexpr char kGetRoom[] = "get_room";
constexpr char kIsExaminer[] = "is_examiner";
constexpr char kExaminerRooms[] = "examiner_rooms";
constexpr char kCandidateRooms[] = "candidate_rooms";
constexpr char kLockRoom[] = "lock_room";
constexpr char kShareRoom[] = "share_room";
constexpr char kSaveRoom[] = "save_room";
constexpr char kInsertEvent[] = "insert_event";
constexpr char kInsertAudit[] = "insert_audit";
constexpr char kListAssign[] = "list_assign";
constexpr char kFindAssign[] = "find_assign";
constexpr char kSetStatus[] = "set_status";
constexpr char kSetLeft[] = "set_left";
constexpr char kOtherActive[] = "other_active";
constexpr char kNextInLine[] = "next_in_line";
constexpr char kInsertInterview[] = "insert_interview";
constexpr char kStartInterview[] = "start_interview";
constexpr char kCloseInterview[] = "close_interview";
constexpr char kFinishedStats[] = "finished_stats";
constexpr char kSnapshotRows[] = "snapshot_rows";
constexpr char kInsertAssign[] = "insert_assign";
constexpr char kNextSequence[] = "next_sequence";
constexpr char kAssignedInExam[] = "assigned_in_exam";
constexpr char kSequenceTaken[] = "sequence_taken";
constexpr char kAnyEntered[] = "any_entered";
constexpr char kSetSequence[] = "set_sequence";
constexpr char kSetDrawSeed[] = "set_draw_seed";
constexpr char kBind[] = "bind";
constexpr char kLockBindRooms[] = "lock_bind_rooms";
constexpr char kBumpVersion[] = "bump_version";
constexpr char kSentIds[] = "sent_ids";
constexpr char kInsertSent[] = "insert_sent";
constexpr char kListSent[] = "list_sent";
constexpr char kInsertProctor[] = "insert_proctor";
constexpr char kListProctor[] = "list_proctor";
constexpr char kSetOnline[] = "set_online";
constexpr char kReadEvents[] = "read_events";
constexpr char kReadAudit[] = "read_audit";
constexpr char kInterviewFinished[] = "interview_finished";
constexpr char kSetSecondDevice[] = "set_second_device";
constexpr char kSecondDevices[] = "second_devices";

std::vector<PgStatement> Statements() {
  return {
      {kInsertRoom,
       "INSERT INTO rooms (exam_id, school_id, name, starts_at, ends_at, hide_wait_estimate, "
       "created_by) VALUES ($1, $2, $3, to_timestamp($4::float8 / 1000000), "
       "to_timestamp($5::float8 / 1000000), $6, $7) RETURNING id::text"},
      {kInsertExaminer,
       "INSERT INTO room_examiners (room_id, account_id) VALUES ($1::uuid, $2) "
       "ON CONFLICT DO NOTHING"},
      {kGetRoom, "SELECT " ROOM_COLUMNS "FROM rooms r WHERE r.id = $1::uuid"},
      {kIsExaminer,
       "SELECT EXISTS (SELECT 1 FROM room_examiners WHERE room_id = $1::uuid AND "
       "account_id = $2)"},
      {kExaminerRooms,
       "SELECT " ROOM_COLUMNS "FROM rooms r JOIN room_examiners x ON x.room_id = r.id "
       "WHERE x.account_id = $1 ORDER BY r.starts_at, r.id"},
      {kCandidateRooms, "SELECT " ROOM_COLUMNS ", " ASSIGN_COLUMNS
                        "FROM rooms r JOIN assignments a ON a.room_id = r.id "
                        "WHERE r.exam_id = $1 AND a.account_id = $2 ORDER BY r.starts_at, r.id"},
      {kLockRoom, "SELECT " HEAD_COLUMNS "FROM rooms WHERE id = $1::uuid FOR UPDATE"},
      {kShareRoom, "SELECT " HEAD_COLUMNS "FROM rooms WHERE id = $1::uuid FOR SHARE"},
      {kSaveRoom,
       "UPDATE rooms SET last_event_id = $2, audit_seq = $3, audit_hash = $4, "
       "version = version + 1 WHERE id = $1::uuid RETURNING version"},
      {kInsertEvent,
       "INSERT INTO room_events (room_id, id, type, audience, to_account_id, at, payload) "
       "VALUES ($1::uuid, $2, $3, $4, $5, to_timestamp($6::float8 / 1000000), $7)"},
      {kInsertAudit,
       "INSERT INTO audit_log (room_id, seq, at, actor, action, subject, detail, prev_hash, "
       "hash) VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9)"},
      {kListAssign, "SELECT " ASSIGN_COLUMNS
                    "FROM assignments a WHERE a.room_id = $1::uuid ORDER BY a.sequence"},
      {kFindAssign, "SELECT " ASSIGN_COLUMNS "FROM assignments a WHERE a.room_id = $1::uuid AND "
                    "a.account_id = $2"},
      {kSetStatus,
       "UPDATE assignments SET status = $3, interview_id = NULLIF($4, '')::uuid, "
       "updated_at = now() WHERE room_id = $1::uuid AND account_id = $2"},
      {kSetLeft,
       "UPDATE assignments SET left_at = now() WHERE room_id = $1::uuid AND account_id = $2 "
       "AND left_at IS NULL"},
      {kOtherActive,
       "SELECT count(*) FROM assignments WHERE room_id = $1::uuid AND status IN ('INVITED', "
       "'INTERVIEWING') AND account_id IS DISTINCT FROM $2"},
      {kNextInLine,
       "SELECT account_id, sequence FROM assignments WHERE room_id = $1::uuid AND status IN "
       "('WAITING', 'DEFERRED') AND account_id <> $2 ORDER BY (status = 'DEFERRED'), sequence "
       "LIMIT 1"},
      {kInsertInterview,
       "INSERT INTO interviews (id, room_id, account_id, sequence, invited_by) VALUES "
       "(gen_random_uuid(), $1::uuid, $2, $3, $4) RETURNING id::text"},
      {kStartInterview, "UPDATE interviews SET started_at = now() WHERE id = $1::uuid"},
      {kCloseInterview, "UPDATE interviews SET ended_at = now(), outcome = $2 WHERE id = $1::uuid"},
      {kFinishedStats,
       "SELECT count(*), coalesce(sum(extract(epoch FROM ended_at - started_at) * 1000), 0)::int8 "
       "FROM interviews WHERE room_id = $1::uuid AND outcome = 'FINISHED' AND started_at IS NOT "
       "NULL"},
      {kSnapshotRows,
       "SELECT sequence, status, coalesce(account_id, ''), name, id_number_masked, online, "
       "left_at IS NOT NULL FROM assignments WHERE room_id = $1::uuid ORDER BY sequence"},
      {kInsertAssign,
       "INSERT INTO assignments (room_id, id_type, id_number_index, id_number_masked, name, "
       "sequence) VALUES ($1::uuid, $2, $3, $4, $5, $6)"},
      {kNextSequence,
       "SELECT coalesce(max(sequence), 0) + 1 FROM assignments WHERE room_id = $1::uuid"},
      {kAssignedInExam,
       "SELECT a.room_id::text FROM assignments a JOIN rooms r ON r.id = a.room_id "
       "WHERE r.exam_id = $1 AND a.id_type = $2 AND a.id_number_index = $3 LIMIT 1"},
      {kSequenceTaken,
       "SELECT EXISTS (SELECT 1 FROM assignments WHERE room_id = $1::uuid AND sequence = $2)"},
      {kAnyEntered,
       "SELECT count(*) FROM assignments WHERE room_id = $1::uuid AND status <> 'NOT_ENTERED'"},
      {kSetSequence,
       "UPDATE assignments SET sequence = $4, updated_at = now() WHERE room_id = $1::uuid AND "
       "id_type = $2 AND id_number_index = $3"},
      {kSetDrawSeed, "UPDATE rooms SET draw_seed = $2 WHERE id = $1::uuid"},
      {kBind,
       "UPDATE assignments a SET account_id = $1, updated_at = now() FROM rooms r "
       "WHERE a.room_id = r.id AND r.exam_id = $2 AND a.id_type = $3 AND "
       "a.id_number_index = $4 AND a.name = $5 AND a.account_id IS NULL "
       "RETURNING a.room_id::text"},
      {kLockBindRooms,
       "SELECT r.id FROM rooms r WHERE r.exam_id = $1 AND r.id IN (SELECT a.room_id FROM "
       "assignments a WHERE a.id_type = $2 AND a.id_number_index = $3 AND a.account_id IS "
       "NULL) ORDER BY r.id FOR UPDATE OF r"},
      {kBumpVersion, "UPDATE rooms SET version = version + 1 WHERE id = $1::uuid"},
      {kSentIds, "SELECT question_id FROM sent_questions WHERE room_id = $1::uuid"},
      {kInsertSent,
       "INSERT INTO sent_questions (room_id, question_id, account_id, interview_id, text, seed, "
       "sent_by) VALUES ($1::uuid, $2, $3, $4::uuid, $5, $6, $7)"},
      {kListSent,
       "SELECT question_id, text, (extract(epoch FROM sent_at) * 1000000)::int8 FROM "
       "sent_questions WHERE room_id = $1::uuid AND account_id = $2 ORDER BY sent_at, "
       "question_id"},
      {kInsertProctor,
       "INSERT INTO proctor_events (room_id, account_id, type, at) VALUES ($1::uuid, $2, $3, "
       "to_timestamp($4::float8 / 1000000))"},
      {kListProctor,
       "SELECT type, (extract(epoch FROM at) * 1000000)::int8 FROM proctor_events "
       "WHERE room_id = $1::uuid AND account_id = $2 ORDER BY id"},
      {kSetOnline,
       "UPDATE assignments SET online = $3 WHERE room_id = $1::uuid AND account_id = $2 AND "
       "online <> $3 RETURNING sequence"},
      {kReadEvents,
       "SELECT payload FROM room_events WHERE room_id = $1::uuid AND id > $2 ORDER BY id "
       "LIMIT $3"},
      {kReadAudit,
       "SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit_log "
       "WHERE room_id = $1::uuid ORDER BY seq"},
      {kInterviewFinished,
       "SELECT EXISTS (SELECT 1 FROM assignments a JOIN rooms r ON r.id = a.room_id "
       "WHERE r.exam_id = $1 AND a.account_id = $2 AND a.status = 'FINISHED')"},
      {kSetSecondDevice,
       "UPDATE assignments SET second_device = $3, updated_at = now() WHERE room_id = $1::uuid "
       "AND account_id = $2 AND second_device <> $3 RETURNING sequence"},
      {kSecondDevices,
       "SELECT account_id, second_device FROM assignments WHERE room_id = $1::uuid AND "
       "account_id IS NOT NULL AND second_device <> 'NONE'"},
  };
}

absl::Time Micros(const pqxx::field& f) { return absl::FromUnixMicros(f.as<int64_t>()); }

void SetTs(google::protobuf::Timestamp* ts, absl::Time t) {
  int64_t us = absl::ToUnixMicros(t);
  ts->set_seconds(us / 1000000);
  ts->set_nanos(static_cast<int32_t>(us % 1000000) * 1000);
}

RoomRow ReadRoom(const pqxx::row& r, int o = 0) {
  RoomRow room;
  room.id = r[o + 0].as<std::string>();
  room.exam_id = r[o + 1].as<std::string>();
  room.school_id = r[o + 2].as<std::string>();
  room.name = r[o + 3].as<std::string>();
  room.starts_at = Micros(r[o + 4]);
  room.ends_at = Micros(r[o + 5]);
  room.hide_wait_estimate = r[o + 6].as<bool>();
  room.draw_seed = r[o + 7].as<std::string>();
  std::string examiners = r[o + 8].as<std::string>();
  size_t start = 0;
  while (start < examiners.size()) {
    size_t comma = examiners.find(',', start);
    if (comma == std::string::npos) comma = examiners.size();
    room.examiner_ids.push_back(examiners.substr(start, comma - start));
    start = comma + 1;
  }
  return room;
}

constexpr int kRoomColumnCount = 9;

v1::CandidateStatus StatusOf(const std::string& s) {
  v1::CandidateStatus st = v1::CANDIDATE_STATUS_UNSPECIFIED;
  (void)v1::CandidateStatus_Parse(s, &st);
  return st;
}

AssignmentRow ReadAssign(const pqxx::row& r, int o = 0) {
  AssignmentRow a;
  a.room_id = r[o + 0].as<std::string>();
  a.id_type = r[o + 1].as<int>();
  a.id_number_index = r[o + 2].as<std::string>();
  a.id_number_masked = r[o + 3].as<std::string>();
  a.name = r[o + 4].as<std::string>();
  a.sequence = r[o + 5].as<int32_t>();
  a.account_id = r[o + 6].as<std::string>();
  a.status = StatusOf(r[o + 7].as<std::string>());
  a.interview_id = r[o + 8].as<std::string>();
  return a;
}

absl::Status RoomNotFound() {
  return Error(absl::StatusCode::kNotFound, "ROOM_NOT_FOUND", "no such room");
}

absl::Status CandidateNotFound() {
  return Error(absl::StatusCode::kNotFound, "CANDIDATE_NOT_FOUND",
               "no such candidate in this room");
}

/// A room's row locked for a change, and what the change appends under the lock.
class RoomChange {
 public:
  RoomChange(pqxx::work& tx, std::string room_id) : tx_(tx), room_id_(std::move(room_id)) {}

  /// False when the room does not exist.
  bool Lock() {
    auto rows = tx_.exec_prepared(kLockRoom, room_id_);
    if (rows.empty()) return false;
    const auto& r = rows[0];
    last_event_id_ = r[0].as<int64_t>();
    audit_seq_ = r[1].as<int64_t>();
    audit_hash_ = r[2].as<std::string>();
    snap_.room_id = room_id_;
    snap_.exam_id = r[3].as<std::string>();
    snap_.school_id = r[4].as<std::string>();
    snap_.name = r[5].as<std::string>();
    snap_.starts_at = Micros(r[6]);
    snap_.ends_at = Micros(r[7]);
    snap_.hide_wait_estimate = r[8].as<bool>();
    return true;
  }

  /// Appends `e` with the next id; returns it as stored.
  const v1::Event& Emit(v1::Event e) {
    e.set_id(++last_event_id_);
    SetTs(e.mutable_at(), now_);
    tx_.exec_prepared(kInsertEvent, room_id_, e.id(), static_cast<int>(e.type()),
                      static_cast<int>(e.audience()), e.to_account_id(), absl::ToUnixMicros(now_),
                      Base64Encode(e.SerializeAsString()));
    events_.push_back(std::move(e));
    return events_.back();
  }

  void Audit(const std::string& actor, std::string_view action, const std::string& subject,
             const std::string& detail) {
    AuditEntry e;
    e.at = AuditTime(now_);
    e.actor = actor;
    e.action = std::string(action);
    e.subject = subject;
    e.detail = detail;
    ChainAuditEntry(audit_seq_, audit_hash_, &e);
    tx_.exec_prepared(kInsertAudit, room_id_, e.seq, e.at, e.actor, e.action, e.subject, e.detail,
                      e.prev_hash, e.hash);
    audit_seq_ = e.seq;
    audit_hash_ = e.hash;
  }

  /// Saves the head (event id, audit chain, version) and reads the snapshot as of now.
  ChangeResult Finish() {
    ChangeResult out;
    auto v = tx_.exec_prepared1(kSaveRoom, room_id_, last_event_id_, audit_seq_, audit_hash_);
    snap_.version = v[0].as<int64_t>();
    snap_.last_event_id = last_event_id_;
    ReadCandidates(tx_, &snap_);
    out.snapshot = std::move(snap_);
    out.events = std::move(events_);
    return out;
  }

  static void ReadCandidates(pqxx::transaction_base& tx, RoomSnapshot* snap) {
    snap->candidates.clear();
    for (const auto& r : tx.exec_prepared(kSnapshotRows, snap->room_id)) {
      SnapshotCandidate c;
      c.sequence = r[0].as<int32_t>();
      c.status = StatusOf(r[1].as<std::string>());
      c.account_id = r[2].as<std::string>();
      c.name = r[3].as<std::string>();
      c.id_number_masked = r[4].as<std::string>();
      c.online = r[5].as<bool>();
      c.left = r[6].as<bool>();
      snap->candidates.push_back(std::move(c));
    }
    auto stats = tx.exec_prepared1(kFinishedStats, snap->room_id);
    snap->finished_count = stats[0].as<int32_t>();
    snap->finished_total_ms = stats[1].as<int64_t>();
  }

  pqxx::work& tx() { return tx_; }
  const std::string& room_id() const { return room_id_; }
  const RoomSnapshot& room() const { return snap_; }

 private:
  pqxx::work& tx_;
  std::string room_id_;
  absl::Time now_ = absl::Now();
  int64_t last_event_id_ = 0;
  int64_t audit_seq_ = 0;
  std::string audit_hash_;
  RoomSnapshot snap_;
  std::vector<v1::Event> events_;
};

v1::Event MakeEvent(v1::Event::Type type, v1::Audience audience, int32_t sequence,
                    const std::string& to = "", const std::string& account = "") {
  v1::Event e;
  e.set_type(type);
  e.set_audience(audience);
  e.set_sequence(sequence);
  e.set_to_account_id(to);
  e.set_account_id(account);
  return e;
}

std::optional<AssignmentRow> Find(pqxx::work& tx, const std::string& room_id,
                                  const std::string& account_id) {
  auto rows = tx.exec_prepared(kFindAssign, room_id, account_id);
  if (rows.empty()) return std::nullopt;
  return ReadAssign(rows[0]);
}

}  // namespace

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

PgWaitingRoomStore::PgWaitingRoomStore(const std::string& uri, int pool_size)
    : pool_(uri, "waiting_room", pool_size, Statements()) {}

absl::StatusOr<std::string> PgWaitingRoomStore::CreateRoom(const RoomRow& room,
                                                           const std::string& actor) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<std::string> {
    std::string id =
        tx.exec_prepared1(kInsertRoom, room.exam_id, room.school_id, room.name,
                          absl::ToUnixMicros(room.starts_at), absl::ToUnixMicros(room.ends_at),
                          room.hide_wait_estimate, actor)[0]
            .as<std::string>();
    for (const auto& e : room.examiner_ids) tx.exec_prepared(kInsertExaminer, id, e);
    RoomChange change(tx, id);
    change.Lock();
    std::string examiners;
    for (const auto& e : room.examiner_ids)
      absl::StrAppend(&examiners, examiners.empty() ? "" : ",", e);
    change.Audit(actor, "ROOM_CREATED", id,
                 absl::StrCat("exam=", room.exam_id, " name=", room.name,
                              " startsAt=", AuditTime(room.starts_at),
                              " endsAt=", AuditTime(room.ends_at), " examiners=", examiners,
                              " hideWaitEstimate=", room.hide_wait_estimate ? "true" : "false"));
    change.Finish();
    return id;
  });
}

absl::StatusOr<std::optional<RoomRow>> PgWaitingRoomStore::GetRoom(const std::string& room_id) {
  if (!IsUuid(room_id)) return std::optional<RoomRow>();
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::optional<RoomRow>> {
    auto rows = tx.exec_prepared(kGetRoom, room_id);
    if (rows.empty()) return std::optional<RoomRow>();
    return std::optional<RoomRow>(ReadRoom(rows[0]));
  });
}

absl::StatusOr<bool> PgWaitingRoomStore::IsExaminer(const std::string& room_id,
                                                    const std::string& account_id) {
  if (!IsUuid(room_id)) return false;
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<bool> {
    return tx.exec_prepared1(kIsExaminer, room_id, account_id)[0].as<bool>();
  });
}

absl::StatusOr<std::vector<RoomRow>> PgWaitingRoomStore::ListExaminerRooms(
    const std::string& account_id) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<RoomRow>> {
    std::vector<RoomRow> out;
    for (const auto& r : tx.exec_prepared(kExaminerRooms, account_id)) out.push_back(ReadRoom(r));
    return out;
  });
}

absl::StatusOr<std::vector<std::pair<RoomRow, AssignmentRow>>>
PgWaitingRoomStore::ListCandidateRooms(const std::string& exam_id, const std::string& account_id) {
  using Out = std::vector<std::pair<RoomRow, AssignmentRow>>;
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<Out> {
    Out out;
    for (const auto& r : tx.exec_prepared(kCandidateRooms, exam_id, account_id)) {
      out.emplace_back(ReadRoom(r), ReadAssign(r, kRoomColumnCount));
    }
    return out;
  });
}

absl::StatusOr<ChangeResult> PgWaitingRoomStore::AddAssignment(const AssignmentRow& a,
                                                               const std::string& actor) {
  if (!IsUuid(a.room_id)) return RoomNotFound();
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<ChangeResult> {
    RoomChange change(tx, a.room_id);
    if (!change.Lock()) return RoomNotFound();
    auto other =
        tx.exec_prepared(kAssignedInExam, change.room().exam_id, a.id_type, a.id_number_index);
    if (!other.empty()) {
      return Error(absl::StatusCode::kAlreadyExists, "ALREADY_ASSIGNED",
                   "this candidate is already assigned to a room of this exam",
                   {{"roomId", other[0][0].as<std::string>()}});
    }
    int32_t sequence = a.sequence;
    if (sequence == 0) {
      sequence = tx.exec_prepared1(kNextSequence, a.room_id)[0].as<int32_t>();
    } else if (tx.exec_prepared1(kSequenceTaken, a.room_id, sequence)[0].as<bool>()) {
      return Error(absl::StatusCode::kAlreadyExists, "SEQUENCE_TAKEN",
                   "another candidate of this room has this sequence number",
                   {{"field", "sequence"}});
    }
    tx.exec_prepared(kInsertAssign, a.room_id, a.id_type, a.id_number_index, a.id_number_masked,
                     a.name, sequence);
    change.Audit(actor, "ASSIGNED", a.id_number_masked,
                 absl::StrCat("sequence=", sequence, " idType=", a.id_type,
                              " index=", a.id_number_index.substr(0, 16)));
    ChangeResult out = change.Finish();
    AssignmentRow row = a;
    row.sequence = sequence;
    out.assignments.push_back(std::move(row));
    return out;
  });
}

absl::StatusOr<ChangeResult> PgWaitingRoomStore::DrawSequences(const std::string& room_id,
                                                               const std::string& seed,
                                                               const std::string& actor) {
  if (!IsUuid(room_id)) return RoomNotFound();
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<ChangeResult> {
    RoomChange change(tx, room_id);
    if (!change.Lock()) return RoomNotFound();
    if (tx.exec_prepared1(kAnyEntered, room_id)[0].as<int>() > 0) {
      return Error(absl::StatusCode::kFailedPrecondition, "ROOM_STARTED",
                   "candidates have entered this room; its order can no longer be drawn");
    }
    std::vector<AssignmentRow> rows;
    for (const auto& r : tx.exec_prepared(kListAssign, room_id)) rows.push_back(ReadAssign(r));
    // The draw depends on the seed and the set of candidates only, never on their previous
    // order: sorted by their stable key first.
    std::sort(rows.begin(), rows.end(), [](const AssignmentRow& x, const AssignmentRow& y) {
      return std::tie(x.id_number_index, x.id_type) < std::tie(y.id_number_index, y.id_type);
    });
    std::vector<size_t> order = DrawPermutation(seed, rows.size());
    tx.exec0("SET CONSTRAINTS ALL DEFERRED");
    std::vector<AssignmentRow> drawn(rows.size());
    for (size_t pos = 0; pos < order.size(); ++pos) {
      AssignmentRow a = rows[order[pos]];
      a.sequence = static_cast<int32_t>(pos + 1);
      tx.exec_prepared(kSetSequence, room_id, a.id_type, a.id_number_index, a.sequence);
      drawn[pos] = std::move(a);
    }
    tx.exec_prepared(kSetDrawSeed, room_id, seed);
    change.Audit(actor, "SEQUENCES_DRAWN", room_id,
                 absl::StrCat("seed=", seed, " candidates=", rows.size()));
    ChangeResult out = change.Finish();
    out.assignments = std::move(drawn);
    out.seed = seed;
    return out;
  });
}

absl::StatusOr<std::vector<AssignmentRow>> PgWaitingRoomStore::ListAssignments(
    const std::string& room_id) {
  if (!IsUuid(room_id)) return RoomNotFound();
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<AssignmentRow>> {
    std::vector<AssignmentRow> out;
    for (const auto& r : tx.exec_prepared(kListAssign, room_id)) out.push_back(ReadAssign(r));
    return out;
  });
}

absl::StatusOr<std::vector<std::string>> PgWaitingRoomStore::Bind(const std::string& exam_id,
                                                                  const CandidateKey& key) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<std::vector<std::string>> {
    // The rooms first, as every change of a room does: no lock-order inversion with Act.
    if (tx.exec_prepared(kLockBindRooms, exam_id, key.id_type, key.id_number_index).empty()) {
      return std::vector<std::string>();
    }
    std::vector<std::string> rooms;
    for (const auto& r : tx.exec_prepared(kBind, key.account_id, exam_id, key.id_type,
                                          key.id_number_index, key.name)) {
      rooms.push_back(r[0].as<std::string>());
    }
    for (const auto& room : rooms) tx.exec_prepared(kBumpVersion, room);
    return rooms;
  });
}

absl::StatusOr<std::optional<AssignmentRow>> PgWaitingRoomStore::FindAssignment(
    const std::string& room_id, const std::string& account_id) {
  if (!IsUuid(room_id)) return std::optional<AssignmentRow>();
  return pool_.Read(
      [&](pqxx::transaction_base& tx) -> absl::StatusOr<std::optional<AssignmentRow>> {
        auto rows = tx.exec_prepared(kFindAssign, room_id, account_id);
        if (rows.empty()) return std::optional<AssignmentRow>();
        return std::optional<AssignmentRow>(ReadAssign(rows[0]));
      });
}

absl::StatusOr<ChangeResult> PgWaitingRoomStore::Act(const ActRequest& req) {
  if (!IsUuid(req.room_id)) return RoomNotFound();
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<ChangeResult> {
    RoomChange change(tx, req.room_id);
    if (!change.Lock()) return RoomNotFound();
    auto found = Find(tx, req.room_id, req.account_id);
    if (!found) return CandidateNotFound();
    AssignmentRow a = *std::move(found);
    bool other_active =
        tx.exec_prepared1(kOtherActive, req.room_id, req.account_id)[0].as<int>() > 0;
    ASSIGN_OR_RETURN(v1::CandidateStatus next, NextStatus(req.action, a.status, other_active));
    const std::string& who = req.account_id;
    const int32_t seq = a.sequence;
    std::string interview = a.interview_id;
    auto set_status = [&](v1::CandidateStatus s, const std::string& interview_id) {
      tx.exec_prepared(kSetStatus, req.room_id, who, v1::CandidateStatus_Name(s), interview_id);
    };
    std::string detail =
        absl::StrCat("sequence=", seq, " from=", v1::CandidateStatus_Name(a.status),
                     " to=", v1::CandidateStatus_Name(next));
    bool changed = true;
    switch (req.action) {
      case Action::kEnter:
        if (next == a.status) {
          changed = false;
          break;
        }
        set_status(next, "");
        change.Emit(MakeEvent(v1::Event::CANDIDATE_JOINED, v1::ROOM, seq));
        break;
      case Action::kInvite: {
        interview = tx.exec_prepared1(kInsertInterview, req.room_id, who, seq, req.actor)[0]
                        .as<std::string>();
        set_status(next, interview);
        v1::Event inv = MakeEvent(v1::Event::INVITATION, v1::PRIVATE, seq, who, who);
        inv.set_interview_id(interview);
        change.Emit(std::move(inv));
        auto next_in_line = tx.exec_prepared(kNextInLine, req.room_id, who);
        if (!next_in_line.empty()) {
          std::string to = next_in_line[0][0].as<std::string>();
          change.Emit(MakeEvent(v1::Event::HEADS_UP, v1::PRIVATE, next_in_line[0][1].as<int32_t>(),
                                to, to));
        }
        absl::StrAppend(&detail, " interview=", interview);
        break;
      }
      case Action::kAccept: {
        set_status(next, interview);
        tx.exec_prepared(kStartInterview, interview);
        change.Emit(MakeEvent(v1::Event::NOW_INTERVIEWING, v1::ROOM, seq));
        v1::Event acc = MakeEvent(v1::Event::INVITATION_ACCEPTED, v1::EXAMINERS, seq, "", who);
        acc.set_interview_id(interview);
        change.Emit(std::move(acc));
        absl::StrAppend(&detail, " interview=", interview);
        break;
      }
      case Action::kDefer:
        set_status(next, "");
        if (!interview.empty()) tx.exec_prepared(kCloseInterview, interview, "DEFERRED");
        if (a.status == v1::INVITED) {
          change.Emit(MakeEvent(v1::Event::INVITATION_WITHDRAWN, v1::PRIVATE, seq, who, who));
        } else {
          change.Emit(MakeEvent(v1::Event::NOW_INTERVIEWING, v1::ROOM, 0));
        }
        change.Emit(MakeEvent(v1::Event::DEFERRED, v1::ROOM, seq));
        absl::StrAppend(&detail, " interview=", interview);
        break;
      case Action::kEnd: {
        set_status(next, interview);
        tx.exec_prepared(kCloseInterview, interview, "FINISHED");
        v1::Event ended = MakeEvent(v1::Event::INTERVIEW_ENDED, v1::PRIVATE, seq, who, who);
        ended.set_interview_id(interview);
        change.Emit(std::move(ended));
        change.Emit(MakeEvent(v1::Event::NOW_INTERVIEWING, v1::ROOM, 0));
        absl::StrAppend(&detail, " interview=", interview);
        break;
      }
      case Action::kAbsent:
        set_status(next, "");
        if (a.status == v1::INVITED) {
          if (!interview.empty()) tx.exec_prepared(kCloseInterview, interview, "ABSENT");
          change.Emit(MakeEvent(v1::Event::INVITATION_WITHDRAWN, v1::PRIVATE, seq, who, who));
        }
        change.Emit(MakeEvent(v1::Event::CANDIDATE_ABSENT, v1::ROOM, seq));
        break;
      case Action::kLeave: {
        // A finished candidate leaves once, for good; one still waiting keeps their place
        // and may come back (each leave is told to the room).
        if (a.status == v1::FINISHED &&
            tx.exec_prepared(kSetLeft, req.room_id, who).affected_rows() == 0) {
          changed = false;
          break;
        }
        change.Emit(MakeEvent(v1::Event::CANDIDATE_LEFT, v1::ROOM, seq));
        break;
      }
    }
    if (!changed) {
      ChangeResult out;
      out.status = a.status;
      out.interview_id = a.interview_id;
      return out;  // Nothing written: the transaction commits empty.
    }
    change.Audit(req.actor, ActionName(req.action), who, detail);
    ChangeResult out = change.Finish();
    out.status = next;
    out.interview_id = next == v1::DEFERRED || next == v1::ABSENT ? "" : interview;
    return out;
  });
}

absl::StatusOr<ChangeResult> PgWaitingRoomStore::SendMessage(const std::string& room_id,
                                                             const std::string& actor,
                                                             const std::string& to,
                                                             const std::string& text) {
  if (!IsUuid(room_id)) return RoomNotFound();
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<ChangeResult> {
    RoomChange change(tx, room_id);
    if (!change.Lock()) return RoomNotFound();
    v1::Event e;
    e.set_text(text);
    e.set_from_account_id(actor);
    if (to.empty()) {
      e.set_type(v1::Event::GROUP_MESSAGE);
      e.set_audience(v1::ROOM);
    } else {
      auto target = Find(tx, room_id, to);
      if (!target) return CandidateNotFound();
      e.set_type(v1::Event::PRIVATE_MESSAGE);
      e.set_audience(v1::PRIVATE);
      e.set_to_account_id(to);
      e.set_account_id(to);
      e.set_sequence(target->sequence);
    }
    const v1::Event& sent = change.Emit(std::move(e));
    change.Audit(actor, to.empty() ? "GROUP_MESSAGE" : "PRIVATE_MESSAGE", to.empty() ? room_id : to,
                 absl::StrCat("event=", sent.id(), " text=", text));
    return change.Finish();
  });
}

absl::StatusOr<ChangeResult> PgWaitingRoomStore::SendQuestion(const QuestionRequest& req) {
  if (!IsUuid(req.room_id)) return RoomNotFound();
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<ChangeResult> {
    RoomChange change(tx, req.room_id);
    if (!change.Lock()) return RoomNotFound();
    auto found = Find(tx, req.room_id, req.account_id);
    if (!found) return CandidateNotFound();
    if (found->status != v1::INTERVIEWING) {
      return Error(absl::StatusCode::kFailedPrecondition, "NOT_INTERVIEWING",
                   "questions go to the candidate being interviewed");
    }
    std::set<std::string> sent;
    for (const auto& r : tx.exec_prepared(kSentIds, req.room_id)) {
      sent.insert(r[0].as<std::string>());
    }
    std::string id, text;
    if (req.draw) {
      std::vector<std::pair<std::string, std::string>> left;
      for (const auto& q : req.bank) {
        if (sent.count(q.first) == 0) left.push_back(q);
      }
      if (left.empty()) {
        return Error(absl::StatusCode::kFailedPrecondition, "QUESTION_BANK_EXHAUSTED",
                     "every question of the exam's bank has been sent in this room");
      }
      std::sort(left.begin(), left.end());
      const auto& pick = left[DrawIndex(req.seed, left.size())];
      id = pick.first;
      text = pick.second;
    } else {
      for (const auto& q : req.bank) {
        if (q.first == req.question_id) {
          id = q.first;
          text = q.second;
        }
      }
      if (id.empty()) {
        return Error(absl::StatusCode::kNotFound, "QUESTION_NOT_FOUND",
                     "no such question in the exam's bank", {{"field", "questionId"}});
      }
      if (sent.count(id) > 0) {
        return Error(absl::StatusCode::kFailedPrecondition, "QUESTION_ALREADY_SENT",
                     "this question was already sent in this room", {{"field", "questionId"}});
      }
    }
    const std::string seed = req.draw ? req.seed : "";
    tx.exec_prepared(kInsertSent, req.room_id, id, req.account_id, found->interview_id, text, seed,
                     req.actor);
    v1::Event e = MakeEvent(v1::Event::QUESTION_SENT, v1::PRIVATE, found->sequence, req.account_id,
                            req.account_id);
    e.set_question_id(id);
    e.set_question_text(text);
    e.set_interview_id(found->interview_id);
    e.set_from_account_id(req.actor);
    change.Emit(std::move(e));
    change.Audit(req.actor, req.draw ? "QUESTION_DRAWN" : "QUESTION_SENT", req.account_id,
                 absl::StrCat("question=", id, " interview=", found->interview_id,
                              req.draw ? absl::StrCat(" seed=", seed) : ""));
    ChangeResult out = change.Finish();
    out.question_id = id;
    out.question_text = text;
    out.seed = seed;
    return out;
  });
}

absl::StatusOr<ChangeResult> PgWaitingRoomStore::RecordProctorEvent(const std::string& room_id,
                                                                    const std::string& account_id,
                                                                    v1::ProctorEventType type) {
  if (!IsUuid(room_id)) return RoomNotFound();
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<ChangeResult> {
    RoomChange change(tx, room_id);
    if (!change.Lock()) return RoomNotFound();
    auto found = Find(tx, room_id, account_id);
    if (!found) return CandidateNotFound();
    if (!InQueue(found->status)) {
      return Error(absl::StatusCode::kFailedPrecondition, "NOT_IN_LOBBY",
                   "proctoring events are recorded while in the room");
    }
    v1::Event e =
        MakeEvent(v1::Event::PROCTOR_EVENT, v1::EXAMINERS, found->sequence, "", account_id);
    e.set_proctor_type(type);
    const v1::Event& stored = change.Emit(std::move(e));
    int64_t at_us = stored.at().seconds() * 1000000 + stored.at().nanos() / 1000;
    tx.exec_prepared(kInsertProctor, room_id, account_id, static_cast<int>(type), at_us);
    change.Audit(account_id, "PROCTOR_EVENT", account_id,
                 absl::StrCat("type=", v1::ProctorEventType_Name(type)));
    return change.Finish();
  });
}

absl::StatusOr<ChangeResult> PgWaitingRoomStore::SetOnline(const std::string& room_id,
                                                           const std::string& account_id,
                                                           bool online) {
  if (!IsUuid(room_id)) return RoomNotFound();
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<ChangeResult> {
    RoomChange change(tx, room_id);
    if (!change.Lock()) return RoomNotFound();
    auto rows = tx.exec_prepared(kSetOnline, room_id, account_id, online);
    if (rows.empty()) return ChangeResult{};
    change.Emit(MakeEvent(online ? v1::Event::CANDIDATE_ONLINE : v1::Event::CANDIDATE_OFFLINE,
                          v1::EXAMINERS, rows[0][0].as<int32_t>(), "", account_id));
    return change.Finish();
  });
}

absl::StatusOr<ChangeResult> PgWaitingRoomStore::SetSecondDevice(const std::string& room_id,
                                                                 const std::string& account_id,
                                                                 const std::string& state) {
  if (!IsUuid(room_id)) return RoomNotFound();
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<ChangeResult> {
    RoomChange change(tx, room_id);
    if (!change.Lock()) return RoomNotFound();
    if (!Find(tx, room_id, account_id)) return CandidateNotFound();
    auto rows = tx.exec_prepared(kSetSecondDevice, room_id, account_id, state);
    if (rows.empty()) return ChangeResult{};  // Already so: nothing to record.
    if (state == "LOST") {
      v1::Event e = MakeEvent(v1::Event::PROCTOR_EVENT, v1::EXAMINERS, rows[0][0].as<int32_t>(),
                              "", account_id);
      e.set_proctor_type(v1::SECOND_DEVICE_LOST);
      const v1::Event& stored = change.Emit(std::move(e));
      int64_t at_us = stored.at().seconds() * 1000000 + stored.at().nanos() / 1000;
      tx.exec_prepared(kInsertProctor, room_id, account_id,
                       static_cast<int>(v1::SECOND_DEVICE_LOST), at_us);
    }
    change.Audit("media-signaling", "SECOND_DEVICE", account_id, "state=" + state);
    return change.Finish();
  });
}

absl::StatusOr<std::map<std::string, std::string>> PgWaitingRoomStore::SecondDevices(
    const std::string& room_id) {
  if (!IsUuid(room_id)) return RoomNotFound();
  return pool_.Read([&](pqxx::transaction_base& tx)
                        -> absl::StatusOr<std::map<std::string, std::string>> {
    std::map<std::string, std::string> out;
    for (const auto& r : tx.exec_prepared(kSecondDevices, room_id)) {
      out[r[0].as<std::string>()] = r[1].as<std::string>();
    }
    return out;
  });
}

absl::StatusOr<RoomSnapshot> PgWaitingRoomStore::Snapshot(const std::string& room_id) {
  if (!IsUuid(room_id)) return RoomNotFound();
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<RoomSnapshot> {
    // FOR SHARE: no change of the room commits between the head and the rows read.
    auto rows = tx.exec_prepared(kShareRoom, room_id);
    if (rows.empty()) return RoomNotFound();
    const auto& r = rows[0];
    RoomSnapshot s;
    s.room_id = room_id;
    s.last_event_id = r[0].as<int64_t>();
    s.exam_id = r[3].as<std::string>();
    s.school_id = r[4].as<std::string>();
    s.name = r[5].as<std::string>();
    s.starts_at = Micros(r[6]);
    s.ends_at = Micros(r[7]);
    s.hide_wait_estimate = r[8].as<bool>();
    s.version = r[9].as<int64_t>();
    RoomChange::ReadCandidates(tx, &s);
    return s;
  });
}

absl::StatusOr<std::vector<v1::Event>> PgWaitingRoomStore::ReadEvents(const std::string& room_id,
                                                                      int64_t after, int limit) {
  if (!IsUuid(room_id)) return RoomNotFound();
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<v1::Event>> {
    std::vector<v1::Event> out;
    for (const auto& r : tx.exec_prepared(kReadEvents, room_id, after, limit)) {
      auto bytes = Base64Decode(r[0].as<std::string>());
      v1::Event e;
      if (!bytes || !e.ParseFromString(*bytes)) {
        return Error(absl::StatusCode::kDataLoss, reason::kInternal,
                     "a stored event is unreadable");
      }
      out.push_back(std::move(e));
    }
    return out;
  });
}

absl::StatusOr<std::vector<v1::SentQuestion>> PgWaitingRoomStore::ListSentQuestions(
    const std::string& room_id, const std::string& account_id) {
  if (!IsUuid(room_id)) return RoomNotFound();
  return pool_.Read(
      [&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<v1::SentQuestion>> {
        std::vector<v1::SentQuestion> out;
        for (const auto& r : tx.exec_prepared(kListSent, room_id, account_id)) {
          v1::SentQuestion q;
          q.set_question_id(r[0].as<std::string>());
          q.set_text(r[1].as<std::string>());
          SetTs(q.mutable_sent_at(), Micros(r[2]));
          out.push_back(std::move(q));
        }
        return out;
      });
}

absl::StatusOr<std::vector<v1::ProctorRecord>> PgWaitingRoomStore::ListProctorEvents(
    const std::string& room_id, const std::string& account_id) {
  if (!IsUuid(room_id)) return RoomNotFound();
  return pool_.Read(
      [&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<v1::ProctorRecord>> {
        std::vector<v1::ProctorRecord> out;
        for (const auto& r : tx.exec_prepared(kListProctor, room_id, account_id)) {
          v1::ProctorRecord p;
          p.set_type(static_cast<v1::ProctorEventType>(r[0].as<int>()));
          SetTs(p.mutable_at(), Micros(r[1]));
          out.push_back(std::move(p));
        }
        return out;
      });
}

absl::StatusOr<std::vector<AuditEntry>> PgWaitingRoomStore::ReadAudit(const std::string& room_id) {
  if (!IsUuid(room_id)) return RoomNotFound();
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<AuditEntry>> {
    std::vector<AuditEntry> out;
    for (const auto& r : tx.exec_prepared(kReadAudit, room_id)) {
      AuditEntry e;
      e.seq = r[0].as<int64_t>();
      e.at = r[1].as<std::string>();
      e.actor = r[2].as<std::string>();
      e.action = r[3].as<std::string>();
      e.subject = r[4].as<std::string>();
      e.detail = r[5].as<std::string>();
      e.prev_hash = r[6].as<std::string>();
      e.hash = r[7].as<std::string>();
      out.push_back(std::move(e));
    }
    return out;
  });
}

absl::StatusOr<bool> PgWaitingRoomStore::InterviewFinished(const std::string& exam_id,
                                                           const std::string& account_id) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<bool> {
    return tx.exec_prepared1(kInterviewFinished, exam_id, account_id)[0].as<bool>();
  });
}

}  // namespace admissions::waiting_room
