#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/redis.h"
#include "media_signaling/media_signaling_store.h"

namespace admissions::media_signaling {

/// Each instance subscribes to the channel prefix + its own random id; a participant's record
/// names the instance holding its stream, and deliveries to it are published there.
inline constexpr char kInstanceChannelPrefix[] = "media-signaling:instance:";
/// Sorted set: interview id → when its session is next due for a sweep (epoch ms).
inline constexpr char kSessionsKey[] = "media-signaling:sessions";

/// What an instance's channel carries.
struct Routed {
  enum class Kind {
    kDelivery,  // A Delivery for the participant (seq set).
    kReplaced,  // The participant's connection of `epoch` was replaced.
    kClosed,    // The participant's connection of `epoch` left the session.
  };
  Kind kind = Kind::kDelivery;
  std::string interview_id;
  std::string peer_id;
  int64_t epoch = 0;
  v1::Delivery delivery;
};
/// nullopt for a message that is not one of ours.
std::optional<Routed> ParseRouted(const std::string& payload);

struct RelayOptions {
  absl::Duration grace = absl::Seconds(15);
  int mailbox_limit = 512;
  /// How long a mailbox outlives its newest message (at least a few grace periods).
  absl::Duration mailbox_ttl = absl::Minutes(5);
  /// How long a session's keys outlive their last change.
  absl::Duration key_ttl = absl::Hours(6);
  /// How long an unanswered offer counts for the glare rule.
  absl::Duration offer_ttl = absl::Seconds(30);
  std::function<absl::Time()> now = [] { return absl::Now(); };
};

/// RelayStore on Redis. A session's keys share the hash tag `{ms:<interview id>}` so that a
/// cluster keeps them on one shard and one script may touch them all:
///   {ms:<iid>}:meta        hash: room, candidate, ended (the reason once the session ended)
///   {ms:<iid>}:members     set of peer ids
///   {ms:<iid>}:p:<peer>    hash: account, sid, role, peer (encoded v1.Peer), inst, epoch,
///                          connected, sharing, lease (epoch ms: the stream's lease while
///                          connected, the end of the grace period while not)
///   {ms:<iid>}:epoch:<peer> counter: the participant's connections
///   {ms:<iid>}:seq:<peer>  counter: the participant's newest seq
///   {ms:<iid>}:mb:<peer>   sorted set seq → encoded v1.Delivery, the newest mailbox_limit
///   {ms:<iid>}:offers      hash "<from>><to>" → until when an offer is unanswered (epoch ms)
///   {ms:<iid>}:check       SET NX PX: who re-checks the session with the waiting room
/// Every change is one Lua script (loaded once, EVALSHA), so concurrent instances agree.
class RedisRelayStore final : public RelayStore {
 public:
  RedisRelayStore(RedisPool* pool, RelayOptions options);

  absl::StatusOr<JoinResult> Join(const ParticipantInfo& p, const std::string& instance) override;
  absl::StatusOr<Mailbox> ReadMailbox(const std::string& interview_id, const std::string& peer_id,
                                      int64_t after_seq) override;
  absl::StatusOr<int64_t> Relay(const Sender& sender, const v1::Signal& signal,
                                bool polite) override;
  absl::Status Leave(const Sender& sender) override;
  absl::StatusOr<SenderInfo> Verify(const Sender& sender) override;
  absl::Status SetScreenSharing(const Sender& sender, bool on) override;
  absl::Status Disconnect(const std::string& interview_id, const std::string& peer_id,
                          int64_t epoch) override;
  absl::Status KeepAlive(const std::vector<LocalParticipant>& local) override;
  absl::StatusOr<std::vector<Removed>> Sweep() override;
  absl::StatusOr<bool> ClaimCheck(const std::string& interview_id, absl::Duration period) override;
  absl::StatusOr<std::optional<SessionRef>> Session(const std::string& interview_id) override;
  absl::StatusOr<bool> EndSession(const std::string& interview_id,
                                  const std::string& reason) override;

 private:
  /// The arguments every script starts with.
  std::vector<std::string> Common(const std::string& interview_id) const;
  absl::StatusOr<RedisReply> Run(RedisScript& script, const std::string& interview_id,
                                 std::vector<std::string> args);
  absl::StatusOr<RedisReply> RunSender(RedisScript& script, const Sender& sender,
                                       std::vector<std::string> extra);
  int64_t NowMs() const;
  absl::Status Schedule(const std::string& interview_id, int64_t due_ms);

  RedisPool* pool_;
  RelayOptions options_;
  RedisScript join_, read_, relay_, leave_, verify_, screen_, disconnect_, lease_, sweep_, end_;
};

}  // namespace admissions::media_signaling
