#include "materials/materials_logic.h"

#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/status.h"
#include "gtest/gtest.h"
#include "materials/local_blob_store.h"

namespace admissions::materials {
namespace {

// The store's contract in memory: submission status gates every change.
class FakeStore final : public MaterialsStore {
 public:
  absl::StatusOr<std::string> CreateRequirement(const RequirementRow& r) override {
    RequirementRow copy = r;
    copy.id = absl::StrCat("00000000-0000-0000-0000-", 100000000000 + next_++);
    reqs_.push_back(copy);
    return copy.id;
  }
  absl::StatusOr<std::vector<RequirementRow>> ListRequirements(const std::string& exam) override {
    std::vector<RequirementRow> out;
    for (const auto& r : reqs_) {
      if (r.exam_id == exam) out.push_back(r);
    }
    return out;
  }
  absl::StatusOr<RequirementRow> GetRequirement(const std::string& exam,
                                                const std::string& id) override {
    for (const auto& r : reqs_) {
      if (r.id == id && r.exam_id == exam) return r;
    }
    return Error(absl::StatusCode::kNotFound, "REQUIREMENT_NOT_FOUND", "no such requirement");
  }
  absl::StatusOr<SubmissionRow> GetSubmission(const std::string& exam,
                                              const std::string& account) override {
    return subs_[{exam, account}];
  }
  absl::StatusOr<std::vector<ItemRow>> ListItems(const std::string& exam,
                                                 const std::string& account) override {
    std::vector<ItemRow> out;
    for (const auto& [id, i] : items_) {
      if (i.exam_id == exam && i.account_id == account) out.push_back(i);
    }
    return out;
  }
  absl::StatusOr<ItemRow> GetItem(const std::string& id) override {
    auto it = items_.find(id);
    if (it == items_.end()) return Error(absl::StatusCode::kNotFound, "ITEM_NOT_FOUND", "none");
    return it->second;
  }
  absl::StatusOr<int> CountEditable(const std::string& exam, const std::string& account,
                                    const std::string& req) override {
    if (!Editable(exam, account)) return Submitted();
    return Count(exam, account, req);
  }
  absl::StatusOr<ItemRow> AddItem(const ItemRow& item, int max_count, bool replace,
                                  const std::string& upload_id) override {
    if (!Editable(item.exam_id, item.account_id)) return Submitted();
    if (Count(item.exam_id, item.account_id, item.requirement_id) >= max_count) {
      if (!replace) return Error(absl::StatusCode::kFailedPrecondition, "COUNT_LIMIT", "full");
      for (auto it = items_.begin(); it != items_.end();) {
        it = it->second.requirement_id == item.requirement_id &&
                     it->second.account_id == item.account_id
                 ? items_.erase(it)
                 : std::next(it);
      }
    }
    ItemRow copy = item;
    copy.id = absl::StrCat("10000000-0000-0000-0000-", 100000000000 + next_++);
    items_[copy.id] = copy;
    if (!upload_id.empty()) {
      uploads_[upload_id].complete = true;
      uploads_[upload_id].item_id = copy.id;
      uploads_[upload_id].sha256 = copy.sha256;
    }
    return copy;
  }
  absl::Status DeleteItem(const std::string& exam, const std::string& account,
                          const std::string& id) override {
    auto it = items_.find(id);
    if (it == items_.end() || it->second.account_id != account) {
      return Error(absl::StatusCode::kNotFound, "ITEM_NOT_FOUND", "none");
    }
    if (!Editable(exam, account)) return Submitted();
    items_.erase(it);
    return absl::OkStatus();
  }
  absl::StatusOr<SubmissionRow> Submit(const std::string& exam,
                                       const std::string& account) override {
    if (!Editable(exam, account)) return Submitted();
    ErrorDetails details;
    for (const auto& r : reqs_) {
      if (r.exam_id == exam && r.required && Count(exam, account, r.id) < r.min_count) {
        details["missing"] += (details["missing"].empty() ? "" : ",") + r.id;
      }
    }
    if (!details.empty()) {
      return Error(absl::StatusCode::kFailedPrecondition, "REQUIREMENTS_UNMET", "missing", details);
    }
    subs_[{exam, account}].status = "SUBMITTED";
    return subs_[{exam, account}];
  }
  absl::StatusOr<SubmissionRow> Review(const std::string& exam, const std::string& account,
                                       const ReviewRow& d) override {
    auto& s = subs_[{exam, account}];
    if (s.status != "SUBMITTED") {
      return Error(absl::StatusCode::kFailedPrecondition, "NOT_SUBMITTED", "not submitted");
    }
    s.status = d.decision == "APPROVE" ? "APPROVED" : "RETURNED";
    s.return_reason = d.reason;
    reviews_.push_back(d);
    return s;
  }
  absl::StatusOr<std::vector<ReviewRow>> ListReviews(const std::string&,
                                                     const std::string&) override {
    return reviews_;
  }
  absl::StatusOr<std::vector<SubmissionSummaryRow>> ListSubmissions(const std::string&,
                                                                    const std::string&) override {
    return std::vector<SubmissionSummaryRow>{};
  }
  absl::StatusOr<UploadRow> CreateUpload(const UploadRow& u) override {
    UploadRow copy = u;
    copy.id = absl::StrCat("20000000-0000-0000-0000-", 100000000000 + next_++);
    uploads_[copy.id] = copy;
    return copy;
  }
  absl::StatusOr<UploadRow> GetUpload(const std::string& id) override {
    auto it = uploads_.find(id);
    if (it == uploads_.end()) return Error(absl::StatusCode::kNotFound, "UPLOAD_NOT_FOUND", "-");
    return it->second;
  }
  absl::Status RecordUploadOffset(const std::string& id, int64_t offset) override {
    uploads_[id].offset = std::max(uploads_[id].offset, offset);
    return absl::OkStatus();
  }
  absl::Status DeleteUpload(const std::string& id) override {
    uploads_.erase(id);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<std::string>> ListExpiredUploads(absl::Time now, int) override {
    std::vector<std::string> out;
    for (const auto& [id, u] : uploads_) {
      if (!u.complete && u.expires_at < now) out.push_back(id);
    }
    return out;
  }
  absl::StatusOr<std::set<std::string>> ReferencedBlobs(
      const std::vector<std::string>& shas) override {
    std::set<std::string> out;
    for (const auto& [id, i] : items_) {
      if (std::find(shas.begin(), shas.end(), i.sha256) != shas.end()) out.insert(i.sha256);
    }
    return out;
  }

  std::map<std::string, ItemRow> items_;
  std::map<std::string, UploadRow> uploads_;

 private:
  bool Editable(const std::string& exam, const std::string& account) {
    const auto& s = subs_[{exam, account}];
    return s.status == "DRAFT" || s.status == "RETURNED";
  }
  absl::Status Submitted() {
    return Error(absl::StatusCode::kFailedPrecondition, "ALREADY_SUBMITTED", "submitted");
  }
  int Count(const std::string& exam, const std::string& account, const std::string& req) {
    int n = 0;
    for (const auto& [id, i] : items_) {
      n += i.exam_id == exam && i.account_id == account && i.requirement_id == req;
    }
    return n;
  }
  int64_t next_ = 1;
  std::vector<RequirementRow> reqs_;
  std::map<std::pair<std::string, std::string>, SubmissionRow> subs_;
  std::vector<ReviewRow> reviews_;
};

class FakeEnrollment final : public EnrollmentClient {
 public:
  absl::StatusOr<enrollment::v1::Exam> GetExam(const CallContext&,
                                               const std::string& exam_id) override {
    auto it = exams.find(exam_id);
    if (it == exams.end()) return Error(absl::StatusCode::kNotFound, "EXAM_NOT_FOUND", "none");
    return it->second;
  }
  absl::Status CheckEligible(const CallContext&, const std::string&) override {
    return eligible ? absl::OkStatus()
                    : Error(absl::StatusCode::kPermissionDenied, "NOT_ELIGIBLE", "not listed");
  }
  std::map<std::string, enrollment::v1::Exam> exams;
  bool eligible = true;
};

google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

const std::string kPng = std::string("\x89PNG\r\n\x1A\n", 8) + std::string(600, 'p');

class MaterialsLogicTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitCrypto();
    char tmpl[] = "/tmp/materials-logic-XXXXXX";
    dir_ = mkdtemp(tmpl);
    blobs_ = *LocalBlobStore::Create(dir_);
    now_ = absl::FromUnixSeconds(1700000000);
    enrollment::v1::Exam exam;
    exam.set_exam_id("e1");
    exam.set_school_id("s1");
    *exam.mutable_materials_open_at() = Ts(now_ - absl::Hours(1));
    *exam.mutable_materials_close_at() = Ts(now_ + absl::Hours(1));
    enrollment_.exams["e1"] = exam;
    MaterialsOptions options;
    options.checkpoint_bytes = 4;
    logic_ = std::make_unique<MaterialsLogic>(&store_, blobs_.get(), &enrollment_, options,
                                              [this] { return now_; });
    candidate_.account_id = "c1";
    candidate_.roles = {"CANDIDATE"};
    admin_.account_id = "a1";
    admin_.roles = {"SCHOOL_ADMIN"};
    admin_.school_id = "s1";
    image_ = Requirement(v1::IMAGE, true, 1, 2, 1000);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Requirement(v1::MaterialKind kind, bool required, int min, int max, int64_t bytes) {
    v1::CreateRequirementRequest req;
    req.set_exam_id("e1");
    req.set_kind(kind);
    req.set_title("t");
    req.set_required(required);
    req.set_min_count(min);
    req.set_max_count(max);
    req.set_max_bytes(bytes);
    auto r = logic_->CreateRequirement(admin_, call_, req);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->requirement_id() : "";
  }

