#include "media_signaling/media_signaling_logic.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/authz.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/status.h"
#include "media_signaling/turn_credentials.h"

namespace admissions::media_signaling {
namespace {

namespace wr = waiting_room::v1;

constexpr size_t kMaxIdBytes = 128;
constexpr size_t kMaxSdpBytes = 32 * 1024;
constexpr size_t kMaxCandidateBytes = 1024;
constexpr size_t kMaxSmallFieldBytes = 256;
constexpr int kMaxMLineIndex = 1024;
constexpr size_t kSecretBytes = 32;
constexpr int kLostAttempts = 3;

/// Ids travel in Redis keys and channel payloads: a conservative alphabet, no separators.
bool ValidId(const std::string& s) {
  if (s.empty() || s.size() > kMaxIdBytes) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == ':' || c == '@' || c == '/';
  });
}

void SetTs(google::protobuf::Timestamp* ts, absl::Time t) {
  int64_t us = absl::ToUnixMicros(t);
  ts->set_seconds(us / 1000000);
  ts->set_nanos(static_cast<int32_t>(us % 1000000) * 1000);
}

absl::Status RoomClosed() {
  return Error(absl::StatusCode::kFailedPrecondition, "ROOM_CLOSED", "the room is closed");
}
absl::Status NoInterview() {
  return Error(absl::StatusCode::kFailedPrecondition, "NO_INTERVIEW",
               "there is no interview in progress for you in this room");
}
absl::Status InterviewFinished() {
  return Error(absl::StatusCode::kFailedPrecondition, "INTERVIEW_FINISHED",
               "your interview is over");
}
absl::Status NotAssigned() {
  return Error(absl::StatusCode::kNotFound, reason::kNotFound, "you are not assigned to this room");
}

/// Why a session is over, or "" while its interview is the room's current one.
std::string EndReason(const wr::MediaContext& ctx, const std::string& interview_id) {
  if (ctx.current_interview_id() == interview_id || ctx.interview_id() == interview_id) return "";
  switch (ctx.candidate_status()) {
    case wr::FINISHED:
      return "FINISHED";
    case wr::DEFERRED:
    case wr::WAITING:
      return "DEFERRED";
    default:
      return "ENDED";
  }
}

CallContext Background() {
  CallContext call;
  call.request_id = "media-signaling-sweep";
  return call;
}

}  // namespace

bool IsPolite(const std::string& from, const std::string& to) {
  // std::string compares as unsigned bytes (char_traits<char>::compare is memcmp).
  return from.compare(to) > 0;
}

absl::StatusOr<v1::Signal> CleanSignal(const std::string& from, const v1::Signal& in) {
  if (in.to().empty()) return InvalidField("signal.to", "signal.to is required");
  if (!ValidId(in.to())) return InvalidField("signal.to", "signal.to is not a peer id");
  if (in.to() == from) return InvalidField("signal.to", "a peer cannot signal itself");
  v1::Signal out;
  out.set_from(from);
  out.set_to(in.to());
  out.set_kind(in.kind());
  const std::string& kind = in.kind();
  if (kind == "offer" || kind == "answer") {
    if (in.sdp().empty()) return InvalidField("signal.sdp", "an offer or answer needs its sdp");
    if (in.sdp().size() > kMaxSdpBytes) {
      return InvalidField("signal.sdp", "signal.sdp is longer than 32 KiB");
    }
    out.set_sdp(in.sdp());
    return out;
  }
  if (kind != "candidate" && kind != "end-of-candidates") {
    return InvalidField("signal.kind",
                        "signal.kind must be offer, answer, candidate or end-of-candidates");
  }
  const v1::IceCandidate& c = in.candidate();
  if (kind == "candidate") {
    if (c.candidate().empty()) {
      return InvalidField("signal.candidate.candidate",
                          "a candidate needs its candidate line; use end-of-candidates");
    }
    if (c.candidate().size() > kMaxCandidateBytes) {
      return InvalidField("signal.candidate.candidate", "the candidate line is longer than 1 KiB");
    }
  } else if (!c.candidate().empty()) {
    return InvalidField("signal.candidate.candidate", "end-of-candidates carries no candidate");
  }
  if (c.sdp_mid().size() > kMaxSmallFieldBytes) {
    return InvalidField("signal.candidate.sdpMid", "signal.candidate.sdpMid is too long");
  }
  if (c.username_fragment().size() > kMaxSmallFieldBytes) {
    return InvalidField("signal.candidate.usernameFragment",
                        "signal.candidate.usernameFragment is too long");
  }
  if (c.has_sdp_m_line_index() &&
      (c.sdp_m_line_index() < 0 || c.sdp_m_line_index() > kMaxMLineIndex)) {
    return InvalidField("signal.candidate.sdpMLineIndex",
                        "signal.candidate.sdpMLineIndex is out of range");
  }
  if (in.has_candidate()) *out.mutable_candidate() = c;
  return out;
}

