#include "materials/materials_logic.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/authz.h"
#include "common/log.h"
#include "common/status.h"
#include "google/protobuf/util/time_util.h"
#include "materials/http_util.h"
#include "materials/sniff.h"

namespace admissions::materials {
namespace {

using google::protobuf::util::TimeUtil;

constexpr int kMaxCountCap = 100;
constexpr int64_t kDefaultFileBytes = 20 * 1000 * 1000;
constexpr int64_t kDefaultTextChars = 10000;
constexpr int64_t kMaxTextChars = 100000;
constexpr size_t kMaxReasonChars = 1000;

google::protobuf::Timestamp ToProto(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(ts));
}

std::string KindName(v1::MaterialKind kind) {
  switch (kind) {
    case v1::VIDEO:
      return "VIDEO";
    case v1::AUDIO:
      return "AUDIO";
    case v1::IMAGE:
      return "IMAGE";
    case v1::TEXT:
      return "TEXT";
    case v1::OTHER:
      return "OTHER";
    default:
      return "";
  }
}

v1::MaterialKind KindOf(const std::string& name) {
  v1::MaterialKind kind = v1::MATERIAL_KIND_UNSPECIFIED;
  v1::MaterialKind_Parse(name, &kind);
  return kind;
}

v1::SubmissionStatus StatusOf(const std::string& s) {
  v1::SubmissionStatus status = v1::SUBMISSION_STATUS_UNSPECIFIED;
  v1::SubmissionStatus_Parse(s, &status);
  return status;
}

bool Editable(const SubmissionRow& s) { return s.status == "DRAFT" || s.status == "RETURNED"; }

absl::Status AlreadySubmitted() {
  return Error(absl::StatusCode::kFailedPrecondition, "ALREADY_SUBMITTED",
               "the materials have been submitted and can no longer change");
}

absl::Status RequireCandidate(const Caller& caller) {
  return RequireAnyRole(caller, {role::kCandidate});
}

absl::Status TooLarge(int64_t max_bytes) {
  return Error(
      absl::StatusCode::kOutOfRange, reason::kPayloadTooLarge,
      absl::StrCat("the file is larger than this requirement allows (", max_bytes, " bytes)"),
      {{"maxBytes", std::to_string(max_bytes)}});
}

void FillRequirement(const RequirementRow& r, v1::Requirement* out) {
  out->set_requirement_id(r.id);
  out->set_kind(KindOf(r.kind));
  out->set_title(r.title);
  out->set_description(r.description);
  for (const auto& f : AllowedFormats(r)) out->add_formats(f);
  out->set_min_count(r.min_count);
  out->set_max_count(r.max_count);
  out->set_max_bytes(r.max_bytes);
  out->set_required(r.required);
}

void FillItem(const ItemRow& i, v1::Item* out) {
  out->set_item_id(i.id);
  out->set_filename(i.filename);
  out->set_size_bytes(i.size_bytes);
  out->set_sha256(i.sha256);
  if (i.text) out->set_text(*i.text);
  out->set_format(i.format);
  out->set_content_type(i.content_type);
  *out->mutable_created_at() = ToProto(i.created_at);
}

v1::Upload UploadOf(const UploadRow& u) {
  v1::Upload out;
  out.set_upload_id(u.id);
  out.set_offset(u.offset);
  out.set_size_bytes(u.size_bytes);
  out.set_complete(u.complete);
  out.set_item_id(u.item_id);
  out.set_sha256(u.sha256);
  *out.mutable_expires_at() = ToProto(u.expires_at);
  return out;
}

// A text item served as a file.
class StringReader final : public BlobReader {
 public:
  explicit StringReader(std::string data) : data_(std::move(data)) {}
  int64_t size() const override { return static_cast<int64_t>(data_.size()); }
  absl::Status ReadAt(int64_t offset, size_t n, std::string* out) override {
    *out = data_.substr(std::min<size_t>(static_cast<size_t>(offset), data_.size()), n);
    return absl::OkStatus();
  }

 private:
  std::string data_;
};

}  // namespace

std::vector<std::string> AllowedFormats(const RequirementRow& r) {
  if (!r.formats.empty()) return r.formats;
  return DefaultFormats(KindOf(r.kind));
}

MaterialsLogic::MaterialsLogic(MaterialsStore* store, BlobStore* blobs,
                               EnrollmentClient* enrollment, MaterialsOptions options,
                               std::function<absl::Time()> clock)
    : store_(store),
      blobs_(blobs),
      enrollment_(enrollment),
      options_(options),
      clock_(std::move(clock)) {}

// ---- Access.