  absl::StatusOr<v1::UploadFileResponse> Upload(const std::string& req_id, const std::string& body,
                                                const std::string& name = "a.png",
                                                const std::string& declared = "") {
    v1::UploadFileRequest first;
    first.set_exam_id("e1");
    first.set_requirement_id(req_id);
    first.set_filename(name);
    first.set_content_length(declared);
    ASSIGN_OR_RETURN(auto up, logic_->BeginFile(candidate_, call_, first));
    ASSIGN_OR_RETURN(auto w, blobs_->NewBlob());
    for (size_t i = 0; i < body.size(); i += 100) {
      std::string piece = body.substr(i, 100);
      RETURN_IF_ERROR(logic_->CheckSize(up, static_cast<int64_t>(i + piece.size())));
      RETURN_IF_ERROR(w->Append(piece));
      RETURN_IF_ERROR(logic_->CheckHead(up, w->head(), false));
    }
    return logic_->FinishFile(up, w.get());
  }

  absl::StatusOr<v1::SubmitResponse> Submit() {
    v1::SubmitRequest req;
    req.set_exam_id("e1");
    return logic_->Submit(candidate_, call_, req);
  }

  enrollment::v1::StepStatus Step() {
    enrollment::v1::GetCandidateStepRequest req;
    req.set_exam_id("e1");
    req.set_account_id("c1");
    req.set_step(enrollment::v1::MATERIALS);
    return logic_->GetCandidateStep(req)->status();
  }

