#include "waiting_room/waiting_room_logic.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/authz.h"
#include "common/log.h"
#include "common/status.h"
#include "waiting_room/pg_waiting_room_store.h"

namespace admissions::waiting_room {
namespace {

constexpr int64_t kMaxTimestampSeconds = 253402300799;  // 9999-12-31T23:59:59Z
constexpr int kMaxPagesScanned = 20;

absl::Status Denied(std::string_view reason, std::string_view message,
                    const ErrorDetails& details = {}) {
  return Error(absl::StatusCode::kPermissionDenied, reason, message, details);
}

absl::Status RoomNotFound() {
  return Error(absl::StatusCode::kNotFound, "ROOM_NOT_FOUND", "no such room");
}

absl::StatusOr<absl::Time> TimeOf(std::string_view field, bool has,
                                  const google::protobuf::Timestamp& ts) {
  if (!has) return InvalidField(field, absl::StrCat(std::string(field), " is required"));
  if (ts.seconds() < 0 || ts.seconds() > kMaxTimestampSeconds || ts.nanos() < 0 ||
      ts.nanos() > 999999999) {
    return InvalidField(field, absl::StrCat(std::string(field), " is not a valid time"));
  }
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

void SetTs(google::protobuf::Timestamp* ts, absl::Time t) {
  int64_t us = absl::ToUnixMicros(t);
  ts->set_seconds(us / 1000000);
  ts->set_nanos(static_cast<int32_t>(us % 1000000) * 1000);
}

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (n < 0 || i + n >= s.size() + (n == 0)) return false;
    for (int k = 1; k <= n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    }
    i += n + 1;
  }
  return true;
}

int Utf8Length(std::string_view s) {
  int n = 0;
  for (unsigned char c : s) n += (c >> 6) != 2;
  return n;
}

absl::StatusOr<std::string> CheckText(std::string_view field, const std::string& raw, int max) {
  absl::string_view t = absl::StripAsciiWhitespace(raw);
  std::string text(t.data(), t.size());
  if (!ValidUtf8(text))
    return InvalidField(field, absl::StrCat(std::string(field), " is not valid UTF-8"));
  int n = Utf8Length(text);
  if (n < 1 || n > max) {
    return InvalidField(field,
                        absl::StrCat(std::string(field), " must have 1 to ", max, " characters"));
  }
  for (unsigned char c : text) {
    if ((c < 0x20 && c != '\n' && c != '\t' && c != '\r') || c == 0x7f) {
      return InvalidField(field, absl::StrCat(std::string(field), " has a control character"));
    }
  }
  return text;
}

v1::Assignment AssignmentMessage(const AssignmentRow& a) {
  v1::Assignment m;
  m.set_account_id(a.account_id);
  m.set_name(a.name);
  m.set_id_number_masked(a.id_number_masked);
  m.set_sequence(a.sequence);
  m.set_status(a.status);
  return m;
}

}  // namespace

bool Visible(const v1::Event& e, const Reader& reader) {
  if (reader.examiner) return true;
  if (e.audience() == v1::ROOM) return true;
  return e.audience() == v1::PRIVATE && !reader.account_id.empty() &&
         e.to_account_id() == reader.account_id;
}

WaitingRoomLogic::WaitingRoomLogic(WaitingRoomStore* store, LiveState* live,
                                   IdentityClient* identity, EnrollmentClient* enrollment,
                                   StepClient* materials, WaitingRoomSettings settings,
                                   Notify notify)
    : store_(store),
      live_(live),
      identity_(identity),
      enrollment_(enrollment),
      materials_(materials),
      settings_(settings),
      notify_(std::move(notify)) {}

// ------------------------------------------------------------------------- helpers

absl::StatusOr<RoomRow> WaitingRoomLogic::Room(const std::string& room_id) {
  if (room_id.empty()) return InvalidField("roomId", "roomId is required");
  ASSIGN_OR_RETURN(auto room, store_->GetRoom(absl::AsciiStrToLower(room_id)));
  if (!room) return RoomNotFound();
  return *std::move(room);
}

absl::Status WaitingRoomLogic::RequireAdmin(const Caller& caller, const RoomRow& room) {
  return RequireSchoolAdmin(caller, room.school_id);
}

absl::Status WaitingRoomLogic::RequireExaminer(const Caller& caller, const RoomRow& room) {
  if (!caller.HasRole(role::kExaminer)) {
    return Denied(reason::kPermissionDenied, "only the room's examiners do this");
  }
  // Room creation cannot ask identity whether an id is an examiner of the school (identity
  // has no such lookup), so the school is checked here, from the signed token: an examiner
  // of another school listed by mistake never acts in this room.
  if (caller.school_id != room.school_id) {
    return Denied("NOT_ROOM_EXAMINER", "you are not an examiner of this room's school",
                  {{"roomId", room.id}});
  }
  ASSIGN_OR_RETURN(bool member, store_->IsExaminer(room.id, caller.account_id));
  if (!member) {
    return Denied("NOT_ROOM_EXAMINER", "you are not an examiner of this room",
                  {{"roomId", room.id}});
  }
  return absl::OkStatus();
}

