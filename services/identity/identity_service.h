#pragma once

#include "common/caller.h"
#include "common/executor.h"
#include "identity/identity_logic.h"
#include "identity/v1/identity.grpc.pb.h"
#include "identity/verification_logic.h"

namespace admissions::identity {

/// gRPC adapter: authenticates where needed, runs IdentityLogic on the executor,
/// maps the status. No domain rules here.
class IdentityService final : public v1::Identity::CallbackService {
 public:
  /// `hash_executor` runs the calls that hash a password (login, registration,
  /// reset, staff creation): a small pool of low-priority threads, so that hashing
  /// at saturation never starves the other calls.
  IdentityService(IdentityLogic* logic, VerificationLogic* verification, const Authenticator* auth,
                  BoundedExecutor* executor, BoundedExecutor* hash_executor)
      : logic_(logic),
        verification_(verification),
        auth_(auth),
        executor_(executor),
        hash_executor_(hash_executor) {}

  grpc::ServerUnaryReactor* SendSmsCode(grpc::CallbackServerContext* ctx,
                                        const v1::SendSmsCodeRequest* req,
                                        v1::SendSmsCodeResponse* resp) override;
  grpc::ServerUnaryReactor* CreateAccount(grpc::CallbackServerContext* ctx,
                                          const v1::CreateAccountRequest* req,
                                          v1::CreateAccountResponse* resp) override;
  grpc::ServerUnaryReactor* CreateSession(grpc::CallbackServerContext* ctx,
                                          const v1::CreateSessionRequest* req,
                                          v1::SessionTokens* resp) override;
  grpc::ServerUnaryReactor* RefreshSession(grpc::CallbackServerContext* ctx,
                                           const v1::RefreshSessionRequest* req,
                                           v1::SessionTokens* resp) override;
  grpc::ServerUnaryReactor* DeleteCurrentSession(grpc::CallbackServerContext* ctx,
                                                 const v1::DeleteCurrentSessionRequest* req,
                                                 v1::DeleteCurrentSessionResponse* resp) override;
  grpc::ServerUnaryReactor* ResetPassword(grpc::CallbackServerContext* ctx,
                                          const v1::ResetPasswordRequest* req,
                                          v1::ResetPasswordResponse* resp) override;
  grpc::ServerUnaryReactor* GetMe(grpc::CallbackServerContext* ctx, const v1::GetMeRequest* req,
                                  v1::Me* resp) override;
  grpc::ServerUnaryReactor* ListSmsOutbox(grpc::CallbackServerContext* ctx,
                                          const v1::ListSmsOutboxRequest* req,
                                          v1::ListSmsOutboxResponse* resp) override;

  grpc::ServerUnaryReactor* RecoverUsername(grpc::CallbackServerContext* ctx,
                                            const v1::RecoverUsernameRequest* req,
                                            v1::RecoverUsernameResponse* resp) override;
  grpc::ServerUnaryReactor* GetAgreement(grpc::CallbackServerContext* ctx,
                                         const v1::GetAgreementRequest* req,
                                         v1::Agreement* resp) override;
  grpc::ServerUnaryReactor* AcceptAgreement(grpc::CallbackServerContext* ctx,
                                            const v1::AcceptAgreementRequest* req,
                                            v1::AcceptAgreementResponse* resp) override;
  grpc::ServerUnaryReactor* PublishAgreement(grpc::CallbackServerContext* ctx,
                                             const v1::PublishAgreementRequest* req,
                                             v1::PublishAgreementResponse* resp) override;
  grpc::ServerUnaryReactor* CreateVerification(grpc::CallbackServerContext* ctx,
                                               const v1::CreateVerificationRequest* req,
                                               v1::CreateVerificationResponse* resp) override;
  grpc::ServerUnaryReactor* GetVerification(grpc::CallbackServerContext* ctx,
                                            const v1::GetVerificationRequest* req,
                                            v1::Verification* resp) override;
  grpc::ServerUnaryReactor* ScanVerification(grpc::CallbackServerContext* ctx,
                                             const v1::ScanVerificationRequest* req,
                                             v1::ScanVerificationResponse* resp) override;
  grpc::ServerUnaryReactor* FaceNotify(grpc::CallbackServerContext* ctx,
                                       const v1::FaceNotifyRequest* req,
                                       v1::FaceNotifyResponse* resp) override;
  grpc::ServerUnaryReactor* CompleteVerification(grpc::CallbackServerContext* ctx,
                                                 const v1::CompleteVerificationRequest* req,
                                                 v1::CompleteVerificationResponse* resp) override;
  grpc::ServerUnaryReactor* ListManualReviews(grpc::CallbackServerContext* ctx,
                                              const v1::ListManualReviewsRequest* req,
                                              v1::ListManualReviewsResponse* resp) override;
  grpc::ServerUnaryReactor* DecideManualReview(grpc::CallbackServerContext* ctx,
                                               const v1::DecideManualReviewRequest* req,
                                               v1::DecideManualReviewResponse* resp) override;
  grpc::ServerUnaryReactor* CreateStaff(grpc::CallbackServerContext* ctx,
                                        const v1::CreateStaffRequest* req,
                                        v1::CreateStaffResponse* resp) override;
  grpc::ServerUnaryReactor* CheckRoomVerification(grpc::CallbackServerContext* ctx,
                                                  const v1::CheckRoomVerificationRequest* req,
                                                  v1::CheckRoomVerificationResponse* resp) override;
  grpc::ServerUnaryReactor* GetGateState(grpc::CallbackServerContext* ctx,
                                         const v1::GetGateStateRequest* req,
                                         v1::GateState* resp) override;
  grpc::ServerUnaryReactor* GetEligibilityIdentity(grpc::CallbackServerContext* ctx,
                                                   const v1::GetEligibilityIdentityRequest* req,
                                                   v1::EligibilityIdentity* resp) override;

 private:
  /// Authenticates, then runs `fn(caller)` on the executor.
  template <typename Fn>
  grpc::ServerUnaryReactor* Authed(grpc::CallbackServerContext* ctx, Fn&& fn);

  IdentityLogic* logic_;
  VerificationLogic* verification_;
  const Authenticator* auth_;
  BoundedExecutor* executor_;
  BoundedExecutor* hash_executor_;
};

}  // namespace admissions::identity
