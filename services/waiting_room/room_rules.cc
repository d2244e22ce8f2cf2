#include "waiting_room/room_rules.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/status.h"

namespace admissions::waiting_room {
namespace {

absl::Status Refused(std::string_view reason, std::string_view message) {
  return Error(absl::StatusCode::kFailedPrecondition, reason, message);
}

absl::Status Finished() {
  return Refused("INTERVIEW_FINISHED", "this candidate's interview has ended; it never resumes");
}
absl::Status Absent() {
  return Refused("MARKED_ABSENT", "this candidate was marked absent by the examiners");
}
absl::Status NotInLobby() {
  return Refused("NOT_IN_LOBBY", "the candidate has not entered the room's lobby");
}

uint64_t Word(std::string_view seed, uint64_t counter) {
  std::string h = Sha256(std::string(seed) + ":" + std::to_string(counter));
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(h[i]);
  return v;
}

// Uniform in 0..n-1 by rejection, drawing words (seed, *counter), (seed, *counter + 1), ...
uint64_t Uniform(std::string_view seed, uint64_t* counter, uint64_t n) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  for (;;) {
    uint64_t w = Word(seed, (*counter)++);
    if (w < limit) return w % n;
  }
}

}  // namespace

std::string_view ActionName(Action a) {
  switch (a) {
    case Action::kEnter:
      return "ENTER";
    case Action::kInvite:
      return "INVITE";
    case Action::kAccept:
      return "ACCEPT";
    case Action::kDefer:
      return "DEFER";
    case Action::kEnd:
      return "END";
    case Action::kAbsent:
      return "MARK_ABSENT";
    case Action::kLeave:
      return "LEAVE";
  }
  return "?";
}

absl::StatusOr<v1::CandidateStatus> NextStatus(Action action, v1::CandidateStatus from,
                                               bool other_active) {
  switch (action) {
    case Action::kEnter:
      if (from == v1::NOT_ENTERED) return v1::WAITING;
      if (from == v1::FINISHED) return Finished();
      if (from == v1::ABSENT) return Absent();
      return from;  // Already in the lobby: idempotent.
    case Action::kInvite:
      switch (from) {
        case v1::WAITING:
        case v1::DEFERRED:
          if (other_active) {
            return Refused("ROOM_BUSY",
                           "another candidate of this room is invited or being interviewed; "
                           "one candidate at a time");
          }
          return v1::INVITED;
        case v1::INVITED:
          return Refused("ALREADY_INVITED", "this candidate is already invited");
        case v1::INTERVIEWING:
          return Refused("ALREADY_INTERVIEWING", "this candidate is being interviewed");
        case v1::FINISHED:
          return Finished();
        case v1::ABSENT:
          return Absent();
        default:
          return NotInLobby();
      }
    case Action::kAccept:
      switch (from) {
        case v1::INVITED:
          return v1::INTERVIEWING;
        case v1::INTERVIEWING:
          return Refused("ALREADY_ACCEPTED",
                         "the invitation was already accepted; the interview is in progress");
        case v1::WAITING:
        case v1::DEFERRED:
          return Refused("NO_INVITATION",
                         "there is no invitation to accept (it was withdrawn or never sent)");
        case v1::FINISHED:
          return Finished();
        case v1::ABSENT:
          return Absent();
        default:
          return NotInLobby();
      }
    case Action::kDefer:
      switch (from) {
        case v1::INVITED:
        case v1::INTERVIEWING:
          return v1::DEFERRED;
        case v1::DEFERRED:
          return Refused("ALREADY_DEFERRED", "this candidate is already deferred");
        case v1::FINISHED:
          return Finished();
        case v1::ABSENT:
          return Absent();
        default:
          return Refused("NOT_INVITED",
                         "only an invited or interviewing candidate can be deferred");
      }
    case Action::kEnd:
      switch (from) {
        case v1::INTERVIEWING:
          return v1::FINISHED;
        case v1::FINISHED:
          return Finished();
        default:
          return Refused("NOT_INTERVIEWING",
                         "this candidate is not being interviewed: only a started interview "
                         "can be ended");
      }
    case Action::kAbsent:
      switch (from) {
        case v1::NOT_ENTERED:
        case v1::WAITING:
        case v1::DEFERRED:
        case v1::INVITED:
          return v1::ABSENT;
        case v1::INTERVIEWING:
          return Refused("IN_INTERVIEW",
                         "this candidate is being interviewed; end or defer the interview first");
        case v1::ABSENT:
          return Refused("ALREADY_ABSENT", "this candidate is already marked absent");
        case v1::FINISHED:
          return Finished();
        default:
          return NotInLobby();
      }
    case Action::kLeave:
      switch (from) {
        case v1::INVITED:
        case v1::INTERVIEWING:
          return Refused("IN_INTERVIEW",
                         "you are invited or in the interview; only the examiner ends it");
        case v1::NOT_ENTERED:
          return NotInLobby();
        default:
          return from;  // The lobby keeps the candidate's place; a finished one is gone.
      }
  }
  return absl::InternalError("unknown action");
}