absl::StatusOr<CandidateKey> WaitingRoomLogic::KeyOf(const Caller& caller,
                                                     const CallContext& call) {
  ASSIGN_OR_RETURN(auto who, identity_->GetEligibilityIdentity(call, caller.account_id));
  CandidateKey key;
  key.account_id = caller.account_id;
  key.id_type = who.id_type();
  key.id_number_index = who.id_number_index();
  key.name = who.name();
  return key;
}

absl::Status WaitingRoomLogic::BindCandidate(const Caller& caller, const CallContext& call,
                                             const std::string& exam_id) {
  ASSIGN_OR_RETURN(CandidateKey key, KeyOf(caller, call));
  ASSIGN_OR_RETURN(auto rooms, store_->Bind(exam_id, key));
  for (const auto& room : rooms) Refresh(room);
  return absl::OkStatus();
}

absl::StatusOr<AssignmentRow> WaitingRoomLogic::CandidateIn(const Caller& caller,
                                                            const CallContext& call,
                                                            const RoomRow& room) {
  if (!IsCandidateOnly(caller)) {
    return Denied(reason::kPermissionDenied, "this endpoint is for candidates");
  }
  ASSIGN_OR_RETURN(auto a, store_->FindAssignment(room.id, caller.account_id));
  if (!a) {
    RETURN_IF_ERROR(BindCandidate(caller, call, room.exam_id));
    ASSIGN_OR_RETURN(a, store_->FindAssignment(room.id, caller.account_id));
  }
  if (!a) return Denied("NOT_ASSIGNED", "you are not assigned to this room");
  return *std::move(a);
}

absl::StatusOr<RoomSnapshot> WaitingRoomLogic::Live(const std::string& room_id) {
  if (live_ != nullptr) {
    auto snap = live_->Read(room_id);
    if (snap.ok() && snap->has_value()) return **std::move(snap);
    if (!snap.ok()) {
      Log(LogLevel::kWarn, "redis_read_failed", {{"error", snap.status().message()}});
    }
  }
  ASSIGN_OR_RETURN(RoomSnapshot snap, store_->Snapshot(room_id));
  if (live_ != nullptr) {
    if (auto st = live_->Install(snap); !st.ok()) {
      Log(LogLevel::kWarn, "redis_install_failed", {{"error", st.message()}});
    } else {
      Log(LogLevel::kInfo, "room_rebuilt",
          {{"room_id", room_id}, {"version", std::to_string(snap.version)}});
      // Presence restored from PostgreSQL lapses through this instance's sweep.
      std::lock_guard<std::mutex> lock(presence_mu_);
      presence_rooms_.insert(room_id);
    }
  }
  return snap;
}

void WaitingRoomLogic::Refresh(const std::string& room_id) {
  if (live_ == nullptr) return;
  auto snap = store_->Snapshot(room_id);
  if (!snap.ok()) return;
  if (auto st = live_->Install(*snap); !st.ok()) {
    Log(LogLevel::kWarn, "redis_install_failed", {{"error", st.message()}});
  }
}

void WaitingRoomLogic::Publish(const ChangeResult& change) {
  if (change.snapshot.version == 0) return;  // Nothing changed.
  const std::string& room_id = change.snapshot.room_id;
  if (live_ != nullptr) {
    if (auto st = live_->Install(change.snapshot); !st.ok()) {
      Log(LogLevel::kWarn, "redis_install_failed", {{"error", st.message()}});
    }
  }
  if (change.events.empty()) return;
  int64_t last = change.events.back().id();
  if (live_ != nullptr) {
    if (auto st = live_->Publish(room_id, last); !st.ok()) {
      Log(LogLevel::kWarn, "redis_publish_failed", {{"error", st.message()}});
    }
  }
  if (notify_) notify_(room_id, last);
}

void WaitingRoomLogic::Presence(const std::string& room_id, const std::string& account_id,
                                bool online) {
  if (live_ == nullptr) return;
  auto changed = online ? live_->Touch(room_id, account_id) : live_->Drop(room_id, account_id);
  if (!changed.ok()) {
    Log(LogLevel::kWarn, "presence_failed", {{"error", changed.status().message()}});
    return;
  }
  if (online) {
    std::lock_guard<std::mutex> lock(presence_mu_);
    presence_rooms_.insert(room_id);
  }
  if (!*changed) return;
  auto change = store_->SetOnline(room_id, account_id, online);
  if (change.ok()) {
    Publish(*change);
  } else {
    Log(LogLevel::kWarn, "presence_record_failed", {{"error", change.status().message()}});
  }
}

// ------------------------------------------------------------------------- admins

