#include "media_signaling/pg_pairing_store.h"

#include "common/status.h"

namespace admissions::media_signaling {
namespace {

constexpr char kInsertCode[] = "insert_code";
constexpr char kPruneCodes[] = "prune_codes";
constexpr char kFindCode[] = "find_code";
constexpr char kConsumeCode[] = "consume_code";
constexpr char kUpsertPairing[] = "upsert_pairing";
constexpr char kPhoneSession[] = "phone_session";
constexpr char kRecordLoss[] = "record_loss";
constexpr char kUnreported[] = "unreported_losses";
constexpr char kMarkReported[] = "mark_reported";

std::vector<PgStatement> Statements() {
  return {
      {kInsertCode,
       "INSERT INTO pairing_codes (code_hash, account_id, room_id, session_id, expires_at) "
       "VALUES ($1, $2, $3, $4, to_timestamp($5::float8 / 1000000))"},
      {kPruneCodes, "DELETE FROM pairing_codes WHERE expires_at < now() - interval '1 day'"},
      {kFindCode,
       "SELECT account_id, room_id, session_id, (extract(epoch FROM expires_at) * 1000000)::int8, "
       "used_at IS NOT NULL FROM pairing_codes WHERE code_hash = $1"},
      {kConsumeCode,
       "UPDATE pairing_codes SET used_at = now() WHERE code_hash = $1 AND account_id = $2 AND "
       "used_at IS NULL AND expires_at > now() RETURNING room_id, session_id"},
      {kUpsertPairing,
       "INSERT INTO pairings (account_id, room_id, phone_session_id, first_session_id) "
       "VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, room_id) DO UPDATE SET "
       "phone_session_id = EXCLUDED.phone_session_id, first_session_id = "
       "EXCLUDED.first_session_id, paired_at = now()"},
      {kPhoneSession,
       "SELECT phone_session_id FROM pairings WHERE account_id = $1 AND room_id = $2"},
      {kRecordLoss,
       "INSERT INTO device_losses (account_id, room_id, interview_id, reason) "
       "VALUES ($1, $2, $3, $4)"},
      {kUnreported,
       "SELECT id, account_id, room_id, interview_id, reason FROM device_losses "
       "WHERE reported_at IS NULL ORDER BY id LIMIT $1"},
      {kMarkReported, "UPDATE device_losses SET reported_at = now() WHERE id = $1"},
  };
}

PairingCodeRow ReadCode(const std::string& hash, const pqxx::row& r) {
  PairingCodeRow row;
  row.code_hash = hash;
  row.account_id = r[0].as<std::string>();
  row.room_id = r[1].as<std::string>();
  row.session_id = r[2].as<std::string>();
  row.expires_at = absl::FromUnixMicros(r[3].as<int64_t>());
  row.used = r[4].as<bool>();
  return row;
}

}  // namespace

PgPairingStore::PgPairingStore(const std::string& uri, int pool_size)
    : pool_(uri, "media", pool_size, Statements()) {}

absl::Status PgPairingStore::CreateCode(const PairingCodeRow& row) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    tx.exec_prepared(kPruneCodes);
    tx.exec_prepared(kInsertCode, row.code_hash, row.account_id, row.room_id, row.session_id,
                     absl::ToUnixMicros(row.expires_at));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<PairingCodeRow>> PgPairingStore::FindCode(
    const std::string& code_hash) {
  return pool_.Read(
      [&](pqxx::transaction_base& tx) -> absl::StatusOr<std::optional<PairingCodeRow>> {
        auto rows = tx.exec_prepared(kFindCode, code_hash);
        if (rows.empty()) return std::optional<PairingCodeRow>();
        return std::optional<PairingCodeRow>(ReadCode(code_hash, rows[0]));
      });
}

absl::StatusOr<std::string> PgPairingStore::Pair(
    const std::string& code_hash, const std::string& account_id,
    const std::string& phone_session_id, const std::function<absl::Status()>& before_commit) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<std::string> {
    auto consumed = tx.exec_prepared(kConsumeCode, code_hash, account_id);
    if (consumed.empty()) {
      auto rows = tx.exec_prepared(kFindCode, code_hash);
      if (rows.empty() || rows[0][0].as<std::string>() != account_id) {
        return Error(absl::StatusCode::kNotFound, "PAIRING_CODE_UNKNOWN",
                     "no such pairing code; show a new QR code on the computer");
      }
      if (rows[0][4].as<bool>()) {
        return Error(absl::StatusCode::kFailedPrecondition, "PAIRING_CODE_USED",
                     "this pairing code was used already; show a new QR code on the computer");
      }
      return Error(absl::StatusCode::kFailedPrecondition, "PAIRING_CODE_EXPIRED",
                   "this pairing code has expired; show a new QR code on the computer");
    }
    std::string room_id = consumed[0][0].as<std::string>();
    std::string first_session = consumed[0][1].as<std::string>();
    tx.exec_prepared(kUpsertPairing, account_id, room_id, phone_session_id, first_session);
    RETURN_IF_ERROR(before_commit());
    return room_id;
  });
}

absl::StatusOr<std::optional<std::string>> PgPairingStore::PhoneSession(
    const std::string& account_id, const std::string& room_id) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::optional<std::string>> {
    auto rows = tx.exec_prepared(kPhoneSession, account_id, room_id);
    if (rows.empty()) return std::optional<std::string>();
    return std::optional<std::string>(rows[0][0].as<std::string>());
  });
}

absl::Status PgPairingStore::RecordLoss(const DeviceLoss& loss) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    tx.exec_prepared(kRecordLoss, loss.account_id, loss.room_id, loss.interview_id, loss.reason);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<DeviceLoss>> PgPairingStore::UnreportedLosses(int limit) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<DeviceLoss>> {
    std::vector<DeviceLoss> out;
    for (const auto& r : tx.exec_prepared(kUnreported, limit)) {
      DeviceLoss loss;
      loss.id = r[0].as<int64_t>();
      loss.account_id = r[1].as<std::string>();
      loss.room_id = r[2].as<std::string>();
      loss.interview_id = r[3].as<std::string>();
      loss.reason = r[4].as<std::string>();
      out.push_back(std::move(loss));
    }
    return out;
  });
}

absl::Status PgPairingStore::MarkReported(int64_t id) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    tx.exec_prepared(kMarkReported, id);
    return absl::OkStatus();
  });
}

}  // namespace admissions::media_signaling
