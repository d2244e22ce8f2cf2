// The waiting room's rules without I/O: the candidate state machine, reproducible draws, the
// audit chain, the wait estimate and the lobby each candidate sees.
#include <gtest/gtest.h>

#include <set>

#include "common/crypto.h"
#include "common/status.h"
#include "waiting_room/room_rules.h"
#include "waiting_room/waiting_room_logic.h"

namespace admissions::waiting_room {
namespace {

using S = v1::CandidateStatus;

struct Case {
  Action action;
  S from;
  bool other_active;
  S to;                // When allowed.
  const char* reason;  // When refused.
};

TEST(WaitingRoomStateMachineTest, EveryTransitionIsAllowedOrRefusedWithAReason) {
  const Case cases[] = {
      {Action::kEnter, v1::NOT_ENTERED, false, v1::WAITING, nullptr},
      {Action::kEnter, v1::WAITING, false, v1::WAITING, nullptr},
      {Action::kEnter, v1::INTERVIEWING, true, v1::INTERVIEWING, nullptr},
      {Action::kEnter, v1::DEFERRED, false, v1::DEFERRED, nullptr},
      {Action::kEnter, v1::FINISHED, false, {}, "INTERVIEW_FINISHED"},
      {Action::kEnter, v1::ABSENT, false, {}, "MARKED_ABSENT"},
      {Action::kInvite, v1::WAITING, false, v1::INVITED, nullptr},
      {Action::kInvite, v1::DEFERRED, false, v1::INVITED, nullptr},
      {Action::kInvite, v1::WAITING, true, {}, "ROOM_BUSY"},
      {Action::kInvite, v1::DEFERRED, true, {}, "ROOM_BUSY"},
      {Action::kInvite, v1::NOT_ENTERED, false, {}, "NOT_IN_LOBBY"},
      {Action::kInvite, v1::INVITED, false, {}, "ALREADY_INVITED"},
      {Action::kInvite, v1::INTERVIEWING, false, {}, "ALREADY_INTERVIEWING"},
      {Action::kInvite, v1::FINISHED, false, {}, "INTERVIEW_FINISHED"},
      {Action::kInvite, v1::ABSENT, false, {}, "MARKED_ABSENT"},
      {Action::kAccept, v1::INVITED, false, v1::INTERVIEWING, nullptr},
      {Action::kAccept, v1::INTERVIEWING, false, {}, "ALREADY_ACCEPTED"},
      {Action::kAccept, v1::DEFERRED, false, {}, "NO_INVITATION"},
      {Action::kAccept, v1::WAITING, false, {}, "NO_INVITATION"},
      {Action::kAccept, v1::NOT_ENTERED, false, {}, "NOT_IN_LOBBY"},
      {Action::kAccept, v1::FINISHED, false, {}, "INTERVIEW_FINISHED"},
      {Action::kDefer, v1::INVITED, false, v1::DEFERRED, nullptr},
      {Action::kDefer, v1::INTERVIEWING, false, v1::DEFERRED, nullptr},
      {Action::kDefer, v1::WAITING, false, {}, "NOT_INVITED"},
      {Action::kDefer, v1::DEFERRED, false, {}, "ALREADY_DEFERRED"},
      {Action::kDefer, v1::FINISHED, false, {}, "INTERVIEW_FINISHED"},
      {Action::kEnd, v1::INTERVIEWING, false, v1::FINISHED, nullptr},
      {Action::kEnd, v1::INVITED, false, {}, "NOT_INTERVIEWING"},
      {Action::kEnd, v1::WAITING, false, {}, "NOT_INTERVIEWING"},
      {Action::kEnd, v1::NOT_ENTERED, false, {}, "NOT_INTERVIEWING"},
      {Action::kEnd, v1::FINISHED, false, {}, "INTERVIEW_FINISHED"},
      {Action::kAbsent, v1::NOT_ENTERED, false, v1::ABSENT, nullptr},
      {Action::kAbsent, v1::WAITING, true, v1::ABSENT, nullptr},
      {Action::kAbsent, v1::INVITED, false, v1::ABSENT, nullptr},
      {Action::kAbsent, v1::INTERVIEWING, false, {}, "IN_INTERVIEW"},
      {Action::kAbsent, v1::ABSENT, false, {}, "ALREADY_ABSENT"},
      {Action::kLeave, v1::WAITING, false, v1::WAITING, nullptr},
      {Action::kLeave, v1::FINISHED, false, v1::FINISHED, nullptr},
      {Action::kLeave, v1::INVITED, false, {}, "IN_INTERVIEW"},
      {Action::kLeave, v1::INTERVIEWING, false, {}, "IN_INTERVIEW"},
      {Action::kLeave, v1::NOT_ENTERED, false, {}, "NOT_IN_LOBBY"},
  };
  for (const auto& c : cases) {
    auto next = NextStatus(c.action, c.from, c.other_active);
    std::string where =
        std::string(ActionName(c.action)) + " from " + v1::CandidateStatus_Name(c.from);
    if (c.reason == nullptr) {
      ASSERT_TRUE(next.ok()) << where << ": " << next.status();
      EXPECT_EQ(*next, c.to) << where;
    } else {
      ASSERT_FALSE(next.ok()) << where;
      EXPECT_EQ(next.status().code(), absl::StatusCode::kFailedPrecondition) << where;
      EXPECT_EQ(ReasonOf(next.status()), c.reason) << where;
      EXPECT_FALSE(next.status().message().empty()) << where;
    }
  }
}

TEST(WaitingRoomDrawTest, TheSameSeedGivesTheSameOrder) {
  auto a = DrawPermutation("seed-1", 50);
  auto b = DrawPermutation("seed-1", 50);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, DrawPermutation("seed-2", 50));
  std::set<size_t> all(a.begin(), a.end());
  EXPECT_EQ(all.size(), 50u);
  EXPECT_EQ(*all.rbegin(), 49u);
  EXPECT_TRUE(DrawPermutation("x", 0).empty());
  EXPECT_EQ(DrawPermutation("x", 1), std::vector<size_t>{0});
  EXPECT_EQ(DrawIndex("q", 7), DrawIndex("q", 7));
  EXPECT_LT(DrawIndex("q", 7), 7u);
}

TEST(WaitingRoomDrawTest, DrawsAreSpreadOverEveryPosition) {
  // Every candidate lands first for some seed: no position is out of reach.
  std::set<size_t> firsts;
  for (int i = 0; i < 200; ++i) firsts.insert(DrawPermutation("s" + std::to_string(i), 5)[0]);
  EXPECT_EQ(firsts.size(), 5u);
  EXPECT_EQ(NewSeed().size(), 32u);
  EXPECT_NE(NewSeed(), NewSeed());
}

std::vector<AuditEntry> Chain(int n) {
  std::vector<AuditEntry> out;
  std::string head;
  for (int i = 0; i < n; ++i) {
    AuditEntry e;
    e.at = AuditTime(absl::FromUnixSeconds(1700000000 + i));
    e.actor = "examiner-" + std::to_string(i % 2);
    e.action = i % 2 ? "INVITE" : "DEFER";
    e.subject = "candidate \"1\"";
    e.detail = "line\nbreak";
    ChainAuditEntry(i, head, &e);
    head = e.hash;
    out.push_back(e);
  }
  return out;
}

TEST(WaitingRoomAuditTest, TheChainVerifiesAndShowsEveryChange) {
  auto chain = Chain(5);
  EXPECT_TRUE(VerifyAuditChain(chain).ok());
  EXPECT_EQ(chain[0].prev_hash, "");
  EXPECT_EQ(chain[1].prev_hash, chain[0].hash);
  EXPECT_EQ(chain[0].hash,
            HexEncode(Sha256(CanonicalAuditEntry(chain[0]))));  // SHA-256("" || entry).
  EXPECT_EQ(chain[0].at, "2023-11-14T22:13:20.000000Z");

  auto altered = chain;
  altered[2].detail = "changed";
  EXPECT_EQ(ReasonOf(VerifyAuditChain(altered)), "AUDIT_CHAIN_BROKEN");
  EXPECT_EQ(DetailsOf(VerifyAuditChain(altered)).at("seq"), "3");
  auto removed = chain;
  removed.erase(removed.begin() + 1);
  EXPECT_FALSE(VerifyAuditChain(removed).ok());
  auto reordered = chain;
  std::swap(reordered[3], reordered[4]);
  EXPECT_FALSE(VerifyAuditChain(reordered).ok());
  auto truncated_head = chain;
  truncated_head.erase(truncated_head.begin());
  EXPECT_FALSE(VerifyAuditChain(truncated_head).ok());
}

TEST(WaitingRoomAuditTest, TheExportLineIsTheCanonicalEntryPlusItsHashes) {
  auto e = Chain(1)[0];
  EXPECT_EQ(CanonicalAuditEntry(e),
            R"({"seq":1,"at":"2023-11-14T22:13:20.000000Z","actor":"examiner-0","action":"DEFER",)"
            R"("subject":"candidate \"1\"","detail":"line\nbreak"})");
  std::string line = AuditJsonLine(e);
  EXPECT_EQ(line.rfind(R"({"seq":1,)", 0), 0u);
  EXPECT_NE(line.find(R"("prevHash":"","hash":")" + e.hash + "\"}"), std::string::npos);
}

