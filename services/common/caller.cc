#include "common/caller.h"

#include <algorithm>

#include "common/status.h"

namespace admissions {
namespace {

std::string_view Metadata(const grpc::ServerContextBase& ctx, std::string_view key) {
  const auto& md = ctx.client_metadata();
  auto it = md.find(grpc::string_ref(key.data(), key.size()));
  if (it == md.end()) return {};
  return std::string_view(it->second.data(), it->second.size());
}

}  // namespace

bool Caller::HasRole(std::string_view role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

absl::StatusOr<Caller> Authenticator::Authenticate(const grpc::ServerContextBase& ctx) const {
  std::string_view header = Metadata(ctx, "authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (header.substr(0, kBearer.size()) != kBearer) {
    return Error(absl::StatusCode::kUnauthenticated, reason::kUnauthenticated,
                 "an access token is required");
  }
  int64_t now = NowSeconds();
  auto claims = verifier_.Verify(header.substr(kBearer.size()), now);
  if (!claims.ok()) return claims.status();
  if (revoked_ != nullptr && revoked_->IsRevoked(claims->sid(), now)) {
    return Error(absl::StatusCode::kUnauthenticated, reason::kUnauthenticated,
                 "the session has ended; log in again");
  }
  Caller caller;
  caller.account_id = claims->sub();
  caller.session_id = claims->sid();
  caller.school_id = claims->school();
  caller.roles.assign(claims->roles().begin(), claims->roles().end());
  caller.token_expires_at = claims->exp();
  return caller;
}

std::string RequestIdOf(const grpc::ServerContextBase& ctx) {
  std::string_view id = Metadata(ctx, "x-request-id");
  return id.empty() ? "-" : std::string(id);
}

std::string ClientIpOf(const grpc::ServerContextBase& ctx) {
  std::string_view v = Metadata(ctx, "x-forwarded-for");
  auto comma = v.find(',');
  if (comma != std::string_view::npos) v = v.substr(0, comma);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  return v.size() > 64 ? std::string() : std::string(v);
}

CallContext CallContextOf(const grpc::ServerContextBase& ctx) {
  CallContext call;
  auto deadline = ctx.deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) {
    call.deadline = absl::FromChrono(deadline);
  }
  call.request_id = RequestIdOf(ctx);
  call.authorization = std::string(Metadata(ctx, "authorization"));
  return call;
}

RequestMeta RequestMetaOf(const grpc::ServerContextBase& ctx) {
  return RequestMeta{RequestIdOf(ctx), ClientIpOf(ctx)};
}

}  // namespace admissions
