#include "media_signaling/media_signaling_service.h"

#include <deque>
#include <map>

#include "common/log.h"
#include "common/server.h"
#include "common/status.h"

namespace admissions::media_signaling {
namespace {

/// Deliveries held for one stream (queued to write, or waiting for a missing seq) before it
/// counts as a slow consumer and ends; the client resumes with after_seq.
constexpr size_t kMaxHeld = 1024;

grpc::Status Cancelled() { return grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled"); }

/// One Connect call. Admission and join run on the executor; live deliveries arrive from the
/// hub (the subscriber thread) from the moment the participant is registered here, before its
/// record names this instance, so nothing published after the join is missed; the mailbox
/// backlog and the live ones are merged by seq with no duplicate. `outstanding_` counts work
/// posted to the executor, each task dropping its hold as its very last step (Pump with
/// `release`): Finish happens once, with no write in flight and nothing outstanding, so no
/// posted work outlives the reactor. The hub calls streams under its lock, which OnDone takes
/// to unregister, so a hub call never outlives the reactor either. gRPC calls are made
/// outside mu_.
class ConnectReactor final : public grpc::ServerWriteReactor<v1::Delivery>,
                             public StreamHub::Stream {
 public:
  ConnectReactor(MediaSignalingLogic* logic, BoundedExecutor* executor, StreamHub* hub,
                 std::string instance)
      : logic_(logic), executor_(executor), hub_(hub), instance_(std::move(instance)) {}

  void Start(absl::StatusOr<Caller> caller, CallContext call, v1::ConnectRequest req) {
    if (!caller.ok()) {
      End(ToGrpcStatus(caller.status()));
      return;
    }
    caller_ = *std::move(caller);
    call_ = std::move(call);
    req_ = std::move(req);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++outstanding_;
    }
    if (!executor_->TryPost([this] { Open(); })) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        EndLocked(ToGrpcStatus(Error(absl::StatusCode::kUnavailable, reason::kUnavailable,
                                     "server is busy, try again")));
      }
      Pump(/*release=*/true);
    }
  }