absl::StatusOr<enrollment::v1::Exam> MaterialsLogic::CandidateExam(const Caller& caller,
                                                                   const CallContext& call,
                                                                   const std::string& exam_id) {
  RETURN_IF_ERROR(RequireCandidate(caller));
  if (exam_id.empty()) return InvalidField("examId", "required");
  ASSIGN_OR_RETURN(auto exam, enrollment_->GetExam(call, exam_id));
  RETURN_IF_ERROR(enrollment_->CheckEligible(call, exam_id));
  return exam;
}

absl::StatusOr<enrollment::v1::Exam> MaterialsLogic::StaffExam(const Caller& caller,
                                                               const CallContext& call,
                                                               const std::string& exam_id) {
  RETURN_IF_ERROR(RequireAnyRole(caller, {role::kSchoolAdmin, role::kExaminer, role::kOperator}));
  if (exam_id.empty()) return InvalidField("examId", "required");
  ASSIGN_OR_RETURN(auto exam, enrollment_->GetExam(call, exam_id));
  RETURN_IF_ERROR(RequireSchoolStaff(caller, exam.school_id()));
  return exam;
}

absl::Status MaterialsLogic::CheckEditable(const enrollment::v1::Exam& exam,
                                           const std::string& account_id) {
  ASSIGN_OR_RETURN(auto sub, store_->GetSubmission(exam.exam_id(), account_id));
  if (!Editable(sub)) return AlreadySubmitted();
  if (!exam.has_materials_open_at() || !exam.has_materials_close_at()) {
    return Error(absl::StatusCode::kFailedPrecondition, "MATERIALS_NOT_REQUIRED",
                 "this exam takes no materials");
  }
  // A returned submission may be revised after the window: the school asked for it.
  if (sub.status == "RETURNED") return absl::OkStatus();
  const absl::Time now = clock_();
  const absl::Time opens = FromProto(exam.materials_open_at());
  const absl::Time closes = FromProto(exam.materials_close_at());
  if (now < opens || now >= closes) {
    return Error(
        absl::StatusCode::kFailedPrecondition, "WINDOW_CLOSED",
        now < opens ? "the materials window has not opened yet" : "the materials window has closed",
        {{"opensAt", TimeUtil::ToString(exam.materials_open_at())},
         {"closesAt", TimeUtil::ToString(exam.materials_close_at())}});
  }
  return absl::OkStatus();
}

absl::StatusOr<RequirementRow> MaterialsLogic::FileRequirement(const std::string& exam_id,
                                                               const std::string& requirement_id) {
  if (requirement_id.empty()) return InvalidField("requirementId", "required");
  ASSIGN_OR_RETURN(auto r, store_->GetRequirement(exam_id, requirement_id));
  if (r.kind == "TEXT") {
    return InvalidField("requirementId", "this requirement takes text, not a file");
  }
  return r;
}

// ---- Requirements.

absl::StatusOr<v1::CreateRequirementResponse> MaterialsLogic::CreateRequirement(
    const Caller& caller, const CallContext& call, const v1::CreateRequirementRequest& req) {
  RETURN_IF_ERROR(RequireAnyRole(caller, {role::kSchoolAdmin, role::kOperator}));
  if (req.exam_id().empty()) return InvalidField("examId", "required");
  ASSIGN_OR_RETURN(auto exam, enrollment_->GetExam(call, req.exam_id()));
  RETURN_IF_ERROR(RequireSchoolAdmin(caller, exam.school_id()));
  if (!exam.has_materials_open_at()) {
    return Error(absl::StatusCode::kFailedPrecondition, "NO_MATERIALS_WINDOW",
                 "set the exam's materials window (materialsOpenAt, materialsCloseAt) first");
  }
  RequirementRow r;
  r.exam_id = req.exam_id();
  r.school_id = exam.school_id();
  r.kind = KindName(req.kind());
  if (r.kind.empty()) return InvalidField("kind", "one of VIDEO, AUDIO, IMAGE, TEXT, OTHER");
  r.title = std::string(absl::StripAsciiWhitespace(req.title()));
  if (r.title.empty() || Utf8Length(r.title) > 200) {
    return InvalidField("title", "required, at most 200 characters");
  }
  if (Utf8Length(req.description()) > 4000) {
    return InvalidField("description", "at most 4000 characters");
  }
  r.description = req.description();
  if (req.kind() == v1::TEXT) {
    if (req.formats_size() > 0) return InvalidField("formats", "a TEXT requirement takes none");
  } else {
    std::vector<std::string> defaults = DefaultFormats(req.kind());
    for (const auto& f : req.formats()) {
      std::string canon = CanonicalFormat(absl::AsciiStrToLower(f));
      if (canon.empty()) return InvalidField("formats", absl::StrCat("unknown format: ", f));
      if (std::find(r.formats.begin(), r.formats.end(), canon) == r.formats.end()) {
        r.formats.push_back(canon);
      }
    }
  }
  if (req.min_count() < 0 || req.max_count() < 0) {
    return InvalidField("minCount", "counts are not negative");
  }
  r.max_count = req.max_count() == 0 ? 1 : req.max_count();
  r.min_count = req.min_count();
  if (req.required() && r.min_count == 0) r.min_count = 1;
  if (r.max_count > kMaxCountCap) {
    return InvalidField("maxCount", absl::StrCat("at most ", kMaxCountCap));
  }
  if (r.min_count > r.max_count) return InvalidField("minCount", "must not exceed maxCount");
  r.required = req.required();
  if (req.max_bytes() < 0) return InvalidField("maxBytes", "must be positive");
  if (req.kind() == v1::TEXT) {
    r.max_bytes = req.max_bytes() == 0 ? kDefaultTextChars : req.max_bytes();
    if (r.max_bytes > kMaxTextChars) {
      return InvalidField("maxBytes",
                          absl::StrCat("a text takes at most ", kMaxTextChars, " characters"));
    }
  } else {
    r.max_bytes = req.max_bytes() == 0 ? kDefaultFileBytes : req.max_bytes();
    if (r.max_bytes > options_.max_file_bytes) {
      return InvalidField("maxBytes", absl::StrCat("at most ", options_.max_file_bytes));
    }
  }
  r.created_by = caller.account_id;
  ASSIGN_OR_RETURN(auto id, store_->CreateRequirement(r));
  v1::CreateRequirementResponse resp;
  resp.set_requirement_id(id);
  return resp;
}