MediaSignalingLogic::MediaSignalingLogic(PairingStore* pairings, RelayStore* relay,
                                         WaitingRoomClient* waiting_room,
                                         MediaSignalingSettings settings)
    : pairings_(pairings),
      relay_(relay),
      waiting_room_(waiting_room),
      settings_(std::move(settings)) {
  if (!settings_.random) settings_.random = [](size_t n) { return RandomBytes(n); };
}

// ------------------------------------------------------------------------- ICE

v1::IceServers MediaSignalingLogic::Ice(const std::string& account_id) {
  v1::IceServers out;
  if (!settings_.stun_urls.empty()) {
    auto* stun = out.add_ice_servers();
    for (const auto& url : settings_.stun_urls) stun->add_urls(url);
  }
  if (!settings_.turn_secret.empty() && !settings_.turn_urls.empty()) {
    int64_t expiry = absl::ToUnixSeconds(settings_.now() + settings_.turn_ttl);
    TurnCredential cred = MakeTurnCredential(settings_.turn_secret, account_id, expiry);
    auto* turn = out.add_ice_servers();
    for (const auto& url : settings_.turn_urls) turn->add_urls(url);
    turn->set_username(cred.username);
    turn->set_credential(cred.credential);
    out.mutable_expires_at()->set_seconds(expiry);
  }
  return out;
}

absl::StatusOr<v1::IceServers> MediaSignalingLogic::GetIceServers(const Caller& caller) {
  return Ice(caller.account_id);
}

// ------------------------------------------------------------------------- pairing

absl::StatusOr<v1::PairingCode> MediaSignalingLogic::CreatePairingCode(
    const Caller& caller, const CallContext& call, const v1::CreatePairingCodeRequest& req) {
  RETURN_IF_ERROR(RequireAnyRole(caller, {role::kCandidate}));
  std::string room_id = absl::AsciiStrToLower(req.room_id());
  if (!ValidId(room_id)) return InvalidField("roomId", "roomId is required");
  ASSIGN_OR_RETURN(wr::MediaContext ctx,
                   waiting_room_->GetMediaContext(call, room_id, caller.account_id));
  if (ctx.candidate_status() == wr::CANDIDATE_STATUS_UNSPECIFIED) return NotAssigned();
  if (!ctx.dual_camera()) {
    return Error(absl::StatusCode::kFailedPrecondition, "NOT_DUAL_CAMERA",
                 "this exam does not use a second camera");
  }
  if (ctx.candidate_status() == wr::FINISHED) return InterviewFinished();
  std::string secret = settings_.random(kSecretBytes);
  PairingCodeRow row;
  row.code_hash = HexEncode(Sha256(secret));
  row.account_id = caller.account_id;
  row.room_id = room_id;
  row.session_id = caller.session_id;
  row.expires_at = settings_.now() + settings_.pairing_ttl;
  RETURN_IF_ERROR(pairings_->CreateCode(row));
  v1::PairingCode out;
  out.set_qr_payload(absl::StrCat(kPairingPrefix, Base64UrlEncode(secret)));
  SetTs(out.mutable_expires_at(), row.expires_at);
  return out;
}