  void OnRouted(const Routed& r) override {
    bool fetch = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (end_) return;
      if (r.kind == Routed::Kind::kDelivery) {
        if (joined_ && r.delivery.seq() <= cursor_) return;
        pending_[r.delivery.seq()] = r.delivery;
        if (pending_.size() > kMaxHeld) SlowLocked();
        if (joined_) fetch = DrainLocked();
      } else if (!joined_) {
        early_controls_.push_back(r);  // Possibly about the epoch this join is getting.
      } else {
        ControlLocked(r);
      }
    }
    if (fetch) PostFetch();
    Pump();
  }

  void Resync() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!joined_ || end_ || fetching_) return;
      fetching_ = true;
    }
    PostFetch();
  }

  void Shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.clear();
      EndLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is shutting down; reconnect"));
    }
    Pump();
  }

  std::optional<LocalParticipant> Live() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!joined_ || end_) return std::nullopt;
    return self_;
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (!ok) {
        queue_.clear();
        EndLocked(Cancelled());
      }
    }
    Pump();
  }

  void OnCancel() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.clear();
      pending_.clear();
      EndLocked(Cancelled());
    }
    Pump();
  }

  void OnDone() override {
    if (registered_) hub_->Remove(self_.interview_id, self_.peer_id, this);
    bool disconnect;
    {
      std::lock_guard<std::mutex> lock(mu_);
      disconnect = joined_ && !replaced_ && !left_ && !ended_;
    }
    if (disconnect) {
      // The participant stays for the grace period, disconnected. If the executor is full
      // the lease lapses instead and the sweeper does the same.
      MediaSignalingLogic* logic = logic_;
      LocalParticipant self = self_;
      (void)executor_->TryPost([logic, self] { logic->Disconnected(self); });
    }
    delete this;
  }

 private:
  void Open() {
    ScopedRequestId id(call_.request_id);
    absl::StatusOr<JoinedStream> joined = Admit();
    bool fetch = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!joined.ok()) {
        EndLocked(ToGrpcStatus(joined.status()));
      } else {
        self_ = joined->self;
        joined_ = true;  // Also when cancelled meanwhile: OnDone marks it disconnected.
        cursor_ = joined->cursor;
        if (!end_) {
          queue_.push_back(std::move(joined->joined));
          for (auto& d : joined->backlog) Enqueue(std::move(d));
          for (const Routed& r : early_controls_) ControlLocked(r);
          early_controls_.clear();
          fetch = DrainLocked();
        }
      }
    }
    if (fetch) PostFetch();
    Pump(/*release=*/true);  // Open's hold goes last: nothing touches `this` after it.
  }

  absl::StatusOr<JoinedStream> Admit() {
    ASSIGN_OR_RETURN(Admission admission, logic_->Admit(caller_, call_, req_));
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (end_) return absl::CancelledError("stream cancelled");
    }
    // Registered before the join names this instance: nothing routed here is missed.
    self_.interview_id = admission.participant.interview_id;
    self_.peer_id = admission.participant.peer_id;
    hub_->Add(self_.interview_id, self_.peer_id, this);
    registered_ = true;
    return logic_->Join(admission, instance_);
  }

  // Replaced or left: only the control for this connection's epoch counts.
  void ControlLocked(const Routed& r) {
    if (r.epoch != self_.epoch || end_) return;
    pending_.clear();
    if (r.kind == Routed::Kind::kReplaced) {
      replaced_ = true;
      v1::Delivery d;
      d.mutable_replaced();
      queue_.push_back(std::move(d));
    } else {
      left_ = true;
    }
    EndLocked(grpc::Status::OK);
  }

  void Enqueue(v1::Delivery d) {
    if (end_) return;
    bool last = d.has_session_ended();
    queue_.push_back(std::move(d));
    if (last) {
      ended_ = true;
      pending_.clear();
      EndLocked(grpc::Status::OK);
    } else if (queue_.size() > kMaxHeld) {
      SlowLocked();
    }
  }

  void SlowLocked() {
    queue_.clear();
    pending_.clear();
    EndLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "slow consumer: resume with afterSeq"));
  }

  // Moves the pending deliveries that follow the cursor into the queue. True when one is
  // missing (a fetch of the mailbox is due and now marked in progress).
  bool DrainLocked() {
    while (!pending_.empty() && !end_) {
      auto it = pending_.begin();
      if (it->first <= cursor_) {
        pending_.erase(it);
        continue;
      }
      if (it->first != cursor_ + 1) break;
      cursor_ = it->first;
      v1::Delivery d = std::move(it->second);
      pending_.erase(it);
      Enqueue(std::move(d));
    }
    if (pending_.empty() || end_ || fetching_) return false;
    fetching_ = true;
    return true;
  }

  // Called with a hold on the reactor (an executor task's, or the hub's lock).
  void PostFetch() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++outstanding_;
    }
    if (!executor_->TryPost([this] { Fetch(); })) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        fetching_ = false;
        SlowLocked();
      }
      Pump(/*release=*/true);
    }
  }

  void Fetch() {
    int64_t from;
    {
      std::lock_guard<std::mutex> lock(mu_);
      from = cursor_;
    }
    ScopedRequestId id(call_.request_id);
    auto mb = logic_->ReadMailbox(self_, from);
    bool fetch = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      fetching_ = false;
      if (!mb.ok()) {
        EndLocked(ToGrpcStatus(mb.status()));
      } else if (!end_) {
        for (auto& d : mb->deliveries) {
          if (d.seq() > cursor_) pending_.emplace(d.seq(), std::move(d));
        }
        if (!pending_.empty() && pending_.begin()->first > cursor_ + 1) {
          // Trimmed from the mailbox before it could be read: skip what is gone.
          Log(LogLevel::kWarn, "mailbox_gap",
              {{"interview_id", self_.interview_id}, {"peer_id", self_.peer_id}});
          cursor_ = pending_.begin()->first - 1;
        }
        fetch = DrainLocked();
      }
    }
    if (fetch) PostFetch();
    Pump(/*release=*/true);  // Fetch's hold goes last: nothing touches `this` after it.
  }

  void EndLocked(grpc::Status st) {
    if (!end_) end_ = std::move(st);
  }
  void End(grpc::Status st) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      EndLocked(std::move(st));
    }
    Pump();
  }

  // Starts the next write, or finishes once ended with nothing written or outstanding.
  // `release` drops the caller's outstanding hold in the same locked step, so that no other
  // thread can finish (and OnDone delete) the reactor between the drop and this decision;
  // after it the caller must not touch `this` again.
  void Pump(bool release = false) {
    const v1::Delivery* next = nullptr;
    std::optional<grpc::Status> finish;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (release) --outstanding_;
      if (finished_ || writing_) return;
      if (!queue_.empty()) {
        in_flight_ = std::move(queue_.front());
        queue_.pop_front();
        writing_ = true;
        next = &in_flight_;
      } else if (end_ && outstanding_ == 0) {
        finished_ = true;
        finish = *end_;
      }
    }
    if (next != nullptr) {
      StartWrite(next);
    } else if (finish) {
      Finish(*finish);
    }
  }

  MediaSignalingLogic* logic_;
  BoundedExecutor* executor_;
  StreamHub* hub_;
  const std::string instance_;
  // Set before the first post, then read only by Open/Fetch (never two at once).
  Caller caller_;
  CallContext call_;
  v1::ConnectRequest req_;
  // Written by Open before `joined_` is published under mu_; read-only afterwards.
  LocalParticipant self_;
  bool registered_ = false;

  std::mutex mu_;
  bool joined_ ABSL_GUARDED_BY(mu_) = false;
  bool replaced_ ABSL_GUARDED_BY(mu_) = false;
  bool left_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  int64_t cursor_ ABSL_GUARDED_BY(mu_) = 0;  // The last seq queued.
  std::map<int64_t, v1::Delivery> pending_ ABSL_GUARDED_BY(mu_);
  std::vector<Routed> early_controls_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::Delivery> queue_ ABSL_GUARDED_BY(mu_);
  v1::Delivery in_flight_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool fetching_ ABSL_GUARDED_BY(mu_) = false;
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<grpc::Status> end_ ABSL_GUARDED_BY(mu_);  // Finish with it once drained.
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

