#pragma once

#include <map>
#include <mutex>
#include <set>
#include <tuple>
#include <vector>

#include "common/status.h"
#include "media_signaling/clients.h"
#include "media_signaling/media_signaling_store.h"

namespace admissions::media_signaling::testing {

namespace wr = waiting_room::v1;

/// The waiting room as media signaling sees it: a MediaContext per (room, account), and the
/// calls it received.
class FakeWaitingRoom : public WaitingRoomClient {
 public:
  absl::StatusOr<wr::MediaContext> GetMediaContext(const CallContext&, const std::string& room_id,
                                                   const std::string& account_id) override {
    ++context_calls;
    if (!context_error.ok()) return context_error;
    auto it = contexts.find({room_id, account_id});
    if (it != contexts.end()) return it->second;
    auto room = rooms.find(room_id);
    if (room == rooms.end()) {
      return Error(absl::StatusCode::kNotFound, "ROOM_NOT_FOUND", "no such room");
    }
    return room->second;  // The room only: the account is not assigned.
  }
  absl::Status SetSecondDevice(const CallContext&, const std::string& room_id,
                               const std::string& account_id, const std::string& state) override {
    second_device.push_back({room_id, account_id, state});
    return second_device_error;
  }
  absl::Status RecordProctorEvent(const CallContext& call, const std::string& room_id,
                                  wr::ProctorEventType type) override {
    proctor.push_back({room_id, type, call.authorization});
    return proctor_error;
  }

  std::map<std::pair<std::string, std::string>, wr::MediaContext> contexts;
  std::map<std::string, wr::MediaContext> rooms;
  absl::Status context_error = absl::OkStatus();
  absl::Status second_device_error = absl::OkStatus();
  absl::Status proctor_error = absl::OkStatus();
  int context_calls = 0;
  std::vector<std::tuple<std::string, std::string, std::string>> second_device;
  std::vector<std::tuple<std::string, wr::ProctorEventType, std::string>> proctor;
};

/// PairingStore in memory, with the PostgreSQL form's contract (Pair consumes atomically and
/// rolls back when before_commit fails).
class FakePairingStore : public PairingStore {
 public:
  explicit FakePairingStore(std::function<absl::Time()> now) : now_(std::move(now)) {}

