#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "integration/harness.h"

namespace admissions::testing {

/// The roster CSV's header line.
inline constexpr char kRosterHeader[] = "name,idType,idNumber,gender,major,direction\n";

/// RFC 3339 in UTC, seconds precision.
std::string Rfc3339(absl::Time t);

/// The platform operator's token (the dev-mode account).
std::string OperatorToken(Stack& s);

/// Creates a staff account of the school (`role` SCHOOL_ADMIN or EXAMINER) as `by` and
/// returns its token; `id` receives its accountId.
std::string CreateStaff(Stack& s, const std::string& school, const std::string& role,
                        const std::string& by, std::string* id = nullptr);

struct RoomWorldOptions {
  int candidates = 1;
  bool dual_camera = false;
  bool screen_share_allowed = false;
  int examiners = 1;
};

/// A school with one exam and one room open now (for three hours): candidates verified, on
/// the roster, with every journey step done, assigned to the room with sequence 1, 2, ...
/// in order (not entered yet); the room's examiners; the school's admin.
struct RoomWorld {
  std::string school, exam, room, admin_token;
  std::vector<ReadyCandidate> candidates;
  std::vector<std::string> examiner_tokens, examiner_ids;
};
RoomWorld MakeRoomWorld(Stack& s, const RoomWorldOptions& options = {});

/// A PASSED face verification of purpose ROOM for the room (QR scan + dev simulator), then
/// POST /v1/rooms/{roomId}:enter; expects 200.
void EnterRoom(Stack& s, const RoomWorld& w, const ReadyCandidate& c);

/// Examiner `examiner` invites the candidate and the candidate accepts; returns the
/// interviewId ("" with a test failure when either was refused).
std::string StartInterview(Stack& s, const RoomWorld& w, const ReadyCandidate& c, int examiner = 0);

/// An examiner's action on a candidate: "invite", "defer", "end".
HttpResponse ExaminerAct(Stack& s, const RoomWorld& w, const ReadyCandidate& c,
                         const std::string& verb, int examiner = 0);

/// The candidate's `secondDevice` in the examiners' list (examiner 0 asks); "" when absent.
std::string SecondDeviceState(Stack& s, const RoomWorld& w, const std::string& account_id);

}  // namespace admissions::testing
