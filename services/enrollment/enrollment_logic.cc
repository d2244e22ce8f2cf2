#include "enrollment/enrollment_logic.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/authz.h"
#include "common/log.h"
#include "common/status.h"
#include "identity/validation.h"

namespace admissions::enrollment {
namespace {

constexpr char kIdDomain[] = "id";  // identity's blind-index domain of ID numbers.
constexpr int64_t kMaxTimestampSeconds = 253402300799;  // 9999-12-31T23:59:59Z

using google::protobuf::Timestamp;

absl::Status Denied(std::string_view why) {
  return Error(absl::StatusCode::kPermissionDenied, admissions::reason::kPermissionDenied, why);
}

absl::Status NotFound(std::string_view what) {
  return Error(absl::StatusCode::kNotFound, admissions::reason::kNotFound, what);
}

absl::Status NoticeRequired() {
  return Error(absl::StatusCode::kPermissionDenied, reason::kNoticeRequired,
               "read the system notice first (GET /v1/notice, then POST /v1/notice:read)");
}

absl::Status NotEligible() {
  return Error(absl::StatusCode::kPermissionDenied, reason::kNotEligible,
               "没有考试资格: you are not on this exam's roster. Check that your name, ID type "
               "and ID number are exactly those the school has for you.");
}

absl::Status StepRequired(v1::JourneyStep step, std::string_view message) {
  return Error(absl::StatusCode::kPermissionDenied, reason::kStepRequired, message,
               {{"step", v1::JourneyStep_Name(step)}});
}

std::string Trim(const std::string& s) {
  absl::string_view t = absl::StripAsciiWhitespace(s);
  return std::string(t.data(), t.size());
}

// Text of 1..max code points, valid UTF-8, no control characters except (when
// `multiline`) line breaks and tabs.
absl::StatusOr<std::string> CheckText(std::string_view field, const std::string& raw, int max,
                                      bool multiline) {
  std::string text = Trim(raw);
  if (!IsValidUtf8(text)) {
    return InvalidField(field, absl::StrCat(std::string(field), " is not valid UTF-8"));
  }
  int n = Utf8Length(text);
  if (n < 1 || n > max) {
    return InvalidField(field,
                        absl::StrCat(std::string(field), " must have 1 to ", max, " characters"));
  }
  for (unsigned char c : text) {
    bool allowed = multiline && (c == '\n' || c == '\r' || c == '\t');
    if ((c < 0x20 || c == 0x7f) && !allowed) {
      return InvalidField(field, absl::StrCat(std::string(field), " has a control character"));
    }
  }
  return text;
}

absl::StatusOr<std::optional<absl::Time>> TimeOf(std::string_view field, bool has,
                                                 const Timestamp& ts) {
  if (!has) return std::optional<absl::Time>();
  if (ts.seconds() < 0 || ts.seconds() > kMaxTimestampSeconds || ts.nanos() < 0 ||
      ts.nanos() > 999999999) {
    return InvalidField(field, absl::StrCat(std::string(field), " is not a valid time"));
  }
  return std::optional<absl::Time>(absl::FromUnixSeconds(ts.seconds()) +
                                   absl::Nanoseconds(ts.nanos()));
}

void SetTime(const std::optional<absl::Time>& t, Timestamp* out) {
  if (!t) return;
  int64_t micros = absl::ToUnixMicros(*t);
  out->set_seconds(micros / 1000000);
  out->set_nanos(static_cast<int32_t>((micros % 1000000) * 1000));
}

absl::Status CheckExamId(const std::string& id) {
  if (id.empty()) return InvalidField("examId", "examId is required");
  if (!IsUuid(id)) return InvalidField("examId", "examId is not an exam id");
  return absl::OkStatus();
}

v1::StepStatus Done(bool done) { return done ? v1::DONE : v1::TODO; }

v1::Exam ExamMessage(const ExamRow& row) {
  v1::Exam e;
  e.set_exam_id(row.id);
  e.set_school_id(row.school_id);
  e.set_school_name(row.school_name);
  e.set_title(row.title);
  e.set_fee_cents(row.fee_cents);
  if (row.pay_deadline) SetTime(row.pay_deadline, e.mutable_pay_deadline());
  e.set_mode(static_cast<v1::ExamMode>(row.mode));
  e.set_screen_share_allowed(row.screen_share_allowed);
  if (row.materials_open_at) SetTime(row.materials_open_at, e.mutable_materials_open_at());
  if (row.materials_close_at) SetTime(row.materials_close_at, e.mutable_materials_close_at());
  e.set_commitment_version(row.commitment_version);
  e.set_materials_required(row.materials_open_at.has_value());
  return e;
}

}  // namespace

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

EnrollmentLogic::EnrollmentLogic(EnrollmentStore* store, IdentityClient* identity, BlindIndex index,
                                 StepSources steps, EnrollmentSettings settings)
    : store_(store),
      identity_(identity),
      index_(std::move(index)),
      steps_(steps),
      settings_(settings) {
  if (steps_.payment == nullptr) steps_.payment = &unconfigured_;
  if (steps_.materials == nullptr) steps_.materials = &unconfigured_;
  if (steps_.room == nullptr) steps_.room = &unconfigured_;
}

// ------------------------------------------------------------------ schools, exams

absl::StatusOr<v1::CreateSchoolResponse> EnrollmentLogic::CreateSchool(
    const Caller& caller, const v1::CreateSchoolRequest& req) {
  RETURN_IF_ERROR(RequireAnyRole(caller, {role::kOperator}));
  std::string code = Trim(req.code());
  if (code.empty() || code.size() > 32) {
    return InvalidField("code", "code must have 1 to 32 letters, digits, '-' or '_'");
  }
  for (char c : code) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return InvalidField("code", "code must have 1 to 32 letters, digits, '-' or '_'");
    }
  }
  ASSIGN_OR_RETURN(std::string name, CheckText("name", req.name(), 128, false));
  ASSIGN_OR_RETURN(std::string id, store_->CreateSchool(code, name, caller.account_id));
  Log(LogLevel::kInfo, "school_created", {{"school_id", id}, {"by", caller.account_id}});
  v1::CreateSchoolResponse resp;
  resp.set_school_id(id);
  return resp;
}

