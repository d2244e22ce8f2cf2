#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/redis.h"
#include "waiting_room/room_rules.h"

namespace admissions::waiting_room {

/// The channel on which every instance announces "<room id> <event id>".
inline constexpr char kEventsChannel[] = "waiting-room:events";

/// A room's live state in Redis, every key of a room under the hash tag `{room:<id>}` so
/// that a cluster keeps them on one shard and scripts may touch them together:
///   {room:<id>}:meta      hash: version, last_event_id, the room's settings, interview stats
///   {room:<id>}:lobby     hash: sequence → status, account, name, masked ID
///   {room:<id>}:presence  hash: account → online until (epoch ms)
/// A snapshot replaces the lobby only when its version is newer (a Lua script), so
/// writers racing after their PostgreSQL commits converge on the newest. A room whose
/// meta is gone is rebuilt from PostgreSQL by the caller; presence comes back from the
/// online flags PostgreSQL recorded.
class LiveState {
 public:
  LiveState(RedisPool* pool, absl::Duration presence_ttl);

  /// Installs `snap` unless Redis already holds a version at least as new.
  absl::Status Install(const RoomSnapshot& snap);
  /// The room's snapshot as Redis has it; nullopt when it is gone (rebuild it).
  absl::StatusOr<std::optional<RoomSnapshot>> Read(const std::string& room_id);
  /// Marks the account online until now + ttl; true when it was not online before.
  absl::StatusOr<bool> Touch(const std::string& room_id, const std::string& account_id);
  /// Marks the account offline; true when it was online.
  absl::StatusOr<bool> Drop(const std::string& room_id, const std::string& account_id);
  /// Removes and returns the accounts whose presence expired.
  absl::StatusOr<std::vector<std::string>> Expire(const std::string& room_id);
  /// The accounts online now.
  absl::StatusOr<std::vector<std::string>> Online(const std::string& room_id);
  /// Announces a room's newest event to every instance.
  absl::Status Publish(const std::string& room_id, int64_t event_id);

  absl::Duration presence_ttl() const { return presence_ttl_; }

 private:
  RedisPool* pool_;
  absl::Duration presence_ttl_;
  RedisScript install_, read_, touch_, drop_, expire_;
};

}  // namespace admissions::waiting_room
