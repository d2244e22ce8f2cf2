#pragma once

#include "common/caller.h"
#include "common/executor.h"
#include "identity/identity_logic.h"
#include "identity/v1/identity.grpc.pb.h"

namespace admissions::identity {

/// gRPC adapter: authenticates where needed, runs IdentityLogic on the executor,
/// maps the status. No domain rules here.
class IdentityService final : public v1::Identity::CallbackService {
 public:
  IdentityService(IdentityLogic* logic, const Authenticator* auth, BoundedExecutor* executor)
      : logic_(logic), auth_(auth), executor_(executor) {}

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

 private:
  IdentityLogic* logic_;
  const Authenticator* auth_;
  BoundedExecutor* executor_;
};

}  // namespace admissions::identity
