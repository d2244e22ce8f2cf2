#include "enrollment/pg_enrollment_store.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace admissions::enrollment {
namespace {

// Rows per INSERT of a roster import: one round trip each, inside one transaction.
constexpr size_t kRosterBatch = 5000;

#define EXAM_COLUMNS                                                                       \
  "e.id::text, e.school_id::text, s.name, e.title, e.fee_cents, "                          \
  "(extract(epoch FROM e.pay_deadline) * 1000000)::int8, e.mode, e.screen_share_allowed, " \
  "(extract(epoch FROM e.materials_open_at) * 1000000)::int8, "                            \
  "(extract(epoch FROM e.materials_close_at) * 1000000)::int8, c.version, c.body "
#define EXAM_FROM                                                                         \
  "FROM exams e JOIN schools s ON s.id = e.school_id "                                    \
  "JOIN LATERAL (SELECT version, body FROM commitment_versions v WHERE v.exam_id = e.id " \
  "ORDER BY version DESC LIMIT 1) c ON true "
constexpr int kExamColumnCount = 12;

constexpr char kInsertSchool[] = "insert_school";
constexpr char kFindSchool[] = "find_school";
constexpr char kListSchools[] = "list_schools";
constexpr char kListSchoolExams[] = "list_school_exams";
constexpr char kInsertExam[] = "insert_exam";
constexpr char kInsertCommitment[] = "insert_commitment";
constexpr char kFindExam[] = "find_exam";
constexpr char kLockExam[] = "lock_exam";
constexpr char kNextCommitment[] = "next_commitment";
constexpr char kUpsertRoster[] = "upsert_roster";
constexpr char kInsertQuestion[] = "insert_question";
constexpr char kListQuestions[] = "list_questions";
constexpr char kFindRoster[] = "find_roster";
constexpr char kCurrentNotice[] = "current_notice";
constexpr char kInsertNotice[] = "insert_notice";
constexpr char kCurrentNoticeVersion[] = "current_notice_version";
constexpr char kInsertNoticeRead[] = "insert_notice_read";
constexpr char kReadCurrentNotice[] = "read_current_notice";
constexpr char kListEligible[] = "list_eligible";
constexpr char kCandidateState[] = "candidate_state";
constexpr char kConfirmAdmission[] = "confirm_admission";
constexpr char kCurrentCommitmentVersion[] = "current_commitment_version";
constexpr char kInsertSignature[] = "insert_signature";

std::vector<PgStatement> Statements() {
  return {
      {kInsertSchool,
       "INSERT INTO schools (code, name, created_by) VALUES ($1, $2, $3) RETURNING id::text"},
      {kFindSchool, "SELECT id::text, code, name FROM schools WHERE id = $1::uuid"},
      {kListSchools, "SELECT id::text, code, name FROM schools ORDER BY code"},
      {kListSchoolExams,
       "SELECT " EXAM_COLUMNS EXAM_FROM "WHERE e.school_id = $1::uuid ORDER BY e.created_at, e.id"},
      {kInsertExam,
       "INSERT INTO exams (school_id, title, fee_cents, pay_deadline, mode, "
       "screen_share_allowed, materials_open_at, materials_close_at, created_by) VALUES "
       "($1::uuid, $2, $3, NULLIF($4, '')::timestamptz, $5, $6, NULLIF($7, '')::timestamptz, "
       "NULLIF($8, '')::timestamptz, $9) RETURNING id::text"},
      {kInsertCommitment,
       "INSERT INTO commitment_versions (exam_id, version, body, created_by) "
       "VALUES ($1::uuid, 1, $2, $3)"},
      {kFindExam, "SELECT " EXAM_COLUMNS EXAM_FROM "WHERE e.id = $1::uuid"},
      {kLockExam, "SELECT 1 FROM exams WHERE id = $1::uuid FOR UPDATE"},
      {kNextCommitment,
       "INSERT INTO commitment_versions (exam_id, version, body, created_by) "
       "SELECT $1::uuid, coalesce(max(version), 0) + 1, $2, $3 FROM commitment_versions "
       "WHERE exam_id = $1::uuid RETURNING version"},
      {kUpsertRoster,
       "WITH up AS (INSERT INTO roster_entries (exam_id, id_type, id_number_index, "
       "id_number_masked, name, gender, major, direction) "
       "SELECT $1::uuid, t.id_type, t.idx, t.masked, t.name, t.gender, t.major, t.direction "
       "FROM unnest($2::int2[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], "
       "$8::text[]) AS t(id_type, idx, masked, name, gender, major, direction) "
       "ON CONFLICT (exam_id, id_type, id_number_index) DO UPDATE SET "
       "id_number_masked = EXCLUDED.id_number_masked, name = EXCLUDED.name, "
       "gender = EXCLUDED.gender, major = EXCLUDED.major, direction = EXCLUDED.direction, "
       "updated_at = now() "
       // An unchanged line writes nothing (no new row version): re-imports stay cheap.
       "WHERE (roster_entries.id_number_masked, roster_entries.name, roster_entries.gender, "
       "roster_entries.major, roster_entries.direction) IS DISTINCT FROM "
       "(EXCLUDED.id_number_masked, "
       "EXCLUDED.name, EXCLUDED.gender, EXCLUDED.major, EXCLUDED.direction) "
       "RETURNING (xmax = 0) AS inserted) "
       "SELECT count(*) FILTER (WHERE inserted) FROM up"},
      {kInsertQuestion,
       "INSERT INTO questions (exam_id, body, created_by) VALUES ($1::uuid, $2, $3) "
       "RETURNING id::text"},
      {kListQuestions,
       "SELECT id::text, body FROM questions WHERE exam_id = $1::uuid ORDER BY created_at, id"},
      {kFindRoster,
       "SELECT id_type, id_number_index, id_number_masked, name, gender, major, direction "
       "FROM roster_entries WHERE exam_id = $1::uuid AND id_type = $2 AND id_number_index = $3"},
      {kCurrentNotice,
       "SELECT version, body, (extract(epoch FROM published_at) * 1000000)::int8 FROM notices "
       "ORDER BY version DESC LIMIT 1"},
      {kInsertNotice, "INSERT INTO notices (body, published_by) VALUES ($1, $2) RETURNING version"},
      {kCurrentNoticeVersion, "SELECT coalesce(max(version), 0) FROM notices"},
      {kInsertNoticeRead,
       "INSERT INTO notice_reads (account_id, version) VALUES ($1::uuid, $2) "
       "ON CONFLICT DO NOTHING"},
      {kReadCurrentNotice,
       "SELECT EXISTS (SELECT 1 FROM notice_reads WHERE account_id = $1::uuid "
       "AND version = (SELECT max(version) FROM notices))"},
      {kListEligible,
       "SELECT e.id::text, s.name, e.title, e.mode, e.fee_cents > 0, "
       "e.materials_open_at IS NOT NULL FROM roster_entries r "
       "JOIN exams e ON e.id = r.exam_id JOIN schools s ON s.id = e.school_id "
       "WHERE r.id_number_index = $1 AND r.id_type = $2 AND r.name = $3 "
       "ORDER BY e.created_at, e.id"},
      {kCandidateState,
       "SELECT " EXAM_COLUMNS
       ", r.exam_id IS NOT NULL, coalesce(r.id_number_masked, ''), coalesce(r.name, ''), "
       "coalesce(r.gender, ''), coalesce(r.major, ''), coalesce(r.direction, ''), "
       "EXISTS (SELECT 1 FROM notice_reads n WHERE n.account_id = $2::uuid "
       "AND n.version = (SELECT max(version) FROM notices)), "
       "EXISTS (SELECT 1 FROM admission_confirmations a WHERE a.exam_id = e.id "
       "AND a.account_id = $2::uuid), "
       "EXISTS (SELECT 1 FROM commitment_signatures g WHERE g.exam_id = e.id "
       "AND g.account_id = $2::uuid AND g.version = c.version) " EXAM_FROM
       "LEFT JOIN roster_entries r ON r.exam_id = e.id AND r.id_type = $3 "
       "AND r.id_number_index = $4 AND r.name = $5 WHERE e.id = $1::uuid"},
      {kConfirmAdmission,
       "INSERT INTO admission_confirmations (exam_id, account_id) VALUES ($1::uuid, $2::uuid) "
       "ON CONFLICT DO NOTHING"},
      {kCurrentCommitmentVersion,
       "SELECT coalesce(max(version), 0) FROM commitment_versions WHERE exam_id = $1::uuid"},
      {kInsertSignature,
       "INSERT INTO commitment_signatures (exam_id, account_id, version) "
       "VALUES ($1::uuid, $2::uuid, $3) ON CONFLICT DO NOTHING"},
  };
}

std::string FormatTime(const std::optional<absl::Time>& t) {
  if (!t) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6S+00:00", *t, absl::UTCTimeZone());
}

std::optional<absl::Time> MicrosOrNull(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return absl::FromUnixMicros(f.as<int64_t>());
}

ExamRow ReadExam(const pqxx::row& r) {
  ExamRow e;
  e.id = r[0].as<std::string>();
  e.school_id = r[1].as<std::string>();
  e.school_name = r[2].as<std::string>();
  e.title = r[3].as<std::string>();
  e.fee_cents = r[4].as<int64_t>();
  e.pay_deadline = MicrosOrNull(r[5]);
  e.mode = r[6].as<int>();
  e.screen_share_allowed = r[7].as<bool>();
  e.materials_open_at = MicrosOrNull(r[8]);
  e.materials_close_at = MicrosOrNull(r[9]);
  e.commitment_version = r[10].as<int>();
  return e;
}

}  // namespace