absl::StatusOr<v1::PairDeviceResponse> MediaSignalingLogic::PairDevice(
    const Caller& caller, const CallContext& call, const v1::PairDeviceRequest& req) {
  RETURN_IF_ERROR(RequireAnyRole(caller, {role::kCandidate}));
  const std::string& payload = req.qr_payload();
  const std::string kPrefix = kPairingPrefix;
  if (payload.empty()) return InvalidField("qrPayload", "qrPayload is required");
  if (payload.size() > 2 * kPrefix.size() + 2 * kSecretBytes ||
      !absl::StartsWith(payload, kPrefix)) {
    return InvalidField("qrPayload", "qrPayload is not a pairing code");
  }
  std::optional<std::string> secret = Base64UrlDecode(payload.substr(kPrefix.size()));
  if (!secret || secret->size() != kSecretBytes) {
    return InvalidField("qrPayload", "qrPayload is not a pairing code");
  }
  std::string hash = HexEncode(Sha256(*secret));
  ASSIGN_OR_RETURN(std::optional<PairingCodeRow> row, pairings_->FindCode(hash));
  if (!row) {
    return Error(absl::StatusCode::kNotFound, "PAIRING_CODE_UNKNOWN",
                 "no such pairing code; show a new QR code on the computer");
  }
  if (row->account_id != caller.account_id) {
    return Error(absl::StatusCode::kPermissionDenied, reason::kPermissionDenied,
                 "this pairing code belongs to another candidate");
  }
  if (row->session_id == caller.session_id) {
    return InvalidField("qrPayload",
                        "pair from the phone app: this login showed the code, scan it with the "
                        "phone");
  }
  if (row->used) {
    return Error(absl::StatusCode::kFailedPrecondition, "PAIRING_CODE_USED",
                 "this pairing code was used already; show a new QR code on the computer");
  }
  if (settings_.now() >= row->expires_at) {
    return Error(absl::StatusCode::kFailedPrecondition, "PAIRING_CODE_EXPIRED",
                 "this pairing code has expired; show a new QR code on the computer");
  }
  ASSIGN_OR_RETURN(wr::MediaContext ctx,
                   waiting_room_->GetMediaContext(call, row->room_id, caller.account_id));
  if (ctx.candidate_status() == wr::CANDIDATE_STATUS_UNSPECIFIED) return NotAssigned();
  if (!ctx.dual_camera()) {
    return Error(absl::StatusCode::kFailedPrecondition, "NOT_DUAL_CAMERA",
                 "this exam does not use a second camera");
  }
  if (ctx.candidate_status() == wr::FINISHED) return InterviewFinished();
  if (!ctx.entered()) {
    return Error(absl::StatusCode::kFailedPrecondition, "VERIFY_ON_WEB_FIRST",
                 "verify and enter the room on the computer first, then scan again");
  }
  ASSIGN_OR_RETURN(
      std::string room_id, pairings_->Pair(hash, caller.account_id, caller.session_id, [&] {
        return waiting_room_->SetSecondDevice(call, row->room_id, caller.account_id, "PAIRED");
      }));
  Log(LogLevel::kInfo, "second_device_paired", {{"room_id", room_id}});
  v1::PairDeviceResponse out;
  out.set_room_id(room_id);
  out.set_role(v1::SECONDARY);
  return out;
}

// ------------------------------------------------------------------------- the session

