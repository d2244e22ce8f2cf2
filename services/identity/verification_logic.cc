#include "identity/verification_logic.h"

#include <cctype>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/authz.h"
#include "common/log.h"
#include "common/status.h"
#include "identity/validation.h"

namespace admissions::identity {
namespace {

constexpr char kQrPrefix[] = "admissions-verify:v1:";

void SetTime(google::protobuf::Timestamp* ts, absl::Time t) {
  int64_t micros = absl::ToUnixMicros(t);
  ts->set_seconds(micros / 1000000);
  ts->set_nanos(static_cast<int32_t>((micros % 1000000) * 1000));
}

absl::Status Denied(std::string_view reason, std::string_view message) {
  return Error(absl::StatusCode::kPermissionDenied, reason, message);
}

std::string QrHash(const std::string& payload) { return HexEncode(Sha256(payload)); }

absl::Status NotFoundVerification() {
  return Error(absl::StatusCode::kNotFound, reason::kNotFound, "no such verification");
}

// Staff login names: 3 to 32 of [a-z0-9._-] with at least one letter, so that a
// login name can never read as a phone or an ID number.
absl::Status ValidateLoginName(const std::string& login) {
  bool letter = false;
  if (login.size() < 3 || login.size() > 32) {
    return InvalidField("login", "a staff login has 3 to 32 characters");
  }
  for (char c : login) {
    if (std::islower(static_cast<unsigned char>(c))) {
      letter = true;
    } else if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return InvalidField("login", "a staff login may hold a-z, 0-9, '.', '_' and '-'");
    }
  }
  if (!letter) return InvalidField("login", "a staff login needs at least one letter");
  return absl::OkStatus();
}

}  // namespace

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

VerificationLogic::VerificationLogic(GateStore* gates, IdentityStore* accounts, RedisPool* redis,
                                     NotificationHub* hub, FaceCallbackVerifier verifier,
                                     std::optional<FaceSimulator> simulator, const SecretBox* box,
                                     VerificationSettings settings)
    : gates_(gates),
      accounts_(accounts),
      redis_(redis),
      hub_(hub),
      verifier_(std::move(verifier)),
      simulator_(std::move(simulator)),
      box_(box),
      settings_(settings) {}

void VerificationLogic::Changed(const std::string& verification_id) {
  hub_->Notify(verification_id);
}

void VerificationLogic::AnnounceAgreementVersion() {
  if (redis_ == nullptr) return;
  auto current = gates_->CurrentAgreement();
  if (!current.ok()) return;
  std::string v = std::to_string(current->version);
  if (!redis_->Command({"SET", kAgreementVersionKey, v}).ok() ||
      !redis_->Command({"PUBLISH", kAgreementChannel, v}).ok()) {
    Log(LogLevel::kWarn, "agreement_announce_failed", {{"version", v}});
  }
}

absl::StatusOr<v1::Agreement> VerificationLogic::GetAgreement() {
  ASSIGN_OR_RETURN(AgreementRow row, gates_->CurrentAgreement());
  v1::Agreement a;
  a.set_version(row.version);
  a.set_title(row.title);
  a.set_text(row.text);
  SetTime(a.mutable_published_at(), row.published_at);
  return a;
}