std::string PgTextArray(const std::vector<std::string>& values) {
  size_t size = 2;
  for (const auto& v : values) size += v.size() + 3;
  std::string out;
  out.reserve(size);
  out.push_back('{');
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('"');
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

PgEnrollmentStore::PgEnrollmentStore(const std::string& uri, int pool_size)
    : pool_(uri, "enrollment", pool_size, Statements()) {}

absl::StatusOr<std::string> PgEnrollmentStore::CreateSchool(const std::string& code,
                                                            const std::string& name,
                                                            const std::string& by) {
  auto id = pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<std::string> {
    return tx.exec_prepared1(kInsertSchool, code, name, by)[0].as<std::string>();
  });
  if (id.status().code() == absl::StatusCode::kAlreadyExists) {
    return Error(absl::StatusCode::kAlreadyExists, reason::kAlreadyExists,
                 "a school with this code exists", {{"field", "code"}});
  }
  return id;
}

absl::StatusOr<std::optional<SchoolRow>> PgEnrollmentStore::FindSchool(const std::string& id) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::optional<SchoolRow>> {
    auto rows = tx.exec_prepared(kFindSchool, id);
    if (rows.empty()) return std::optional<SchoolRow>();
    return SchoolRow{rows[0][0].as<std::string>(), rows[0][1].as<std::string>(),
                     rows[0][2].as<std::string>()};
  });
}