absl::StatusOr<v1::CreateRoomResponse> WaitingRoomLogic::CreateRoom(
    const Caller& caller, const CallContext& call, const v1::CreateRoomRequest& req) {
  RETURN_IF_ERROR(RequireAnyRole(caller, {role::kSchoolAdmin, role::kOperator}));
  if (req.exam_id().empty() || req.exam_id().size() > 64) {
    return InvalidField("examId", "examId is required");
  }
  ASSIGN_OR_RETURN(auto exam, enrollment_->GetExam(call, req.exam_id()));
  RETURN_IF_ERROR(RequireSchoolAdmin(caller, exam.school_id()));
  RoomRow room;
  room.exam_id = exam.exam_id();
  room.school_id = exam.school_id();
  ASSIGN_OR_RETURN(room.name, CheckText("name", req.name(), 100));
  ASSIGN_OR_RETURN(room.starts_at, TimeOf("startsAt", req.has_starts_at(), req.starts_at()));
  ASSIGN_OR_RETURN(room.ends_at, TimeOf("endsAt", req.has_ends_at(), req.ends_at()));
  if (room.ends_at <= room.starts_at)
    return InvalidField("endsAt", "endsAt must be after startsAt");
  if (req.examiner_ids_size() > 50) return InvalidField("examinerIds", "at most 50 examiners");
  std::set<std::string> examiners;
  for (const auto& id : req.examiner_ids()) {
    std::string lower = absl::AsciiStrToLower(id);
    if (!IsUuid(lower)) return InvalidField("examinerIds", "each examiner id is an account id");
    examiners.insert(lower);
  }
  room.examiner_ids.assign(examiners.begin(), examiners.end());
  room.hide_wait_estimate = req.hide_wait_estimate();
  ASSIGN_OR_RETURN(std::string id, store_->CreateRoom(room, caller.account_id));
  Log(LogLevel::kInfo, "room_created", {{"room_id", id}, {"exam_id", room.exam_id}});
  v1::CreateRoomResponse resp;
  resp.set_room_id(id);
  return resp;
}

absl::StatusOr<v1::Assignment> WaitingRoomLogic::AddAssignment(
    const Caller& caller, const CallContext& call, const v1::AddAssignmentRequest& req) {
  ASSIGN_OR_RETURN(RoomRow room, Room(req.room_id()));
  RETURN_IF_ERROR(RequireAdmin(caller, room));
  if (req.id_number().empty()) return InvalidField("idNumber", "idNumber is required");
  if (req.sequence() < 0 || req.sequence() > 100000) {
    return InvalidField("sequence", "sequence must be 1 to 100000 (0: the next free one)");
  }
  enrollment::v1::ResolveRosterEntryRequest resolve;
  resolve.set_exam_id(room.exam_id);
  resolve.set_id_type(req.id_type());
  resolve.set_id_number(req.id_number());
  ASSIGN_OR_RETURN(auto entry, enrollment_->ResolveRosterEntry(call, resolve));
  AssignmentRow a;
  a.room_id = room.id;
  a.id_type = entry.id_type();
  a.id_number_index = entry.id_number_index();
  a.id_number_masked = entry.id_number_masked();
  a.name = entry.name();
  a.sequence = req.sequence();
  ASSIGN_OR_RETURN(ChangeResult change, store_->AddAssignment(a, caller.account_id));
  Publish(change);
  return AssignmentMessage(change.assignments.front());
}

absl::StatusOr<v1::DrawSequencesResponse> WaitingRoomLogic::DrawSequences(
    const Caller& caller, const v1::DrawSequencesRequest& req) {
  ASSIGN_OR_RETURN(RoomRow room, Room(req.room_id()));
  RETURN_IF_ERROR(RequireAdmin(caller, room));
  if (req.seed().size() > 128) return InvalidField("seed", "seed has at most 128 characters");
  std::string seed = req.seed().empty() ? NewSeed() : req.seed();
  ASSIGN_OR_RETURN(ChangeResult change, store_->DrawSequences(room.id, seed, caller.account_id));
  Publish(change);
  Log(LogLevel::kInfo, "sequences_drawn", {{"room_id", room.id}, {"seed", seed}});
  v1::DrawSequencesResponse resp;
  resp.set_seed(seed);
  for (const auto& a : change.assignments) *resp.add_assignments() = AssignmentMessage(a);
  return resp;
}

absl::StatusOr<v1::ListAssignmentsResponse> WaitingRoomLogic::ListAssignments(
    const Caller& caller, const v1::ListAssignmentsRequest& req) {
  ASSIGN_OR_RETURN(RoomRow room, Room(req.room_id()));
  if (!RequireAdmin(caller, room).ok()) RETURN_IF_ERROR(RequireExaminer(caller, room));
  ASSIGN_OR_RETURN(auto rows, store_->ListAssignments(room.id));
  v1::ListAssignmentsResponse resp;
  for (const auto& a : rows) *resp.add_assignments() = AssignmentMessage(a);
  return resp;
}