absl::StatusOr<v1::ListRequirementsResponse> MaterialsLogic::ListRequirements(
    const Caller& caller, const CallContext& call, const v1::ListRequirementsRequest& req) {
  ASSIGN_OR_RETURN(auto exam, StaffExam(caller, call, req.exam_id()));
  ASSIGN_OR_RETURN(auto reqs, store_->ListRequirements(req.exam_id()));
  v1::ListRequirementsResponse resp;
  if (exam.has_materials_open_at()) *resp.mutable_opens_at() = exam.materials_open_at();
  if (exam.has_materials_close_at()) *resp.mutable_closes_at() = exam.materials_close_at();
  for (const auto& r : reqs) FillRequirement(r, resp.add_requirements());
  return resp;
}

// ---- The candidate's materials.

absl::StatusOr<v1::MaterialsState> MaterialsLogic::State(const enrollment::v1::Exam& exam,
                                                         const std::string& account_id) {
  ASSIGN_OR_RETURN(auto reqs, store_->ListRequirements(exam.exam_id()));
  ASSIGN_OR_RETURN(auto items, store_->ListItems(exam.exam_id(), account_id));
  ASSIGN_OR_RETURN(auto sub, store_->GetSubmission(exam.exam_id(), account_id));
  v1::MaterialsState state;
  if (exam.has_materials_open_at()) *state.mutable_opens_at() = exam.materials_open_at();
  if (exam.has_materials_close_at()) *state.mutable_closes_at() = exam.materials_close_at();
  state.set_status(StatusOf(sub.status));
  state.set_return_reason(sub.return_reason);
  if (sub.submitted_at) *state.mutable_submitted_at() = ToProto(*sub.submitted_at);
  std::map<std::string, v1::Requirement*> by_id;
  for (const auto& r : reqs) {
    v1::Requirement* out = state.add_requirements();
    FillRequirement(r, out);
    by_id[r.id] = out;
  }
  for (const auto& i : items) {
    auto it = by_id.find(i.requirement_id);
    if (it != by_id.end()) FillItem(i, it->second->add_items());
  }
  return state;
}

absl::StatusOr<v1::MaterialsState> MaterialsLogic::GetMaterials(
    const Caller& caller, const CallContext& call, const v1::GetMaterialsRequest& req) {
  ASSIGN_OR_RETURN(auto exam, CandidateExam(caller, call, req.exam_id()));
  return State(exam, caller.account_id);
}

absl::StatusOr<v1::PutTextResponse> MaterialsLogic::PutText(const Caller& caller,
                                                            const CallContext& call,
                                                            const v1::PutTextRequest& req) {
  ASSIGN_OR_RETURN(auto exam, CandidateExam(caller, call, req.exam_id()));
  if (req.requirement_id().empty()) return InvalidField("requirementId", "required");
  ASSIGN_OR_RETURN(auto r, store_->GetRequirement(req.exam_id(), req.requirement_id()));
  if (r.kind != "TEXT") return InvalidField("requirementId", "this requirement takes files");
  const int64_t chars = Utf8Length(req.text());
  if (chars < 0) return InvalidField("text", "not valid UTF-8");
  if (absl::StripAsciiWhitespace(req.text()).empty()) return InvalidField("text", "required");
  if (chars > r.max_bytes) {
    return InvalidField("text", absl::StrCat("at most ", r.max_bytes, " characters"));
  }
  RETURN_IF_ERROR(CheckEditable(exam, caller.account_id));
  ItemRow item;
  item.exam_id = req.exam_id();
  item.account_id = caller.account_id;
  item.requirement_id = r.id;
  item.size_bytes = static_cast<int64_t>(req.text().size());
  item.format = "text";
  item.content_type = ContentTypeOf("text");
  item.text = req.text();
  // A one-text requirement is edited by saving again.
  ASSIGN_OR_RETURN(auto added, store_->AddItem(item, r.max_count, r.max_count == 1, ""));
  v1::PutTextResponse resp;
  resp.set_item_id(added.id);
  return resp;
}