absl::StatusOr<std::vector<SchoolRow>> PgEnrollmentStore::ListSchools() {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<SchoolRow>> {
    std::vector<SchoolRow> out;
    for (const auto& r : tx.exec_prepared(kListSchools)) {
      out.push_back(
          SchoolRow{r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>()});
    }
    return out;
  });
}

absl::StatusOr<std::vector<ExamRow>> PgEnrollmentStore::ListSchoolExams(
    const std::string& school_id) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<ExamRow>> {
    std::vector<ExamRow> out;
    for (const auto& r : tx.exec_prepared(kListSchoolExams, school_id)) out.push_back(ReadExam(r));
    return out;
  });
}

absl::StatusOr<std::string> PgEnrollmentStore::CreateExam(const NewExam& e) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<std::string> {
    auto id = tx.exec_prepared1(kInsertExam, e.school_id, e.title, e.fee_cents,
                                FormatTime(e.pay_deadline), e.mode, e.screen_share_allowed,
                                FormatTime(e.materials_open_at), FormatTime(e.materials_close_at),
                                e.created_by)[0]
                  .as<std::string>();
    tx.exec_prepared0(kInsertCommitment, id, e.commitment_text, e.created_by);
    return id;
  });
}

absl::StatusOr<std::optional<ExamRow>> PgEnrollmentStore::FindExam(const std::string& id) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::optional<ExamRow>> {
    auto rows = tx.exec_prepared(kFindExam, id);
    if (rows.empty()) return std::optional<ExamRow>();
    return std::optional<ExamRow>(ReadExam(rows[0]));
  });
}