bool InQueue(v1::CandidateStatus s) {
  return s == v1::WAITING || s == v1::INVITED || s == v1::INTERVIEWING || s == v1::DEFERRED;
}

std::string NewSeed() { return HexEncode(RandomBytes(16)); }

std::vector<size_t> DrawPermutation(std::string_view seed, size_t n) {
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  uint64_t counter = 0;
  for (size_t i = n; i > 1; --i) {
    size_t j = static_cast<size_t>(Uniform(seed, &counter, i));
    std::swap(order[i - 1], order[j]);
  }
  return order;
}

size_t DrawIndex(std::string_view seed, size_t n) {
  uint64_t counter = 0;
  return static_cast<size_t>(Uniform(seed, &counter, n));
}

std::string AuditTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

std::string CanonicalAuditEntry(const AuditEntry& e) {
  std::string out = absl::StrCat(R"({"seq":)", e.seq);
  const std::pair<const char*, const std::string*> fields[] = {
      {"at", &e.at},           {"actor", &e.actor},   {"action", &e.action},
      {"subject", &e.subject}, {"detail", &e.detail},
  };
  for (const auto& [name, value] : fields) {
    absl::StrAppend(&out, ",\"", name, "\":");
    AppendJsonString(out, *value);
  }
  out.push_back('}');
  return out;
}

std::string AuditHash(std::string_view prev_hash, const AuditEntry& e) {
  return HexEncode(Sha256(std::string(prev_hash) + CanonicalAuditEntry(e)));
}

void ChainAuditEntry(int64_t head_seq, const std::string& head_hash, AuditEntry* e) {
  e->seq = head_seq + 1;
  e->prev_hash = head_hash;
  e->hash = AuditHash(head_hash, *e);
}

absl::Status VerifyAuditChain(const std::vector<AuditEntry>& entries) {
  std::string prev;
  for (size_t i = 0; i < entries.size(); ++i) {
    const AuditEntry& e = entries[i];
    if (e.seq != static_cast<int64_t>(i) + 1 || e.prev_hash != prev ||
        e.hash != AuditHash(prev, e)) {
      return Error(absl::StatusCode::kDataLoss, "AUDIT_CHAIN_BROKEN",
                   absl::StrCat("the audit chain breaks at entry ", i + 1),
                   {{"seq", std::to_string(i + 1)}});
    }
    prev = e.hash;
  }
  return absl::OkStatus();
}

std::string AuditJsonLine(const AuditEntry& e) {
  std::string line = CanonicalAuditEntry(e);
  line.pop_back();  // The closing brace: prevHash and hash follow.
  absl::StrAppend(&line, R"(,"prevHash":")", e.prev_hash, R"(","hash":")", e.hash, R"("})");
  return line;
}

std::optional<int32_t> EstimateWaitSeconds(bool hidden, int32_t finished_count,
                                           int64_t finished_total_ms, int ahead) {
  if (hidden || finished_count <= 0 || ahead < 0) return std::nullopt;
  double mean_s = static_cast<double>(finished_total_ms) / 1000.0 / finished_count;
  return static_cast<int32_t>(std::llround(mean_s * ahead));
}

v1::Lobby BuildLobby(const RoomSnapshot& room, const std::string& account_id) {
  v1::Lobby lobby;
  lobby.set_room_name(room.name);
  int64_t micros = absl::ToUnixMicros(room.starts_at);
  lobby.mutable_starts_at()->set_seconds(micros / 1000000);
  lobby.mutable_starts_at()->set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
  lobby.set_last_event_id(room.last_event_id);
  const SnapshotCandidate* me = nullptr;
  int active = 0;
  for (const auto& c : room.candidates) {
    if (!account_id.empty() && c.account_id == account_id) me = &c;
    if (c.status == v1::INVITED || c.status == v1::INTERVIEWING) ++active;
    if (c.status == v1::INTERVIEWING) lobby.set_current_sequence(c.sequence);
    if (!InQueue(c.status)) continue;
    auto* q = lobby.add_queue();
    q->set_sequence(c.sequence);
    q->set_status(c.status);
  }
  if (me != nullptr) {
    lobby.mutable_me()->set_name(me->name);
    lobby.mutable_me()->set_sequence(me->sequence);
    lobby.mutable_me()->set_status(me->status);
    if (me->status == v1::WAITING || me->status == v1::DEFERRED) {
      int ahead = active;
      for (const auto& c : room.candidates) {
        if ((c.status == v1::WAITING || c.status == v1::DEFERRED) && c.sequence < me->sequence) {
          ++ahead;
        }
      }
      auto wait = EstimateWaitSeconds(room.hide_wait_estimate, room.finished_count,
                                      room.finished_total_ms, ahead);
      if (wait) lobby.set_estimated_wait_seconds(*wait);
    }
  }
  return lobby;
}

}  // namespace admissions::waiting_room