absl::StatusOr<Admission> MediaSignalingLogic::Admit(const Caller& caller, const CallContext& call,
                                                     const v1::ConnectRequest& req) {
  std::string room_id = absl::AsciiStrToLower(req.room_id());
  if (room_id.empty()) return InvalidField("roomId", "roomId is required");
  if (!ValidId(room_id)) return InvalidField("roomId", "roomId is not a room id");
  if (req.after_seq() < 0) return InvalidField("afterSeq", "afterSeq must not be negative");
  ASSIGN_OR_RETURN(wr::MediaContext ctx,
                   waiting_room_->GetMediaContext(call, room_id, caller.account_id));
  Admission out;
  out.after_seq = req.after_seq();
  out.participant.resume = req.after_seq() > 0;
  ParticipantInfo& p = out.participant;
  p.room_id = room_id;
  p.account_id = caller.account_id;
  p.session_id = caller.session_id;
  const auto& examiners = ctx.examiner_ids();
  // The school comes from the signed token, as the waiting room checks it: an examiner of
  // another school listed on the room by mistake never joins its interviews.
  bool examiner =
      caller.HasRole(role::kExaminer) && caller.school_id == ctx.school_id() &&
      std::find(examiners.begin(), examiners.end(), caller.account_id) != examiners.end();
  bool candidate = caller.HasRole(role::kCandidate) &&
                   ctx.candidate_status() != wr::CANDIDATE_STATUS_UNSPECIFIED;
  if (examiner) {
    if (ctx.room_closed()) return RoomClosed();
    if (ctx.current_interview_id().empty()) return NoInterview();
    p.interview_id = ctx.current_interview_id();
    p.candidate_account_id = ctx.current_account_id();
    p.role = v1::EXAMINER;
    p.peer_id = caller.account_id;
  } else if (candidate) {
    if (ctx.candidate_status() == wr::FINISHED) return InterviewFinished();
    if (ctx.room_closed()) return RoomClosed();
    if (ctx.candidate_status() != wr::INTERVIEWING || ctx.interview_id().empty()) {
      return NoInterview();
    }
    ASSIGN_OR_RETURN(std::optional<std::string> phone,
                     pairings_->PhoneSession(caller.account_id, room_id));
    bool secondary = phone.has_value() && *phone == caller.session_id;
    p.interview_id = ctx.interview_id();
    p.candidate_account_id = caller.account_id;
    p.role = secondary ? v1::SECONDARY : v1::CANDIDATE;
    p.peer_id = secondary ? caller.account_id + "/2" : caller.account_id;
    p.name = ctx.candidate_name();
    if (secondary && ctx.second_device() == "LOST") {
      // The phone is back: PAIRED again, so that a later loss is recorded again too.
      RETURN_IF_ERROR(waiting_room_->SetSecondDevice(call, room_id, caller.account_id, "PAIRED"));
    }
  } else {
    return Error(absl::StatusCode::kPermissionDenied, reason::kPermissionDenied,
                 "you are not a participant of this room's interview");
  }
  if (!ValidId(p.interview_id) || !ValidId(p.peer_id)) {
    return Error(absl::StatusCode::kInternal, reason::kInternal, "unexpected interview or peer id");
  }
  return out;
}

absl::StatusOr<JoinedStream> MediaSignalingLogic::Join(const Admission& a,
                                                       const std::string& instance) {
  const ParticipantInfo& p = a.participant;
  ASSIGN_OR_RETURN(JoinResult joined, relay_->Join(p, instance));
  int64_t from = a.after_seq;
  ASSIGN_OR_RETURN(Mailbox mb, relay_->ReadMailbox(p.interview_id, p.peer_id, from));
  bool unknown_position = from > mb.last_seq;
  if (unknown_position) {
    // A position this participant never had (its counters were lost): everything kept.
    from = 0;
    ASSIGN_OR_RETURN(mb, relay_->ReadMailbox(p.interview_id, p.peer_id, 0));
  }
  bool gap =
      unknown_position ||
      (mb.last_seq > from && (mb.deliveries.empty() || mb.deliveries.front().seq() > from + 1));
  JoinedStream out;
  out.self = LocalParticipant{p.interview_id, p.peer_id, joined.epoch};
  v1::Joined* j = out.joined.mutable_joined();
  j->set_room_id(p.room_id);
  j->set_interview_id(p.interview_id);
  *j->mutable_self() = joined.self;
  for (auto& peer : joined.peers) *j->add_peers() = std::move(peer);
  *j->mutable_ice() = Ice(p.account_id);
  j->set_last_seq(mb.last_seq);
  j->set_grace_seconds(static_cast<int32_t>(absl::ToInt64Seconds(settings_.grace)));
  j->set_epoch(joined.epoch);
  j->set_gap(gap);
  out.backlog = std::move(mb.deliveries);
  out.cursor = mb.last_seq;
  Log(LogLevel::kInfo, "peer_connected",
      {{"interview_id", p.interview_id},
       {"peer_id", p.peer_id},
       {"role", v1::PeerRole_Name(p.role)},
       {"epoch", std::to_string(joined.epoch)},
       {"resumed", joined.rejoined ? "true" : "false"}});
  return out;
}

