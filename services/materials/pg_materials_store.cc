#include "materials/pg_materials_store.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status.h"

namespace admissions::materials {
namespace {

#define REQ_COLUMNS                                                                         \
  "id::text, exam_id, school_id, kind, title, description, array_to_string(formats, ','), " \
  "min_count, max_count, max_bytes, required, created_by "
#define ITEM_COLUMNS                                                                    \
  "id::text, exam_id, account_id, requirement_id::text, filename, size_bytes, sha256, " \
  "format, content_type, body, (extract(epoch FROM created_at) * 1000000)::int8 "
#define UPLOAD_COLUMNS                                                                   \
  "id::text, exam_id, account_id, requirement_id::text, filename, size_bytes, "          \
  "offset_bytes, (extract(epoch FROM expires_at) * 1000000)::int8, completed_at IS NOT " \
  "NULL, coalesce(item_id::text, ''), sha256 "
#define SUB_COLUMNS "status, return_reason, (extract(epoch FROM submitted_at) * 1000000)::int8 "

constexpr char kInsertReq[] = "insert_req";
constexpr char kListReqs[] = "list_reqs";
constexpr char kGetReq[] = "get_req";
constexpr char kGetSub[] = "get_sub";
constexpr char kEnsureSub[] = "ensure_sub";
constexpr char kLockSub[] = "lock_sub";
constexpr char kListItems[] = "list_items";
constexpr char kGetItem[] = "get_item";
constexpr char kCountItems[] = "count_items";
constexpr char kInsertItem[] = "insert_item";
constexpr char kDeleteReqItems[] = "delete_req_items";
constexpr char kDeleteItem[] = "delete_item";
constexpr char kMissing[] = "missing";
constexpr char kSetSubmitted[] = "set_submitted";
constexpr char kSetReviewed[] = "set_reviewed";
constexpr char kInsertReview[] = "insert_review";
constexpr char kListReviews[] = "list_reviews";
constexpr char kListSubs[] = "list_subs";
constexpr char kInsertUpload[] = "insert_upload";
constexpr char kGetUpload[] = "get_upload";
constexpr char kRecordOffset[] = "record_offset";
constexpr char kCompleteUpload[] = "complete_upload";
constexpr char kDeleteUpload[] = "delete_upload";
constexpr char kExpiredUploads[] = "expired_uploads";
constexpr char kReferenced[] = "referenced";

std::vector<PgStatement> Statements() {
  return {
      {kInsertReq,
       "INSERT INTO requirements (exam_id, school_id, kind, title, description, formats, "
       "min_count, max_count, max_bytes, required, created_by) VALUES ($1, $2, $3, $4, $5, "
       "coalesce(string_to_array(NULLIF($6, ''), ','), '{}'), $7, $8, $9, $10, $11) RETURNING "
       "id::text"},
      {kListReqs,
       "SELECT " REQ_COLUMNS "FROM requirements WHERE exam_id = $1 ORDER BY created_at, id"},
      {kGetReq, "SELECT " REQ_COLUMNS "FROM requirements WHERE id = $1::uuid AND exam_id = $2"},
      {kGetSub, "SELECT " SUB_COLUMNS "FROM submissions WHERE exam_id = $1 AND account_id = $2"},
      {kEnsureSub,
       "INSERT INTO submissions (exam_id, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"},
      {kLockSub,
       "SELECT " SUB_COLUMNS "FROM submissions WHERE exam_id = $1 AND account_id = $2 FOR UPDATE"},
      {kListItems, "SELECT " ITEM_COLUMNS
                   "FROM items WHERE exam_id = $1 AND account_id = $2 ORDER BY created_at, id"},
      {kGetItem, "SELECT " ITEM_COLUMNS "FROM items WHERE id = $1::uuid"},
      {kCountItems,
       "SELECT count(*) FROM items WHERE exam_id = $1 AND account_id = $2 AND "
       "requirement_id = $3::uuid"},
      {kInsertItem,
       "INSERT INTO items (exam_id, account_id, requirement_id, filename, size_bytes, sha256, "
       "format, content_type, body) VALUES ($1, $2, $3::uuid, $4, $5, $6, $7, $8, $9) "
       "RETURNING " ITEM_COLUMNS},
      {kDeleteReqItems,
       "DELETE FROM items WHERE exam_id = $1 AND account_id = $2 AND requirement_id = $3::uuid"},
      {kDeleteItem, "DELETE FROM items WHERE id = $1::uuid AND exam_id = $2 AND account_id = $3"},
      {kMissing,
       "SELECT r.id::text, r.title, r.min_count, count(i.id) FROM requirements r "
       "LEFT JOIN items i ON i.requirement_id = r.id AND i.account_id = $2 "
       "WHERE r.exam_id = $1 AND r.required GROUP BY r.id HAVING count(i.id) < r.min_count "
       "ORDER BY r.created_at, r.id"},
      {kSetSubmitted,
       "UPDATE submissions SET status = 'SUBMITTED', submitted_at = now(), updated_at = now() "
       "WHERE exam_id = $1 AND account_id = $2 RETURNING " SUB_COLUMNS},
      {kSetReviewed,
       "UPDATE submissions SET status = $3, return_reason = $4, updated_at = now() "
       "WHERE exam_id = $1 AND account_id = $2 RETURNING " SUB_COLUMNS},
      {kInsertReview,
       "INSERT INTO reviews (exam_id, account_id, decision, reason, reviewer_id) "
       "VALUES ($1, $2, $3, $4, $5)"},
      {kListReviews,
       "SELECT decision, reason, reviewer_id, (extract(epoch FROM decided_at) * 1000000)::int8 "
       "FROM reviews WHERE exam_id = $1 AND account_id = $2 ORDER BY id"},
      {kListSubs,
       "SELECT s.account_id, s.status, (extract(epoch FROM s.submitted_at) * 1000000)::int8, "
       "(SELECT count(*) FROM items i WHERE i.exam_id = s.exam_id AND "
       "i.account_id = s.account_id) FROM submissions s WHERE s.exam_id = $1 AND "
       "(($2 = '' AND s.status <> 'DRAFT') OR s.status = $2) "
       "ORDER BY s.submitted_at NULLS LAST, s.account_id"},
      {kInsertUpload,
       "INSERT INTO uploads (exam_id, account_id, requirement_id, filename, size_bytes, "
       "expires_at) VALUES ($1, $2, $3::uuid, $4, $5, to_timestamp($6::float8 / 1000000)) "
       "RETURNING " UPLOAD_COLUMNS},
      {kGetUpload, "SELECT " UPLOAD_COLUMNS "FROM uploads WHERE id = $1::uuid"},
      {kRecordOffset,
       "UPDATE uploads SET offset_bytes = greatest(offset_bytes, $2) WHERE id = $1::uuid AND "
       "completed_at IS NULL"},
      {kCompleteUpload,
       "UPDATE uploads SET completed_at = now(), item_id = $2::uuid, sha256 = $3 "
       "WHERE id = $1::uuid AND completed_at IS NULL"},
      {kDeleteUpload, "DELETE FROM uploads WHERE id = $1::uuid"},
      {kExpiredUploads,
       "SELECT id::text FROM uploads WHERE completed_at IS NULL AND "
       "expires_at < to_timestamp($1::float8 / 1000000) ORDER BY expires_at LIMIT $2"},
      {kReferenced,
       "SELECT DISTINCT sha256 FROM items WHERE sha256 = ANY(string_to_array($1, ','))"},
  };
}

std::optional<absl::Time> TimeOf(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return absl::FromUnixMicros(f.as<int64_t>());
}

RequirementRow ReadReq(const pqxx::row& r) {
  RequirementRow q;
  q.id = r[0].as<std::string>();
  q.exam_id = r[1].as<std::string>();
  q.school_id = r[2].as<std::string>();
  q.kind = r[3].as<std::string>();
  q.title = r[4].as<std::string>();
  q.description = r[5].as<std::string>();
  std::string formats = r[6].is_null() ? "" : r[6].as<std::string>();
  if (!formats.empty()) q.formats = absl::StrSplit(formats, ',');
  q.min_count = r[7].as<int>();
  q.max_count = r[8].as<int>();
  q.max_bytes = r[9].as<int64_t>();
  q.required = r[10].as<bool>();
  q.created_by = r[11].as<std::string>();
  return q;
}

ItemRow ReadItem(const pqxx::row& r) {
  ItemRow i;
  i.id = r[0].as<std::string>();
  i.exam_id = r[1].as<std::string>();
  i.account_id = r[2].as<std::string>();
  i.requirement_id = r[3].as<std::string>();
  i.filename = r[4].as<std::string>();
  i.size_bytes = r[5].as<int64_t>();
  i.sha256 = r[6].as<std::string>();
  i.format = r[7].as<std::string>();
  i.content_type = r[8].as<std::string>();
  if (!r[9].is_null()) i.text = r[9].as<std::string>();
  i.created_at = TimeOf(r[10]).value_or(absl::UnixEpoch());
  return i;
}

UploadRow ReadUpload(const pqxx::row& r) {
  UploadRow u;
  u.id = r[0].as<std::string>();
  u.exam_id = r[1].as<std::string>();
  u.account_id = r[2].as<std::string>();
  u.requirement_id = r[3].as<std::string>();
  u.filename = r[4].as<std::string>();
  u.size_bytes = r[5].as<int64_t>();
  u.offset = r[6].as<int64_t>();
  u.expires_at = TimeOf(r[7]).value_or(absl::UnixEpoch());
  u.complete = r[8].as<bool>();
  u.item_id = r[9].as<std::string>();
  u.sha256 = r[10].as<std::string>();
  return u;
}

SubmissionRow ReadSub(const pqxx::row& r) {
  SubmissionRow s;
  s.status = r[0].as<std::string>();
  s.return_reason = r[1].as<std::string>();
  s.submitted_at = TimeOf(r[2]);
  return s;
}

absl::Status AlreadySubmitted() {
  return Error(absl::StatusCode::kFailedPrecondition, "ALREADY_SUBMITTED",
               "the materials have been submitted and can no longer change");
}

bool Editable(const SubmissionRow& s) { return s.status == "DRAFT" || s.status == "RETURNED"; }

// Locks the candidate's submission row, creating it first when missing.
SubmissionRow LockSubmission(pqxx::work& tx, const std::string& exam_id,
                             const std::string& account_id) {
  tx.exec_prepared(kEnsureSub, exam_id, account_id);
  return ReadSub(tx.exec_prepared1(kLockSub, exam_id, account_id));
}

absl::Status ItemNotFound() {
  return Error(absl::StatusCode::kNotFound, "ITEM_NOT_FOUND", "no such item");
}

}  // namespace

bool IsUuid(const std::string& s) {
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

PgMaterialsStore::PgMaterialsStore(const std::string& uri, int pool_size)
    : pool_(uri, "materials", pool_size, Statements()) {}

absl::StatusOr<std::string> PgMaterialsStore::CreateRequirement(const RequirementRow& r) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<std::string> {
    auto row = tx.exec_prepared1(kInsertReq, r.exam_id, r.school_id, r.kind, r.title, r.description,
                                 absl::StrJoin(r.formats, ","), r.min_count, r.max_count,
                                 r.max_bytes, r.required, r.created_by);
    return row[0].as<std::string>();
  });
}