absl::StatusOr<v1::ExportAuditResponse> WaitingRoomLogic::ExportAudit(
    const Caller& caller, const v1::ExportAuditRequest& req) {
  ASSIGN_OR_RETURN(RoomRow room, Room(req.room_id()));
  RETURN_IF_ERROR(RequireAdmin(caller, room));
  ASSIGN_OR_RETURN(auto entries, store_->ReadAudit(room.id));
  if (auto st = VerifyAuditChain(entries); !st.ok()) {
    // Exported anyway (the appeal needs what is there); the break is logged loudly.
    Log(LogLevel::kError, "audit_chain_broken", {{"room_id", room.id}, {"error", st.message()}});
  }
  v1::ExportAuditResponse resp;
  std::string* out = resp.mutable_jsonl();
  for (const auto& e : entries) absl::StrAppend(out, AuditJsonLine(e), "\n");
  return resp;
}

// ------------------------------------------------------------------------- candidates

absl::StatusOr<v1::ListExamRoomsResponse> WaitingRoomLogic::ListExamRooms(
    const Caller& caller, const CallContext& call, const v1::ListExamRoomsRequest& req) {
  if (!IsCandidateOnly(caller)) {
    return Denied(reason::kPermissionDenied, "this endpoint is for candidates");
  }
  if (req.exam_id().empty() || req.exam_id().size() > 64) {
    return InvalidField("examId", "examId is required");
  }
  std::string exam_id = absl::AsciiStrToLower(req.exam_id());
  RETURN_IF_ERROR(BindCandidate(caller, call, exam_id));
  ASSIGN_OR_RETURN(auto rows, store_->ListCandidateRooms(exam_id, caller.account_id));
  v1::ListExamRoomsResponse resp;
  for (const auto& [room, a] : rows) {
    auto* r = resp.add_rooms();
    r->set_room_id(room.id);
    r->set_name(room.name);
    SetTs(r->mutable_starts_at(), room.starts_at);
    SetTs(r->mutable_ends_at(), room.ends_at);
    r->set_sequence(a.sequence);
  }
  return resp;
}

absl::StatusOr<v1::Lobby> WaitingRoomLogic::EnterRoom(const Caller& caller, const CallContext& call,
                                                      const v1::EnterRoomRequest& req) {
  ASSIGN_OR_RETURN(RoomRow room, Room(req.room_id()));
  ASSIGN_OR_RETURN(AssignmentRow a, CandidateIn(caller, call, room));
  if (a.status == v1::FINISHED) {
    return Error(absl::StatusCode::kFailedPrecondition, "INTERVIEW_FINISHED",
                 "your interview in this room has ended; the room cannot be entered again");
  }
  if (a.status == v1::ABSENT) {
    return Error(absl::StatusCode::kFailedPrecondition, "MARKED_ABSENT",
                 "the examiners marked you absent in this room; contact the school");
  }
  if (!InQueue(a.status)) {
    // R13: a complete journey, then a fresh verification for this room.
    ASSIGN_OR_RETURN(auto journey, enrollment_->GetJourney(call, room.exam_id));
    for (const auto& s : journey.steps()) {
      if (s.step() == enrollment::v1::ROOM) break;
      if (s.status() != enrollment::v1::DONE && s.status() != enrollment::v1::NOT_REQUIRED) {
        return Error(absl::StatusCode::kFailedPrecondition, "JOURNEY_INCOMPLETE",
                     absl::StrCat("finish the step ", enrollment::v1::JourneyStep_Name(s.step()),
                                  " before entering the room"),
                     {{"step", enrollment::v1::JourneyStep_Name(s.step())},
                      {"status", enrollment::v1::StepStatus_Name(s.status())}});
      }
    }
    if (req.verification_id().empty()) {
      return Denied("VERIFICATION_REQUIRED",
                    "entering needs a passed face verification for this room (POST "
                    "/v1/verifications with purpose ROOM)",
                    {{"field", "verificationId"}});
    }
    const int max_age = static_cast<int>(absl::ToInt64Seconds(settings_.room_verification_max_age));
    identity::v1::CheckRoomVerificationRequest check;
    check.set_account_id(caller.account_id);
    check.set_room_id(room.id);
    check.set_max_age_seconds(max_age);
    check.set_verification_id(absl::AsciiStrToLower(req.verification_id()));
    auto passed = identity_->CheckRoomVerification(call, check);
    if (!passed.ok() && passed.status().code() == absl::StatusCode::kInvalidArgument) {
      return InvalidField("verificationId", "not a verification id");
    }
    RETURN_IF_ERROR(passed.status());
    if (!passed->passed()) {
      // Old, or not a passed ROOM verification of this account for this room: which one
      // tells the candidate what to do.
      check.set_max_age_seconds(10 * 365 * 24 * 3600);
      ASSIGN_OR_RETURN(auto ever, identity_->CheckRoomVerification(call, check));
      if (ever.passed()) {
        return Denied("VERIFICATION_REQUIRED",
                      absl::StrCat("this verification is older than ", max_age,
                                   " seconds; verify again for this room"),
                      {{"field", "verificationId"},
                       {"problem", "EXPIRED"},
                       {"maxAgeSeconds", std::to_string(max_age)}});
      }
      return Denied("VERIFICATION_REQUIRED",
                    "this is not a passed face verification of yours for this room",
                    {{"field", "verificationId"}, {"problem", "NOT_VALID_FOR_YOU_OR_ROOM"}});
    }
  }
  ActRequest act;
  act.room_id = room.id;
  act.action = Action::kEnter;
  act.account_id = caller.account_id;
  act.actor = caller.account_id;
  ASSIGN_OR_RETURN(ChangeResult change, store_->Act(act));
  Publish(change);
  Presence(room.id, caller.account_id, true);
  ASSIGN_OR_RETURN(RoomSnapshot snap, Live(room.id));
  return BuildLobby(snap, caller.account_id);
}