absl::StatusOr<int> PgEnrollmentStore::AddCommitmentVersion(const std::string& exam_id,
                                                            const std::string& text,
                                                            const std::string& by) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<int> {
    if (tx.exec_prepared(kLockExam, exam_id).empty()) {
      return Error(absl::StatusCode::kNotFound, reason::kNotFound, "no such exam");
    }
    return tx.exec_prepared1(kNextCommitment, exam_id, text, by)[0].as<int>();
  });
}

absl::StatusOr<RosterWriteResult> PgEnrollmentStore::UpsertRoster(
    const std::string& exam_id, const std::vector<RosterRow>& rows, absl::Time deadline) {
  auto too_late = [deadline] {
    return Error(absl::StatusCode::kDeadlineExceeded, "DEADLINE_EXCEEDED",
                 "the roster import did not finish in time and nothing was imported; split the "
                 "file and import the parts");
  };
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<RosterWriteResult> {
    // Imports of one exam run one after another (no deadlock between two upserts).
    if (tx.exec_prepared(kLockExam, exam_id).empty()) {
      return Error(absl::StatusCode::kNotFound, reason::kNotFound, "no such exam");
    }
    RosterWriteResult result;
    for (size_t start = 0; start < rows.size(); start += kRosterBatch) {
      if (absl::Now() >= deadline) return too_late();
      size_t end = std::min(rows.size(), start + kRosterBatch);
      std::string types = "{";
      std::vector<std::string> idx, masked, name, gender, major, direction;
      for (size_t i = start; i < end; ++i) {
        const RosterRow& r = rows[i];
        if (i > start) types.push_back(',');
        absl::StrAppend(&types, r.id_type);
        idx.push_back(r.id_number_index);
        masked.push_back(r.id_number_masked);
        name.push_back(r.name);
        gender.push_back(r.gender);
        major.push_back(r.major);
        direction.push_back(r.direction);
      }
      types.push_back('}');
      auto row = tx.exec_prepared1(kUpsertRoster, exam_id, types, PgTextArray(idx),
                                   PgTextArray(masked), PgTextArray(name), PgTextArray(gender),
                                   PgTextArray(major), PgTextArray(direction));
      // Every line not inserted matched an entry: updated, or already as it is.
      int inserted = row[0].as<int>();
      result.inserted += inserted;
      result.updated += static_cast<int>(end - start) - inserted;
    }
    if (absl::Now() >= deadline) return too_late();  // Rolls back.
    return result;
  });
}

absl::StatusOr<std::string> PgEnrollmentStore::AddQuestion(const std::string& exam_id,
                                                           const std::string& text,
                                                           const std::string& by) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<std::string> {
    return tx.exec_prepared1(kInsertQuestion, exam_id, text, by)[0].as<std::string>();
  });
}

absl::StatusOr<NoticeRow> PgEnrollmentStore::CurrentNotice() {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<NoticeRow> {
    auto rows = tx.exec_prepared(kCurrentNotice);
    if (rows.empty()) {
      return Error(absl::StatusCode::kNotFound, reason::kNotFound, "no notice is published");
    }
    return NoticeRow{rows[0][0].as<int>(), rows[0][1].as<std::string>(),
                     absl::FromUnixMicros(rows[0][2].as<int64_t>())};
  });
}

absl::StatusOr<int> PgEnrollmentStore::PublishNotice(const std::string& text,
                                                     const std::string& by) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<int> {
    return tx.exec_prepared1(kInsertNotice, text, by)[0].as<int>();
  });
}

absl::StatusOr<bool> PgEnrollmentStore::MarkNoticeRead(const std::string& account_id, int version) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<bool> {
    int current = tx.exec_prepared1(kCurrentNoticeVersion)[0].as<int>();
    if (version != current) return false;
    tx.exec_prepared0(kInsertNoticeRead, account_id, version);
    return true;
  });
}