absl::StatusOr<std::vector<RequirementRow>> PgMaterialsStore::ListRequirements(
    const std::string& exam_id) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<RequirementRow>> {
    std::vector<RequirementRow> out;
    for (const auto& row : tx.exec_prepared(kListReqs, exam_id)) out.push_back(ReadReq(row));
    return out;
  });
}

absl::StatusOr<RequirementRow> PgMaterialsStore::GetRequirement(const std::string& exam_id,
                                                                const std::string& requirement_id) {
  auto not_found = Error(absl::StatusCode::kNotFound, "REQUIREMENT_NOT_FOUND",
                         "no such requirement for this exam");
  if (!IsUuid(requirement_id)) return not_found;
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<RequirementRow> {
    auto r = tx.exec_prepared(kGetReq, requirement_id, exam_id);
    if (r.empty()) return not_found;
    return ReadReq(r[0]);
  });
}

absl::StatusOr<SubmissionRow> PgMaterialsStore::GetSubmission(const std::string& exam_id,
                                                              const std::string& account_id) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<SubmissionRow> {
    auto r = tx.exec_prepared(kGetSub, exam_id, account_id);
    if (r.empty()) return SubmissionRow{};
    return ReadSub(r[0]);
  });
}

absl::StatusOr<std::vector<ItemRow>> PgMaterialsStore::ListItems(const std::string& exam_id,
                                                                 const std::string& account_id) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<ItemRow>> {
    std::vector<ItemRow> out;
    for (const auto& row : tx.exec_prepared(kListItems, exam_id, account_id)) {
      out.push_back(ReadItem(row));
    }
    return out;
  });
}