  std::string dir_;
  std::unique_ptr<LocalBlobStore> blobs_;
  FakeStore store_;
  FakeEnrollment enrollment_;
  absl::Time now_;
  std::unique_ptr<MaterialsLogic> logic_;
  Caller candidate_, admin_;
  CallContext call_;
  std::string image_;
};

TEST_F(MaterialsLogicTest, UploadStoresTheBlobAndReturnsItsHash) {
  auto r = Upload(image_, kPng, "../../x/简历.png");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->sha256(), HexEncode(Sha256(kPng)));
  EXPECT_EQ(r->size_bytes(), static_cast<int64_t>(kPng.size()));
  const ItemRow& item = store_.items_.at(r->item_id());
  EXPECT_EQ(item.filename, "简历.png");
  EXPECT_EQ(item.format, "png");
  EXPECT_EQ(item.content_type, "image/png");
}

TEST_F(MaterialsLogicTest, RefusesByContentNotName) {
  EXPECT_EQ(ReasonOf(Upload(image_, "just some text, honestly").status()), "UNSUPPORTED_FORMAT");
  EXPECT_EQ(ReasonOf(Upload(image_,
                            "\x7F"
                            "ELF" +
                                std::string(600, '\0'))
                         .status()),
            "UNSUPPORTED_FORMAT");
  EXPECT_EQ(ReasonOf(Upload(image_, "%PDF-1.4" + std::string(600, ' ')).status()),
            "UNSUPPORTED_FORMAT");
  EXPECT_TRUE(store_.items_.empty());
}

TEST_F(MaterialsLogicTest, SizeLimitBeforeAndWhileReading) {
  EXPECT_EQ(ReasonOf(Upload(image_, kPng, "a.png", "1001").status()), "PAYLOAD_TOO_LARGE");
  EXPECT_EQ(ReasonOf(Upload(image_, kPng + std::string(400, 'x')).status()), "PAYLOAD_TOO_LARGE");
  // A body shorter than declared (a cut not reported as one) is no item either.
  EXPECT_EQ(ReasonOf(Upload(image_, kPng, "a.png", "900").status()), "INVALID_ARGUMENT");
  EXPECT_TRUE(store_.items_.empty());
}

TEST_F(MaterialsLogicTest, BadFilenamesAndCounts) {
  EXPECT_EQ(ReasonOf(Upload(image_, kPng, "../").status()), "INVALID_ARGUMENT");
  EXPECT_EQ(ReasonOf(Upload(image_, kPng, std::string("\0", 1)).status()), "INVALID_ARGUMENT");
  ASSERT_TRUE(Upload(image_, kPng).ok());
  ASSERT_TRUE(Upload(image_, kPng).ok());
  EXPECT_EQ(ReasonOf(Upload(image_, kPng).status()), "COUNT_LIMIT");
}

TEST_F(MaterialsLogicTest, WindowAndSubmit) {
  std::string optional = Requirement(v1::OTHER, false, 0, 3, 1000);
  auto unmet = Submit();
  EXPECT_EQ(ReasonOf(unmet.status()), "REQUIREMENTS_UNMET");
  EXPECT_EQ(DetailsOf(unmet.status())["missing"], image_);
  EXPECT_EQ(Step(), enrollment::v1::TODO);
  ASSERT_TRUE(Upload(image_, kPng).ok());
  now_ += absl::Hours(2);
  EXPECT_EQ(ReasonOf(Submit().status()), "WINDOW_CLOSED");
  EXPECT_EQ(ReasonOf(Upload(image_, kPng).status()), "WINDOW_CLOSED");
  now_ -= absl::Hours(2);
  auto ok = Submit();  // The optional requirement is empty and does not block.
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->status(), v1::SUBMITTED);
  EXPECT_EQ(Step(), enrollment::v1::IN_REVIEW);
  EXPECT_EQ(ReasonOf(Upload(image_, kPng).status()), "ALREADY_SUBMITTED");
  EXPECT_EQ(ReasonOf(Submit().status()), "ALREADY_SUBMITTED");
}

