#pragma once

#include <map>
#include <mutex>

#include "identity/identity_store.h"

namespace admissions::identity::testing {

/// IdentityStore in memory, for unit tests of IdentityLogic. Follows the contract
/// of the PostgreSQL form (one latest code per phone and purpose, rotation marks the
/// old refresh token used, reuse revokes the session).
class FakeIdentityStore : public IdentityStore {
 public:
  struct Code {
    std::string hash;
    absl::Time expires;
    int attempts = 0;
    bool consumed = false;
  };
  struct Session {
    std::string account_id;
    bool revoked = false;
  };
  struct Refresh {
    std::string session_id;
    bool used = false;
  };

  absl::Status SaveSmsCode(const std::string& phone_index, int purpose,
                           const std::string& code_hash, absl::Duration ttl) override {
    codes[{phone_index, purpose}] = Code{code_hash, absl::Now() + ttl};
    return absl::OkStatus();
  }
  absl::Status AppendOutbox(const std::string& phone_index, const std::string& phone_sealed,
                            int purpose, const std::string& code_sealed) override {
    outbox[phone_index].insert(outbox[phone_index].begin(),
                               OutboxRow{phone_sealed, purpose, code_sealed, absl::Now()});
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<OutboxRow>> ListOutbox(const std::string& phone_index,
                                                    int limit) override {
    return outbox[phone_index];
  }
  CodeOutcome Check(const CodeCheck& c) {
    auto it = codes.find({c.phone_index, c.purpose});
    if (it == codes.end() || it->second.consumed) return CodeOutcome::kMissing;
    if (it->second.attempts >= c.max_attempts) return CodeOutcome::kExhausted;
    if (it->second.expires <= absl::Now()) return CodeOutcome::kExpired;
    if (it->second.hash != c.code_hash) {
      ++it->second.attempts;
      return CodeOutcome::kWrong;
    }
    it->second.consumed = true;
    return CodeOutcome::kAccepted;
  }
  absl::StatusOr<std::pair<CodeOutcome, std::string>> RegisterWithCode(
      const CodeCheck& code, const NewAccount& a) override {
    CodeOutcome o = Check(code);
    if (o != CodeOutcome::kAccepted) return std::make_pair(o, std::string());
    for (const auto& [id, acc] : accounts) {
      if (indexes[id].first == a.phone_index) {
        codes[{code.phone_index, code.purpose}].consumed = false;
        return absl::AlreadyExistsError("phone");
      }
      if (indexes[id].second == a.id_number_index) {
        codes[{code.phone_index, code.purpose}].consumed = false;
        return absl::AlreadyExistsError("idNumber");
      }
    }
    return std::make_pair(o, Add(a));
  }
  std::string Add(const NewAccount& a) {
    std::string id = "acc-" + std::to_string(accounts.size() + 1);
    Account acc{id,
                a.name,
                a.id_type,
                a.id_number_sealed,
                a.phone_sealed,
                a.login_name,
                a.password_hash,
                a.school_id,
                a.roles};
    accounts[id] = acc;
    indexes[id] = {a.phone_index, a.id_number_index};
    return id;
  }
  absl::Status EnsureStaffAccount(const NewAccount& a) override {
    for (const auto& [id, acc] : accounts) {
      if (acc.login_name == a.login_name) return absl::OkStatus();
    }
    Add(a);
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<Account>> FindByLogin(const std::string& login_name,
                                                     const std::string& phone_index,
                                                     const std::string& id_index) override {
    for (const auto& [id, acc] : accounts) {
      if ((!login_name.empty() && acc.login_name == login_name) ||
          (!phone_index.empty() && indexes[id].first == phone_index) ||
          (!id_index.empty() && indexes[id].second == id_index)) {
        return std::optional<Account>(acc);
      }
    }
    return std::optional<Account>();
  }
  absl::Status UpdatePasswordHash(const std::string& account_id, const std::string& hash) override {
    accounts[account_id].password_hash = hash;
    ++rehashes;
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> CreateSession(const std::string& account_id,
                                            const std::string& refresh_hash, absl::Duration,
                                            const AuditEvent& event,
                                            const std::string& new_password_hash) override {
    if (!new_password_hash.empty()) {
      accounts[account_id].password_hash = new_password_hash;
      ++rehashes;
    }
    audit.push_back(event);
    std::string sid = "sess-" + std::to_string(sessions.size() + 1);
    sessions[sid] = Session{account_id};
    refresh[refresh_hash] = Refresh{sid};
    return sid;
  }
  absl::StatusOr<RefreshResult> RotateRefreshToken(const std::string& old_hash,
                                                   const std::string& new_hash) override {
    RefreshResult r;
    auto it = refresh.find(old_hash);
    if (it == refresh.end()) return r;
    r.session_id = it->second.session_id;
    Session& s = sessions[r.session_id];
    if (s.revoked) {
      r.outcome = RefreshOutcome::kRevoked;
    } else if (it->second.used) {
      s.revoked = true;
      r.outcome = RefreshOutcome::kReused;
    } else {
      it->second.used = true;
      refresh[new_hash] = Refresh{r.session_id};
      r.account = accounts[s.account_id];
      r.outcome = RefreshOutcome::kRotated;
    }
    return r;
  }
  absl::StatusOr<bool> RevokeSession(const std::string& session_id, const std::string& account_id,
                                     const std::string&) override {
    auto it = sessions.find(session_id);
    if (it == sessions.end() || it->second.account_id != account_id || it->second.revoked) {
      return false;
    }
    it->second.revoked = true;
    return true;
  }
  absl::StatusOr<PasswordResetResult> ResetPasswordWithCode(const CodeCheck& code,
                                                            const std::string& account_id,
                                                            const std::string& new_hash) override {
    PasswordResetResult r;
    r.outcome = Check(code);
    if (r.outcome != CodeOutcome::kAccepted) return r;
    accounts[account_id].password_hash = new_hash;
    for (auto& [sid, s] : sessions) {
      if (s.account_id == account_id && !s.revoked) {
        s.revoked = true;
        r.revoked_sessions.push_back(sid);
      }
    }
    return r;
  }
  absl::StatusOr<std::optional<Account>> FindBySession(const std::string& account_id,
                                                       const std::string& session_id) override {
    auto it = sessions.find(session_id);
    if (it == sessions.end() || it->second.revoked || it->second.account_id != account_id) {
      return std::optional<Account>();
    }
    return std::optional<Account>(accounts[account_id]);
  }

  absl::StatusOr<CodeOutcome> ConsumeCode(const CodeCheck& code) override { return Check(code); }
  absl::StatusOr<std::optional<Account>> FindById(const std::string& account_id) override {
    auto it = accounts.find(account_id);
    if (it == accounts.end()) return std::optional<Account>();
    return std::optional<Account>(it->second);
  }
  absl::StatusOr<std::string> CreateStaffAccount(const NewAccount& a) override {
    for (const auto& [id, acc] : accounts) {
      if (acc.login_name == a.login_name) return absl::AlreadyExistsError("login");
    }
    return Add(a);
  }
  absl::Status AppendAudit(const AuditEvent& event) override {
    audit.push_back(event);
    return absl::OkStatus();
  }

  std::vector<AuditEvent> audit;
  std::map<std::pair<std::string, int>, Code> codes;
  std::map<std::string, std::vector<OutboxRow>> outbox;
  std::map<std::string, Account> accounts;
  std::map<std::string, std::pair<std::string, std::string>> indexes;  // phone, id
  std::map<std::string, Session> sessions;
  std::map<std::string, Refresh> refresh;
  int rehashes = 0;
};

}  // namespace admissions::identity::testing