absl::StatusOr<ItemRow> PgMaterialsStore::GetItem(const std::string& item_id) {
  if (!IsUuid(item_id)) return ItemNotFound();
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<ItemRow> {
    auto r = tx.exec_prepared(kGetItem, item_id);
    if (r.empty()) return ItemNotFound();
    return ReadItem(r[0]);
  });
}

absl::StatusOr<int> PgMaterialsStore::CountEditable(const std::string& exam_id,
                                                    const std::string& account_id,
                                                    const std::string& requirement_id) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<int> {
    auto s = tx.exec_prepared(kGetSub, exam_id, account_id);
    if (!s.empty() && !Editable(ReadSub(s[0]))) return AlreadySubmitted();
    return tx.exec_prepared1(kCountItems, exam_id, account_id, requirement_id)[0].as<int>();
  });
}

absl::StatusOr<ItemRow> PgMaterialsStore::AddItem(const ItemRow& item, int max_count, bool replace,
                                                  const std::string& upload_id) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<ItemRow> {
    SubmissionRow sub = LockSubmission(tx, item.exam_id, item.account_id);
    if (!Editable(sub)) return AlreadySubmitted();
    int count =
        tx.exec_prepared1(kCountItems, item.exam_id, item.account_id, item.requirement_id)[0]
            .as<int>();
    if (count >= max_count) {
      if (!replace) {
        return Error(absl::StatusCode::kFailedPrecondition, "COUNT_LIMIT",
                     "this requirement already has as many items as it allows; delete one first",
                     {{"maxCount", std::to_string(max_count)}, {"field", "requirementId"}});
      }
      tx.exec_prepared(kDeleteReqItems, item.exam_id, item.account_id, item.requirement_id);
    }
    const char* body = item.text ? item.text->c_str() : nullptr;
    auto row = tx.exec_prepared1(kInsertItem, item.exam_id, item.account_id, item.requirement_id,
                                 item.filename, item.size_bytes, item.sha256, item.format,
                                 item.content_type, body);
    ItemRow out = ReadItem(row);
    if (!upload_id.empty()) {
      auto r = tx.exec_prepared(kCompleteUpload, upload_id, out.id, out.sha256);
      if (r.affected_rows() == 0) {
        return Error(absl::StatusCode::kAborted, "UPLOAD_ALREADY_COMPLETE",
                     "the upload was completed by another request");
      }
    }
    return out;
  });
}