absl::Status VerificationLogic::AcceptAgreement(const Caller& caller,
                                                const v1::AcceptAgreementRequest& req,
                                                const RequestMeta& meta) {
  if (req.version() <= 0) return InvalidField("version", "version is required");
  AuditEvent audit{"AGREEMENT_ACCEPTED",
                   caller.account_id,
                   "",
                   absl::StrCat("version ", req.version()),
                   meta.request_id,
                   meta.ip};
  ASSIGN_OR_RETURN(bool accepted, gates_->AcceptAgreement(caller.account_id, req.version(), audit));
  if (!accepted) {
    return InvalidField("version",
                        "this is not the current version of the agreement; read it "
                        "again");
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::PublishAgreementResponse> VerificationLogic::PublishAgreement(
    const Caller& caller, const v1::PublishAgreementRequest& req) {
  RETURN_IF_ERROR(RequireAnyRole(caller, {role::kOperator}));
  if (req.title().empty() || req.title().size() > 200) {
    return InvalidField("title", "the title needs 1 to 200 bytes");
  }
  if (req.text().empty() || req.text().size() > 200000) {
    return InvalidField("text", "the text needs 1 to 200000 bytes");
  }
  ASSIGN_OR_RETURN(int version,
                   gates_->PublishAgreement(req.title(), req.text(), caller.account_id));
  AnnounceAgreementVersion();
  v1::PublishAgreementResponse resp;
  resp.set_version(version);
  return resp;
}

absl::StatusOr<v1::CreateVerificationResponse> VerificationLogic::CreateVerification(
    const Caller& caller, const v1::CreateVerificationRequest& req) {
  if (req.purpose() != v1::ACCOUNT && req.purpose() != v1::ROOM) {
    return InvalidField("purpose", "purpose must be ACCOUNT or ROOM");
  }
  if (req.purpose() == v1::ROOM && (req.room_id().empty() || req.room_id().size() > 64)) {
    return InvalidField("roomId", "a ROOM verification names its room");
  }
  if (req.purpose() == v1::ACCOUNT && !req.room_id().empty()) {
    return InvalidField("roomId", "an ACCOUNT verification has no room");
  }
  ASSIGN_OR_RETURN(GateRow gate, gates_->Gates(caller.account_id));
  if (gate.manual_review) {
    return Denied("MANUAL_REVIEW_REQUIRED",
                  "too many failed verifications: staff will review your identity");
  }
  if (req.purpose() == v1::ROOM && !gate.face_verified) {
    return Denied("VERIFICATION_REQUIRED", "verify your account before verifying for a room");
  }
  std::string token = absl::StrCat(kQrPrefix, Base64UrlEncode(RandomBytes(32)));
  ASSIGN_OR_RETURN(auto created,
                   gates_->CreateVerification(caller.account_id, caller.session_id, req.purpose(),
                                              req.room_id(), QrHash(token), settings_.qr_ttl));
  v1::CreateVerificationResponse resp;
  resp.set_verification_id(created.first);
  resp.set_qr_payload(token);
  resp.set_status(v1::PENDING);
  SetTime(resp.mutable_expires_at(), created.second);
  return resp;
}

absl::StatusOr<v1::Verification> VerificationLogic::GetVerification(const Caller& caller,
                                                                    const std::string& id) {
  if (!IsUuid(id)) return InvalidField("verificationId", "not a verification id");
  ASSIGN_OR_RETURN(auto row, gates_->FindVerification(id));
  // Another account's verification reads as missing: ids are not to be probed.
  if (!row || row->account_id != caller.account_id) return NotFoundVerification();
  v1::Verification v;
  v.set_verification_id(row->id);
  v.set_purpose(static_cast<v1::VerificationPurpose>(row->purpose));
  v.set_status(static_cast<v1::VerificationStatus>(row->status));
  v.set_failures_so_far(row->failures_so_far);
  v.set_room_id(row->room_id);
  SetTime(v.mutable_expires_at(), row->expires_at);
  if (row->finished) SetTime(v.mutable_finished_at(), row->finished_at);
  return v;
}

absl::StatusOr<v1::ScanVerificationResponse> VerificationLogic::Scan(
    const Caller& caller, const v1::ScanVerificationRequest& req) {
  if (req.qr_payload().rfind(kQrPrefix, 0) != 0 || req.qr_payload().size() > 200) {
    return InvalidField("qrPayload", "this is not a verification QR code");
  }
  ASSIGN_OR_RETURN(auto scanned, gates_->Scan(QrHash(req.qr_payload()), caller.account_id));
  switch (scanned.first) {
    case ScanOutcome::kScanned:
      break;
    case ScanOutcome::kUnknown:
      return InvalidField("qrPayload", "this QR code is not known");
    case ScanOutcome::kForeignAccount:
      return Denied(reason::kPermissionDenied,
                    "this QR code belongs to another account: log in to the app as the same "
                    "person");
    case ScanOutcome::kAlreadyUsed:
      return Error(absl::StatusCode::kFailedPrecondition, "QR_USED",
                   "this QR code was already used; start a new verification");
    case ScanOutcome::kExpired:
      return Error(absl::StatusCode::kFailedPrecondition, "QR_EXPIRED",
                   "this QR code has expired; start a new verification");
    case ScanOutcome::kSessionEnded:
      return Error(absl::StatusCode::kFailedPrecondition, "QR_EXPIRED",
                   "the page that showed this QR code has logged out; start again");
  }
  Changed(scanned.second);
  if (redis_ != nullptr) (void)redis_->Command({"PUBLISH", kVerificationChannel, scanned.second});
  v1::ScanVerificationResponse resp;
  resp.set_verification_id(scanned.second);
  resp.set_status(v1::VERIFYING);
  return resp;
}

absl::StatusOr<v1::FaceNotifyResponse> VerificationLogic::FaceNotify(
    const v1::FaceNotifyRequest& req, const RequestMeta& meta) {
  SignedCallback cb{req.raw_body(), req.signature(), req.timestamp(), req.nonce()};
  ASSIGN_OR_RETURN(FaceResult result, verifier_.Verify(cb, absl::Now()));
  if (!IsUuid(result.verification_id)) {
    return Error(absl::StatusCode::kNotFound, reason::kNotFound, "unknown verification");
  }
  AuditEvent audit{"",
                   "",
                   "",
                   absl::StrCat("verification ", result.verification_id, " score ", result.score),
                   meta.request_id,
                   meta.ip};
  ASSIGN_OR_RETURN(ApplyResult applied,
                   gates_->ApplyFaceResult(cb.nonce, result, settings_.max_failures, audit));
  switch (applied.outcome) {
    case ApplyOutcome::kReplayedNonce:
      return Error(absl::StatusCode::kUnauthenticated, reason::kUnauthenticated,
                   "callback nonce already used");
    case ApplyOutcome::kUnknownVerification:
      return Error(absl::StatusCode::kNotFound, reason::kNotFound, "unknown verification");
    case ApplyOutcome::kAlreadyFinished:
      break;  // The provider retried a result we have: acknowledge, change nothing.
    case ApplyOutcome::kApplied:
      Log(LogLevel::kInfo, "verification_finished",
          {{"verification", result.verification_id},
           {"passed", result.passed ? "true" : "false"},
           {"review_opened", applied.review_opened ? "true" : "false"}});
      Changed(result.verification_id);
      if (redis_ != nullptr) {
        (void)redis_->Command({"PUBLISH", kVerificationChannel, result.verification_id});
      }
      break;
  }
  v1::FaceNotifyResponse resp;
  resp.set_result("OK");
  return resp;
}

absl::StatusOr<v1::CompleteVerificationResponse> VerificationLogic::CompleteForDev(
    const v1::CompleteVerificationRequest& req, const RequestMeta& meta) {
  if (!settings_.dev_mode || !simulator_) {
    return Error(absl::StatusCode::kNotFound, reason::kNotFound, "no such endpoint");
  }
  if (!IsUuid(req.verification_id())) {
    return InvalidField("verificationId", "not a verification id");
  }
  FaceResult result;
  result.verification_id = req.verification_id();
  result.passed = req.passed();
  result.score = req.passed() ? 0.97 : 0.12;
  result.provider_ref = "sim-" + Base64UrlEncode(RandomBytes(6));
  SignedCallback cb = simulator_->Sign(result, absl::Now());
  v1::FaceNotifyRequest notify;
  notify.set_raw_body(cb.body);
  notify.set_signature(cb.signature);
  notify.set_timestamp(cb.timestamp);
  notify.set_nonce(cb.nonce);
  RETURN_IF_ERROR(FaceNotify(notify, meta).status());
  ASSIGN_OR_RETURN(auto row, gates_->FindVerification(req.verification_id()));
  v1::CompleteVerificationResponse resp;
  resp.set_status(row ? static_cast<v1::VerificationStatus>(row->status)
                      : v1::VERIFICATION_STATUS_UNSPECIFIED);
  return resp;
}

absl::StatusOr<v1::ListManualReviewsResponse> VerificationLogic::ListManualReviews(
    const Caller& caller) {
  RETURN_IF_ERROR(RequireAnyRole(caller, {role::kOperator}));
  ASSIGN_OR_RETURN(auto rows, gates_->OpenReviews());
  v1::ListManualReviewsResponse resp;
  for (const auto& row : rows) {
    auto* r = resp.add_reviews();
    r->set_account_id(row.account_id);
    r->set_name(row.name);
    if (auto sealed = Base64Decode(row.id_number_sealed)) {
      if (auto id = box_->Open(*sealed); id.ok()) r->set_id_number_masked(MaskIdNumber(*id));
    }
    r->set_failures(row.failures);
    SetTime(r->mutable_created_at(), row.created_at);
  }
  return resp;
}

absl::StatusOr<v1::DecideManualReviewResponse> VerificationLogic::DecideManualReview(
    const Caller& caller, const v1::DecideManualReviewRequest& req, const RequestMeta& meta) {
  RETURN_IF_ERROR(RequireAnyRole(caller, {role::kOperator}));
  if (!IsUuid(req.account_id())) return InvalidField("accountId", "not an account id");
  if (req.reason().empty() || req.reason().size() > 1000) {
    return InvalidField("reason", "a reason of 1 to 1000 bytes is required");
  }
  AuditEvent audit{req.approve() ? "MANUAL_REVIEW_APPROVED" : "MANUAL_REVIEW_REJECTED",
                   req.account_id(),
                   caller.account_id,
                   req.reason(),
                   meta.request_id,
                   meta.ip};
  ASSIGN_OR_RETURN(bool decided, gates_->DecideReview(req.account_id(), req.approve(), req.reason(),
                                                      caller.account_id, audit));
  if (!decided) {
    return Error(absl::StatusCode::kNotFound, reason::kNotFound,
                 "this account has no open manual review");
  }
  v1::DecideManualReviewResponse resp;
  resp.set_outcome(req.approve() ? "VERIFIED" : "RETRY_ALLOWED");
  return resp;
}

absl::StatusOr<v1::CheckRoomVerificationResponse> VerificationLogic::CheckRoomVerification(
    const v1::CheckRoomVerificationRequest& req) {
  if (!IsUuid(req.account_id())) return InvalidField("accountId", "not an account id");
  if (req.room_id().empty()) return InvalidField("roomId", "roomId is required");
  if (!req.verification_id().empty() && !IsUuid(req.verification_id())) {
    return InvalidField("verificationId", "not a verification id");
  }
  if (req.max_age_seconds() <= 0) return InvalidField("maxAgeSeconds", "must be positive");
  ASSIGN_OR_RETURN(auto at,
                   gates_->RoomVerifiedSince(req.account_id(), req.room_id(), req.verification_id(),
                                             absl::Now() - absl::Seconds(req.max_age_seconds())));
  v1::CheckRoomVerificationResponse resp;
  resp.set_passed(at.has_value());
  if (at) SetTime(resp.mutable_verified_at(), *at);
  return resp;
}

absl::StatusOr<v1::GateState> VerificationLogic::GetGateState(const std::string& account_id) {
  if (!IsUuid(account_id)) return InvalidField("accountId", "not an account id");
  ASSIGN_OR_RETURN(GateRow g, gates_->Gates(account_id));
  v1::GateState s;
  s.set_agreement_accepted(g.accepted_version >= g.current_version);
  s.set_agreement_version(g.accepted_version);
  s.set_face_verified(g.face_verified);
  s.set_manual_review(g.manual_review);
  return s;
}

absl::StatusOr<v1::CreateStaffResponse> VerificationLogic::CreateStaff(
    const Caller& caller, const v1::CreateStaffRequest& req, const RequestMeta& meta) {
  RETURN_IF_ERROR(RequireAnyRole(caller, {role::kOperator, role::kSchoolAdmin}));
  if (req.role() != v1::SCHOOL_ADMIN && req.role() != v1::EXAMINER) {
    return InvalidField("role", "role must be SCHOOL_ADMIN or EXAMINER");
  }
  if (req.school_id().empty() || req.school_id().size() > 64) {
    return InvalidField("schoolId", "schoolId is required");
  }
  if (!caller.HasRole(role::kOperator)) {
    // A school admin adds examiners to their own school, nothing else.
    if (req.role() != v1::EXAMINER) {
      return Denied(reason::kPermissionDenied, "only an operator creates school admins");
    }
    RETURN_IF_ERROR(RequireSchoolAdmin(caller, req.school_id()));
  }
  RETURN_IF_ERROR(ValidateLoginName(req.login()));
  RETURN_IF_ERROR(ValidatePassword(req.password()));
  ASSIGN_OR_RETURN(std::string name, NormalizeName(req.name()));
  NewAccount a;
  a.name = name;
  a.login_name = req.login();
  a.school_id = req.school_id();
  a.roles = {v1::Role_Name(req.role())};
  ASSIGN_OR_RETURN(a.password_hash, HashPassword(req.password(), settings_.password));
  ASSIGN_OR_RETURN(std::string id, accounts_->CreateStaffAccount(a));
  (void)accounts_->AppendAudit(
      AuditEvent{"STAFF_CREATED", id, caller.account_id,
                 absl::StrCat(v1::Role_Name(req.role()), " of school ", req.school_id()),
                 meta.request_id, meta.ip});
  v1::CreateStaffResponse resp;
  resp.set_account_id(id);
  return resp;
}

}  // namespace admissions::identity