absl::StatusOr<v1::DeleteItemResponse> MaterialsLogic::DeleteItem(
    const Caller& caller, const CallContext& call, const v1::DeleteItemRequest& req) {
  ASSIGN_OR_RETURN(auto exam, CandidateExam(caller, call, req.exam_id()));
  if (req.item_id().empty()) return InvalidField("itemId", "required");
  RETURN_IF_ERROR(CheckEditable(exam, caller.account_id));
  // The blob stays until the orphan sweep finds nothing referencing it.
  RETURN_IF_ERROR(store_->DeleteItem(req.exam_id(), caller.account_id, req.item_id()));
  return v1::DeleteItemResponse();
}

absl::StatusOr<v1::SubmitResponse> MaterialsLogic::Submit(const Caller& caller,
                                                          const CallContext& call,
                                                          const v1::SubmitRequest& req) {
  ASSIGN_OR_RETURN(auto exam, CandidateExam(caller, call, req.exam_id()));
  RETURN_IF_ERROR(CheckEditable(exam, caller.account_id));
  ASSIGN_OR_RETURN(auto sub, store_->Submit(req.exam_id(), caller.account_id));
  v1::SubmitResponse resp;
  resp.set_status(StatusOf(sub.status));
  return resp;
}

// ---- Whole-file uploads.

absl::StatusOr<MaterialsLogic::FileUpload> MaterialsLogic::BeginFile(
    const Caller& caller, const CallContext& call, const v1::UploadFileRequest& first) {
  ASSIGN_OR_RETURN(auto exam, CandidateExam(caller, call, first.exam_id()));
  ASSIGN_OR_RETURN(auto r, FileRequirement(first.exam_id(), first.requirement_id()));
  auto name = SanitizeFilename(first.filename());
  if (!name) return InvalidField("filename", "required: the file's name");
  int64_t declared = -1;
  if (!first.content_length().empty()) {
    auto parsed = ParseNonNegative(first.content_length());
    if (!parsed) return InvalidField("Content-Length", "not a number");
    if (*parsed > r.max_bytes) return TooLarge(r.max_bytes);
    declared = *parsed;
  }
  RETURN_IF_ERROR(CheckEditable(exam, caller.account_id));
  ASSIGN_OR_RETURN(int count, store_->CountEditable(first.exam_id(), caller.account_id, r.id));
  if (count >= r.max_count) {
    return Error(absl::StatusCode::kFailedPrecondition, "COUNT_LIMIT",
                 "this requirement already has as many items as it allows; delete one first",
                 {{"maxCount", std::to_string(r.max_count)}, {"field", "requirementId"}});
  }
  FileUpload up;
  up.exam_id = first.exam_id();
  up.account_id = caller.account_id;
  up.filename = *std::move(name);
  up.formats = AllowedFormats(r);
  up.declared = declared;
  up.requirement = std::move(r);
  return up;
}

absl::Status MaterialsLogic::CheckSize(const FileUpload& upload, int64_t total) const {
  if (total > upload.requirement.max_bytes) return TooLarge(upload.requirement.max_bytes);
  return absl::OkStatus();
}

namespace {

absl::Status CheckFormat(const std::vector<std::string>& allowed, const std::string& format) {
  if (!format.empty() && !IsExecutableFormat(format) &&
      std::find(allowed.begin(), allowed.end(), format) != allowed.end()) {
    return absl::OkStatus();
  }
  return Error(absl::StatusCode::kInvalidArgument, reason::kUnsupportedFormat,
               IsExecutableFormat(format)
                   ? "executable files are not accepted"
                   : "the file's contents are not of a format this requirement accepts",
               {{"detected", format.empty() ? "unknown" : format},
                {"allowed", absl::StrJoin(allowed, ",")}});
}

}  // namespace

absl::Status MaterialsLogic::CheckHead(const FileUpload& upload, const std::string& head,
                                       bool complete) const {
  if (head.size() < kSniffBytes && !complete) return absl::OkStatus();
  return CheckFormat(upload.formats, DetectFormat(head));
}

