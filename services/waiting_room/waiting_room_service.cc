#include "waiting_room/waiting_room_service.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/server.h"
#include "common/status.h"

namespace admissions::waiting_room {
namespace {

constexpr int kMaxWaitSeconds = 30;
constexpr int kStreamPage = 500;

absl::Status Busy() {
  return Error(absl::StatusCode::kUnavailable, reason::kUnavailable, "server is busy, try again");
}

/// One Subscribe call: the backlog from PostgreSQL after `after`, then whatever each wake-up
/// finds, one page in memory and one write in flight at a time. `busy_` covers a fetch on
/// the executor and the writes of its page; Finish happens once, only when nothing of
/// either is outstanding, so that no posted work outlives the reactor. gRPC calls (StartWrite,
/// Finish) are made outside the lock: OnDone may free the reactor as soon as Finish is called.
class SubscribeReactor final : public grpc::ServerWriteReactor<v1::Event>,
                               public RoomFeeds::Subscriber {
 public:
  SubscribeReactor(WaitingRoomLogic* logic, BoundedExecutor* executor, RoomFeeds* feeds,
                   std::string room_id, int64_t after)
      : logic_(logic),
        executor_(executor),
        feeds_(feeds),
        room_id_(std::move(room_id)),
        last_(after) {}

  void Start() {
    if (last_ < 0) {
      Done(ToGrpcStatus(InvalidField("after", "after must not be negative")));
      return;
    }
    // Registered before the first read: a wake-up during it marks the stream dirty.
    registered_ = true;
    feeds_->Add(room_id_, this);
    Kick();
  }

  void Kick() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return;
      if (busy_) {
        dirty_ = true;
        return;
      }
      busy_ = true;
      dirty_ = false;
    }
    Post();
  }

  void OnWriteDone(bool ok) override {
    const v1::Event* next = nullptr;
    bool fetch = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (ok && !cancelled_) {
        last_ = page_[next_].id();
        if (++next_ < page_.size()) {
          next = &page_[next_];
        } else {
          page_.clear();
          dirty_ = false;
          fetch = true;
        }
      }
    }
    if (next != nullptr) {
      StartWrite(next);
    } else if (fetch) {
      Post();
    } else {
      Done(grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled"));
    }
  }

  void OnCancel() override {
    bool finish = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
      if (!busy_ && !finished_) finish = finished_ = true;
    }
    if (finish) Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled"));
  }

  void OnDone() override {
    if (registered_) feeds_->Remove(room_id_, this);
    delete this;
  }

 private:
  void Post() {
    if (!executor_->TryPost([this] { Fetch(); })) Done(ToGrpcStatus(Busy()));
  }

  // Ends the call from inside an operation (busy_): nothing else is outstanding.
  void Done(const grpc::Status& st) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(st);
  }

  void Fetch() {
    absl::Status checked = absl::OkStatus();
    if (!room_checked_) {
      checked = logic_->CheckRoom(room_id_);
      room_checked_ = true;
    }
    int64_t from;
    {
      std::lock_guard<std::mutex> lock(mu_);
      from = last_;
    }
    absl::StatusOr<std::vector<v1::Event>> events =
        checked.ok() ? logic_->Backlog(room_id_, from, kStreamPage)
                     : absl::StatusOr<std::vector<v1::Event>>(checked);
    const v1::Event* first = nullptr;
    bool again = false;
    std::optional<grpc::Status> end;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (cancelled_) {
        end = grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled");
      } else if (!events.ok()) {
        end = ToGrpcStatus(events.status());
      } else if (events->empty()) {
        if (dirty_) {
          dirty_ = false;
          again = true;
        } else {
          busy_ = false;
        }
      } else {
        page_ = *std::move(events);
        next_ = 0;
        first = &page_[0];
      }
    }
    if (end) {
      Done(*end);
    } else if (again) {
      Post();
    } else if (first != nullptr) {
      StartWrite(first);
    }
  }

  WaitingRoomLogic* logic_;
  BoundedExecutor* executor_;
  RoomFeeds* feeds_;
  const std::string room_id_;
  bool registered_ = false;
  bool room_checked_ = false;  // Only touched by Fetch, which never runs twice at once.
  std::mutex mu_;
  int64_t last_;  // The last id written (or `after`).
  bool busy_ = false;
  bool dirty_ = false;
  bool cancelled_ = false;
  bool finished_ = false;
  std::vector<v1::Event> page_;
  size_t next_ = 0;
};

}  // namespace

