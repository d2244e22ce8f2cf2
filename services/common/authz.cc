#include "common/authz.h"

#include "common/status.h"

namespace admissions {
namespace {

absl::Status Denied(std::string_view why) {
  return Error(absl::StatusCode::kPermissionDenied, reason::kPermissionDenied, why);
}

}  // namespace

absl::Status RequireAnyRole(const Caller& caller, std::initializer_list<std::string_view> roles) {
  for (std::string_view r : roles) {
    if (caller.HasRole(r)) return absl::OkStatus();
  }
  return Denied("this endpoint is for staff with another role");
}

absl::Status RequireSchoolStaff(const Caller& caller, std::string_view school_id) {
  if (caller.HasRole(role::kOperator)) return absl::OkStatus();
  if (!caller.HasRole(role::kSchoolAdmin) && !caller.HasRole(role::kExaminer)) {
    return Denied("this endpoint is for school staff");
  }
  if (caller.school_id.empty() || caller.school_id != school_id) {
    return Denied("this belongs to another school");
  }
  return absl::OkStatus();
}

absl::Status RequireSchoolAdmin(const Caller& caller, std::string_view school_id) {
  if (caller.HasRole(role::kOperator)) return absl::OkStatus();
  if (!caller.HasRole(role::kSchoolAdmin)) return Denied("this endpoint is for school admins");
  if (caller.school_id.empty() || caller.school_id != school_id) {
    return Denied("this belongs to another school");
  }
  return absl::OkStatus();
}

bool IsCandidateOnly(const Caller& caller) {
  for (const auto& r : caller.roles) {
    if (r != role::kCandidate) return false;
  }
  return !caller.roles.empty();
}

}  // namespace admissions
