#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/any_io_executor.hpp"
#include "boost/asio/steady_timer.hpp"
#include "gateway/metrics.h"
#include "gateway/upstreams.h"
#include "waiting_room/v1/waiting_room.pb.h"

namespace admissions::gateway {

/// One event of a room as the live channel sends it: the frame's text is built once and
/// shared, read-only, by every subscriber and the hub's ring.
struct LiveFrame {
  std::string room_id;
  int64_t id = 0;
  waiting_room::v1::Audience audience = waiting_room::v1::AUDIENCE_UNSPECIFIED;
  std::string to_account_id;
  std::string text;
};

/// What the hub delivers to. OnLiveFrame runs on a gRPC thread, for each room in id order,
/// never concurrently for one room; it must only hand the frame over (post it).
class LiveSubscriber {
 public:
  virtual ~LiveSubscriber() = default;
  virtual void OnLiveFrame(std::shared_ptr<const LiveFrame> frame) = 0;
};

struct LiveHubOptions {
  /// The waiting-room upstream (index into Upstreams).
  int upstream = -1;
  /// Recent events kept per room for subscribers that join with a recent `after`.
  size_t ring_events = 1024;
  /// A room's stream outlives its last subscriber by this much (a reconnecting client finds
  /// it still running, with its ring).
  std::chrono::milliseconds linger{5000};
  /// Back-off between restarts of a broken stream: doubles from min to max.
  std::chrono::milliseconds restart_min{100};
  std::chrono::milliseconds restart_max{5000};
};

/// The live channel's fan-out: one upstream WaitingRoom.Subscribe stream per room per gateway
/// process, shared by every subscriber of the room on every io thread. A room's stream starts
/// with its first subscriber and replays the room from the beginning (after = 0: a client's
/// `after` is not trusted to start a stream others share), then follows it live; it is
/// restarted from the last id seen when it breaks, so subscribers see no gap and no
/// duplicate, and cancelled when the last subscriber has been gone for `linger`. The last
/// `ring_events` events of each room are kept for subscribers joining with a recent `after`.
///
/// Thread-safe. Timers run on `executor` (one io thread).
class LiveHub {
 public:
  LiveHub(Upstreams* upstreams, Metrics* metrics, boost::asio::any_io_executor executor,
          LiveHubOptions options);
  ~LiveHub();

  LiveHub(const LiveHub&) = delete;
  LiveHub& operator=(const LiveHub&) = delete;

  /// What a subscriber gets when it joins.
  struct Joined {
    /// The ring's events with id > after, in order, when the ring holds every one of them
    /// (`covered`); otherwise empty and the subscriber must read ids (after, last_id] itself.
    std::vector<std::shared_ptr<const LiveFrame>> backlog;
    bool covered = false;
    /// The last id the hub has seen (0 before the first event). Every event after it reaches
    /// the subscriber through OnLiveFrame.
    int64_t last_id = 0;
  };

  /// Adds `subscriber` to `room_id` (starting the room's stream if needed). From this call
  /// on, every new event of the room is delivered to it, until Leave().
  Joined Join(const std::string& room_id, int64_t after, LiveSubscriber* key,
              std::weak_ptr<LiveSubscriber> subscriber);
  void Leave(const std::string& room_id, LiveSubscriber* key);

  /// Cancels every stream and starts no more (shutdown).
  void Stop();

  /// Rooms with a hub entry (streaming or lingering), for tests and metrics.
  size_t rooms() const;

 private:
  struct Room {
    std::string id;
    absl::flat_hash_map<LiveSubscriber*, std::weak_ptr<LiveSubscriber>> subscribers;
    std::deque<std::shared_ptr<const LiveFrame>> ring;
    int64_t last_id = 0;
    std::shared_ptr<UpstreamStream> stream;
    /// Names `stream` in its events (an address could be reused by a later stream).
    uint64_t stream_id = 0;
    bool restart_pending = false;
    std::chrono::milliseconds backoff{0};
    /// Linger and restart back-off; created and used on the executor only.
    std::unique_ptr<boost::asio::steady_timer> timer;
    uint64_t timer_generation = 0;
  };

  /// Starts a room's stream (mu_ must not be held: gRPC may call back).
  void StartStream(const std::string& room_id, std::shared_ptr<UpstreamStream> stream,
                   int64_t after);
  /// A new stream for `room` (set as its stream).
  std::shared_ptr<UpstreamStream> NewStream(Room* room) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  /// The room's stream when it is still the one named `stream_id`, else null.
  std::shared_ptr<UpstreamStream> CurrentStream(const std::string& room_id, uint64_t stream_id)
      ABSL_LOCKS_EXCLUDED(mu_);
  void OnStreamEvent(const std::string& room_id, uint64_t stream_id, const UpstreamStream* stream,
                     UpstreamStream::Event event, bool ok);
  void OnMessage(const std::string& room_id, uint64_t stream_id);
  /// On the executor: the stream ended; restart it or forget the room.
  void OnStreamDone(const std::string& room_id, uint64_t stream_id, grpc::Status status);
  void ArmTimer(const std::string& room_id, std::chrono::milliseconds delay);
  void OnTimer(const std::string& room_id, uint64_t generation);

  Upstreams* upstreams_;
  Metrics* metrics_;
  boost::asio::any_io_executor executor_;
  LiveHubOptions options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Room>> rooms_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_stream_id_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace admissions::gateway
