#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "media_signaling/v1/media_signaling.pb.h"

namespace admissions::media_signaling {

// ------------------------------------------------------------------------- pairing

/// A pairing code as stored: only the hash of its secret.
struct PairingCodeRow {
  std::string code_hash;   // hex SHA-256 of the secret
  std::string account_id;  // the candidate
  std::string room_id;
  std::string session_id;  // the first device's login session
  absl::Time expires_at;
  bool used = false;
};

/// Pairing codes and pairings (PostgreSQL, schema `media`). Blocking.
/// A second device that stopped (its connection stayed away, or it left).
struct DeviceLoss {
  int64_t id = 0;  // Set by the store.
  std::string account_id, room_id, interview_id;
  std::string reason;  // TIMEOUT or LEFT.
};

class PairingStore {
 public:
  virtual ~PairingStore() = default;
  virtual absl::Status CreateCode(const PairingCodeRow& row) = 0;
  virtual absl::StatusOr<std::optional<PairingCodeRow>> FindCode(const std::string& code_hash) = 0;
  /// In one transaction: consumes the code (only while unused, unexpired and the account's),
  /// replaces the account's pairing for the code's room with `phone_session_id`, then runs
  /// `before_commit`; any failure rolls everything back (the code stays usable). Returns the
  /// room. FAILED_PRECONDITION PAIRING_CODE_USED / PAIRING_CODE_EXPIRED when another call got
  /// there first or the code lapsed meanwhile.
  virtual absl::StatusOr<std::string> Pair(const std::string& code_hash,
                                           const std::string& account_id,
                                           const std::string& phone_session_id,
                                           const std::function<absl::Status()>& before_commit) = 0;
  /// The login session of the account's paired phone for the room, if any.
  virtual absl::StatusOr<std::optional<std::string>> PhoneSession(const std::string& account_id,
                                                                  const std::string& room_id) = 0;

  /// The outbox of second-device losses for the waiting room: recorded when known, marked
  /// reported once the waiting room has it.
  virtual absl::Status RecordLoss(const DeviceLoss& loss) = 0;
  virtual absl::StatusOr<std::vector<DeviceLoss>> UnreportedLosses(int limit) = 0;
  virtual absl::Status MarkReported(int64_t id) = 0;
};

// ------------------------------------------------------------------------- the relay

/// A participant of an interview session, as it joins.
struct ParticipantInfo {
  std::string interview_id;
  std::string room_id;
  std::string candidate_account_id;  // whose interview it is
  std::string peer_id;
  v1::PeerRole role = v1::PEER_ROLE_UNSPECIFIED;
  std::string account_id;
  std::string session_id;  // the login session of this connection
  std::string name;
  // A resume (Connect with after_seq > 0: the same page after a cut) keeps what the earlier
  // connection said of itself (screen sharing); a fresh join (a reload, a new tab) does not.
  bool resume = false;
};

/// v1::Peer of a participant (connected and screen sharing left false).
v1::Peer PeerOf(const ParticipantInfo& p);

/// The connection a call comes from: the session, its peer id and epoch, and the caller.
struct Sender {
  std::string interview_id;
  std::string peer_id;
  int64_t epoch = 0;
  std::string account_id;
  std::string session_id;
};

struct JoinResult {
  int64_t epoch = 0;
  bool rejoined = false;        // It was a participant already (reconnect or replacement).
  v1::Peer self;                // As the others see it now.
  std::vector<v1::Peer> peers;  // The others, as they are now.
};

/// What is kept for a participant after a seq.
struct Mailbox {
  int64_t last_seq = 0;                  // The participant's newest seq.
  std::vector<v1::Delivery> deliveries;  // seq > after, ascending.
};

struct SenderInfo {
  v1::PeerRole role = v1::PEER_ROLE_UNSPECIFIED;
  std::string room_id;
};

/// A participant that the sweeper removed after its grace period.
struct Removed {
  std::string interview_id;
  std::string room_id;
  std::string peer_id;
  std::string account_id;
  v1::PeerRole role = v1::PEER_ROLE_UNSPECIFIED;
};

/// A participant whose Connect stream this instance holds.
struct LocalParticipant {
  std::string interview_id;
  std::string peer_id;
  int64_t epoch = 0;
};

/// Whose interview a session is.
struct SessionRef {
  std::string room_id;
  std::string candidate_account_id;
};

/// The interview sessions' live state (Redis): participants, their epochs and leases, the
/// per-participant sequence numbers and mailboxes, and delivery to the instance holding a
/// participant's stream. Every change that concerns other participants is delivered to them
/// in the same atomic step. Blocking.
///
/// Refusals: FAILED_PRECONDITION REPLACED (stale epoch), NOT_JOINED (not a participant),
/// INTERVIEW_FINISHED / NO_INTERVIEW (the session ended, or was deferred), GLARE; NOT_FOUND
/// UNKNOWN_PEER; PERMISSION_DENIED (the connection belongs to another login).
class RelayStore {
 public:
  virtual ~RelayStore() = default;
  /// Registers the participant with a new epoch, connected, routed to `instance`; a previous
  /// connection of it is told it was replaced. The others get peer_joined (a new
  /// participant) or peer_updated (one already in the session).
  virtual absl::StatusOr<JoinResult> Join(const ParticipantInfo& p,
                                          const std::string& instance) = 0;
  virtual absl::StatusOr<Mailbox> ReadMailbox(const std::string& interview_id,
                                              const std::string& peer_id, int64_t after_seq) = 0;
  /// Delivers `signal` (from already set) to signal.to, applying the glare rule: `polite`
  /// is whether the sender's peer id sorts after the recipient's. Returns the recipient's seq.
  virtual absl::StatusOr<int64_t> Relay(const Sender& sender, const v1::Signal& signal,
                                        bool polite) = 0;
  /// Removes the participant now (peers get peer_left LEFT); its stream ends.
  virtual absl::Status Leave(const Sender& sender) = 0;
  /// Checks the sender (epoch, login) without changing anything.
  virtual absl::StatusOr<SenderInfo> Verify(const Sender& sender) = 0;
  /// Sets screen_sharing; everyone (the sender too) gets peer_updated.
  virtual absl::Status SetScreenSharing(const Sender& sender, bool on) = 0;
  /// The stream of `epoch` ended: connected=false for the grace period (nothing when a newer
  /// connection replaced it).
  virtual absl::Status Disconnect(const std::string& interview_id, const std::string& peer_id,
                                  int64_t epoch) = 0;
  /// Renews the leases of the participants whose streams this instance holds.
  virtual absl::Status KeepAlive(const std::vector<LocalParticipant>& local) = 0;
  /// Sessions due for a sweep: lapsed leases become disconnected, lapsed grace periods remove
  /// the participant (peer_left TIMEOUT). Each removal is returned to exactly one caller,
  /// whichever instance swept first.
  virtual absl::StatusOr<std::vector<Removed>> Sweep() = 0;
  /// True for one caller per `period` and session (the session re-check).
  virtual absl::StatusOr<bool> ClaimCheck(const std::string& interview_id,
                                          absl::Duration period) = 0;
  virtual absl::StatusOr<std::optional<SessionRef>> Session(const std::string& interview_id) = 0;
  /// Ends the session: every participant gets session_ended{reason} and leaves; later calls
  /// are refused. False when it had ended already.
  virtual absl::StatusOr<bool> EndSession(const std::string& interview_id,
                                          const std::string& reason) = 0;
};

}  // namespace admissions::media_signaling