absl::StatusOr<v1::Lobby> WaitingRoomLogic::GetLobby(const Caller& caller, const CallContext& call,
                                                     const v1::GetLobbyRequest& req) {
  ASSIGN_OR_RETURN(RoomRow room, Room(req.room_id()));
  std::string me;
  if (IsCandidateOnly(caller)) {
    ASSIGN_OR_RETURN(AssignmentRow a, CandidateIn(caller, call, room));
    if (InQueue(a.status)) Presence(room.id, caller.account_id, true);
    me = caller.account_id;
  } else if (!RequireAdmin(caller, room).ok()) {
    RETURN_IF_ERROR(RequireExaminer(caller, room));
  }
  ASSIGN_OR_RETURN(RoomSnapshot snap, Live(room.id));
  return BuildLobby(snap, me);
}

absl::StatusOr<v1::AcceptInvitationResponse> WaitingRoomLogic::AcceptInvitation(
    const Caller& caller, const CallContext& call, const v1::AcceptInvitationRequest& req) {
  ASSIGN_OR_RETURN(RoomRow room, Room(req.room_id()));
  ASSIGN_OR_RETURN(AssignmentRow a, CandidateIn(caller, call, room));
  ActRequest act{room.id, Action::kAccept, caller.account_id, caller.account_id};
  ASSIGN_OR_RETURN(ChangeResult change, store_->Act(act));
  Publish(change);
  v1::AcceptInvitationResponse resp;
  resp.set_interview_id(change.interview_id);
  return resp;
}

absl::StatusOr<v1::ListQuestionsResponse> WaitingRoomLogic::ListQuestions(
    const Caller& caller, const CallContext& call, const v1::ListQuestionsRequest& req) {
  ASSIGN_OR_RETURN(RoomRow room, Room(req.room_id()));
  ASSIGN_OR_RETURN(AssignmentRow a, CandidateIn(caller, call, room));
  ASSIGN_OR_RETURN(auto questions, store_->ListSentQuestions(room.id, caller.account_id));
  v1::ListQuestionsResponse resp;
  for (auto& q : questions) *resp.add_questions() = std::move(q);
  return resp;
}

absl::Status WaitingRoomLogic::RecordProctorEvent(const Caller& caller, const CallContext& call,
                                                  const v1::RecordProctorEventRequest& req) {
  if (req.type() == v1::PROCTOR_EVENT_TYPE_UNSPECIFIED || req.type() == v1::SECOND_DEVICE_LOST) {
    return InvalidField("type",
                        "type must be FULLSCREEN_CONFIRMED, FULLSCREEN_EXIT, PAGE_HIDDEN, "
                        "SCREEN_SHARE_STARTED or SCREEN_SHARE_STOPPED");
  }
  ASSIGN_OR_RETURN(RoomRow room, Room(req.room_id()));
  ASSIGN_OR_RETURN(AssignmentRow a, CandidateIn(caller, call, room));
  if (req.type() == v1::SCREEN_SHARE_STARTED || req.type() == v1::SCREEN_SHARE_STOPPED) {
    ASSIGN_OR_RETURN(auto exam, enrollment_->GetExam(call, room.exam_id));
    if (!exam.screen_share_allowed()) {  // R20: only in rooms that allow it.
      return Denied("SCREEN_SHARE_NOT_ALLOWED", "this exam does not allow screen sharing",
                    {{"roomId", room.id}});
    }
  }
  ASSIGN_OR_RETURN(ChangeResult change,
                   store_->RecordProctorEvent(room.id, caller.account_id, req.type()));
  Publish(change);
  return absl::OkStatus();
}