absl::StatusOr<Sender> MediaSignalingLogic::SenderOf(const Caller& caller,
                                                     const std::string& interview_id,
                                                     const std::string& peer_id, int64_t epoch) {
  if (interview_id.empty()) return InvalidField("interviewId", "interviewId is required");
  if (!ValidId(interview_id)) return InvalidField("interviewId", "interviewId is not an id");
  if (peer_id.empty()) return InvalidField("peerId", "peerId is required");
  if (!ValidId(peer_id)) return InvalidField("peerId", "peerId is not a peer id");
  if (epoch <= 0) return InvalidField("epoch", "epoch must be the one from joined");
  return Sender{interview_id, peer_id, epoch, caller.account_id, caller.session_id};
}

absl::Status MediaSignalingLogic::Relay(const Caller& caller, const v1::RelayRequest& req) {
  ASSIGN_OR_RETURN(Sender s, SenderOf(caller, req.interview_id(), req.peer_id(), req.epoch()));
  if (!req.has_signal()) return InvalidField("signal", "signal is required");
  ASSIGN_OR_RETURN(v1::Signal signal, CleanSignal(s.peer_id, req.signal()));
  return relay_->Relay(s, signal, IsPolite(s.peer_id, signal.to())).status();
}

absl::Status MediaSignalingLogic::Leave(const Caller& caller, const v1::LeaveRequest& req) {
  ASSIGN_OR_RETURN(Sender s, SenderOf(caller, req.interview_id(), req.peer_id(), req.epoch()));
  absl::StatusOr<SenderInfo> info = relay_->Verify(s);
  absl::Status st = relay_->Leave(s);
  if (st.ok() && info.ok() && info->role == v1::SECONDARY) {
    // The second camera leaving mid-interview is what the examiners must know of (R18): it
    // is recorded as a loss, like a phone that stopped answering.
    SecondDeviceLost(DeviceLoss{0, caller.account_id, info->room_id, s.interview_id, "LEFT"});
  }
  std::string why = ReasonOf(st);
  // Leaving a session that is over, or that dropped the participant already, is done.
  if (why == "NOT_JOINED" || why == "INTERVIEW_FINISHED" || why == "NO_INTERVIEW") {
    return absl::OkStatus();
  }
  if (st.ok()) {
    Log(LogLevel::kInfo, "peer_left", {{"interview_id", s.interview_id}, {"peer_id", s.peer_id}});
  }
  return st;
}

absl::Status MediaSignalingLogic::SetScreenShare(const Caller& caller, const CallContext& call,
                                                 const v1::SetScreenShareRequest& req) {
  ASSIGN_OR_RETURN(Sender s, SenderOf(caller, req.interview_id(), req.peer_id(), req.epoch()));
  ASSIGN_OR_RETURN(SenderInfo info, relay_->Verify(s));
  if (info.role != v1::CANDIDATE) {
    return Error(absl::StatusCode::kPermissionDenied, reason::kPermissionDenied,
                 "only the candidate's first device shares its screen");
  }
  ASSIGN_OR_RETURN(wr::MediaContext ctx,
                   waiting_room_->GetMediaContext(call, info.room_id, caller.account_id));
  if (!ctx.screen_share_allowed()) {
    return Error(absl::StatusCode::kPermissionDenied, "SCREEN_SHARE_NOT_ALLOWED",
                 "this exam does not allow screen sharing");
  }
  RETURN_IF_ERROR(waiting_room_->RecordProctorEvent(
      call, info.room_id, req.on() ? wr::SCREEN_SHARE_STARTED : wr::SCREEN_SHARE_STOPPED));
  return relay_->SetScreenSharing(s, req.on());
}

void MediaSignalingLogic::Disconnected(const LocalParticipant& self) {
  absl::Status st = relay_->Disconnect(self.interview_id, self.peer_id, self.epoch);
  if (!st.ok()) {
    // The lease lapses instead; the sweeper marks it disconnected then.
    Log(LogLevel::kWarn, "disconnect_failed",
        {{"interview_id", self.interview_id}, {"error", st.message()}});
  }
}

// ------------------------------------------------------------------------- periodic work

void MediaSignalingLogic::Sweep() {
  auto removed = relay_->Sweep();
  if (!removed.ok()) {
    Log(LogLevel::kWarn, "sweep_failed", {{"error", removed.status().message()}});
    ReportLosses();
    return;
  }
  for (const Removed& r : *removed) {
    Log(LogLevel::kInfo, "peer_timed_out",
        {{"interview_id", r.interview_id}, {"peer_id", r.peer_id}});
    if (r.role != v1::SECONDARY) continue;
    // This instance alone removed it: the loss is recorded once.
    SecondDeviceLost(DeviceLoss{0, r.account_id, r.room_id, r.interview_id, "TIMEOUT"});
  }
  ReportLosses();  // Also what earlier sweeps (of any instance) could not report.
}

