#include "identity/identity_logic.h"

#include <sodium.h>

#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status.h"
#include "identity/validation.h"

namespace admissions::identity {
namespace {

constexpr char kPhoneDomain[] = "phone";
constexpr char kIdDomain[] = "id";

absl::Status WrongLogin() {
  return Error(absl::StatusCode::kUnauthenticated, reason::kUnauthenticated,
               "the login or the password is wrong");
}

absl::Status SessionEnded() {
  return Error(absl::StatusCode::kUnauthenticated, reason::kUnauthenticated,
               "the session has ended; log in again");
}

std::string NewRefreshToken() { return Base64UrlEncode(RandomBytes(32)); }
std::string TokenHash(const std::string& token) { return HexEncode(Sha256(token)); }

std::string SixDigits() {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%06u", randombytes_uniform(1000000));
  return buf;
}

bool RequirePurpose(v1::SmsPurpose p) {
  return p == v1::REGISTER || p == v1::RESET_PASSWORD || p == v1::RECOVER_USERNAME;
}

}  // namespace

IdentityLogic::IdentityLogic(IdentityStore* store, SmsSender* sms, RedisPool* redis,
                             TokenSigner signer, SecretBox box, BlindIndex index,
                             IdentitySettings settings)
    : store_(store),
      sms_(sms),
      redis_(redis),
      signer_(std::move(signer)),
      box_(std::move(box)),
      index_(std::move(index)),
      settings_(settings) {
  dummy_hash_ = HashPassword(Base64UrlEncode(RandomBytes(16)), settings_.password).value();
}

std::string IdentityLogic::CodeHash(const std::string& phone_index, int purpose,
                                    const std::string& code) const {
  return HexEncode(index_.Compute("sms-code", absl::StrCat(phone_index, ":", purpose, ":", code)));
}

absl::Status IdentityLogic::CodeError(CodeOutcome outcome) const {
  switch (outcome) {
    case CodeOutcome::kAccepted:
      return absl::OkStatus();
    case CodeOutcome::kWrong:
      return InvalidField("smsCode", "the SMS code is wrong");
    case CodeOutcome::kExpired:
      return InvalidField("smsCode", "the SMS code has expired; ask for a new one");
    case CodeOutcome::kExhausted:
      return InvalidField("smsCode", "too many wrong SMS codes; ask for a new one");
    case CodeOutcome::kMissing:
      break;
  }
  return InvalidField("smsCode", "no valid SMS code for this phone; ask for a new one");
}

absl::Status IdentityLogic::TakeSlot(const std::string& key, absl::Duration interval) {
  if (redis_ == nullptr) return absl::OkStatus();
  int64_t secs = std::max<int64_t>(1, absl::ToInt64Seconds(interval));
  auto set = redis_->Command({"SET", key, "1", "NX", "EX", std::to_string(secs)});
  if (!set.ok()) {
    Log(LogLevel::kWarn, "rate_limit_unavailable", {{"error", set.status().message()}});
    return absl::OkStatus();
  }
  if (!set->is_nil()) return absl::OkStatus();
  auto ttl = redis_->Command({"TTL", key});
  int64_t wait = ttl.ok() && ttl->integer > 0 ? ttl->integer : secs;
  return Error(absl::StatusCode::kResourceExhausted, reason::kRateLimited,
               absl::StrCat("too many requests; try again in ", wait, " seconds"),
               {{"retryAfterSeconds", std::to_string(wait)}});
}

absl::Status IdentityLogic::CheckCounter(const std::string& key, int limit, std::string_view what) {
  if (redis_ == nullptr) return absl::OkStatus();
  auto count = redis_->Command({"GET", key});
  if (!count.ok() || count->is_nil()) return absl::OkStatus();
  if (std::atoll(count->str.c_str()) < limit) return absl::OkStatus();
  auto ttl = redis_->Command({"TTL", key});
  int64_t wait = ttl.ok() && ttl->integer > 0 ? ttl->integer : 60;
  return Error(absl::StatusCode::kResourceExhausted, reason::kRateLimited,
               absl::StrCat("too many ", std::string(what), "; try again in ", wait, " seconds"),
               {{"retryAfterSeconds", std::to_string(wait)}});
}

void IdentityLogic::Count(const std::string& key, absl::Duration window) {
  if (redis_ == nullptr) return;
  auto n = redis_->Command({"INCR", key});
  if (n.ok() && n->integer == 1) {
    (void)redis_->Command({"EXPIRE", key, std::to_string(absl::ToInt64Seconds(window))});
  }
}

void IdentityLogic::Audit(std::string kind, const std::string& account_id, const RequestMeta& meta,
                          std::string detail) {
  auto st = store_->AppendAudit(
      AuditEvent{std::move(kind), account_id, "", std::move(detail), meta.request_id, meta.ip});
  if (!st.ok()) Log(LogLevel::kError, "audit_failed", {{"error", st.message()}});
}

void IdentityLogic::Broadcast(const std::string& session_id) {
  if (redis_ == nullptr) return;
  int64_t until = absl::ToUnixSeconds(absl::Now() + settings_.access_token_ttl) + 1;
  if (auto st = PublishRevocation(*redis_, session_id, until); !st.ok()) {
    Log(LogLevel::kWarn, "revocation_broadcast_failed", {{"error", st.message()}});
  }
}

absl::Status IdentityLogic::SendSmsCode(const v1::SendSmsCodeRequest& req,
                                        const RequestMeta& meta) {
  RETURN_IF_ERROR(ValidatePhone(req.phone()));
  if (!RequirePurpose(req.purpose())) {
    return InvalidField("purpose", "purpose must be REGISTER, RESET_PASSWORD or RECOVER_USERNAME");
  }
  std::string phone_index = HexEncode(index_.Compute(kPhoneDomain, req.phone()));
  std::string ip_key = absl::StrCat("rl:sms-ip:", meta.ip);
  if (!meta.ip.empty())
    RETURN_IF_ERROR(CheckCounter(ip_key, settings_.sms_max_per_ip, "SMS codes"));
  RETURN_IF_ERROR(TakeSlot(absl::StrCat("rl:sms:", phone_index, ":", req.purpose()),
                           settings_.sms_min_interval));
  if (!meta.ip.empty()) Count(ip_key, absl::Hours(1));
  if (req.purpose() != v1::REGISTER) {
    // Answer alike for unknown phones, but send nothing to them.
    ASSIGN_OR_RETURN(auto account, store_->FindByLogin("", phone_index, ""));
    if (!account) return absl::OkStatus();
  }
  std::string code = SixDigits();
  RETURN_IF_ERROR(store_->SaveSmsCode(phone_index, req.purpose(),
                                      CodeHash(phone_index, req.purpose(), code),
                                      settings_.sms_code_ttl));
  return sms_->Send(req.phone(), req.purpose(), code);
}

absl::StatusOr<v1::CreateAccountResponse> IdentityLogic::CreateAccount(
    const v1::CreateAccountRequest& req) {
  RETURN_IF_ERROR(ValidatePhone(req.phone()));
  ASSIGN_OR_RETURN(std::string name, NormalizeName(req.name()));
  ASSIGN_OR_RETURN(std::string id_number, NormalizeIdNumber(req.id_type(), req.id_number()));
  RETURN_IF_ERROR(ValidatePassword(req.password()));
  if (req.sms_code().size() != 6) return InvalidField("smsCode", "the SMS code has 6 digits");

  NewAccount account;
  account.name = name;
  account.id_type = req.id_type();
  account.id_number_sealed = Base64Encode(box_.Seal(id_number));
  account.id_number_index = HexEncode(index_.Compute(kIdDomain, id_number));
  account.phone_sealed = Base64Encode(box_.Seal(req.phone()));
  account.phone_index = HexEncode(index_.Compute(kPhoneDomain, req.phone()));
  account.roles = {v1::Role_Name(v1::CANDIDATE)};
  ASSIGN_OR_RETURN(account.password_hash, HashPassword(req.password(), settings_.password));

  CodeCheck check{account.phone_index, v1::REGISTER,
                  CodeHash(account.phone_index, v1::REGISTER, req.sms_code()),
                  settings_.sms_max_attempts};
  ASSIGN_OR_RETURN(auto result, store_->RegisterWithCode(check, account));
  RETURN_IF_ERROR(CodeError(result.first));
  Log(LogLevel::kInfo, "account_created", {{"account", result.second}});
  v1::CreateAccountResponse resp;
  resp.set_account_id(result.second);
  return resp;
}

absl::StatusOr<v1::SessionTokens> IdentityLogic::Issue(const Account& account,
                                                       const std::string& session_id,
                                                       const std::string& refresh_token) const {
  api::v1::TokenClaims claims;
  int64_t now = absl::ToUnixSeconds(absl::Now());
  claims.set_sub(account.id);
  claims.set_sid(session_id);
  for (const auto& r : account.roles) claims.add_roles(r);
  claims.set_school(account.school_id);
  claims.set_iat(now);
  claims.set_exp(now + absl::ToInt64Seconds(settings_.access_token_ttl));
  claims.set_agr(account.agreement_version);
  claims.set_fv(account.face_verified);
  v1::SessionTokens tokens;
  tokens.set_access_token(signer_.Sign(claims));
  tokens.set_refresh_token(refresh_token);
  tokens.set_expires_in_seconds(
      static_cast<int32_t>(absl::ToInt64Seconds(settings_.access_token_ttl)));
  return tokens;
}

absl::StatusOr<v1::SessionTokens> IdentityLogic::CreateSession(const v1::CreateSessionRequest& req,
                                                               const RequestMeta& meta) {
  ASSIGN_OR_RETURN(LoginAttempt attempt, BeginLogin(req, meta));
  CheckPassword(attempt);
  return FinishLogin(attempt);
}

absl::StatusOr<IdentityLogic::LoginAttempt> IdentityLogic::BeginLogin(
    const v1::CreateSessionRequest& req, const RequestMeta& meta) {
  std::string login(absl::StripAsciiWhitespace(req.login()));
  if (login.empty() || login.size() > 64) {
    return InvalidField("login", "login must be a phone number, an ID number or a staff login");
  }
  if (req.password().empty() || req.password().size() > 256) {
    return InvalidField("password", "the password is required");
  }
  LoginAttempt attempt;
  attempt.request = req;
  attempt.meta = meta;
  std::string phone_index = HexEncode(index_.Compute(kPhoneDomain, login));
  std::string id_index = HexEncode(index_.Compute(kIdDomain, absl::AsciiStrToUpper(login)));
  attempt.limit_key = absl::StrCat("rl:login:", id_index);
  attempt.ip_key = absl::StrCat("rl:login-ip:", meta.ip);
  absl::Status throttled =
      CheckCounter(attempt.limit_key, settings_.login_max_failures, "failed logins");
  if (throttled.ok() && !meta.ip.empty()) {
    throttled = CheckCounter(attempt.ip_key, settings_.login_max_failures_ip, "failed logins");
  }
  if (!throttled.ok()) {
    Audit("LOGIN_THROTTLED", "", meta);
    return throttled;
  }
  ASSIGN_OR_RETURN(attempt.account, store_->FindByLogin(login, phone_index, id_index));
  return attempt;
}

void IdentityLogic::CheckPassword(LoginAttempt& attempt) const {
  // An unknown login costs the same hash as a known one.
  attempt.password_ok = VerifyPassword(
      attempt.request.password(), attempt.account ? attempt.account->password_hash : dummy_hash_);
  attempt.password_ok = attempt.password_ok && attempt.account.has_value();
  if (attempt.password_ok && NeedsRehash(attempt.account->password_hash, settings_.password)) {
    if (auto hash = HashPassword(attempt.request.password(), settings_.password); hash.ok()) {
      attempt.new_hash = *std::move(hash);
    }
  }
}

absl::StatusOr<v1::SessionTokens> IdentityLogic::FinishLogin(const LoginAttempt& attempt) {
  if (!attempt.password_ok) {
    Count(attempt.limit_key, settings_.login_failure_window);
    if (!attempt.meta.ip.empty()) Count(attempt.ip_key, settings_.login_failure_window);
    Audit("LOGIN_FAILED", attempt.account ? attempt.account->id : "", attempt.meta);
    return WrongLogin();
  }
  const Account& account = *attempt.account;
  std::string refresh = NewRefreshToken();
  AuditEvent audit{"LOGIN", account.id, "", "", attempt.meta.request_id, attempt.meta.ip};
  ASSIGN_OR_RETURN(std::string session_id,
                   store_->CreateSession(account.id, TokenHash(refresh), settings_.session_ttl,
                                         audit, attempt.new_hash));
  Log(LogLevel::kInfo, "session_created", {{"account", account.id}, {"session", session_id}});
  return Issue(account, session_id, refresh);
}

absl::StatusOr<v1::SessionTokens> IdentityLogic::RefreshSession(
    const v1::RefreshSessionRequest& req) {
  if (req.refresh_token().empty() || req.refresh_token().size() > 128) {
    return InvalidField("refreshToken", "a refresh token is required");
  }
  std::string refresh = NewRefreshToken();
  ASSIGN_OR_RETURN(auto result,
                   store_->RotateRefreshToken(TokenHash(req.refresh_token()), TokenHash(refresh)));
  switch (result.outcome) {
    case RefreshOutcome::kRotated:
      return Issue(*result.account, result.session_id, refresh);
    case RefreshOutcome::kReused:
      Log(LogLevel::kWarn, "refresh_token_reused", {{"session", result.session_id}});
      Broadcast(result.session_id);
      return SessionEnded();
    case RefreshOutcome::kExpired:
      return Error(absl::StatusCode::kUnauthenticated, reason::kUnauthenticated,
                   "the refresh token has expired; log in again");
    case RefreshOutcome::kRevoked:
      return SessionEnded();
    case RefreshOutcome::kUnknown:
      break;
  }
  return Error(absl::StatusCode::kUnauthenticated, reason::kUnauthenticated,
               "the refresh token is not valid");
}

absl::Status IdentityLogic::DeleteCurrentSession(const Caller& caller) {
  ASSIGN_OR_RETURN(bool revoked,
                   store_->RevokeSession(caller.session_id, caller.account_id, "logout"));
  if (!revoked) return SessionEnded();
  Broadcast(caller.session_id);
  Log(LogLevel::kInfo, "session_ended", {{"session", caller.session_id}});
  return absl::OkStatus();
}

absl::Status IdentityLogic::ResetPassword(const v1::ResetPasswordRequest& req,
                                          const RequestMeta& meta) {
  std::string login(absl::StripAsciiWhitespace(req.login()));
  if (login.empty() || login.size() > 64) {
    return InvalidField("login", "login must be a phone number or an ID number");
  }
  if (req.sms_code().size() != 6) return InvalidField("smsCode", "the SMS code has 6 digits");
  RETURN_IF_ERROR(ValidatePassword(req.new_password(), "newPassword"));
  std::string phone_index = HexEncode(index_.Compute(kPhoneDomain, login));
  std::string id_index = HexEncode(index_.Compute(kIdDomain, absl::AsciiStrToUpper(login)));
  ASSIGN_OR_RETURN(auto account, store_->FindByLogin("", phone_index, id_index));
  // An unknown login reads like a wrong code: nothing tells whether an account exists.
  if (!account || account->phone_sealed.empty()) return CodeError(CodeOutcome::kMissing);
  ASSIGN_OR_RETURN(std::string phone_b, [&]() -> absl::StatusOr<std::string> {
    auto sealed = Base64Decode(account->phone_sealed);
    if (!sealed) return absl::DataLossError("stored phone is not base64");
    return box_.Open(*sealed);
  }());
  std::string account_phone_index = HexEncode(index_.Compute(kPhoneDomain, phone_b));
  ASSIGN_OR_RETURN(std::string hash, HashPassword(req.new_password(), settings_.password));
  CodeCheck check{account_phone_index, v1::RESET_PASSWORD,
                  CodeHash(account_phone_index, v1::RESET_PASSWORD, req.sms_code()),
                  settings_.sms_max_attempts};
  ASSIGN_OR_RETURN(auto result, store_->ResetPasswordWithCode(check, account->id, hash));
  RETURN_IF_ERROR(CodeError(result.outcome));
  for (const auto& sid : result.revoked_sessions) Broadcast(sid);
  Log(LogLevel::kInfo, "password_reset", {{"account", account->id}});
  Audit("PASSWORD_RESET", account->id, meta,
        absl::StrCat(result.revoked_sessions.size(), " sessions ended"));
  return absl::OkStatus();
}

absl::StatusOr<v1::RecoverUsernameResponse> IdentityLogic::RecoverUsername(
    const v1::RecoverUsernameRequest& req) {
  RETURN_IF_ERROR(ValidatePhone(req.phone()));
  if (req.sms_code().size() != 6) return InvalidField("smsCode", "the SMS code has 6 digits");
  std::string phone_index = HexEncode(index_.Compute(kPhoneDomain, req.phone()));
  CodeCheck check{phone_index, v1::RECOVER_USERNAME,
                  CodeHash(phone_index, v1::RECOVER_USERNAME, req.sms_code()),
                  settings_.sms_max_attempts};
  ASSIGN_OR_RETURN(CodeOutcome outcome, store_->ConsumeCode(check));
  RETURN_IF_ERROR(CodeError(outcome));
  ASSIGN_OR_RETURN(auto account, store_->FindByLogin("", phone_index, ""));
  if (!account) return CodeError(CodeOutcome::kMissing);
  v1::RecoverUsernameResponse resp;
  resp.set_phone_masked(MaskPhone(req.phone()));
  resp.set_id_type(static_cast<v1::IdType>(account->id_type));
  if (auto sealed = Base64Decode(account->id_number_sealed)) {
    if (auto id = box_.Open(*sealed); id.ok()) resp.set_id_number_masked(MaskIdNumber(*id));
  }
  return resp;
}

absl::StatusOr<v1::Me> IdentityLogic::GetMe(const Caller& caller) {
  ASSIGN_OR_RETURN(auto account, store_->FindBySession(caller.account_id, caller.session_id));
  if (!account) return SessionEnded();
  v1::Me me;
  me.set_account_id(account->id);
  me.set_name(account->name);
  me.set_id_type(static_cast<v1::IdType>(account->id_type));
  auto open = [&](const std::string& sealed_b64) -> std::string {
    if (sealed_b64.empty()) return "";
    auto sealed = Base64Decode(sealed_b64);
    if (!sealed) return "";
    auto plain = box_.Open(*sealed);
    return plain.ok() ? *plain : "";
  };
  std::string id_number = open(account->id_number_sealed);
  std::string phone = open(account->phone_sealed);
  if (!id_number.empty()) me.set_id_number_masked(MaskIdNumber(id_number));
  if (!phone.empty()) me.set_phone_masked(MaskPhone(phone));
  for (const auto& r : account->roles) {
    v1::Role role;
    if (v1::Role_Parse(r, &role)) me.add_roles(role);
  }
  me.set_agreement_accepted(account->agreement_version > 0 &&
                            account->agreement_version >= account->current_agreement_version);
  me.set_face_verified(account->face_verified);
  me.set_manual_review(account->manual_review);
  // noticeRead belongs to enrollment (the system notice) and is false until that
  // service answers for it.
  return me;
}

absl::StatusOr<v1::EligibilityIdentity> IdentityLogic::GetEligibilityIdentity(
    const std::string& account_id) {
  if (account_id.size() != 36) return InvalidField("accountId", "not an account id");
  ASSIGN_OR_RETURN(auto account, store_->FindById(account_id));
  if (!account) return Error(absl::StatusCode::kNotFound, reason::kNotFound, "no such account");
  auto sealed = Base64Decode(account->id_number_sealed);
  if (account->id_number_sealed.empty() || !sealed) {
    return Error(absl::StatusCode::kFailedPrecondition, "NO_ID_NUMBER",
                 "this account has no ID number (staff)");
  }
  ASSIGN_OR_RETURN(std::string id_number, box_.Open(*sealed));
  v1::EligibilityIdentity out;
  out.set_name(account->name);
  out.set_id_type(static_cast<v1::IdType>(account->id_type));
  out.set_id_number_index(HexEncode(index_.Compute(kIdDomain, id_number)));
  out.set_id_number_masked(MaskIdNumber(id_number));
  return out;
}

absl::StatusOr<v1::ListSmsOutboxResponse> IdentityLogic::ListSmsOutbox(
    const v1::ListSmsOutboxRequest& req) {
  if (!settings_.dev_mode) {
    return Error(absl::StatusCode::kNotFound, reason::kNotFound, "no such endpoint");
  }
  RETURN_IF_ERROR(ValidatePhone(req.phone()));
  ASSIGN_OR_RETURN(auto rows,
                   store_->ListOutbox(HexEncode(index_.Compute(kPhoneDomain, req.phone())), 20));
  v1::ListSmsOutboxResponse resp;
  for (const auto& row : rows) {
    auto* m = resp.add_messages();
    m->set_phone(req.phone());
    m->set_purpose(static_cast<v1::SmsPurpose>(row.purpose));
    auto code = Base64Decode(row.code_sealed);
    if (code) {
      auto plain = box_.Open(*code);
      if (plain.ok()) m->set_code(*plain);
    }
    int64_t micros = absl::ToUnixMicros(row.sent_at);
    m->mutable_sent_at()->set_seconds(micros / 1000000);
    m->mutable_sent_at()->set_nanos(static_cast<int32_t>((micros % 1000000) * 1000));
  }
  return resp;
}

absl::Status IdentityLogic::EnsureDevOperator(const std::string& password) {
  NewAccount op;
  op.name = "Platform operator";
  op.login_name = "operator";
  op.roles = {v1::Role_Name(v1::OPERATOR)};
  ASSIGN_OR_RETURN(op.password_hash, HashPassword(password, settings_.password));
  return store_->EnsureStaffAccount(op);
}

}  // namespace admissions::identity