TEST(WaitingRoomWaitTest, TheEstimateIsTheMeanLengthTimesThoseAhead) {
  EXPECT_EQ(EstimateWaitSeconds(false, 0, 0, 3), std::nullopt);      // Nothing finished.
  EXPECT_EQ(EstimateWaitSeconds(true, 2, 600000, 3), std::nullopt);  // Switched off.
  EXPECT_EQ(EstimateWaitSeconds(false, 2, 600000, 3), 900);          // 300 s × 3.
  EXPECT_EQ(EstimateWaitSeconds(false, 3, 1000, 0), 0);
  EXPECT_EQ(EstimateWaitSeconds(false, 2, 1001, 1), 1);  // Rounded.
}

RoomSnapshot Room() {
  RoomSnapshot r;
  r.room_id = "r";
  r.name = "第一考场";
  r.starts_at = absl::FromUnixSeconds(1700000000);
  r.last_event_id = 42;
  r.finished_count = 1;
  r.finished_total_ms = 600000;  // One interview of 10 minutes.
  auto add = [&](int seq, S st, const char* acct) {
    SnapshotCandidate c;
    c.sequence = seq;
    c.status = st;
    c.account_id = acct;
    c.name = std::string("考生") + acct;
    r.candidates.push_back(c);
  };
  add(1, v1::FINISHED, "a");
  add(2, v1::INTERVIEWING, "b");
  add(3, v1::DEFERRED, "c");
  add(4, v1::WAITING, "d");
  add(5, v1::NOT_ENTERED, "e");
  add(6, v1::ABSENT, "f");
  return r;
}