void MediaSignalingLogic::SecondDeviceLost(DeviceLoss loss) {
  // PostgreSQL first: from here on the loss survives a waiting room that is down and a
  // restart of this process. (Only a crash between Redis's removal and this write loses it.)
  for (int attempt = 0;; ++attempt) {
    absl::Status st = pairings_->RecordLoss(loss);
    if (st.ok()) break;
    if (attempt + 1 == kLostAttempts) {
      Log(LogLevel::kError, "second_device_loss_not_recorded",
          {{"room_id", loss.room_id},
           {"interview_id", loss.interview_id},
           {"error", st.message()}});
      return;
    }
  }
  Log(LogLevel::kInfo, "second_device_lost",
      {{"room_id", loss.room_id}, {"interview_id", loss.interview_id}, {"reason", loss.reason}});
  ReportLosses();
}

void MediaSignalingLogic::ReportLosses() {
  std::lock_guard<std::mutex> lock(report_mu_);  // One reporter per process at a time.
  auto losses = pairings_->UnreportedLosses(100);
  if (!losses.ok()) {
    Log(LogLevel::kWarn, "device_losses_unreadable", {{"error", losses.status().message()}});
    return;
  }
  for (const DeviceLoss& loss : *losses) {
    // Idempotent at the waiting room (LOST twice records once), so two instances reporting
    // the same row at once, or a crash before MarkReported, do no harm.
    absl::Status st =
        waiting_room_->SetSecondDevice(Background(), loss.room_id, loss.account_id, "LOST");
    if (st.code() == absl::StatusCode::kNotFound ||
        st.code() == absl::StatusCode::kInvalidArgument) {
      // The room or assignment is gone: nothing will ever take it.
      Log(LogLevel::kError, "second_device_loss_dropped",
          {{"room_id", loss.room_id}, {"error", st.message()}});
    } else if (!st.ok()) {
      Log(LogLevel::kWarn, "second_device_loss_unreported",
          {{"room_id", loss.room_id}, {"error", st.message()}});
      return;  // The waiting room is unwell: the next sweep tries again.
    }
    if (auto marked = pairings_->MarkReported(loss.id); !marked.ok()) {
      Log(LogLevel::kWarn, "device_loss_mark_failed", {{"error", marked.message()}});
      return;
    }
  }
}

void MediaSignalingLogic::KeepAlive(const std::vector<LocalParticipant>& local) {
  if (local.empty()) return;
  absl::Status st = relay_->KeepAlive(local);
  if (!st.ok()) Log(LogLevel::kWarn, "lease_renewal_failed", {{"error", st.message()}});
}

void MediaSignalingLogic::CheckSessions(const std::vector<std::string>& interview_ids) {
  for (const auto& interview_id : interview_ids) {
    auto claimed = relay_->ClaimCheck(interview_id, settings_.session_check);
    if (!claimed.ok() || !*claimed) continue;
    auto ref = relay_->Session(interview_id);
    if (!ref.ok() || !ref->has_value()) continue;
    auto ctx =
        waiting_room_->GetMediaContext(Background(), (*ref)->room_id, (*ref)->candidate_account_id);
    std::string why;
    if (ctx.ok()) {
      why = EndReason(*ctx, interview_id);
    } else if (ctx.status().code() == absl::StatusCode::kNotFound) {
      why = "ENDED";
    } else {
      continue;  // The waiting room is unreachable: ask again next time.
    }
    if (why.empty()) continue;
    auto ended = relay_->EndSession(interview_id, why);
    if (!ended.ok()) {
      Log(LogLevel::kWarn, "session_end_failed",
          {{"interview_id", interview_id}, {"error", ended.status().message()}});
    } else if (*ended) {
      Log(LogLevel::kInfo, "session_ended", {{"interview_id", interview_id}, {"reason", why}});
    }
  }
}

}  // namespace admissions::media_signaling
