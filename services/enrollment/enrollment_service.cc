#include "enrollment/enrollment_service.h"

#include "absl/time/clock.h"
#include "common/server.h"

namespace admissions::enrollment {

template <typename Fn>
grpc::ServerUnaryReactor* EnrollmentService::Authed(grpc::CallbackServerContext* ctx, Fn&& fn) {
  return RunAuthenticated(ctx, *auth_, executor_, std::forward<Fn>(fn));
}

grpc::ServerUnaryReactor* EnrollmentService::CreateSchool(grpc::CallbackServerContext* ctx,
                                                          const v1::CreateSchoolRequest* req,
                                                          v1::CreateSchoolResponse* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext&) {
    return Into(logic_->CreateSchool(caller, *req), resp);
  });
}

grpc::ServerUnaryReactor* EnrollmentService::ListSchools(grpc::CallbackServerContext* ctx,
                                                         const v1::ListSchoolsRequest*,
                                                         v1::ListSchoolsResponse* resp) {
  return Authed(ctx, [this, resp](const Caller& caller, const CallContext&) {
    return Into(logic_->ListSchools(caller), resp);
  });
}

grpc::ServerUnaryReactor* EnrollmentService::ListSchoolExams(grpc::CallbackServerContext* ctx,
                                                             const v1::ListSchoolExamsRequest* req,
                                                             v1::ListSchoolExamsResponse* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext&) {
    return Into(logic_->ListSchoolExams(caller, *req), resp);
  });
}

grpc::ServerUnaryReactor* EnrollmentService::CreateExam(grpc::CallbackServerContext* ctx,
                                                        const v1::CreateExamRequest* req,
                                                        v1::CreateExamResponse* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext&) {
    return Into(logic_->CreateExam(caller, *req), resp);
  });
}

grpc::ServerUnaryReactor* EnrollmentService::UpdateCommitment(
    grpc::CallbackServerContext* ctx, const v1::UpdateCommitmentRequest* req,
    v1::UpdateCommitmentResponse* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext&) {
    return Into(logic_->UpdateCommitment(caller, *req), resp);
  });
}

grpc::ServerUnaryReactor* EnrollmentService::ImportRoster(grpc::CallbackServerContext* ctx,
                                                          const v1::ImportRosterRequest* req,
                                                          v1::ImportRosterResponse* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext& call) {
    return Into(logic_->ImportRoster(caller, call, *req), resp);
  });
}

grpc::ServerUnaryReactor* EnrollmentService::AddQuestion(grpc::CallbackServerContext* ctx,
                                                         const v1::AddQuestionRequest* req,
                                                         v1::AddQuestionResponse* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext&) {
    return Into(logic_->AddQuestion(caller, *req), resp);
  });
}

grpc::ServerUnaryReactor* EnrollmentService::PublishNotice(grpc::CallbackServerContext* ctx,
                                                           const v1::PublishNoticeRequest* req,
                                                           v1::PublishNoticeResponse* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext&) {
    return Into(logic_->PublishNotice(caller, *req), resp);
  });
}

grpc::ServerUnaryReactor* EnrollmentService::GetNotice(grpc::CallbackServerContext* ctx,
                                                       const v1::GetNoticeRequest*,
                                                       v1::Notice* resp) {
  return Authed(ctx, [this, resp](const Caller& caller, const CallContext&) {
    return Into(logic_->GetNotice(caller), resp);
  });
}

grpc::ServerUnaryReactor* EnrollmentService::ReadNotice(grpc::CallbackServerContext* ctx,
                                                        const v1::ReadNoticeRequest* req,
                                                        v1::ReadNoticeResponse*) {
  return Authed(ctx, [this, req](const Caller& caller, const CallContext&) {
    return logic_->ReadNotice(caller, *req);
  });
}

grpc::ServerUnaryReactor* EnrollmentService::ListExams(grpc::CallbackServerContext* ctx,
                                                       const v1::ListExamsRequest*,
                                                       v1::ListExamsResponse* resp) {
  return Authed(ctx, [this, resp](const Caller& caller, const CallContext& call) {
    return Into(logic_->ListExams(caller, call), resp);
  });
}

grpc::ServerUnaryReactor* EnrollmentService::GetAdmission(grpc::CallbackServerContext* ctx,
                                                          const v1::GetAdmissionRequest* req,
                                                          v1::Admission* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext& call) {
    return Into(logic_->GetAdmission(caller, call, *req), resp);
  });
}

grpc::ServerUnaryReactor* EnrollmentService::ConfirmAdmission(
    grpc::CallbackServerContext* ctx, const v1::ConfirmAdmissionRequest* req,
    v1::ConfirmAdmissionResponse*) {
  return Authed(ctx, [this, req](const Caller& caller, const CallContext& call) {
    return logic_->ConfirmAdmission(caller, call, *req);
  });
}

grpc::ServerUnaryReactor* EnrollmentService::GetCommitment(grpc::CallbackServerContext* ctx,
                                                           const v1::GetCommitmentRequest* req,
                                                           v1::Commitment* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext& call) {
    return Into(logic_->GetCommitment(caller, call, *req), resp);
  });
}

grpc::ServerUnaryReactor* EnrollmentService::SignCommitment(grpc::CallbackServerContext* ctx,
                                                            const v1::SignCommitmentRequest* req,
                                                            v1::SignCommitmentResponse*) {
  return Authed(ctx, [this, req](const Caller& caller, const CallContext& call) {
    return logic_->SignCommitment(caller, call, *req);
  });
}

grpc::ServerUnaryReactor* EnrollmentService::GetJourney(grpc::CallbackServerContext* ctx,
                                                        const v1::GetJourneyRequest* req,
                                                        v1::Journey* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext& call) {
    return Into(logic_->GetJourney(caller, call, *req), resp);
  });
}

grpc::ServerUnaryReactor* EnrollmentService::GetExam(grpc::CallbackServerContext* ctx,
                                                     const v1::GetExamRequest* req,
                                                     v1::Exam* resp) {
  return RunBlocking(ctx, executor_,
                     [this, req, resp] { return Into(logic_->GetExam(*req), resp); });
}

grpc::ServerUnaryReactor* EnrollmentService::ResolveRosterEntry(
    grpc::CallbackServerContext* ctx, const v1::ResolveRosterEntryRequest* req,
    v1::RosterEntry* resp) {
  return RunBlocking(ctx, executor_,
                     [this, req, resp] { return Into(logic_->ResolveRosterEntry(*req), resp); });
}

grpc::ServerUnaryReactor* EnrollmentService::ListQuestionBank(
    grpc::CallbackServerContext* ctx, const v1::ListQuestionBankRequest* req,
    v1::QuestionBank* resp) {
  return RunBlocking(ctx, executor_,
                     [this, req, resp] { return Into(logic_->ListQuestionBank(*req), resp); });
}

}  // namespace admissions::enrollment