absl::StatusOr<v1::ListSchoolsResponse> EnrollmentLogic::ListSchools(const Caller& caller) {
  RETURN_IF_ERROR(RequireAnyRole(caller, {role::kOperator, role::kSchoolAdmin, role::kExaminer}));
  ASSIGN_OR_RETURN(auto rows, store_->ListSchools());
  v1::ListSchoolsResponse resp;
  bool all = caller.HasRole(role::kOperator);
  for (const auto& r : rows) {
    if (!all && r.id != caller.school_id) continue;
    auto* s = resp.add_schools();
    s->set_school_id(r.id);
    s->set_code(r.code);
    s->set_name(r.name);
  }
  return resp;
}

absl::StatusOr<v1::ListSchoolExamsResponse> EnrollmentLogic::ListSchoolExams(
    const Caller& caller, const v1::ListSchoolExamsRequest& req) {
  RETURN_IF_ERROR(RequireAnyRole(caller, {role::kOperator, role::kSchoolAdmin, role::kExaminer}));
  if (!IsUuid(req.school_id())) return InvalidField("schoolId", "schoolId is not a school id");
  std::string school_id = absl::AsciiStrToLower(req.school_id());
  RETURN_IF_ERROR(RequireSchoolStaff(caller, school_id));
  ASSIGN_OR_RETURN(auto school, store_->FindSchool(school_id));
  if (!school) return NotFound("no such school");
  ASSIGN_OR_RETURN(auto rows, store_->ListSchoolExams(school_id));
  v1::ListSchoolExamsResponse resp;
  for (const auto& r : rows) *resp.add_exams() = ExamMessage(r);
  return resp;
}