TEST_F(MaterialsLogicTest, ReturnEditResubmitApprove) {
  auto first = Upload(image_, kPng);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(Submit().ok());
  v1::ReviewRequest review;
  review.set_exam_id("e1");
  review.set_account_id("c1");
  review.set_decision(v1::RETURN);
  EXPECT_EQ(ReasonOf(logic_->Review(admin_, call_, review).status()), "INVALID_ARGUMENT");
  review.set_reason("blurry");
  ASSERT_TRUE(logic_->Review(admin_, call_, review).ok());
  EXPECT_EQ(Step(), enrollment::v1::RETURNED);
  now_ += absl::Hours(2);  // A returned submission may be revised after the window.
  v1::DeleteItemRequest del;
  del.set_exam_id("e1");
  del.set_item_id(first->item_id());
  ASSERT_TRUE(logic_->DeleteItem(candidate_, call_, del).ok());
  ASSERT_TRUE(Upload(image_, kPng).ok());
  ASSERT_TRUE(Submit().ok());
  review.set_decision(v1::APPROVE);
  review.clear_reason();
  auto approved = logic_->Review(admin_, call_, review);
  ASSERT_TRUE(approved.ok());
  EXPECT_EQ(approved->status(), v1::APPROVED);
  EXPECT_EQ(Step(), enrollment::v1::DONE);
  EXPECT_EQ(ReasonOf(logic_->Review(admin_, call_, review).status()), "NOT_SUBMITTED");
}

TEST_F(MaterialsLogicTest, StepNotRequiredWithoutRequiredRequirements) {
  enrollment::v1::GetCandidateStepRequest req;
  req.set_exam_id("e2");
  req.set_account_id("c1");
  req.set_step(enrollment::v1::MATERIALS);
  EXPECT_EQ(logic_->GetCandidateStep(req)->status(), enrollment::v1::NOT_REQUIRED);
}

TEST_F(MaterialsLogicTest, StaffOfAnotherSchoolAndOtherCandidatesGetNothing) {
  auto up = Upload(image_, kPng);
  ASSERT_TRUE(up.ok());
  v1::GetItemContentRequest req;
  req.set_exam_id("e1");
  req.set_item_id(up->item_id());
  Caller other = candidate_;
  other.account_id = "c2";
  EXPECT_EQ(logic_->OpenContent(other, call_, req).status().code(), absl::StatusCode::kNotFound);
  Caller foreign = admin_;
  foreign.school_id = "s2";
  EXPECT_EQ(logic_->OpenContent(foreign, call_, req).status().code(), absl::StatusCode::kNotFound);
  req.set_range("bytes=0-7");
  auto c = logic_->OpenContent(admin_, call_, req);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->head.status(), 206);
  EXPECT_EQ(c->head.content_length(), 8);
  EXPECT_EQ(c->head.headers().at("Content-Range"), absl::StrCat("bytes 0-7/", kPng.size()));
  req.set_range("bytes=100000-");
  auto none = logic_->OpenContent(candidate_, call_, req);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->head.status(), 416);
}