absl::Status WaitingRoomLogic::LeaveRoom(const Caller& caller, const CallContext& call,
                                         const v1::LeaveRoomRequest& req) {
  ASSIGN_OR_RETURN(RoomRow room, Room(req.room_id()));
  ASSIGN_OR_RETURN(AssignmentRow a, CandidateIn(caller, call, room));
  ActRequest act{room.id, Action::kLeave, caller.account_id, caller.account_id};
  ASSIGN_OR_RETURN(ChangeResult change, store_->Act(act));
  Publish(change);
  Presence(room.id, caller.account_id, false);
  return absl::OkStatus();
}

// ------------------------------------------------------------------------- examiners

absl::StatusOr<v1::ListExaminerRoomsResponse> WaitingRoomLogic::ListExaminerRooms(
    const Caller& caller) {
  RETURN_IF_ERROR(RequireAnyRole(caller, {role::kExaminer}));
  ASSIGN_OR_RETURN(auto rooms, store_->ListExaminerRooms(caller.account_id));
  v1::ListExaminerRoomsResponse resp;
  for (const auto& room : rooms) {
    auto* r = resp.add_rooms();
    r->set_room_id(room.id);
    r->set_exam_id(room.exam_id);
    r->set_name(room.name);
    SetTs(r->mutable_starts_at(), room.starts_at);
    SetTs(r->mutable_ends_at(), room.ends_at);
  }
  return resp;
}

absl::StatusOr<v1::ListRoomCandidatesResponse> WaitingRoomLogic::ListRoomCandidates(
    const Caller& caller, const CallContext& call, const v1::ListRoomCandidatesRequest& req) {
  ASSIGN_OR_RETURN(RoomRow room, Room(req.room_id()));
  if (!RequireAdmin(caller, room).ok()) RETURN_IF_ERROR(RequireExaminer(caller, room));
  ASSIGN_OR_RETURN(RoomSnapshot snap, Live(room.id));
  std::set<std::string> online;
  if (live_ != nullptr) {
    auto now_online = live_->Online(room.id);
    if (now_online.ok()) online.insert(now_online->begin(), now_online->end());
  } else {
    for (const auto& c : snap.candidates) {
      if (c.online) online.insert(c.account_id);
    }
  }
  bool materials_required = true;
  if (materials_ != nullptr) {
    auto exam = enrollment_->GetExam(call, room.exam_id);
    if (exam.ok()) materials_required = exam->materials_required();
  }
  ASSIGN_OR_RETURN(auto second_devices, store_->SecondDevices(room.id));
  v1::ListRoomCandidatesResponse resp;
  resp.set_last_event_id(snap.last_event_id);
  for (const auto& c : snap.candidates) {
    auto* r = resp.add_candidates();
    r->set_account_id(c.account_id);
    r->set_name(c.name);
    r->set_sequence(c.sequence);
    r->set_status(c.status);
    r->set_id_number_masked(c.id_number_masked);
    r->set_online(!c.account_id.empty() && online.count(c.account_id) > 0);
    auto device = second_devices.find(c.account_id);
    r->set_second_device(device == second_devices.end() ? "NONE" : device->second);
    std::string materials = "UNKNOWN";
    if (materials_ != nullptr && !materials_required) {
      materials = "NOT_REQUIRED";
    } else if (materials_ != nullptr && !c.account_id.empty()) {
      auto step =
          materials_->CandidateStep(call, room.exam_id, c.account_id, enrollment::v1::MATERIALS);
      if (step.ok()) materials = enrollment::v1::StepStatus_Name(*step);
    }
    r->set_materials_status(materials);
  }
  return resp;
}

absl::StatusOr<v1::CandidateActionResponse> WaitingRoomLogic::Act(
    const Caller& caller, const v1::CandidateActionRequest& req, Action action) {
  ASSIGN_OR_RETURN(RoomRow room, Room(req.room_id()));
  RETURN_IF_ERROR(RequireExaminer(caller, room));
  if (req.account_id().empty()) return InvalidField("accountId", "accountId is required");
  ActRequest act{room.id, action, absl::AsciiStrToLower(req.account_id()), caller.account_id};
  ASSIGN_OR_RETURN(ChangeResult change, store_->Act(act));
  Publish(change);
  Log(LogLevel::kInfo, "candidate_action",
      {{"room_id", room.id},
       {"action", ActionName(action)},
       {"status", v1::CandidateStatus_Name(change.status)}});
  v1::CandidateActionResponse resp;
  resp.set_status(change.status);
  resp.set_interview_id(change.interview_id);
  return resp;
}

absl::StatusOr<v1::SendMessageResponse> WaitingRoomLogic::SendMessage(
    const Caller& caller, const v1::SendMessageRequest& req) {
  ASSIGN_OR_RETURN(RoomRow room, Room(req.room_id()));
  RETURN_IF_ERROR(RequireExaminer(caller, room));
  ASSIGN_OR_RETURN(std::string text, CheckText("text", req.text(), settings_.max_message_chars));
  ASSIGN_OR_RETURN(ChangeResult change,
                   store_->SendMessage(room.id, caller.account_id,
                                       absl::AsciiStrToLower(req.to_account_id()), text));
  Publish(change);
  v1::SendMessageResponse resp;
  resp.set_event_id(change.events.empty() ? 0 : change.events.back().id());
  return resp;
}