absl::StatusOr<v1::UploadFileResponse> MaterialsLogic::FinishFile(const FileUpload& upload,
                                                                  BlobWriter* writer) {
  if (writer->size() == 0) return InvalidField("body", "the file is empty");
  if (upload.declared >= 0 && writer->size() != upload.declared) {
    return InvalidField("Content-Length", "the body ended before Content-Length bytes came");
  }
  RETURN_IF_ERROR(CheckSize(upload, writer->size()));
  const std::string format = DetectFormat(writer->head());
  RETURN_IF_ERROR(CheckFormat(upload.formats, format));
  ASSIGN_OR_RETURN(auto blob, writer->Commit());
  ItemRow item;
  item.exam_id = upload.exam_id;
  item.account_id = upload.account_id;
  item.requirement_id = upload.requirement.id;
  item.filename = upload.filename;
  item.size_bytes = blob.size;
  item.sha256 = blob.sha256;
  item.format = format;
  item.content_type = ContentTypeOf(format);
  // A refusal here (count limit, a submit that won the race) leaves the blob to the sweep.
  ASSIGN_OR_RETURN(auto added, store_->AddItem(item, upload.requirement.max_count, false, ""));
  v1::UploadFileResponse resp;
  resp.set_item_id(added.id);
  resp.set_size_bytes(added.size_bytes);
  resp.set_sha256(added.sha256);
  return resp;
}

// ---- Resumable uploads.

absl::StatusOr<v1::Upload> MaterialsLogic::CreateUpload(const Caller& caller,
                                                        const CallContext& call,
                                                        const v1::CreateUploadRequest& req) {
  ASSIGN_OR_RETURN(auto exam, CandidateExam(caller, call, req.exam_id()));
  ASSIGN_OR_RETURN(auto r, FileRequirement(req.exam_id(), req.requirement_id()));
  auto name = SanitizeFilename(req.filename());
  if (!name) return InvalidField("filename", "required: the file's name");
  if (req.size_bytes() <= 0) return InvalidField("sizeBytes", "the file's size, at least 1");
  if (req.size_bytes() > r.max_bytes) return TooLarge(r.max_bytes);
  RETURN_IF_ERROR(CheckEditable(exam, caller.account_id));
  ASSIGN_OR_RETURN(int count, store_->CountEditable(req.exam_id(), caller.account_id, r.id));
  if (count >= r.max_count) {
    return Error(absl::StatusCode::kFailedPrecondition, "COUNT_LIMIT",
                 "this requirement already has as many items as it allows; delete one first",
                 {{"maxCount", std::to_string(r.max_count)}, {"field", "requirementId"}});
  }
  UploadRow u;
  u.exam_id = req.exam_id();
  u.account_id = caller.account_id;
  u.requirement_id = r.id;
  u.filename = *name;
  u.size_bytes = req.size_bytes();
  u.expires_at = clock_() + options_.upload_ttl;
  ASSIGN_OR_RETURN(auto created, store_->CreateUpload(u));
  return UploadOf(created);
}

absl::StatusOr<UploadRow> MaterialsLogic::OwnUpload(const Caller& caller,
                                                    const std::string& exam_id,
                                                    const std::string& upload_id) {
  RETURN_IF_ERROR(RequireCandidate(caller));
  if (upload_id.empty()) return InvalidField("uploadId", "required");
  ASSIGN_OR_RETURN(auto u, store_->GetUpload(upload_id));
  if (u.account_id != caller.account_id || u.exam_id != exam_id) {
    return Error(absl::StatusCode::kNotFound, "UPLOAD_NOT_FOUND", "no such upload");
  }
  if (!u.complete && clock_() >= u.expires_at) {
    return Error(absl::StatusCode::kNotFound, "UPLOAD_EXPIRED",
                 "the upload has expired; start a new one");
  }
  return u;
}

absl::StatusOr<v1::Upload> MaterialsLogic::GetUpload(const Caller& caller,
                                                     const v1::GetUploadRequest& req) {
  ASSIGN_OR_RETURN(auto u, OwnUpload(caller, req.exam_id(), req.upload_id()));
  return UploadOf(u);
}

absl::StatusOr<v1::CancelUploadResponse> MaterialsLogic::CancelUpload(
    const Caller& caller, const v1::CancelUploadRequest& req) {
  ASSIGN_OR_RETURN(auto u, OwnUpload(caller, req.exam_id(), req.upload_id()));
  if (u.complete) {
    return Error(absl::StatusCode::kFailedPrecondition, "UPLOAD_COMPLETE",
                 "the upload is complete; delete the item instead", {{"itemId", u.item_id}});
  }
  if (!Claim(u.id)) {
    return Error(absl::StatusCode::kFailedPrecondition, "UPLOAD_BUSY",
                 "a body is being appended to this upload");
  }
  absl::Status st = store_->DeleteUpload(u.id);
  if (st.ok()) st = blobs_->RemovePartial(u.id);
  Release(u.id);
  RETURN_IF_ERROR(st);
  return v1::CancelUploadResponse();
}