absl::StatusOr<v1::CreateExamResponse> EnrollmentLogic::CreateExam(
    const Caller& caller, const v1::CreateExamRequest& req) {
  RETURN_IF_ERROR(RequireAnyRole(caller, {role::kOperator, role::kSchoolAdmin}));
  if (req.school_id().empty()) return InvalidField("schoolId", "schoolId is required");
  if (!IsUuid(req.school_id())) return InvalidField("schoolId", "schoolId is not a school id");
  RETURN_IF_ERROR(RequireSchoolAdmin(caller, req.school_id()));
  NewExam exam;
  exam.school_id = absl::AsciiStrToLower(req.school_id());
  exam.created_by = caller.account_id;
  ASSIGN_OR_RETURN(exam.title, CheckText("title", req.title(), 200, false));
  if (req.fee_cents() < 0 || req.fee_cents() > settings_.max_fee_cents) {
    return InvalidField("feeCents",
                        absl::StrCat("feeCents must be 0 (no fee) to ", settings_.max_fee_cents));
  }
  exam.fee_cents = req.fee_cents();
  ASSIGN_OR_RETURN(exam.pay_deadline,
                   TimeOf("payDeadline", req.has_pay_deadline(), req.pay_deadline()));
  if (exam.fee_cents > 0 && !exam.pay_deadline) {
    return InvalidField("payDeadline", "payDeadline is required when there is a fee");
  }
  if (req.mode() != v1::SINGLE_CAMERA && req.mode() != v1::DUAL_CAMERA) {
    return InvalidField("mode", "mode must be SINGLE_CAMERA or DUAL_CAMERA");
  }
  exam.mode = req.mode();
  exam.screen_share_allowed = req.screen_share_allowed();
  ASSIGN_OR_RETURN(exam.materials_open_at,
                   TimeOf("materialsOpenAt", req.has_materials_open_at(), req.materials_open_at()));
  ASSIGN_OR_RETURN(exam.materials_close_at, TimeOf("materialsCloseAt", req.has_materials_close_at(),
                                                   req.materials_close_at()));
  if (exam.materials_open_at.has_value() != exam.materials_close_at.has_value()) {
    return InvalidField(exam.materials_open_at ? "materialsCloseAt" : "materialsOpenAt",
                        "set both materialsOpenAt and materialsCloseAt (a materials step), or "
                        "neither (no materials step)");
  }
  if (exam.materials_open_at && *exam.materials_open_at >= *exam.materials_close_at) {
    return InvalidField("materialsCloseAt", "materialsCloseAt must be after materialsOpenAt");
  }
  ASSIGN_OR_RETURN(exam.commitment_text, CheckText("commitmentText", req.commitment_text(),
                                                   settings_.max_commitment_chars, true));
  ASSIGN_OR_RETURN(auto school, store_->FindSchool(exam.school_id));
  if (!school) {
    return Error(absl::StatusCode::kNotFound, admissions::reason::kNotFound, "no such school",
                 {{"field", "schoolId"}});
  }
  ASSIGN_OR_RETURN(std::string id, store_->CreateExam(exam));
  Log(LogLevel::kInfo, "exam_created",
      {{"exam_id", id}, {"school_id", exam.school_id}, {"by", caller.account_id}});
  v1::CreateExamResponse resp;
  resp.set_exam_id(id);
  return resp;
}

absl::StatusOr<ExamRow> EnrollmentLogic::AdminExam(const Caller& caller, const std::string& exam_id,
                                                   bool staff_enough) {
  if (staff_enough) {
    RETURN_IF_ERROR(RequireAnyRole(caller, {role::kOperator, role::kSchoolAdmin, role::kExaminer}));
  } else {
    RETURN_IF_ERROR(RequireAnyRole(caller, {role::kOperator, role::kSchoolAdmin}));
  }
  RETURN_IF_ERROR(CheckExamId(exam_id));
  ASSIGN_OR_RETURN(auto exam, store_->FindExam(absl::AsciiStrToLower(exam_id)));
  if (!exam) return NotFound("no such exam");
  if (staff_enough) {
    RETURN_IF_ERROR(RequireSchoolStaff(caller, exam->school_id));
  } else {
    RETURN_IF_ERROR(RequireSchoolAdmin(caller, exam->school_id));
  }
  return *std::move(exam);
}

