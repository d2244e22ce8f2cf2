#include "identity/identity_service.h"

#include "common/server.h"

namespace admissions::identity {
namespace {

// Copies a StatusOr's value into the response and passes its status on.
template <typename T>
absl::Status Into(absl::StatusOr<T> result, T* resp) {
  if (!result.ok()) return result.status();
  *resp = *std::move(result);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* Refuse(grpc::CallbackServerContext* ctx, const absl::Status& status) {
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor* IdentityService::SendSmsCode(grpc::CallbackServerContext* ctx,
                                                       const v1::SendSmsCodeRequest* req,
                                                       v1::SendSmsCodeResponse*) {
  return RunBlocking(ctx, executor_, [this, req] { return logic_->SendSmsCode(*req); });
}

grpc::ServerUnaryReactor* IdentityService::CreateAccount(grpc::CallbackServerContext* ctx,
                                                         const v1::CreateAccountRequest* req,
                                                         v1::CreateAccountResponse* resp) {
  return RunBlocking(ctx, executor_,
                     [this, req, resp] { return Into(logic_->CreateAccount(*req), resp); });
}

grpc::ServerUnaryReactor* IdentityService::CreateSession(grpc::CallbackServerContext* ctx,
                                                         const v1::CreateSessionRequest* req,
                                                         v1::SessionTokens* resp) {
  return RunBlocking(ctx, executor_,
                     [this, req, resp] { return Into(logic_->CreateSession(*req), resp); });
}

grpc::ServerUnaryReactor* IdentityService::RefreshSession(grpc::CallbackServerContext* ctx,
                                                          const v1::RefreshSessionRequest* req,
                                                          v1::SessionTokens* resp) {
  return RunBlocking(ctx, executor_,
                     [this, req, resp] { return Into(logic_->RefreshSession(*req), resp); });
}

grpc::ServerUnaryReactor* IdentityService::DeleteCurrentSession(
    grpc::CallbackServerContext* ctx, const v1::DeleteCurrentSessionRequest*,
    v1::DeleteCurrentSessionResponse*) {
  auto caller = auth_->Authenticate(*ctx);
  if (!caller.ok()) return Refuse(ctx, caller.status());
  return RunBlocking(ctx, executor_, [this, caller = *std::move(caller)] {
    return logic_->DeleteCurrentSession(caller);
  });
}

grpc::ServerUnaryReactor* IdentityService::ResetPassword(grpc::CallbackServerContext* ctx,
                                                         const v1::ResetPasswordRequest* req,
                                                         v1::ResetPasswordResponse*) {
  return RunBlocking(ctx, executor_, [this, req] { return logic_->ResetPassword(*req); });
}

grpc::ServerUnaryReactor* IdentityService::GetMe(grpc::CallbackServerContext* ctx,
                                                 const v1::GetMeRequest*, v1::Me* resp) {
  auto caller = auth_->Authenticate(*ctx);
  if (!caller.ok()) return Refuse(ctx, caller.status());
  return RunBlocking(ctx, executor_, [this, resp, caller = *std::move(caller)] {
    return Into(logic_->GetMe(caller), resp);
  });
}

grpc::ServerUnaryReactor* IdentityService::ListSmsOutbox(grpc::CallbackServerContext* ctx,
                                                         const v1::ListSmsOutboxRequest* req,
                                                         v1::ListSmsOutboxResponse* resp) {
  return RunBlocking(ctx, executor_,
                     [this, req, resp] { return Into(logic_->ListSmsOutbox(*req), resp); });
}

}  // namespace admissions::identity