absl::StatusOr<v1::SendQuestionResponse> WaitingRoomLogic::SendQuestion(
    const Caller& caller, const CallContext& call, const v1::SendQuestionRequest& req) {
  ASSIGN_OR_RETURN(RoomRow room, Room(req.room_id()));
  RETURN_IF_ERROR(RequireExaminer(caller, room));
  if (req.draw() == !req.question_id().empty()) {
    return InvalidField("questionId", "send either questionId or draw: true");
  }
  ASSIGN_OR_RETURN(auto bank, enrollment_->ListQuestionBank(call, room.exam_id));
  QuestionRequest q;
  q.room_id = room.id;
  q.account_id = absl::AsciiStrToLower(req.account_id());
  q.actor = caller.account_id;
  for (const auto& b : bank.questions()) q.bank.emplace_back(b.question_id(), b.text());
  q.question_id = absl::AsciiStrToLower(req.question_id());
  q.draw = req.draw();
  if (q.draw) q.seed = NewSeed();
  ASSIGN_OR_RETURN(ChangeResult change, store_->SendQuestion(q));
  Publish(change);
  v1::SendQuestionResponse resp;
  resp.set_question_id(change.question_id);
  resp.set_text(change.question_text);
  resp.set_seed(change.seed);
  return resp;
}

absl::StatusOr<v1::ListProctorEventsResponse> WaitingRoomLogic::ListProctorEvents(
    const Caller& caller, const v1::ListProctorEventsRequest& req) {
  ASSIGN_OR_RETURN(RoomRow room, Room(req.room_id()));
  if (!RequireAdmin(caller, room).ok()) RETURN_IF_ERROR(RequireExaminer(caller, room));
  ASSIGN_OR_RETURN(auto events,
                   store_->ListProctorEvents(room.id, absl::AsciiStrToLower(req.account_id())));
  v1::ListProctorEventsResponse resp;
  for (auto& e : events) *resp.add_events() = std::move(e);
  return resp;
}

// ------------------------------------------------------------------------- the stream

absl::StatusOr<Reader> WaitingRoomLogic::AuthorizeReader(const Caller& caller,
                                                         const CallContext& call,
                                                         const std::string& room_id, bool touch) {
  ASSIGN_OR_RETURN(RoomRow room, Room(room_id));
  Reader reader;
  reader.room_id = room.id;
  reader.account_id = caller.account_id;
  if (IsCandidateOnly(caller)) {
    ASSIGN_OR_RETURN(AssignmentRow a, CandidateIn(caller, call, room));
    if (touch && InQueue(a.status)) Presence(room.id, caller.account_id, true);
    return reader;
  }
  if (!RequireAdmin(caller, room).ok()) RETURN_IF_ERROR(RequireExaminer(caller, room));
  reader.examiner = true;
  return reader;
}

absl::StatusOr<v1::ListEventsResponse> WaitingRoomLogic::ReadEvents(const Reader& reader,
                                                                    int64_t after, int limit) {
  if (limit <= 0 || limit > settings_.max_events) limit = settings_.max_events;
  v1::ListEventsResponse resp;
  resp.set_last_event_id(after);
  for (int page = 0; page < kMaxPagesScanned; ++page) {
    ASSIGN_OR_RETURN(auto events, store_->ReadEvents(reader.room_id, resp.last_event_id(), limit));
    for (auto& e : events) {
      resp.set_last_event_id(e.id());
      if (Visible(e, reader)) *resp.add_events() = std::move(e);
    }
    if (resp.events_size() > 0 || static_cast<int>(events.size()) < limit) break;
  }
  return resp;
}

absl::StatusOr<std::vector<v1::Event>> WaitingRoomLogic::Backlog(const std::string& room_id,
                                                                 int64_t after, int limit) {
  return store_->ReadEvents(room_id, after, limit);
}

absl::Status WaitingRoomLogic::TouchPresence(const Caller& caller, const CallContext& call,
                                             const v1::TouchPresenceRequest& req) {
  ASSIGN_OR_RETURN(RoomRow room, Room(req.room_id()));
  if (!IsCandidateOnly(caller)) return absl::OkStatus();  // Only candidates' presence shows.
  ASSIGN_OR_RETURN(AssignmentRow a, CandidateIn(caller, call, room));
  if (!InQueue(a.status) && req.online()) return absl::OkStatus();
  Presence(room.id, caller.account_id, req.online());
  return absl::OkStatus();
}