absl::StatusOr<v1::UpdateCommitmentResponse> EnrollmentLogic::UpdateCommitment(
    const Caller& caller, const v1::UpdateCommitmentRequest& req) {
  ASSIGN_OR_RETURN(ExamRow exam, AdminExam(caller, req.exam_id()));
  ASSIGN_OR_RETURN(std::string text,
                   CheckText("text", req.text(), settings_.max_commitment_chars, true));
  ASSIGN_OR_RETURN(int version, store_->AddCommitmentVersion(exam.id, text, caller.account_id));
  v1::UpdateCommitmentResponse resp;
  resp.set_version(version);
  return resp;
}

absl::StatusOr<v1::AddQuestionResponse> EnrollmentLogic::AddQuestion(
    const Caller& caller, const v1::AddQuestionRequest& req) {
  ASSIGN_OR_RETURN(ExamRow exam, AdminExam(caller, req.exam_id(), /*staff_enough=*/true));
  ASSIGN_OR_RETURN(std::string text,
                   CheckText("text", req.text(), settings_.max_question_chars, true));
  ASSIGN_OR_RETURN(std::string id, store_->AddQuestion(exam.id, text, caller.account_id));
  v1::AddQuestionResponse resp;
  resp.set_question_id(id);
  return resp;
}

// ------------------------------------------------------------------------- roster

absl::StatusOr<v1::ImportRosterResponse> EnrollmentLogic::ImportRoster(
    const Caller& caller, const CallContext& call, const v1::ImportRosterRequest& req) {
  absl::Time start = absl::Now();
  ASSIGN_OR_RETURN(ExamRow exam, AdminExam(caller, req.exam_id()));
  RosterParser parser(req.csv(), settings_.roster);
  RETURN_IF_ERROR(parser.ReadHeader());
  v1::ImportRosterResponse resp;
  std::vector<RosterRow> rows;
  RosterLine line;
  RosterRejection rejection;
  int rejected = 0;
  for (;;) {
    auto outcome = parser.Next(&line, &rejection);
    if (outcome == RosterParser::Outcome::kEnd) break;
    if (outcome == RosterParser::Outcome::kRejected) {
      if (rejected++ < settings_.max_rejected_listed) {
        auto* r = resp.add_rejected();
        r->set_line(rejection.line);
        r->set_reason(std::move(rejection.reason));
      }
      continue;
    }
    RosterRow row;
    row.id_type = line.id_type;
    row.id_number_index = HexEncode(index_.Compute(kIdDomain, line.id_number));
    row.id_number_masked = identity::MaskIdNumber(line.id_number);
    row.name = std::move(line.name);
    row.gender = std::move(line.gender);
    row.major = std::move(line.major);
    row.direction = std::move(line.direction);
    rows.push_back(std::move(row));
  }
  resp.set_rejected_count(rejected);
  absl::Time parsed = absl::Now();
  if (!rows.empty()) {
    auto written = store_->UpsertRoster(exam.id, rows, call.deadline - settings_.deadline_margin);
    if (written.status().code() == absl::StatusCode::kDeadlineExceeded) {
      Log(LogLevel::kWarn, "roster_import_rolled_back",
          {{"exam_id", exam.id},
           {"lines", std::to_string(rows.size())},
           {"read_ms", std::to_string(absl::ToInt64Milliseconds(parsed - start))},
           {"request_id", call.request_id}});
    }
    if (!written.ok()) return written.status();
    resp.set_imported(written->inserted + written->updated);
    resp.set_updated(written->updated);
  }
  Log(LogLevel::kInfo, "roster_imported",
      {{"exam_id", exam.id},
       {"imported", std::to_string(resp.imported())},
       {"updated", std::to_string(resp.updated())},
       {"rejected", std::to_string(rejected)},
       {"read_ms", std::to_string(absl::ToInt64Milliseconds(parsed - start))},
       {"write_ms", std::to_string(absl::ToInt64Milliseconds(absl::Now() - parsed))},
       {"by", caller.account_id}});
  return resp;
}

// ------------------------------------------------------------------------- notice

