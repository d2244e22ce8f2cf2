#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/caller.h"
#include "media_signaling/clients.h"
#include "media_signaling/media_signaling_store.h"
#include "media_signaling/v1/media_signaling.pb.h"

namespace admissions::media_signaling {

struct MediaSignalingSettings {
  std::vector<std::string> stun_urls;
  std::vector<std::string> turn_urls;
  std::string turn_secret;  // Empty: no TURN server is offered.
  absl::Duration turn_ttl = absl::Hours(12);
  absl::Duration grace = absl::Seconds(15);
  absl::Duration pairing_ttl = absl::Seconds(120);
  /// How often a live session is re-checked with the waiting room.
  absl::Duration session_check = absl::Seconds(2);
  std::function<absl::Time()> now = [] { return absl::Now(); };
  std::function<std::string(size_t)> random;  // Default: libsodium's RandomBytes.
};

/// Who a Connect joins as, decided from the waiting room and the pairings.
struct Admission {
  ParticipantInfo participant;
  int64_t after_seq = 0;
};

/// The start of a Connect stream: `joined` (seq 0), then what the mailbox kept after
/// after_seq, in order. Live deliveries follow from seq > cursor.
struct JoinedStream {
  LocalParticipant self;
  v1::Delivery joined;
  std::vector<v1::Delivery> backlog;
  int64_t cursor = 0;
};

/// The QR payload's fixed prefix.
inline constexpr char kPairingPrefix[] = "admissions-pair:v1:";

/// Whether `from` is the polite peer towards `to` in the glare rule: the one whose peer id
/// sorts after the other's, byte by byte.
bool IsPolite(const std::string& from, const std::string& to);

/// Checks a relayed signal and returns it as it is delivered (only the fields of its kind,
/// `from` set). INVALID_ARGUMENT naming the field otherwise.
absl::StatusOr<v1::Signal> CleanSignal(const std::string& from, const v1::Signal& signal);

/// Media signaling's domain: ICE servers, second-device pairing, and who joins an interview
/// session as what. Plain C++, blocking (PostgreSQL, Redis, the waiting room); no gRPC types.
/// The relay itself (seqs, mailboxes, glare, epochs) is the RelayStore's, one atomic step per
/// call; no relayed message touches PostgreSQL or the waiting room.
class MediaSignalingLogic {
 public:
  MediaSignalingLogic(PairingStore* pairings, RelayStore* relay, WaitingRoomClient* waiting_room,
                      MediaSignalingSettings settings);

  /// STUN, and TURN with fresh credentials for the caller (when a secret is set).
  absl::StatusOr<v1::IceServers> GetIceServers(const Caller& caller);
  absl::StatusOr<v1::PairingCode> CreatePairingCode(const Caller& caller, const CallContext& call,
                                                    const v1::CreatePairingCodeRequest& req);
  absl::StatusOr<v1::PairDeviceResponse> PairDevice(const Caller& caller, const CallContext& call,
                                                    const v1::PairDeviceRequest& req);

  /// The interview session the caller joins and as what; refusals as documented on Connect.
  absl::StatusOr<Admission> Admit(const Caller& caller, const CallContext& call,
                                  const v1::ConnectRequest& req);
  /// Registers the admitted participant (routed to `instance`) and reads its mailbox.
  absl::StatusOr<JoinedStream> Join(const Admission& admission, const std::string& instance);

  /// What the participant's mailbox holds after `after_seq` (a stream filling a gap).
  absl::StatusOr<Mailbox> ReadMailbox(const LocalParticipant& self, int64_t after_seq) {
    return relay_->ReadMailbox(self.interview_id, self.peer_id, after_seq);
  }

  absl::Status Relay(const Caller& caller, const v1::RelayRequest& req);
  absl::Status Leave(const Caller& caller, const v1::LeaveRequest& req);
  absl::Status SetScreenShare(const Caller& caller, const CallContext& call,
                              const v1::SetScreenShareRequest& req);
  /// A Connect stream of `self` ended without leaving.
  void Disconnected(const LocalParticipant& self);

  // Periodic work (main's maintenance thread).
  /// Times participants out (a second device's loss recorded, exactly once), then reports
  /// the recorded losses the waiting room does not have yet.
  void Sweep();
  /// Sends the unreported second-device losses to the waiting room (SetSecondDevice LOST),
  /// marking each reported once it took it; what fails is tried again on the next sweep.
  void ReportLosses();
  /// Renews the leases of the streams held here.
  void KeepAlive(const std::vector<LocalParticipant>& local);
  /// Ends the sessions (among `interview_ids`) whose interview is no longer current.
  void CheckSessions(const std::vector<std::string>& interview_ids);

  const MediaSignalingSettings& settings() const { return settings_; }

 private:
  /// Writes the loss to PostgreSQL (the outbox) and reports what is outstanding.
  void SecondDeviceLost(DeviceLoss loss);
  absl::StatusOr<Sender> SenderOf(const Caller& caller, const std::string& interview_id,
                                  const std::string& peer_id, int64_t epoch);
  v1::IceServers Ice(const std::string& account_id);

  PairingStore* pairings_;
  std::mutex report_mu_;
  RelayStore* relay_;
  WaitingRoomClient* waiting_room_;
  MediaSignalingSettings settings_;
};

}  // namespace admissions::media_signaling