bool MaterialsLogic::Claim(const std::string& upload_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return appending_.insert(upload_id).second;
}

void MaterialsLogic::Release(const std::string& upload_id) {
  std::lock_guard<std::mutex> lock(mu_);
  appending_.erase(upload_id);
}

MaterialsLogic::Append::~Append() {
  file_.reset();
  if (logic_ != nullptr) logic_->Release(upload_.id);
}

absl::StatusOr<std::unique_ptr<MaterialsLogic::Append>> MaterialsLogic::BeginAppend(
    const Caller& caller, const CallContext& call, const v1::AppendUploadRequest& first) {
  ASSIGN_OR_RETURN(auto u, OwnUpload(caller, first.exam_id(), first.upload_id()));
  if (u.complete) {
    return Error(absl::StatusCode::kFailedPrecondition, "UPLOAD_COMPLETE", "the upload is complete",
                 {{"itemId", u.item_id}, {"sha256", u.sha256}});
  }
  auto offset = ParseNonNegative(first.upload_offset());
  if (!offset) return InvalidField("Upload-Offset", "required: where this body starts");
  if (*offset != u.offset) {
    return Error(absl::StatusCode::kFailedPrecondition, "OFFSET_MISMATCH",
                 "Upload-Offset is not the upload's stored offset; ask for it with GET",
                 {{"offset", std::to_string(u.offset)}});
  }
  if (!first.content_length().empty()) {
    auto declared = ParseNonNegative(first.content_length());
    if (!declared) return InvalidField("Content-Length", "not a number");
    if (u.offset + *declared > u.size_bytes) return TooLarge(u.size_bytes);
  }
  ASSIGN_OR_RETURN(auto exam, CandidateExam(caller, call, first.exam_id()));
  RETURN_IF_ERROR(CheckEditable(exam, caller.account_id));
  ASSIGN_OR_RETURN(auto r, FileRequirement(u.exam_id, u.requirement_id));
  if (!Claim(u.id)) {
    return Error(absl::StatusCode::kFailedPrecondition, "UPLOAD_BUSY",
                 "another body is being appended to this upload");
  }
  std::unique_ptr<Append> append(new Append());
  append->logic_ = this;  // Releases the claim from here on.
  append->upload_ = std::move(u);
  append->requirement_ = std::move(r);
  append->recorded_ = append->upload_.offset;
  ASSIGN_OR_RETURN(append->file_, blobs_->OpenPartial(append->upload_.id, append->upload_.offset));
  return append;
}

absl::Status MaterialsLogic::AppendChunk(Append& append, std::string_view chunk) {
  if (append.file_->size() + static_cast<int64_t>(chunk.size()) > append.upload_.size_bytes) {
    return TooLarge(append.upload_.size_bytes);
  }
  RETURN_IF_ERROR(append.file_->Append(chunk));
  if (append.file_->size() - append.recorded_ >= options_.checkpoint_bytes) {
    RETURN_IF_ERROR(Checkpoint(append));
  }
  return absl::OkStatus();
}

absl::Status MaterialsLogic::Checkpoint(Append& append) {
  const int64_t size = append.file_->size();
  if (size == append.recorded_) return absl::OkStatus();
  // Durable first, recorded second: a crash in between leaves bytes beyond the recorded
  // offset, which the next append cuts off.
  RETURN_IF_ERROR(append.file_->Sync());
  RETURN_IF_ERROR(store_->RecordUploadOffset(append.upload_.id, size));
  append.recorded_ = size;
  append.upload_.offset = size;
  return absl::OkStatus();
}

absl::StatusOr<v1::Upload> MaterialsLogic::EndAppend(Append& append, bool cancelled) {
  RETURN_IF_ERROR(Checkpoint(append));
  if (cancelled || append.upload_.offset < append.upload_.size_bytes) {
    return UploadOf(append.upload_);
  }
  return Finalise(append);
}

absl::StatusOr<v1::Upload> MaterialsLogic::Finalise(Append& append) {
  append.file_.reset();
  UploadRow& u = append.upload_;
  ASSIGN_OR_RETURN(auto blob, blobs_->CommitPartial(u.id));
  const std::string format = DetectFormat(blob.head);
  absl::Status st = CheckFormat(AllowedFormats(append.requirement_), format);
  if (st.ok() && blob.size != u.size_bytes) {
    st = absl::DataLossError("the upload's file does not have its declared size");
  }
  absl::StatusOr<ItemRow> added = st.ok() ? absl::UnknownError("not added") : st;
  if (st.ok()) {
    ItemRow item;
    item.exam_id = u.exam_id;
    item.account_id = u.account_id;
    item.requirement_id = u.requirement_id;
    item.filename = u.filename;
    item.size_bytes = blob.size;
    item.sha256 = blob.sha256;
    item.format = format;
    item.content_type = ContentTypeOf(format);
    added = store_->AddItem(item, append.requirement_.max_count, false, u.id);
  }
  if (!added.ok()) {
    // The bytes are in the blob store now (the sweep removes them unless referenced): the
    // upload cannot be finalised again, so it goes.
    if (!store_->DeleteUpload(u.id).ok()) {
      Log(LogLevel::kWarn, "upload_delete_failed", {{"upload_id", u.id}});
    }
    return added.status();
  }
  u.complete = true;
  u.item_id = added->id;
  u.sha256 = added->sha256;
  return UploadOf(u);
}