  absl::Status CreateCode(const PairingCodeRow& row) override {
    codes[row.code_hash] = row;
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<PairingCodeRow>> FindCode(const std::string& code_hash) override {
    auto it = codes.find(code_hash);
    if (it == codes.end()) return std::optional<PairingCodeRow>();
    return std::optional<PairingCodeRow>(it->second);
  }
  absl::StatusOr<std::string> Pair(const std::string& code_hash, const std::string& account_id,
                                   const std::string& phone_session_id,
                                   const std::function<absl::Status()>& before_commit) override {
    auto it = codes.find(code_hash);
    if (it == codes.end() || it->second.account_id != account_id) {
      return Error(absl::StatusCode::kNotFound, "PAIRING_CODE_UNKNOWN", "unknown");
    }
    if (it->second.used) {
      return Error(absl::StatusCode::kFailedPrecondition, "PAIRING_CODE_USED", "used");
    }
    if (now_() >= it->second.expires_at) {
      return Error(absl::StatusCode::kFailedPrecondition, "PAIRING_CODE_EXPIRED", "expired");
    }
    RETURN_IF_ERROR(before_commit());
    it->second.used = true;
    phones[{account_id, it->second.room_id}] = phone_session_id;
    return it->second.room_id;
  }
  absl::StatusOr<std::optional<std::string>> PhoneSession(const std::string& account_id,
                                                          const std::string& room_id) override {
    auto it = phones.find({account_id, room_id});
    if (it == phones.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }

  absl::Status RecordLoss(const DeviceLoss& loss) override {
    DeviceLoss row = loss;
    row.id = static_cast<int64_t>(losses.size()) + 1;
    losses.push_back(row);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<DeviceLoss>> UnreportedLosses(int limit) override {
    std::vector<DeviceLoss> out;
    for (const auto& l : losses) {
      if (reported.count(l.id) == 0 && static_cast<int>(out.size()) < limit) out.push_back(l);
    }
    return out;
  }
  absl::Status MarkReported(int64_t id) override {
    reported.insert(id);
    return absl::OkStatus();
  }

  std::map<std::string, PairingCodeRow> codes;
  std::map<std::pair<std::string, std::string>, std::string> phones;
  std::vector<DeviceLoss> losses;  // The outbox, in order.
  std::set<int64_t> reported;

 private:
  std::function<absl::Time()> now_;
};

/// RelayStore in memory: participants with epochs, the sender checks and the glare rule, and
/// what was delivered to whom. The Redis form is tested against a real Redis.
class FakeRelayStore : public RelayStore {
 public:
  struct Member {
    ParticipantInfo info;
    int64_t epoch = 0;
    bool connected = true;
    bool sharing = false;
  };

  absl::StatusOr<JoinResult> Join(const ParticipantInfo& p, const std::string&) override {
    if (ended.count(p.interview_id)) return Refuse(ended[p.interview_id]);
    auto& s = sessions[p.interview_id];
    JoinResult out;
    out.rejoined = s.count(p.peer_id) > 0;
    Member& m = s[p.peer_id];
    m.info = p;
    m.epoch = ++epochs[{p.interview_id, p.peer_id}];
    m.connected = true;
    out.epoch = m.epoch;
    out.self = PeerOf(p);
    out.self.set_connected(true);
    for (const auto& [id, other] : s) {
      if (id != p.peer_id) out.peers.push_back(PeerOf(other.info));
    }
    refs[p.interview_id] = SessionRef{p.room_id, p.candidate_account_id};
    return out;
  }
  absl::StatusOr<Mailbox> ReadMailbox(const std::string& interview_id, const std::string& peer_id,
                                      int64_t after_seq) override {
    Mailbox out = mailboxes[{interview_id, peer_id}];
    std::vector<v1::Delivery> kept;
    for (const auto& d : out.deliveries) {
      if (d.seq() > after_seq) kept.push_back(d);
    }
    out.deliveries = kept;
    return out;
  }
  absl::StatusOr<int64_t> Relay(const Sender& sender, const v1::Signal& signal,
                                bool polite) override {
    ASSIGN_OR_RETURN(Member * me, Check(sender));
    (void)me;
    auto& s = sessions[sender.interview_id];
    if (!s.count(signal.to())) {
      return Error(absl::StatusCode::kNotFound, "UNKNOWN_PEER", "no such peer");
    }
    auto theirs = std::make_pair(signal.to(), sender.peer_id);
    if (signal.kind() == "offer") {
      if (offers.count(theirs)) {
        if (polite) return Error(absl::StatusCode::kFailedPrecondition, "GLARE", "glare");
        offers.erase(theirs);
      }
      offers.insert({sender.peer_id, signal.to()});
    } else if (signal.kind() == "answer") {
      offers.erase(theirs);
    }
    relayed.push_back(signal);
    return static_cast<int64_t>(relayed.size());
  }
  absl::Status Leave(const Sender& sender) override {
    ASSIGN_OR_RETURN(Member * me, Check(sender));
    (void)me;
    sessions[sender.interview_id].erase(sender.peer_id);
    return absl::OkStatus();
  }
  absl::StatusOr<SenderInfo> Verify(const Sender& sender) override {
    ASSIGN_OR_RETURN(Member * me, Check(sender));
    return SenderInfo{me->info.role, me->info.room_id};
  }
  absl::Status SetScreenSharing(const Sender& sender, bool on) override {
    ASSIGN_OR_RETURN(Member * me, Check(sender));
    me->sharing = on;
    return absl::OkStatus();
  }
  absl::Status Disconnect(const std::string& interview_id, const std::string& peer_id,
                          int64_t epoch) override {
    auto& s = sessions[interview_id];
    auto it = s.find(peer_id);
    if (it != s.end() && it->second.epoch == epoch) it->second.connected = false;
    return absl::OkStatus();
  }
  absl::Status KeepAlive(const std::vector<LocalParticipant>& local) override {
    kept_alive.insert(kept_alive.end(), local.begin(), local.end());
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<Removed>> Sweep() override {
    std::vector<Removed> out;
    out.swap(to_remove);  // Handed to one sweeper only.
    return out;
  }
  absl::StatusOr<bool> ClaimCheck(const std::string&, absl::Duration) override { return true; }
  absl::StatusOr<std::optional<SessionRef>> Session(const std::string& interview_id) override {
    auto it = refs.find(interview_id);
    if (it == refs.end() || ended.count(interview_id)) return std::optional<SessionRef>();
    return std::optional<SessionRef>(it->second);
  }
  absl::StatusOr<bool> EndSession(const std::string& interview_id,
                                  const std::string& reason) override {
    if (ended.count(interview_id)) return false;
    ended[interview_id] = reason;
    sessions.erase(interview_id);
    return true;
  }

  std::map<std::string, std::map<std::string, Member>> sessions;
  std::map<std::pair<std::string, std::string>, int64_t> epochs;
  std::map<std::pair<std::string, std::string>, Mailbox> mailboxes;
  std::set<std::pair<std::string, std::string>> offers;
  std::map<std::string, SessionRef> refs;
  std::map<std::string, std::string> ended;
  std::vector<v1::Signal> relayed;
  std::vector<Removed> to_remove;
  std::vector<LocalParticipant> kept_alive;

 private:
  static absl::Status Refuse(const std::string& why) {
    if (why == "DEFERRED") return Error(absl::StatusCode::kFailedPrecondition, "NO_INTERVIEW", "");
    return Error(absl::StatusCode::kFailedPrecondition, "INTERVIEW_FINISHED", "");
  }
  absl::StatusOr<Member*> Check(const Sender& sender) {
    if (ended.count(sender.interview_id)) return Refuse(ended[sender.interview_id]);
    auto& s = sessions[sender.interview_id];
    auto it = s.find(sender.peer_id);
    if (it == s.end()) return Error(absl::StatusCode::kFailedPrecondition, "NOT_JOINED", "");
    if (it->second.info.account_id != sender.account_id ||
        it->second.info.session_id != sender.session_id) {
      return Error(absl::StatusCode::kPermissionDenied, reason::kPermissionDenied, "");
    }
    if (it->second.epoch != sender.epoch) {
      return Error(absl::StatusCode::kFailedPrecondition, "REPLACED", "");
    }
    return &it->second;
  }
};

}  // namespace admissions::media_signaling::testing