TEST(WaitingRoomLobbyTest, ACandidateSeesThemselfAndOthersBySequenceOnly) {
  v1::Lobby l = BuildLobby(Room(), "d");
  EXPECT_EQ(l.room_name(), "第一考场");
  EXPECT_EQ(l.last_event_id(), 42);
  EXPECT_EQ(l.me().name(), "考生d");
  EXPECT_EQ(l.me().sequence(), 4);
  EXPECT_EQ(l.me().status(), v1::WAITING);
  ASSERT_TRUE(l.has_current_sequence());
  EXPECT_EQ(l.current_sequence(), 2);
  // Finished, absent and not-entered candidates are not in the queue.
  ASSERT_EQ(l.queue_size(), 3);
  EXPECT_EQ(l.queue(0).sequence(), 2);
  EXPECT_EQ(l.queue(1).sequence(), 3);
  EXPECT_EQ(l.queue(2).sequence(), 4);
  // Ahead of d: b (interviewing) and c (deferred, earlier sequence): 2 × 600 s.
  ASSERT_TRUE(l.has_estimated_wait_seconds());
  EXPECT_EQ(l.estimated_wait_seconds(), 1200);
}

TEST(WaitingRoomLobbyTest, NoEstimateWhenHiddenOrForTheOneInterviewed) {
  RoomSnapshot r = Room();
  EXPECT_FALSE(BuildLobby(r, "b").has_estimated_wait_seconds());
  r.hide_wait_estimate = true;
  EXPECT_FALSE(BuildLobby(r, "d").has_estimated_wait_seconds());
  r.candidates[1].status = v1::WAITING;
  v1::Lobby nobody = BuildLobby(r, "");
  EXPECT_FALSE(nobody.has_current_sequence());
  EXPECT_FALSE(nobody.has_me());
}

TEST(WaitingRoomEventsTest, CandidatesSeeRoomEventsAndTheirOwnPrivateOnes) {
  v1::Event room, mine, theirs, examiners;
  room.set_audience(v1::ROOM);
  mine.set_audience(v1::PRIVATE);
  mine.set_to_account_id("me");
  theirs.set_audience(v1::PRIVATE);
  theirs.set_to_account_id("other");
  examiners.set_audience(v1::EXAMINERS);
  Reader candidate{"r", "me", false};
  Reader examiner{"r", "x", true};
  EXPECT_TRUE(Visible(room, candidate));
  EXPECT_TRUE(Visible(mine, candidate));
  EXPECT_FALSE(Visible(theirs, candidate));
  EXPECT_FALSE(Visible(examiners, candidate));
  for (const auto* e : {&room, &mine, &theirs, &examiners}) EXPECT_TRUE(Visible(*e, examiner));
}

}  // namespace
}  // namespace admissions::waiting_room