// ---- Downloads.

absl::StatusOr<MaterialsLogic::Content> MaterialsLogic::OpenContent(
    const Caller& caller, const CallContext& call, const v1::GetItemContentRequest& req) {
  if (req.exam_id().empty()) return InvalidField("examId", "required");
  if (req.item_id().empty()) return InvalidField("itemId", "required");
  ASSIGN_OR_RETURN(auto item, store_->GetItem(req.item_id()));
  auto not_found = Error(absl::StatusCode::kNotFound, "ITEM_NOT_FOUND", "no such item");
  if (item.exam_id != req.exam_id()) return not_found;
  if (item.account_id != caller.account_id) {
    // Anyone but the owner must be staff of the exam's school; others learn nothing.
    auto exam = enrollment_->GetExam(call, req.exam_id());
    if (!exam.ok()) return exam.status();
    if (!RequireSchoolStaff(caller, exam->school_id()).ok() || IsCandidateOnly(caller)) {
      return not_found;
    }
  }
  Content c;
  if (item.text) {
    c.reader = std::make_unique<StringReader>(*item.text);
  } else {
    ASSIGN_OR_RETURN(c.reader, blobs_->Open(item.sha256));
  }
  const int64_t size = c.reader->size();
  ByteRange range = ParseRange(req.range(), size);
  auto& headers = *c.head.mutable_headers();
  headers["Accept-Ranges"] = "bytes";
  headers["X-Content-Type-Options"] = "nosniff";
  if (!item.sha256.empty()) headers["ETag"] = absl::StrCat("\"", item.sha256, "\"");
  if (range.kind == ByteRange::kUnsatisfiable) {
    c.head.set_status(416);
    c.head.set_content_length(0);
    headers["Content-Range"] = absl::StrCat("bytes */", size);
    c.reader.reset();
    return c;
  }
  std::string filename = item.filename.empty() ? "text.txt" : item.filename;
  headers["Content-Disposition"] = ContentDisposition(filename);
  c.head.set_content_type(item.content_type);
  if (range.kind == ByteRange::kPartial) {
    c.head.set_status(206);
    headers["Content-Range"] = absl::StrCat("bytes ", range.first, "-", range.last, "/", size);
    c.offset = range.first;
    c.remaining = range.length();
  } else {
    c.head.set_status(200);
    c.offset = 0;
    c.remaining = size;
  }
  c.head.set_content_length(c.remaining);
  return c;
}

// ---- Review.

absl::StatusOr<v1::ListSubmissionsResponse> MaterialsLogic::ListSubmissions(
    const Caller& caller, const CallContext& call, const v1::ListSubmissionsRequest& req) {
  ASSIGN_OR_RETURN(auto exam, StaffExam(caller, call, req.exam_id()));
  std::string status;
  if (req.status() != v1::SUBMISSION_STATUS_UNSPECIFIED) {
    status = v1::SubmissionStatus_Name(req.status());
  }
  ASSIGN_OR_RETURN(auto rows, store_->ListSubmissions(req.exam_id(), status));
  v1::ListSubmissionsResponse resp;
  for (const auto& r : rows) {
    auto* s = resp.add_submissions();
    s->set_account_id(r.account_id);
    s->set_status(StatusOf(r.status));
    if (r.submitted_at) *s->mutable_submitted_at() = ToProto(*r.submitted_at);
    s->set_item_count(r.item_count);
  }
  return resp;
}

absl::StatusOr<v1::CandidateMaterials> MaterialsLogic::GetCandidateMaterials(
    const Caller& caller, const CallContext& call, const v1::GetCandidateMaterialsRequest& req) {
  ASSIGN_OR_RETURN(auto exam, StaffExam(caller, call, req.exam_id()));
  if (req.account_id().empty()) return InvalidField("accountId", "required");
  v1::CandidateMaterials resp;
  ASSIGN_OR_RETURN(*resp.mutable_materials(), State(exam, req.account_id()));
  ASSIGN_OR_RETURN(auto history, store_->ListReviews(req.exam_id(), req.account_id()));
  for (const auto& h : history) {
    auto* r = resp.add_history();
    r->set_decision(h.decision == "APPROVE" ? v1::APPROVE : v1::RETURN);
    r->set_reason(h.reason);
    r->set_reviewer_id(h.reviewer_id);
    *r->mutable_decided_at() = ToProto(h.decided_at);
  }
  return resp;
}

