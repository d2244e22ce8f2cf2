#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "waiting_room/v1/waiting_room.pb.h"

namespace admissions::waiting_room {

/// The waiting room's rules as pure functions: the candidate state machine, reproducible
/// draws, the audit chain, the lobby and its wait estimate. No I/O: the store applies them
/// inside its transactions, the unit tests call them directly.

/// What someone does to a candidate in a room.
enum class Action { kEnter, kInvite, kAccept, kDefer, kEnd, kAbsent, kLeave };
std::string_view ActionName(Action a);

/// The state machine. `from` is the candidate's status; `other_active` tells whether
/// another candidate of the room is INVITED or INTERVIEWING (one at a time per room).
/// Returns the status after the action, or FAILED_PRECONDITION with a stable reason:
/// ROOM_BUSY, NOT_IN_LOBBY, ALREADY_INVITED, ALREADY_INTERVIEWING, ALREADY_ACCEPTED,
/// NO_INVITATION, NOT_INVITED, ALREADY_DEFERRED, NOT_INTERVIEWING, INTERVIEW_FINISHED,
/// MARKED_ABSENT, ALREADY_ABSENT, IN_INTERVIEW. Entering or leaving again returns `from`
/// (idempotent).
absl::StatusOr<v1::CandidateStatus> NextStatus(Action action, v1::CandidateStatus from,
                                               bool other_active);

/// True for the statuses that show in the lobby's queue.
bool InQueue(v1::CandidateStatus s);

/// A fresh random seed (32 hex characters).
std::string NewSeed();
/// A permutation of 0..n-1 decided by `seed` alone: Fisher-Yates driven by
/// SHA-256(seed ":" counter). The same seed always gives the same order.
std::vector<size_t> DrawPermutation(std::string_view seed, size_t n);
/// One index in 0..n-1 decided by `seed` (n > 0).
size_t DrawIndex(std::string_view seed, size_t n);

/// One audit entry; `hash` = hex SHA-256(prev_hash || CanonicalAuditEntry(entry)).
struct AuditEntry {
  int64_t seq = 0;
  std::string at;  // RFC 3339, microseconds, UTC.
  std::string actor, action, subject, detail;
  std::string prev_hash, hash;
};
std::string AuditTime(absl::Time t);
/// {"seq":N,"at":"...","actor":"...","action":"...","subject":"...","detail":"..."}
std::string CanonicalAuditEntry(const AuditEntry& e);
std::string AuditHash(std::string_view prev_hash, const AuditEntry& e);
/// Fills seq, prev_hash and hash of `e` as the entry after (`head_seq`, `head_hash`).
void ChainAuditEntry(int64_t head_seq, const std::string& head_hash, AuditEntry* e);
/// OK when the entries are 1..n in order and each hash matches; DATA_LOSS naming the
/// first entry that does not.
absl::Status VerifyAuditChain(const std::vector<AuditEntry>& entries);
/// The export line: the canonical fields plus prevHash and hash.
std::string AuditJsonLine(const AuditEntry& e);

/// A room as the lobby and the examiners' list show it; what Redis holds.
struct SnapshotCandidate {
  int32_t sequence = 0;
  v1::CandidateStatus status = v1::NOT_ENTERED;
  std::string account_id, name, id_number_masked;
  bool online = false;  // As PostgreSQL last recorded (restores presence after a loss).
  bool left = false;
};
struct RoomSnapshot {
  std::string room_id, exam_id, school_id, name;
  absl::Time starts_at, ends_at;
  bool hide_wait_estimate = false;
  int64_t version = 0;
  int64_t last_event_id = 0;
  int32_t finished_count = 0;                 // Interviews ended by an examiner.
  int64_t finished_total_ms = 0;              // Their accepted-to-ended time, summed.
  std::vector<SnapshotCandidate> candidates;  // By sequence.
};

/// The estimated wait: the room's mean interview length times the candidates ahead.
/// Absent when hidden or when no interview has finished yet.
std::optional<int32_t> EstimateWaitSeconds(bool hidden, int32_t finished_count,
                                           int64_t finished_total_ms, int ahead);

/// The lobby as `account_id` sees it (R14): their own name, sequence and status, everyone
/// else by sequence only, who is interviewed now. An empty or unknown account gets no `me`.
v1::Lobby BuildLobby(const RoomSnapshot& room, const std::string& account_id);

}  // namespace admissions::waiting_room