absl::StatusOr<v1::PublishNoticeResponse> EnrollmentLogic::PublishNotice(
    const Caller& caller, const v1::PublishNoticeRequest& req) {
  RETURN_IF_ERROR(RequireAnyRole(caller, {role::kOperator}));
  ASSIGN_OR_RETURN(std::string text,
                   CheckText("text", req.text(), settings_.max_notice_chars, true));
  ASSIGN_OR_RETURN(int version, store_->PublishNotice(text, caller.account_id));
  Log(LogLevel::kInfo, "notice_published",
      {{"version", std::to_string(version)}, {"by", caller.account_id}});
  v1::PublishNoticeResponse resp;
  resp.set_version(version);
  return resp;
}

absl::StatusOr<v1::Notice> EnrollmentLogic::GetNotice(const Caller&) {
  ASSIGN_OR_RETURN(NoticeRow row, store_->CurrentNotice());
  v1::Notice notice;
  notice.set_version(row.version);
  notice.set_text(row.text);
  SetTime(row.published_at, notice.mutable_published_at());
  return notice;
}

absl::Status EnrollmentLogic::ReadNotice(const Caller& caller, const v1::ReadNoticeRequest& req) {
  if (!IsCandidateOnly(caller)) return Denied("this endpoint is for candidates");
  ASSIGN_OR_RETURN(bool recorded, store_->MarkNoticeRead(caller.account_id, req.version()));
  if (!recorded) {
    return InvalidField("version",
                        "this is not the current version of the notice; read GET /v1/notice "
                        "again and send its version");
  }
  return absl::OkStatus();
}

// ------------------------------------------------------------------ the candidate

absl::StatusOr<CandidateKey> EnrollmentLogic::KeyOf(const Caller& caller, const CallContext& call) {
  if (!IsCandidateOnly(caller)) return Denied("this endpoint is for candidates");
  ASSIGN_OR_RETURN(auto who, identity_->GetEligibilityIdentity(call, caller.account_id));
  CandidateKey key;
  key.account_id = caller.account_id;
  key.id_type = who.id_type();
  key.id_number_index = who.id_number_index();
  key.name = who.name();
  return key;
}

absl::StatusOr<CandidateExamState> EnrollmentLogic::CandidateExam(const Caller& caller,
                                                                  const CallContext& call,
                                                                  const std::string& exam_id,
                                                                  bool notice_gate,
                                                                  CandidateKey* key_out) {
  ASSIGN_OR_RETURN(CandidateKey key, KeyOf(caller, call));
  RETURN_IF_ERROR(CheckExamId(exam_id));
  ASSIGN_OR_RETURN(auto state, store_->CandidateState(absl::AsciiStrToLower(exam_id), key));
  if (notice_gate) {
    bool read = state ? state->notice_read : false;
    if (!state) {
      ASSIGN_OR_RETURN(read, store_->HasReadCurrentNotice(caller.account_id));
    }
    if (!read) return NoticeRequired();
  }
  if (!state) return NotFound("no such exam");
  if (!state->eligible) return NotEligible();
  if (key_out != nullptr) *key_out = std::move(key);
  return *std::move(state);
}

absl::StatusOr<v1::ListExamsResponse> EnrollmentLogic::ListExams(const Caller& caller,
                                                                 const CallContext& call) {
  ASSIGN_OR_RETURN(CandidateKey key, KeyOf(caller, call));
  ASSIGN_OR_RETURN(bool read, store_->HasReadCurrentNotice(caller.account_id));
  if (!read) return NoticeRequired();
  ASSIGN_OR_RETURN(auto rows, store_->ListEligibleExams(key));
  v1::ListExamsResponse resp;
  for (const auto& r : rows) {
    auto* e = resp.add_exams();
    e->set_exam_id(r.exam_id);
    e->set_school_name(r.school_name);
    e->set_title(r.title);
    e->set_mode(static_cast<v1::ExamMode>(r.mode));
    e->set_fee_required(r.fee_required);
    e->set_materials_required(r.materials_required);
  }
  return resp;
}

