#include "gateway/live_hub.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "boost/asio/post.hpp"
#include "common/log.h"
#include "gateway/live_protocol.h"

namespace admissions::gateway {
namespace {

namespace net = boost::asio;
using Event = UpstreamStream::Event;

constexpr char kSubscribeMethod[] = "/admissions.waiting_room.v1.WaitingRoom/Subscribe";

}  // namespace

LiveHub::LiveHub(Upstreams* upstreams, Metrics* metrics, net::any_io_executor executor,
                 LiveHubOptions options)
    : upstreams_(upstreams), metrics_(metrics), executor_(std::move(executor)), options_(options) {
  options_.ring_events = std::max<size_t>(options_.ring_events, 1);
}

LiveHub::~LiveHub() { Stop(); }

LiveHub::Joined LiveHub::Join(const std::string& room_id, int64_t after, LiveSubscriber* key,
                              std::weak_ptr<LiveSubscriber> subscriber) {
  Joined joined;
  std::shared_ptr<UpstreamStream> start;
  {
    absl::MutexLock lock(&mu_);
    auto& slot = rooms_[room_id];
    if (slot == nullptr) {
      slot = std::make_unique<Room>();
      slot->id = room_id;
      if (!stopped_) start = NewStream(slot.get());
    }
    Room& room = *slot;
    room.subscribers[key] = std::move(subscriber);
    joined.last_id = room.last_id;
    if (!room.ring.empty() && after + 1 >= room.ring.front()->id) {
      joined.covered = true;
      for (const auto& frame : room.ring) {
        if (frame->id > after) joined.backlog.push_back(frame);
      }
    } else {
      joined.covered = after >= room.last_id;
    }
  }
  if (start) StartStream(room_id, std::move(start), /*after=*/0);
  return joined;
}

void LiveHub::Leave(const std::string& room_id, LiveSubscriber* key) {
  bool last = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = rooms_.find(room_id);
    if (it == rooms_.end()) return;
    last = it->second->subscribers.erase(key) > 0 && it->second->subscribers.empty();
  }
  if (last) ArmTimer(room_id, options_.linger);
}

void LiveHub::Stop() {
  std::vector<std::shared_ptr<UpstreamStream>> streams;
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    for (auto& [id, room] : rooms_) {
      if (room->stream) streams.push_back(std::move(room->stream));
    }
    rooms_.clear();
  }
  for (auto& stream : streams) {
    stream->Cancel();
    stream->Release();
    metrics_->LiveUpstreamStreams(-1);
  }
}

size_t LiveHub::rooms() const {
  absl::MutexLock lock(&mu_);
  return rooms_.size();
}

std::shared_ptr<UpstreamStream> LiveHub::NewStream(Room* room) {
  uint64_t stream_id = ++next_stream_id_;
  room->stream_id = stream_id;
  room->stream = std::make_shared<UpstreamStream>(
      [this, room_id = room->id, stream_id](const UpstreamStream* stream, Event event, bool ok) {
        OnStreamEvent(room_id, stream_id, stream, event, ok);
      });
  return room->stream;
}

std::shared_ptr<UpstreamStream> LiveHub::CurrentStream(const std::string& room_id,
                                                       uint64_t stream_id) {
  absl::MutexLock lock(&mu_);
  auto it = rooms_.find(room_id);
  if (it == rooms_.end() || it->second->stream_id != stream_id) return nullptr;
  return it->second->stream;
}

void LiveHub::StartStream(const std::string& room_id, std::shared_ptr<UpstreamStream> stream,
                          int64_t after) {
  waiting_room::v1::SubscribeRequest request;
  request.set_room_id(room_id);
  request.set_after(after);
  // No deadline: the stream lives as long as the room has subscribers. The service knows the
  // gateway by the absence of a user token.
  stream->context().AddMetadata("x-request-id", absl::StrCat("live-", room_id));
  metrics_->LiveUpstreamStreams(1);
  if (!upstreams_->StartStream(options_.upstream, kSubscribeMethod, stream)) {
    // Shutting down: no event will come.
    metrics_->LiveUpstreamStreams(-1);
    absl::MutexLock lock(&mu_);
    auto it = rooms_.find(room_id);
    if (it != rooms_.end() && it->second->stream == stream) it->second->stream.reset();
    return;
  }
  stream->Write(StringToByteBuffer(request.SerializeAsString()), /*last=*/true);
  stream->Read();
}

void LiveHub::OnStreamEvent(const std::string& room_id, uint64_t stream_id,
                            const UpstreamStream* stream, Event event, bool ok) {
  switch (event) {
    case Event::kInitialMetadata:
    case Event::kWriteDone:
      return;
    case Event::kReadDone:
      if (ok) {
        OnMessage(room_id, stream_id);
        return;
      }
      // The service sent its last message: let the call end (OnStreamDone restarts it).
      if (auto current = CurrentStream(room_id, stream_id)) current->Release();
      return;
    case Event::kDone: {
      grpc::Status status = stream->status();
      net::post(executor_,
                [this, room_id, stream_id, status] { OnStreamDone(room_id, stream_id, status); });
      return;
    }
  }
}