// ------------------------------------------------------------------------- RoomFeeds

void RoomFeeds::Add(const std::string& room_id, Subscriber* s) {
  std::lock_guard<std::mutex> lock(mu_);
  rooms_[room_id].insert(s);
}

void RoomFeeds::Remove(const std::string& room_id, Subscriber* s) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = rooms_.find(room_id);
  if (it == rooms_.end()) return;
  it->second.erase(s);
  if (it->second.empty()) rooms_.erase(it);
}

void RoomFeeds::Notify(const std::string& room_id) {
  // Kick only posts work; holding the lock keeps every subscriber alive while it runs.
  std::lock_guard<std::mutex> lock(mu_);
  auto it = rooms_.find(room_id);
  if (it == rooms_.end()) return;
  for (Subscriber* s : it->second) s->Kick();
}

void RoomFeeds::NotifyAll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [room, subs] : rooms_) {
    for (Subscriber* s : subs) s->Kick();
  }
}

size_t RoomFeeds::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [room, subs] : rooms_) n += subs.size();
  return n;
}

// ------------------------------------------------------------------------- the service

template <typename Fn>
grpc::ServerUnaryReactor* WaitingRoomService::Authed(grpc::CallbackServerContext* ctx, Fn&& fn) {
  return RunAuthenticated(ctx, *auth_, executor_, std::forward<Fn>(fn));
}

#define WR_UNARY(Method, Req, Resp, expr)                                                    \
  grpc::ServerUnaryReactor* WaitingRoomService::Method(grpc::CallbackServerContext* ctx,     \
                                                       const v1::Req* req, v1::Resp* resp) { \
    return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext& call) {    \
      (void)call;                                                                            \
      return expr;                                                                           \
    });                                                                                      \
  }

WR_UNARY(CreateRoom, CreateRoomRequest, CreateRoomResponse,
         Into(logic_->CreateRoom(caller, call, *req), resp))
WR_UNARY(AddAssignment, AddAssignmentRequest, Assignment,
         Into(logic_->AddAssignment(caller, call, *req), resp))
WR_UNARY(DrawSequences, DrawSequencesRequest, DrawSequencesResponse,
         Into(logic_->DrawSequences(caller, *req), resp))
WR_UNARY(ListAssignments, ListAssignmentsRequest, ListAssignmentsResponse,
         Into(logic_->ListAssignments(caller, *req), resp))
WR_UNARY(ExportAudit, ExportAuditRequest, ExportAuditResponse,
         Into(logic_->ExportAudit(caller, *req), resp))
WR_UNARY(ListExamRooms, ListExamRoomsRequest, ListExamRoomsResponse,
         Into(logic_->ListExamRooms(caller, call, *req), resp))
WR_UNARY(EnterRoom, EnterRoomRequest, Lobby, Into(logic_->EnterRoom(caller, call, *req), resp))
WR_UNARY(GetLobby, GetLobbyRequest, Lobby, Into(logic_->GetLobby(caller, call, *req), resp))
WR_UNARY(AcceptInvitation, AcceptInvitationRequest, AcceptInvitationResponse,
         Into(logic_->AcceptInvitation(caller, call, *req), resp))
WR_UNARY(ListQuestions, ListQuestionsRequest, ListQuestionsResponse,
         Into(logic_->ListQuestions(caller, call, *req), resp))
WR_UNARY(RecordProctorEvent, RecordProctorEventRequest, RecordProctorEventResponse,
         logic_->RecordProctorEvent(caller, call, *req))
WR_UNARY(LeaveRoom, LeaveRoomRequest, LeaveRoomResponse, logic_->LeaveRoom(caller, call, *req))
WR_UNARY(ListExaminerRooms, ListExaminerRoomsRequest, ListExaminerRoomsResponse,
         Into(logic_->ListExaminerRooms(caller), resp))
WR_UNARY(ListRoomCandidates, ListRoomCandidatesRequest, ListRoomCandidatesResponse,
         Into(logic_->ListRoomCandidates(caller, call, *req), resp))
WR_UNARY(SendMessage, SendMessageRequest, SendMessageResponse,
         Into(logic_->SendMessage(caller, *req), resp))
WR_UNARY(SendQuestion, SendQuestionRequest, SendQuestionResponse,
         Into(logic_->SendQuestion(caller, call, *req), resp))