// ------------------------------------------------------------------------- StreamHub

void StreamHub::Add(const std::string& interview_id, const std::string& peer_id, Stream* s) {
  std::lock_guard<std::mutex> lock(mu_);
  streams_[Key(interview_id, peer_id)].insert(s);
}

void StreamHub::Remove(const std::string& interview_id, const std::string& peer_id, Stream* s) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find(Key(interview_id, peer_id));
  if (it == streams_.end()) return;
  it->second.erase(s);
  if (it->second.empty()) streams_.erase(it);
}

void StreamHub::Dispatch(const std::string& payload) {
  std::optional<Routed> routed = ParseRouted(payload);
  if (!routed) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find(Key(routed->interview_id, routed->peer_id));
  if (it == streams_.end()) return;
  for (Stream* s : it->second) s->OnRouted(*routed);
}

void StreamHub::ResyncAll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [key, streams] : streams_) {
    for (Stream* s : streams) s->Resync();
  }
}

void StreamHub::ShutdownAll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [key, streams] : streams_) {
    for (Stream* s : streams) s->Shutdown();
  }
}

std::vector<LocalParticipant> StreamHub::Local() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<LocalParticipant> out;
  for (const auto& [key, streams] : streams_) {
    for (Stream* s : streams) {
      if (auto p = s->Live()) out.push_back(*std::move(p));
    }
  }
  return out;
}

size_t StreamHub::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [key, streams] : streams_) n += streams.size();
  return n;
}

// ------------------------------------------------------------------------- the service

grpc::ServerUnaryReactor* MediaSignalingService::GetIceServers(grpc::CallbackServerContext* ctx,
                                                               const v1::GetIceServersRequest* req,
                                                               v1::IceServers* resp) {
  return RunAuthenticated(ctx, *auth_, executor_,
                          [this, resp](const Caller& caller, const CallContext&) {
                            return Into(logic_->GetIceServers(caller), resp);
                          });
}

grpc::ServerUnaryReactor* MediaSignalingService::CreatePairingCode(
    grpc::CallbackServerContext* ctx, const v1::CreatePairingCodeRequest* req,
    v1::PairingCode* resp) {
  return RunAuthenticated(ctx, *auth_, executor_,
                          [this, req, resp](const Caller& caller, const CallContext& call) {
                            return Into(logic_->CreatePairingCode(caller, call, *req), resp);
                          });
}

grpc::ServerUnaryReactor* MediaSignalingService::PairDevice(grpc::CallbackServerContext* ctx,
                                                            const v1::PairDeviceRequest* req,
                                                            v1::PairDeviceResponse* resp) {
  return RunAuthenticated(ctx, *auth_, executor_,
                          [this, req, resp](const Caller& caller, const CallContext& call) {
                            return Into(logic_->PairDevice(caller, call, *req), resp);
                          });
}

grpc::ServerUnaryReactor* MediaSignalingService::Relay(grpc::CallbackServerContext* ctx,
                                                       const v1::RelayRequest* req,
                                                       v1::RelayResponse* resp) {
  return RunAuthenticated(ctx, *auth_, executor_,
                          [this, req](const Caller& caller, const CallContext&) {
                            return logic_->Relay(caller, *req);
                          });
}

grpc::ServerUnaryReactor* MediaSignalingService::Leave(grpc::CallbackServerContext* ctx,
                                                       const v1::LeaveRequest* req,
                                                       v1::LeaveResponse* resp) {
  return RunAuthenticated(ctx, *auth_, executor_,
                          [this, req](const Caller& caller, const CallContext&) {
                            return logic_->Leave(caller, *req);
                          });
}

grpc::ServerUnaryReactor* MediaSignalingService::SetScreenShare(
    grpc::CallbackServerContext* ctx, const v1::SetScreenShareRequest* req,
    v1::SetScreenShareResponse* resp) {
  return RunAuthenticated(ctx, *auth_, executor_,
                          [this, req](const Caller& caller, const CallContext& call) {
                            return logic_->SetScreenShare(caller, call, *req);
                          });
}

grpc::ServerWriteReactor<v1::Delivery>* MediaSignalingService::Connect(
    grpc::CallbackServerContext* ctx, const v1::ConnectRequest* req) {
  auto* reactor = new ConnectReactor(logic_, executor_, hub_, instance_);
  reactor->Start(auth_->Authenticate(*ctx), CallContextOf(*ctx), *req);
  return reactor;
}

}  // namespace admissions::media_signaling
