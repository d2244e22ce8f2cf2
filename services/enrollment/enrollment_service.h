#pragma once

#include "common/caller.h"
#include "common/executor.h"
#include "enrollment/enrollment_logic.h"
#include "enrollment/v1/enrollment.grpc.pb.h"

namespace admissions::enrollment {

/// gRPC adapter: authenticates, runs EnrollmentLogic on the executor with the call's
/// deadline and request id, maps the status. No domain rules here.
class EnrollmentService final : public v1::Enrollment::CallbackService {
 public:
  EnrollmentService(EnrollmentLogic* logic, const Authenticator* auth, BoundedExecutor* executor)
      : logic_(logic), auth_(auth), executor_(executor) {}

  grpc::ServerUnaryReactor* CreateSchool(grpc::CallbackServerContext* ctx,
                                         const v1::CreateSchoolRequest* req,
                                         v1::CreateSchoolResponse* resp) override;
  grpc::ServerUnaryReactor* ListSchools(grpc::CallbackServerContext* ctx,
                                        const v1::ListSchoolsRequest* req,
                                        v1::ListSchoolsResponse* resp) override;
  grpc::ServerUnaryReactor* ListSchoolExams(grpc::CallbackServerContext* ctx,
                                            const v1::ListSchoolExamsRequest* req,
                                            v1::ListSchoolExamsResponse* resp) override;
  grpc::ServerUnaryReactor* CreateExam(grpc::CallbackServerContext* ctx,
                                       const v1::CreateExamRequest* req,
                                       v1::CreateExamResponse* resp) override;
  grpc::ServerUnaryReactor* UpdateCommitment(grpc::CallbackServerContext* ctx,
                                             const v1::UpdateCommitmentRequest* req,
                                             v1::UpdateCommitmentResponse* resp) override;
  grpc::ServerUnaryReactor* ImportRoster(grpc::CallbackServerContext* ctx,
                                         const v1::ImportRosterRequest* req,
                                         v1::ImportRosterResponse* resp) override;
  grpc::ServerUnaryReactor* AddQuestion(grpc::CallbackServerContext* ctx,
                                        const v1::AddQuestionRequest* req,
                                        v1::AddQuestionResponse* resp) override;
  grpc::ServerUnaryReactor* PublishNotice(grpc::CallbackServerContext* ctx,
                                          const v1::PublishNoticeRequest* req,
                                          v1::PublishNoticeResponse* resp) override;
  grpc::ServerUnaryReactor* GetNotice(grpc::CallbackServerContext* ctx,
                                      const v1::GetNoticeRequest* req, v1::Notice* resp) override;
  grpc::ServerUnaryReactor* ReadNotice(grpc::CallbackServerContext* ctx,
                                       const v1::ReadNoticeRequest* req,
                                       v1::ReadNoticeResponse* resp) override;
  grpc::ServerUnaryReactor* ListExams(grpc::CallbackServerContext* ctx,
                                      const v1::ListExamsRequest* req,
                                      v1::ListExamsResponse* resp) override;
  grpc::ServerUnaryReactor* GetAdmission(grpc::CallbackServerContext* ctx,
                                         const v1::GetAdmissionRequest* req,
                                         v1::Admission* resp) override;
  grpc::ServerUnaryReactor* ConfirmAdmission(grpc::CallbackServerContext* ctx,
                                             const v1::ConfirmAdmissionRequest* req,
                                             v1::ConfirmAdmissionResponse* resp) override;
  grpc::ServerUnaryReactor* GetCommitment(grpc::CallbackServerContext* ctx,
                                          const v1::GetCommitmentRequest* req,
                                          v1::Commitment* resp) override;
  grpc::ServerUnaryReactor* SignCommitment(grpc::CallbackServerContext* ctx,
                                           const v1::SignCommitmentRequest* req,
                                           v1::SignCommitmentResponse* resp) override;
  grpc::ServerUnaryReactor* GetJourney(grpc::CallbackServerContext* ctx,
                                       const v1::GetJourneyRequest* req,
                                       v1::Journey* resp) override;
  grpc::ServerUnaryReactor* GetExam(grpc::CallbackServerContext* ctx, const v1::GetExamRequest* req,
                                    v1::Exam* resp) override;
  grpc::ServerUnaryReactor* ResolveRosterEntry(grpc::CallbackServerContext* ctx,
                                               const v1::ResolveRosterEntryRequest* req,
                                               v1::RosterEntry* resp) override;
  grpc::ServerUnaryReactor* ListQuestionBank(grpc::CallbackServerContext* ctx,
                                             const v1::ListQuestionBankRequest* req,
                                             v1::QuestionBank* resp) override;

 private:
  /// Authenticates, then runs `fn(caller, call)` on the executor.
  template <typename Fn>
  grpc::ServerUnaryReactor* Authed(grpc::CallbackServerContext* ctx, Fn&& fn);

  EnrollmentLogic* logic_;
  const Authenticator* auth_;
  BoundedExecutor* executor_;
};

}  // namespace admissions::enrollment