absl::StatusOr<v1::ReviewResponse> MaterialsLogic::Review(const Caller& caller,
                                                          const CallContext& call,
                                                          const v1::ReviewRequest& req) {
  ASSIGN_OR_RETURN(auto exam, StaffExam(caller, call, req.exam_id()));
  if (req.account_id().empty()) return InvalidField("accountId", "required");
  ReviewRow d;
  switch (req.decision()) {
    case v1::APPROVE:
      d.decision = "APPROVE";
      break;
    case v1::RETURN:
      d.decision = "RETURN";
      break;
    default:
      return InvalidField("decision", "APPROVE or RETURN");
  }
  d.reason = std::string(absl::StripAsciiWhitespace(req.reason()));
  if (req.decision() == v1::RETURN && d.reason.empty()) {
    return InvalidField("reason", "required: tell the candidate what to change");
  }
  if (Utf8Length(d.reason) < 0 || static_cast<size_t>(Utf8Length(d.reason)) > kMaxReasonChars) {
    return InvalidField("reason", absl::StrCat("at most ", kMaxReasonChars, " characters"));
  }
  d.reviewer_id = caller.account_id;
  ASSIGN_OR_RETURN(auto sub, store_->Review(req.exam_id(), req.account_id(), d));
  v1::ReviewResponse resp;
  resp.set_status(StatusOf(sub.status));
  return resp;
}

// ---- Journey.

absl::StatusOr<enrollment::v1::CandidateStep> MaterialsLogic::GetCandidateStep(
    const enrollment::v1::GetCandidateStepRequest& req) {
  if (req.step() != enrollment::v1::MATERIALS) {
    return InvalidField("step", "materials owns only the MATERIALS step");
  }
  if (req.exam_id().empty()) return InvalidField("examId", "required");
  if (req.account_id().empty()) return InvalidField("accountId", "required");
  ASSIGN_OR_RETURN(auto reqs, store_->ListRequirements(req.exam_id()));
  enrollment::v1::CandidateStep step;
  bool any_required =
      std::any_of(reqs.begin(), reqs.end(), [](const RequirementRow& r) { return r.required; });
  if (!any_required) {
    step.set_status(enrollment::v1::NOT_REQUIRED);
    return step;
  }
  ASSIGN_OR_RETURN(auto sub, store_->GetSubmission(req.exam_id(), req.account_id()));
  if (sub.status == "SUBMITTED") {
    step.set_status(enrollment::v1::IN_REVIEW);
  } else if (sub.status == "RETURNED") {
    step.set_status(enrollment::v1::RETURNED);
  } else if (sub.status == "APPROVED") {
    step.set_status(enrollment::v1::DONE);
  } else {
    step.set_status(enrollment::v1::TODO);
  }
  return step;
}

// ---- Sweep.

absl::Status MaterialsLogic::Sweep() {
  const absl::Time now = clock_();
  ASSIGN_OR_RETURN(auto expired, store_->ListExpiredUploads(now, 500));
  int uploads = 0;
  for (const auto& id : expired) {
    if (!Claim(id)) continue;
    absl::Status st = blobs_->RemovePartial(id);
    if (st.ok()) st = store_->DeleteUpload(id);
    Release(id);
    if (st.ok()) ++uploads;
  }
  const absl::Time blob_cutoff = now - options_.orphan_grace;
  ASSIGN_OR_RETURN(auto old_blobs, blobs_->ListBlobsOlderThan(blob_cutoff));
  int orphans = 0;
  for (size_t i = 0; i < old_blobs.size(); i += 500) {
    std::vector<std::string> batch(old_blobs.begin() + i,
                                   old_blobs.begin() + std::min(old_blobs.size(), i + 500));
    ASSIGN_OR_RETURN(auto referenced, store_->ReferencedBlobs(batch));
    for (const auto& sha : batch) {
      if (referenced.count(sha) != 0) continue;
      if (blobs_->RemoveBlobIfOlderThan(sha, blob_cutoff).ok()) ++orphans;
    }
  }
  ASSIGN_OR_RETURN(int temps, blobs_->RemoveTempFilesOlderThan(now - options_.temp_file_age));
  if (uploads + orphans + temps > 0) {
    Log(LogLevel::kInfo, "swept",
        {{"expired_uploads", std::to_string(uploads)},
         {"orphan_blobs", std::to_string(orphans)},
         {"temp_files", std::to_string(temps)}});
  }
  return absl::OkStatus();
}

}  // namespace admissions::materials