absl::Status PgMaterialsStore::DeleteItem(const std::string& exam_id, const std::string& account_id,
                                          const std::string& item_id) {
  if (!IsUuid(item_id)) return ItemNotFound();
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    SubmissionRow sub = LockSubmission(tx, exam_id, account_id);
    auto r = tx.exec_prepared(kDeleteItem, item_id, exam_id, account_id);
    if (r.affected_rows() == 0) return ItemNotFound();
    // Checked after the delete so that an unknown item reads as such either way; the
    // rollback undoes the delete.
    if (!Editable(sub)) return AlreadySubmitted();
    return absl::OkStatus();
  });
}

absl::StatusOr<SubmissionRow> PgMaterialsStore::Submit(const std::string& exam_id,
                                                       const std::string& account_id) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<SubmissionRow> {
    SubmissionRow sub = LockSubmission(tx, exam_id, account_id);
    if (!Editable(sub)) return AlreadySubmitted();
    auto missing = tx.exec_prepared(kMissing, exam_id, account_id);
    if (!missing.empty()) {
      ErrorDetails details;
      std::vector<std::string> ids;
      for (const auto& row : missing) {
        std::string id = row[0].as<std::string>();
        ids.push_back(id);
        details["requirement." + id] =
            absl::StrCat(row[1].as<std::string>(), ": ", row[3].as<int64_t>(), " of at least ",
                         row[2].as<int>());
      }
      details["missing"] = absl::StrJoin(ids, ",");
      return Error(absl::StatusCode::kFailedPrecondition, "REQUIREMENTS_UNMET",
                   "some required materials are missing", details);
    }
    return ReadSub(tx.exec_prepared1(kSetSubmitted, exam_id, account_id));
  });
}