absl::StatusOr<bool> PgEnrollmentStore::HasReadCurrentNotice(const std::string& account_id) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<bool> {
    return tx.exec_prepared1(kReadCurrentNotice, account_id)[0].as<bool>();
  });
}

absl::StatusOr<std::vector<ExamSummaryRow>> PgEnrollmentStore::ListEligibleExams(
    const CandidateKey& key) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<ExamSummaryRow>> {
    std::vector<ExamSummaryRow> out;
    for (const auto& r :
         tx.exec_prepared(kListEligible, key.id_number_index, key.id_type, key.name)) {
      out.push_back(ExamSummaryRow{r[0].as<std::string>(), r[1].as<std::string>(),
                                   r[2].as<std::string>(), r[3].as<int>(), r[4].as<bool>(),
                                   r[5].as<bool>()});
    }
    return out;
  });
}

absl::StatusOr<std::vector<QuestionRow>> PgEnrollmentStore::ListQuestions(
    const std::string& exam_id) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<QuestionRow>> {
    std::vector<QuestionRow> out;
    for (const auto& r : tx.exec_prepared(kListQuestions, exam_id)) {
      out.push_back({r[0].as<std::string>(), r[1].as<std::string>()});
    }
    return out;
  });
}

absl::StatusOr<std::optional<RosterRow>> PgEnrollmentStore::FindRosterEntry(
    const std::string& exam_id, int id_type, const std::string& id_number_index) {
  return pool_.Read([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::optional<RosterRow>> {
    auto rows = tx.exec_prepared(kFindRoster, exam_id, id_type, id_number_index);
    if (rows.empty()) return std::optional<RosterRow>();
    RosterRow row;
    row.id_type = rows[0][0].as<int>();
    row.id_number_index = rows[0][1].as<std::string>();
    row.id_number_masked = rows[0][2].as<std::string>();
    row.name = rows[0][3].as<std::string>();
    row.gender = rows[0][4].as<std::string>();
    row.major = rows[0][5].as<std::string>();
    row.direction = rows[0][6].as<std::string>();
    return std::optional<RosterRow>(std::move(row));
  });
}

absl::StatusOr<std::optional<CandidateExamState>> PgEnrollmentStore::CandidateState(
    const std::string& exam_id, const CandidateKey& key) {
  return pool_.Read(
      [&](pqxx::transaction_base& tx) -> absl::StatusOr<std::optional<CandidateExamState>> {
        auto rows = tx.exec_prepared(kCandidateState, exam_id, key.account_id, key.id_type,
                                     key.id_number_index, key.name);
        if (rows.empty()) return std::optional<CandidateExamState>();
        const auto& r = rows[0];
        CandidateExamState s;
        s.exam = ReadExam(r);
        s.commitment_text = r[11].as<std::string>();
        int i = kExamColumnCount;
        s.eligible = r[i++].as<bool>();
        s.roster.id_type = key.id_type;
        s.roster.id_number_index = key.id_number_index;
        s.roster.id_number_masked = r[i++].as<std::string>();
        s.roster.name = r[i++].as<std::string>();
        s.roster.gender = r[i++].as<std::string>();
        s.roster.major = r[i++].as<std::string>();
        s.roster.direction = r[i++].as<std::string>();
        s.notice_read = r[i++].as<bool>();
        s.admission_confirmed = r[i++].as<bool>();
        s.commitment_signed = r[i++].as<bool>();
        return std::optional<CandidateExamState>(std::move(s));
      });
}

absl::Status PgEnrollmentStore::ConfirmAdmission(const std::string& exam_id,
                                                 const std::string& account_id) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    tx.exec_prepared0(kConfirmAdmission, exam_id, account_id);
    return absl::OkStatus();
  });
}

absl::StatusOr<bool> PgEnrollmentStore::SignCommitment(const std::string& exam_id,
                                                       const std::string& account_id, int version) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<bool> {
    int current = tx.exec_prepared1(kCurrentCommitmentVersion, exam_id)[0].as<int>();
    if (version != current) return false;
    tx.exec_prepared0(kInsertSignature, exam_id, account_id, version);
    return true;
  });
}

}  // namespace admissions::enrollment