void LiveHub::OnMessage(const std::string& room_id, uint64_t stream_id) {
  std::shared_ptr<UpstreamStream> current = CurrentStream(room_id, stream_id);
  // A stream the hub has let go of (stopped, replaced) was cancelled and released already.
  if (!current) return;
  waiting_room::v1::Event event;
  std::shared_ptr<LiveFrame> frame;
  if (event.ParseFromString(ByteBufferToString(current->TakeResponse()))) {
    auto text = LiveEventFrame(room_id, event);
    if (text.ok()) {
      frame = std::make_shared<LiveFrame>();
      frame->room_id = room_id;
      frame->id = event.id();
      frame->audience = event.audience();
      frame->to_account_id = event.to_account_id();
      frame->text = *std::move(text);
    }
  }
  if (frame == nullptr) {
    // Restarting from the last good id is all the hub can do with a message it cannot read.
    Log(LogLevel::kError, "live_bad_event", {{"room_id", room_id}});
    current->Cancel();
    current->Release();
    return;
  }
  std::vector<std::weak_ptr<LiveSubscriber>> subscribers;
  {
    absl::MutexLock lock(&mu_);
    auto it = rooms_.find(room_id);
    if (it == rooms_.end() || it->second->stream_id != stream_id) return;
    Room& room = *it->second;
    room.backoff = std::chrono::milliseconds(0);
    // Anything at or below the last id was seen before a restart (the service's replay of
    // an id the hub asked past is a bug, but not one to pass on).
    if (frame->id > room.last_id) {
      room.last_id = frame->id;
      room.ring.push_back(frame);
      while (room.ring.size() > options_.ring_events) room.ring.pop_front();
      subscribers.reserve(room.subscribers.size());
      for (const auto& [key, weak] : room.subscribers) subscribers.push_back(weak);
    }
  }
  // Fanned out after the lock is released (Beast's chat-multi pattern).
  for (const auto& weak : subscribers) {
    if (auto subscriber = weak.lock()) subscriber->OnLiveFrame(frame);
  }
  current->Read();
}

void LiveHub::OnStreamDone(const std::string& room_id, uint64_t stream_id, grpc::Status status) {
  std::chrono::milliseconds delay{0};
  {
    absl::MutexLock lock(&mu_);
    auto it = rooms_.find(room_id);
    if (it == rooms_.end() || it->second->stream_id != stream_id || !it->second->stream) return;
    Room& room = *it->second;
    room.stream.reset();
    metrics_->LiveUpstreamStreams(-1);
    if (room.subscribers.empty() || stopped_) {
      rooms_.erase(it);
      return;
    }
    room.backoff = room.backoff.count() == 0 ? options_.restart_min
                                             : std::min(room.backoff * 2, options_.restart_max);
    delay = room.backoff;
    room.restart_pending = true;
    Log(LogLevel::kWarn, "live_stream_ended",
        {{"room_id", room_id},
         {"grpc_code", std::to_string(status.error_code())},
         {"message", status.error_message()},
         {"last_id", std::to_string(room.last_id)},
         {"restart_in_ms", std::to_string(delay.count())}});
  }
  metrics_->LiveUpstreamRestart();
  ArmTimer(room_id, delay);
}

void LiveHub::ArmTimer(const std::string& room_id, std::chrono::milliseconds delay) {
  net::post(executor_, [this, room_id, delay] {
    uint64_t generation;
    boost::asio::steady_timer* timer;
    {
      absl::MutexLock lock(&mu_);
      auto it = rooms_.find(room_id);
      if (it == rooms_.end()) return;
      Room& room = *it->second;
      if (!room.timer) room.timer = std::make_unique<boost::asio::steady_timer>(executor_);
      generation = ++room.timer_generation;
      timer = room.timer.get();
    }
    // The timer is only touched on the executor, and rooms are only erased there.
    timer->expires_after(delay);
    timer->async_wait([this, room_id, generation](const boost::system::error_code& ec) {
      if (!ec) OnTimer(room_id, generation);
    });
  });
}

void LiveHub::OnTimer(const std::string& room_id, uint64_t generation) {
  std::shared_ptr<UpstreamStream> cancel;
  std::shared_ptr<UpstreamStream> start;
  int64_t after = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = rooms_.find(room_id);
    if (it == rooms_.end() || it->second->timer_generation != generation) return;
    Room& room = *it->second;
    if (room.subscribers.empty()) {
      // Linger over (or a restart nobody waits for): forget the room.
      cancel = std::move(room.stream);
      rooms_.erase(it);
    } else if (room.restart_pending && room.stream == nullptr && !stopped_) {
      room.restart_pending = false;
      start = NewStream(&room);
      after = room.last_id;
    }
  }
  if (cancel) {
    cancel->Cancel();
    cancel->Release();
    metrics_->LiveUpstreamStreams(-1);
  }
  if (start) StartStream(room_id, std::move(start), after);
}

}  // namespace admissions::gateway