WR_UNARY(ListProctorEvents, ListProctorEventsRequest, ListProctorEventsResponse,
         Into(logic_->ListProctorEvents(caller, *req), resp))
WR_UNARY(TouchPresence, TouchPresenceRequest, TouchPresenceResponse,
         logic_->TouchPresence(caller, call, *req))
#undef WR_UNARY

// Internal, for media signaling (no caller: network policy, like enrollment's internal RPCs).
grpc::ServerUnaryReactor* WaitingRoomService::GetMediaContext(grpc::CallbackServerContext* ctx,
                                                              const v1::GetMediaContextRequest* req,
                                                              v1::MediaContext* resp) {
  CallContext call = CallContextOf(*ctx);
  // A forwarded token is optional here (an internal call); a valid one lets the candidate's
  // assignment be bound.
  std::optional<Caller> caller;
  if (!call.authorization.empty()) {
    auto who = auth_->Authenticate(*ctx);
    if (who.ok()) caller = *std::move(who);
  }
  return RunBlocking(ctx, executor_, [this, call, req, resp, caller] {
    return Into(logic_->GetMediaContext(call, *req, caller ? &*caller : nullptr), resp);
  });
}

grpc::ServerUnaryReactor* WaitingRoomService::SetSecondDevice(grpc::CallbackServerContext* ctx,
                                                              const v1::SetSecondDeviceRequest* req,
                                                              v1::SetSecondDeviceResponse*) {
  return RunBlocking(ctx, executor_, [this, req] { return logic_->SetSecondDevice(*req); });
}

grpc::ServerUnaryReactor* WaitingRoomService::Action(grpc::CallbackServerContext* ctx,
                                                     const v1::CandidateActionRequest* req,
                                                     v1::CandidateActionResponse* resp,
                                                     waiting_room::Action action) {
  return Authed(ctx, [this, req, resp, action](const Caller& caller, const CallContext&) {
    return Into(logic_->Act(caller, *req, action), resp);
  });
}

grpc::ServerUnaryReactor* WaitingRoomService::Invite(grpc::CallbackServerContext* ctx,
                                                     const v1::CandidateActionRequest* req,
                                                     v1::CandidateActionResponse* resp) {
  return Action(ctx, req, resp, waiting_room::Action::kInvite);
}
grpc::ServerUnaryReactor* WaitingRoomService::Defer(grpc::CallbackServerContext* ctx,
                                                    const v1::CandidateActionRequest* req,
                                                    v1::CandidateActionResponse* resp) {
  return Action(ctx, req, resp, waiting_room::Action::kDefer);
}
grpc::ServerUnaryReactor* WaitingRoomService::End(grpc::CallbackServerContext* ctx,
                                                  const v1::CandidateActionRequest* req,
                                                  v1::CandidateActionResponse* resp) {
  return Action(ctx, req, resp, waiting_room::Action::kEnd);
}
grpc::ServerUnaryReactor* WaitingRoomService::MarkAbsent(grpc::CallbackServerContext* ctx,
                                                         const v1::CandidateActionRequest* req,
                                                         v1::CandidateActionResponse* resp) {
  return Action(ctx, req, resp, waiting_room::Action::kAbsent);
}

grpc::ServerUnaryReactor* WaitingRoomService::AuthorizeSubscription(
    grpc::CallbackServerContext* ctx, const v1::AuthorizeSubscriptionRequest* req,
    v1::Subscription* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext& call) {
    ASSIGN_OR_RETURN(Reader reader, logic_->AuthorizeReader(caller, call, req->room_id(), false));
    resp->set_account_id(reader.account_id);
    resp->set_examiner(reader.examiner);
    return absl::OkStatus();
  });
}

// A long poll: the first read runs on the executor; when it finds nothing the call waits
// on the hub (no thread held) until the room has a new event or the wait is over.
struct WaitingRoomService::Poll {
  grpc::ServerUnaryReactor* reactor = nullptr;
  v1::ListEventsResponse* resp = nullptr;
  Reader reader;
  std::atomic<int64_t> after{0};
  int limit = 0;
  absl::Time deadline;
  std::string request_id;
  std::mutex mu;
  bool finished = false;            // Guarded by mu: the response is written once, before Finish.
  std::function<void()> on_answer;  // Set once the reader is known.

  void Finish(const absl::Status& st) { Answer(st); }
  void Answer(absl::StatusOr<v1::ListEventsResponse> r) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (finished) return;
      finished = true;
      if (r.ok()) *resp = *std::move(r);
    }
    if (on_answer) on_answer();
    reactor->Finish(ToGrpcStatus(r.status()));
  }
};