void WaitingRoomLogic::SweepPresence() {
  if (live_ == nullptr) return;
  std::set<std::string> rooms;
  {
    std::lock_guard<std::mutex> lock(presence_mu_);
    rooms = presence_rooms_;
  }
  for (const auto& room : rooms) {
    auto gone = live_->Expire(room);
    if (!gone.ok()) continue;
    for (const auto& account : *gone) {
      auto change = store_->SetOnline(room, account, false);
      if (change.ok()) Publish(*change);
    }
    auto online = live_->Online(room);
    if (!online.ok()) continue;
    // Someone who came back while being marked offline is online again.
    for (const auto& account : *gone) {
      if (std::find(online->begin(), online->end(), account) != online->end()) {
        auto change = store_->SetOnline(room, account, true);
        if (change.ok()) Publish(*change);
      }
    }
    if (online->empty()) {
      std::lock_guard<std::mutex> lock(presence_mu_);
      presence_rooms_.erase(room);
    }
  }
}

// ------------------------------------------------------------------- media signaling

absl::StatusOr<v1::MediaContext> WaitingRoomLogic::GetMediaContext(
    const CallContext& call, const v1::GetMediaContextRequest& req, const Caller* caller) {
  ASSIGN_OR_RETURN(RoomRow room, Room(req.room_id()));
  if (caller != nullptr && caller->account_id == req.account_id() && IsCandidateOnly(*caller)) {
    ASSIGN_OR_RETURN(auto a, store_->FindAssignment(room.id, caller->account_id));
    if (!a) {
      auto bound = BindCandidate(*caller, call, room.exam_id);
      if (!bound.ok()) {  // Answered as unassigned; the candidate's own calls will bind.
        Log(LogLevel::kWarn, "media_context_bind_failed", {{"error", bound.message()}});
      }
    }
  }
  ASSIGN_OR_RETURN(auto exam, enrollment_->GetExam(call, room.exam_id));
  v1::MediaContext out;
  out.set_room_id(room.id);
  out.set_exam_id(room.exam_id);
  out.set_school_id(room.school_id);
  for (const auto& e : room.examiner_ids) out.add_examiner_ids(e);
  out.set_dual_camera(exam.mode() == enrollment::v1::DUAL_CAMERA);
  out.set_screen_share_allowed(exam.screen_share_allowed());
  out.set_room_closed(absl::Now() >= room.ends_at);
  // The room's current interview and the candidate's row come from PostgreSQL, not from
  // the Redis snapshot: media signaling admits participants on this answer.
  ASSIGN_OR_RETURN(auto rows, store_->ListAssignments(room.id));
  for (const auto& a : rows) {
    if (a.status == v1::INTERVIEWING && !a.interview_id.empty()) {
      out.set_current_account_id(a.account_id);
      out.set_current_interview_id(a.interview_id);
    }
    if (req.account_id().empty() || a.account_id != req.account_id()) continue;
    out.set_candidate_name(a.name);
    out.set_candidate_status(a.status);
    out.set_entered(a.status == v1::WAITING || a.status == v1::INVITED ||
                    a.status == v1::INTERVIEWING || a.status == v1::DEFERRED);
    if (a.status == v1::INTERVIEWING) out.set_interview_id(a.interview_id);
  }
  out.set_second_device("NONE");
  if (!out.candidate_name().empty()) {
    ASSIGN_OR_RETURN(auto devices, store_->SecondDevices(room.id));
    auto device = devices.find(req.account_id());
    if (device != devices.end()) out.set_second_device(device->second);
  }
  return out;
}

absl::Status WaitingRoomLogic::SetSecondDevice(const v1::SetSecondDeviceRequest& req) {
  if (req.state() != "NONE" && req.state() != "PAIRED" && req.state() != "LOST") {
    return InvalidField("state", "state must be NONE, PAIRED or LOST");
  }
  if (req.account_id().empty()) return InvalidField("account_id", "account_id is required");
  ASSIGN_OR_RETURN(RoomRow room, Room(req.room_id()));
  ASSIGN_OR_RETURN(ChangeResult change,
                   store_->SetSecondDevice(room.id, req.account_id(), req.state()));
  Publish(change);
  return absl::OkStatus();
}

absl::StatusOr<enrollment::v1::CandidateStep> WaitingRoomLogic::GetCandidateStep(
    const enrollment::v1::GetCandidateStepRequest& req) {
  if (req.step() != enrollment::v1::ROOM) return InvalidField("step", "this source answers ROOM");
  if (req.exam_id().empty() || req.account_id().empty()) {
    return InvalidField("examId", "examId and accountId are required");
  }
  ASSIGN_OR_RETURN(bool done, store_->InterviewFinished(absl::AsciiStrToLower(req.exam_id()),
                                                        absl::AsciiStrToLower(req.account_id())));
  enrollment::v1::CandidateStep step;
  step.set_status(done ? enrollment::v1::DONE : enrollment::v1::TODO);
  return step;
}

}  // namespace admissions::waiting_room