TEST_F(MaterialsLogicTest, ResumableUploadSurvivesACut) {
  v1::CreateUploadRequest create;
  create.set_exam_id("e1");
  create.set_requirement_id(image_);
  create.set_filename("b.png");
  create.set_size_bytes(2000);
  EXPECT_EQ(ReasonOf(logic_->CreateUpload(candidate_, call_, create).status()),
            "PAYLOAD_TOO_LARGE");
  create.set_size_bytes(static_cast<int64_t>(kPng.size()));
  auto u = logic_->CreateUpload(candidate_, call_, create);
  ASSERT_TRUE(u.ok()) << u.status();
  v1::AppendUploadRequest first;
  first.set_exam_id("e1");
  first.set_upload_id(u->upload_id());
  first.set_upload_offset("5");
  EXPECT_EQ(ReasonOf(logic_->BeginAppend(candidate_, call_, first).status()), "OFFSET_MISMATCH");
  first.set_upload_offset("0");
  {
    auto a = logic_->BeginAppend(candidate_, call_, first);
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ(ReasonOf(logic_->BeginAppend(candidate_, call_, first).status()), "UPLOAD_BUSY");
    ASSERT_TRUE(logic_->AppendChunk(**a, kPng.substr(0, 300)).ok());
    auto cut = logic_->EndAppend(**a, /*cancelled=*/true);
    ASSERT_TRUE(cut.ok());
    EXPECT_EQ(cut->offset(), 300);
    EXPECT_FALSE(cut->complete());
  }
  EXPECT_TRUE(store_.items_.empty());
  first.set_upload_offset("300");
  auto a = logic_->BeginAppend(candidate_, call_, first);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(ReasonOf(logic_->AppendChunk(**a, kPng.substr(300) + "x")), "PAYLOAD_TOO_LARGE");
  a->reset();
  a = logic_->BeginAppend(candidate_, call_, first);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(logic_->AppendChunk(**a, kPng.substr(300)).ok());
  auto done = logic_->EndAppend(**a, false);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(done->complete());
  EXPECT_EQ(done->sha256(), HexEncode(Sha256(kPng)));
  EXPECT_EQ(store_.items_.at(done->item_id()).filename, "b.png");
}

TEST_F(MaterialsLogicTest, TextRequirements) {
  std::string text = Requirement(v1::TEXT, true, 1, 1, 5);
  v1::PutTextRequest put;
  put.set_exam_id("e1");
  put.set_requirement_id(text);
  put.set_text("文字太长了吧");
  EXPECT_EQ(ReasonOf(logic_->PutText(candidate_, call_, put).status()), "INVALID_ARGUMENT");
  put.set_text("你好");
  ASSERT_TRUE(logic_->PutText(candidate_, call_, put).ok());
  put.set_text("再见");
  ASSERT_TRUE(logic_->PutText(candidate_, call_, put).ok());  // Replaces.
  EXPECT_EQ(store_.items_.size(), 1u);
  EXPECT_EQ(ReasonOf(Upload(text, kPng).status()), "INVALID_ARGUMENT");
}

TEST_F(MaterialsLogicTest, OnlyTheSchoolAdminSetsRequirements) {
  v1::CreateRequirementRequest req;
  req.set_exam_id("e1");
  req.set_kind(v1::IMAGE);
  req.set_title("x");
  EXPECT_EQ(logic_->CreateRequirement(candidate_, call_, req).status().code(),
            absl::StatusCode::kPermissionDenied);
  Caller foreign = admin_;
  foreign.school_id = "s2";
  EXPECT_EQ(logic_->CreateRequirement(foreign, call_, req).status().code(),
            absl::StatusCode::kPermissionDenied);
  req.add_formats("exe");
  EXPECT_EQ(ReasonOf(logic_->CreateRequirement(admin_, call_, req).status()), "INVALID_ARGUMENT");
}

}  // namespace
}  // namespace admissions::materials