absl::StatusOr<v1::Admission> EnrollmentLogic::GetAdmission(const Caller& caller,
                                                            const CallContext& call,
                                                            const v1::GetAdmissionRequest& req) {
  ASSIGN_OR_RETURN(auto state, CandidateExam(caller, call, req.exam_id(), true));
  v1::Admission a;
  a.set_name(state.roster.name);
  a.set_gender(state.roster.gender);
  a.set_id_number_masked(state.roster.id_number_masked);
  a.set_school_name(state.exam.school_name);
  a.set_major(state.roster.major);
  a.set_direction(state.roster.direction);
  a.set_confirmed(state.admission_confirmed);
  return a;
}

absl::Status EnrollmentLogic::ConfirmAdmission(const Caller& caller, const CallContext& call,
                                               const v1::ConfirmAdmissionRequest& req) {
  ASSIGN_OR_RETURN(auto state, CandidateExam(caller, call, req.exam_id(), true));
  if (state.admission_confirmed) return absl::OkStatus();
  RETURN_IF_ERROR(store_->ConfirmAdmission(state.exam.id, caller.account_id));
  Log(LogLevel::kInfo, "admission_confirmed",
      {{"exam_id", state.exam.id},
       {"account_id", caller.account_id},
       {"request_id", call.request_id}});
  return absl::OkStatus();
}

absl::StatusOr<v1::Commitment> EnrollmentLogic::GetCommitment(const Caller& caller,
                                                              const CallContext& call,
                                                              const v1::GetCommitmentRequest& req) {
  ASSIGN_OR_RETURN(auto state, CandidateExam(caller, call, req.exam_id(), true));
  v1::Commitment c;
  c.set_version(state.exam.commitment_version);
  c.set_text(state.commitment_text);
  c.set_signed_(state.commitment_signed);
  return c;
}

absl::Status EnrollmentLogic::SignCommitment(const Caller& caller, const CallContext& call,
                                             const v1::SignCommitmentRequest& req) {
  ASSIGN_OR_RETURN(auto state, CandidateExam(caller, call, req.exam_id(), true));
  if (!state.admission_confirmed) {
    return StepRequired(v1::ADMISSION, "confirm your admission information first");
  }
  ASSIGN_OR_RETURN(bool recorded,
                   store_->SignCommitment(state.exam.id, caller.account_id, req.version()));
  if (!recorded) {
    return Error(absl::StatusCode::kInvalidArgument, admissions::reason::kInvalidArgument,
                 "this is not the current version of the commitment letter; read it again "
                 "(GET .../commitment) and sign the current version",
                 {{"field", "version"}});
  }
  Log(LogLevel::kInfo, "commitment_signed",
      {{"exam_id", state.exam.id},
       {"account_id", caller.account_id},
       {"version", std::to_string(req.version())},
       {"request_id", call.request_id}});
  return absl::OkStatus();
}