void WaitingRoomService::Drain() {
  draining_ = true;
  std::vector<std::string> rooms;
  {
    std::lock_guard<std::mutex> lock(polls_mu_);
    for (const auto& [room, n] : polling_rooms_) rooms.push_back(room);
  }
  for (const auto& room : rooms) hub_->Notify(HubKey(room));
}

grpc::ServerUnaryReactor* WaitingRoomService::ListEvents(grpc::CallbackServerContext* ctx,
                                                         const v1::ListEventsRequest* req,
                                                         v1::ListEventsResponse* resp) {
  if (req->wait_seconds() < 0) {
    return Refuse(ctx, InvalidField("waitSeconds", "waitSeconds must be 0 to 30"));
  }
  if (req->after() < 0) return Refuse(ctx, InvalidField("after", "after must not be negative"));
  if (req->limit() < 0) return Refuse(ctx, InvalidField("limit", "limit must not be negative"));
  auto caller = auth_->Authenticate(*ctx);
  if (!caller.ok()) return Refuse(ctx, caller.status());
  auto poll = std::make_shared<Poll>();
  poll->reactor = ctx->DefaultReactor();
  poll->resp = resp;
  poll->after.store(req->after());
  poll->limit = req->limit();
  poll->deadline = absl::Now() + absl::Seconds(std::min(req->wait_seconds(), kMaxWaitSeconds));
  poll->request_id = RequestIdOf(*ctx);
  bool posted =
      executor_->TryPost([this, poll, caller = *std::move(caller), call = CallContextOf(*ctx),
                          room_id = absl::AsciiStrToLower(req->room_id())] {
        ScopedRequestId id(poll->request_id);
        auto reader = logic_->AuthorizeReader(caller, call, room_id, true);
        if (!reader.ok()) {
          poll->Finish(reader.status());
          return;
        }
        poll->reader = *std::move(reader);
        {
          std::lock_guard<std::mutex> lock(polls_mu_);
          ++polling_rooms_[poll->reader.room_id];
        }
        poll->on_answer = [this, room = poll->reader.room_id] {
          std::lock_guard<std::mutex> lock(polls_mu_);
          if (--polling_rooms_[room] <= 0) polling_rooms_.erase(room);
        };
        Attempt(poll);
      });
  if (!posted) poll->Finish(Busy());
  return poll->reactor;
}

void WaitingRoomService::Attempt(std::shared_ptr<Poll> poll) {
  auto finish_with = [&](absl::StatusOr<v1::ListEventsResponse> r) { poll->Answer(std::move(r)); };
  if (absl::Now() >= poll->deadline || draining_) {
    finish_with(logic_->ReadEvents(poll->reader, poll->after, poll->limit));
    return;
  }
  // Waiting first, then reading: an event committed in between wakes the waiter.
  uint64_t ticket = hub_->Wait(HubKey(poll->reader.room_id), poll->deadline, [this, poll](bool) {
    if (!executor_->TryPost([this, poll] {
          ScopedRequestId id(poll->request_id);
          Attempt(poll);
        })) {
      poll->Finish(Busy());
    }
  });
  auto r = logic_->ReadEvents(poll->reader, poll->after, poll->limit);
  if (r.ok() && r->events_size() == 0) {
    poll->after = r->last_event_id();  // Skips what this reader may not see.
    return;                            // The waiter runs Attempt again.
  }
  // Done: unless the waiter already fired (its Attempt reads again and answers).
  if (hub_->Cancel(ticket)) finish_with(std::move(r));
}

grpc::ServerWriteReactor<v1::Event>* WaitingRoomService::Subscribe(
    grpc::CallbackServerContext* ctx, const v1::SubscribeRequest* req) {
  auto* reactor = new SubscribeReactor(logic_, executor_, feeds_,
                                       absl::AsciiStrToLower(req->room_id()), req->after());
  reactor->Start();
  return reactor;
}

grpc::ServerUnaryReactor* WaitingRoomStepService::GetCandidateStep(
    grpc::CallbackServerContext* ctx, const enrollment::v1::GetCandidateStepRequest* req,
    enrollment::v1::CandidateStep* resp) {
  return RunBlocking(ctx, executor_,
                     [this, req, resp] { return Into(logic_->GetCandidateStep(*req), resp); });
}

}  // namespace admissions::waiting_room
