#pragma once

#include <initializer_list>
#include <string_view>

#include "absl/status/status.h"
#include "common/caller.h"

namespace admissions {

/// Role names as they appear in tokens (identity.v1.Role).
namespace role {
inline constexpr std::string_view kCandidate = "CANDIDATE";
inline constexpr std::string_view kExaminer = "EXAMINER";
inline constexpr std::string_view kSchoolAdmin = "SCHOOL_ADMIN";
inline constexpr std::string_view kOperator = "OPERATOR";
}  // namespace role

/// The one authorization helper every service uses.
///
/// PERMISSION_DENIED unless the caller has one of `roles`.
absl::Status RequireAnyRole(const Caller& caller, std::initializer_list<std::string_view> roles);

/// Staff of `school_id` (school admin or examiner of that school) or an operator.
/// A school's staff never reach another school's data: PERMISSION_DENIED.
absl::Status RequireSchoolStaff(const Caller& caller, std::string_view school_id);

/// A school admin of `school_id`, or an operator.
absl::Status RequireSchoolAdmin(const Caller& caller, std::string_view school_id);

/// True for an account whose roles are only CANDIDATE (the one kind that is gated).
bool IsCandidateOnly(const Caller& caller);

}  // namespace admissions