absl::StatusOr<v1::Journey> EnrollmentLogic::GetJourney(const Caller& caller,
                                                        const CallContext& call,
                                                        const v1::GetJourneyRequest& req) {
  CandidateKey key;
  ASSIGN_OR_RETURN(auto state, CandidateExam(caller, call, req.exam_id(), false, &key));
  // The owners of PAYMENT, MATERIALS and ROOM are asked at once, while identity is asked
  // for the gates: the journey costs the slowest answer, not the sum.
  const std::string& exam_id = state.exam.id;
  auto ask = [&](StepSource* source, v1::JourneyStep step) {
    return source->Ask(call, exam_id, caller.account_id, step);
  };
  std::unique_ptr<PendingStep> pending_payment, pending_materials;
  if (state.exam.fee_cents > 0) pending_payment = ask(steps_.payment, v1::PAYMENT);
  if (state.exam.materials_open_at) pending_materials = ask(steps_.materials, v1::MATERIALS);
  std::unique_ptr<PendingStep> pending_room = ask(steps_.room, v1::ROOM);
  ASSIGN_OR_RETURN(auto gates, identity_->GetGateState(call, caller.account_id));
  v1::StepStatus payment = v1::NOT_REQUIRED;
  if (pending_payment) {
    ASSIGN_OR_RETURN(payment, pending_payment->Get());
  }
  v1::StepStatus materials = v1::NOT_REQUIRED;
  if (pending_materials) {
    ASSIGN_OR_RETURN(materials, pending_materials->Get());
  }
  ASSIGN_OR_RETURN(v1::StepStatus room, pending_room->Get());

  v1::StepStatus face = gates.face_verified()   ? v1::DONE
                        : gates.manual_review() ? v1::IN_REVIEW
                                                : v1::TODO;
  const std::pair<v1::JourneyStep, v1::StepStatus> steps[] = {
      {v1::AGREEMENT, Done(gates.agreement_accepted())},
      {v1::FACE_VERIFICATION, face},
      {v1::NOTICE, Done(state.notice_read)},
      {v1::ADMISSION, Done(state.admission_confirmed)},
      {v1::COMMITMENT, Done(state.commitment_signed)},
      {v1::PAYMENT, payment},
      {v1::MATERIALS, materials},
      {v1::ROOM, room},
  };
  v1::Journey journey;
  for (const auto& [step, status] : steps) {
    auto* s = journey.add_steps();
    s->set_step(step);
    s->set_status(status);
    if (!journey.has_next() && status != v1::DONE && status != v1::NOT_REQUIRED) {
      journey.set_next(step);
    }
  }
  return journey;
}

// ----------------------------------------------------------------------- internal

absl::StatusOr<v1::Exam> EnrollmentLogic::GetExam(const v1::GetExamRequest& req) {
  RETURN_IF_ERROR(CheckExamId(req.exam_id()));
  ASSIGN_OR_RETURN(auto row, store_->FindExam(absl::AsciiStrToLower(req.exam_id())));
  if (!row) return NotFound("no such exam");
  return ExamMessage(*row);
}

absl::StatusOr<v1::RosterEntry> EnrollmentLogic::ResolveRosterEntry(
    const v1::ResolveRosterEntryRequest& req) {
  RETURN_IF_ERROR(CheckExamId(req.exam_id()));
  identity::v1::IdType type = identity::v1::RESIDENT_ID;
  if (!req.id_type().empty() && (!identity::v1::IdType_Parse(req.id_type(), &type) ||
                                 type == identity::v1::ID_TYPE_UNSPECIFIED)) {
    return InvalidField("idType",
                        "idType must be RESIDENT_ID, PASSPORT, HK_MACAO_PERMIT or "
                        "TAIWAN_PERMIT");
  }
  ASSIGN_OR_RETURN(std::string number, identity::NormalizeIdNumber(type, req.id_number()));
  std::string exam_id = absl::AsciiStrToLower(req.exam_id());
  ASSIGN_OR_RETURN(auto exam, store_->FindExam(exam_id));
  if (!exam) return NotFound("no such exam");
  ASSIGN_OR_RETURN(auto row, store_->FindRosterEntry(exam_id, type,
                                                     HexEncode(index_.Compute(kIdDomain, number))));
  if (!row) {
    return Error(absl::StatusCode::kNotFound, "NOT_ON_ROSTER",
                 "this ID number is not on the exam's roster", {{"field", "idNumber"}});
  }
  v1::RosterEntry e;
  e.set_name(row->name);
  e.set_id_type(row->id_type);
  e.set_id_number_index(row->id_number_index);
  e.set_id_number_masked(row->id_number_masked);
  return e;
}

absl::StatusOr<v1::QuestionBank> EnrollmentLogic::ListQuestionBank(
    const v1::ListQuestionBankRequest& req) {
  RETURN_IF_ERROR(CheckExamId(req.exam_id()));
  ASSIGN_OR_RETURN(auto rows, store_->ListQuestions(absl::AsciiStrToLower(req.exam_id())));
  v1::QuestionBank bank;
  for (auto& r : rows) {
    auto* q = bank.add_questions();
    q->set_question_id(std::move(r.id));
    q->set_text(std::move(r.text));
  }
  return bank;
}

}  // namespace admissions::enrollment