absl::StatusOr<SubmissionRow> PgMaterialsStore::Review(const std::string& exam_id,
                                                       const std::string& account_id,
                                                       const ReviewRow& d) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<SubmissionRow> {
    auto locked = tx.exec_prepared(kLockSub, exam_id, account_id);
    if (locked.empty() || ReadSub(locked[0]).status != "SUBMITTED") {
      return Error(absl::StatusCode::kFailedPrecondition, "NOT_SUBMITTED",
                   "only submitted materials can be reviewed");
    }
    std::string status = d.decision == "APPROVE" ? "APPROVED" : "RETURNED";
    std::string reason = d.decision == "RETURN" ? d.reason : "";
    tx.exec_prepared(kInsertReview, exam_id, account_id, d.decision, d.reason, d.reviewer_id);
    return ReadSub(tx.exec_prepared1(kSetReviewed, exam_id, account_id, status, reason));
  });
}

absl::StatusOr<std::vector<ReviewRow>> PgMaterialsStore::ListReviews(
    const std::string& exam_id, const std::string& account_id) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<ReviewRow>> {
    std::vector<ReviewRow> out;
    for (const auto& r : tx.exec_prepared(kListReviews, exam_id, account_id)) {
      out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                     TimeOf(r[3]).value_or(absl::UnixEpoch())});
    }
    return out;
  });
}

absl::StatusOr<std::vector<SubmissionSummaryRow>> PgMaterialsStore::ListSubmissions(
    const std::string& exam_id, const std::string& status) {
  return pool_.Read([&](pqxx::transaction_base& tx)
                        -> absl::StatusOr<std::vector<SubmissionSummaryRow>> {
    std::vector<SubmissionSummaryRow> out;
    for (const auto& r : tx.exec_prepared(kListSubs, exam_id, status)) {
      out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), TimeOf(r[2]), r[3].as<int>()});
    }
    return out;
  });
}

absl::StatusOr<UploadRow> PgMaterialsStore::CreateUpload(const UploadRow& u) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<UploadRow> {
    return ReadUpload(tx.exec_prepared1(kInsertUpload, u.exam_id, u.account_id, u.requirement_id,
                                        u.filename, u.size_bytes,
                                        absl::ToUnixMicros(u.expires_at)));
  });
}

absl::StatusOr<UploadRow> PgMaterialsStore::GetUpload(const std::string& upload_id) {
  auto not_found = Error(absl::StatusCode::kNotFound, "UPLOAD_NOT_FOUND", "no such upload");
  if (!IsUuid(upload_id)) return not_found;
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<UploadRow> {
    auto r = tx.exec_prepared(kGetUpload, upload_id);
    if (r.empty()) return not_found;
    return ReadUpload(r[0]);
  });
}

absl::Status PgMaterialsStore::RecordUploadOffset(const std::string& upload_id, int64_t offset) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    tx.exec_prepared(kRecordOffset, upload_id, offset);
    return absl::OkStatus();
  });
}

absl::Status PgMaterialsStore::DeleteUpload(const std::string& upload_id) {
  if (!IsUuid(upload_id)) return absl::OkStatus();
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    tx.exec_prepared(kDeleteUpload, upload_id);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<std::string>> PgMaterialsStore::ListExpiredUploads(absl::Time now,
                                                                              int limit) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<std::string>> {
    std::vector<std::string> out;
    for (const auto& r : tx.exec_prepared(kExpiredUploads, absl::ToUnixMicros(now), limit)) {
      out.push_back(r[0].as<std::string>());
    }
    return out;
  });
}

absl::StatusOr<std::set<std::string>> PgMaterialsStore::ReferencedBlobs(
    const std::vector<std::string>& sha256s) {
  if (sha256s.empty()) return std::set<std::string>{};
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::set<std::string>> {
    std::set<std::string> out;
    for (const auto& r : tx.exec_prepared(kReferenced, absl::StrJoin(sha256s, ","))) {
      out.insert(r[0].as<std::string>());
    }
    return out;
  });
}

}  // namespace admissions::materials
