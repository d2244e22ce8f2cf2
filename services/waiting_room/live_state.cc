#include "waiting_room/live_state.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/status.h"

namespace admissions::waiting_room {
namespace {

constexpr char kSep = '\x1f';
// How long an abandoned room's presence hash lingers.
constexpr int64_t kPresenceKeyTtlMs = 24LL * 3600 * 1000;

// KEYS: meta, lobby, presence. ARGV: version, presence-until (ms), the number of meta pairs,
// the pairs, the number of lobby pairs, the pairs, then the accounts PostgreSQL says are
// online (restored only when the room was gone, with the meta; never over a newer touch).
constexpr char kInstall[] = R"lua(
local cur = redis.call('HGET', KEYS[1], 'version')
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
local fresh = not cur
redis.call('DEL', KEYS[1], KEYS[2])
local i = 3
local n = tonumber(ARGV[i]); i = i + 1
local args = {'version', ARGV[1]}
for j = 1, n * 2 do args[#args + 1] = ARGV[i]; i = i + 1 end
redis.call('HSET', KEYS[1], unpack(args))
n = tonumber(ARGV[i]); i = i + 1
if n > 0 then
  args = {}
  for j = 1, n * 2 do args[#args + 1] = ARGV[i]; i = i + 1 end
  redis.call('HSET', KEYS[2], unpack(args))
end
if fresh then
  while i <= #ARGV do redis.call('HSETNX', KEYS[3], ARGV[i], ARGV[2]); i = i + 1 end
end
return 1
)lua";

constexpr char kRead[] = R"lua(
return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}
)lua";

// KEYS: presence. ARGV: account, now (ms), until (ms), key ttl (ms).
constexpr char kTouch[] = R"lua(
local old = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if (not old) or tonumber(old) <= tonumber(ARGV[2]) then return 1 end
return 0
)lua";

constexpr char kDrop[] = R"lua(
local old = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
if old and tonumber(old) > tonumber(ARGV[2]) then return 1 end
return 0
)lua";

constexpr char kExpire[] = R"lua(
local all = redis.call('HGETALL', KEYS[1])
local gone = {}
for i = 1, #all, 2 do
  if tonumber(all[i + 1]) <= tonumber(ARGV[1]) then
    redis.call('HDEL', KEYS[1], all[i])
    gone[#gone + 1] = all[i]
  end
end
return gone
)lua";

std::string Key(const std::string& room_id, const char* what) {
  return absl::StrCat("{room:", room_id, "}:", what);
}

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

int64_t Num(const std::string& s) {
  int64_t v = 0;
  (void)absl::SimpleAtoi(s, &v);
  return v;
}

}  // namespace

LiveState::LiveState(RedisPool* pool, absl::Duration presence_ttl)
    : pool_(pool),
      presence_ttl_(presence_ttl),
      install_(kInstall),
      read_(kRead),
      touch_(kTouch),
      drop_(kDrop),
      expire_(kExpire) {}

absl::Status LiveState::Install(const RoomSnapshot& s) {
  std::vector<std::string> args = {
      std::to_string(s.version),
      std::to_string(NowMs() + absl::ToInt64Milliseconds(presence_ttl_))};
  std::vector<std::pair<std::string, std::string>> meta = {
      {"last_event_id", std::to_string(s.last_event_id)},
      {"exam_id", s.exam_id},
      {"school_id", s.school_id},
      {"name", s.name},
      {"starts_at", std::to_string(absl::ToUnixMicros(s.starts_at))},
      {"ends_at", std::to_string(absl::ToUnixMicros(s.ends_at))},
      {"hide_wait_estimate", s.hide_wait_estimate ? "1" : "0"},
      {"finished_count", std::to_string(s.finished_count)},
      {"finished_total_ms", std::to_string(s.finished_total_ms)},
  };
  args.push_back(std::to_string(meta.size()));
  for (auto& [k, v] : meta) {
    args.push_back(k);
    args.push_back(v);
  }
  args.push_back(std::to_string(s.candidates.size()));
  for (const auto& c : s.candidates) {
    args.push_back(std::to_string(c.sequence));
    args.push_back(absl::StrCat(static_cast<int>(c.status), std::string(1, kSep), c.account_id,
                                std::string(1, kSep), c.name, std::string(1, kSep),
                                c.id_number_masked, std::string(1, kSep), c.left ? "1" : "0",
                                std::string(1, kSep), c.online ? "1" : "0"));
  }
  for (const auto& c : s.candidates) {
    if (c.online && !c.account_id.empty()) args.push_back(c.account_id);
  }
  auto r = install_.Run(
      *pool_, {Key(s.room_id, "meta"), Key(s.room_id, "lobby"), Key(s.room_id, "presence")}, args);
  return r.status();
}

absl::StatusOr<std::optional<RoomSnapshot>> LiveState::Read(const std::string& room_id) {
  ASSIGN_OR_RETURN(RedisReply r,
                   read_.Run(*pool_, {Key(room_id, "meta"), Key(room_id, "lobby")}, {}));
  if (r.elements.size() != 2 || r.elements[0].elements.empty()) {
    return std::optional<RoomSnapshot>();
  }
  RoomSnapshot s;
  s.room_id = room_id;
  const auto& meta = r.elements[0].elements;
  bool has_version = false;
  for (size_t i = 0; i + 1 < meta.size(); i += 2) {
    const std::string& k = meta[i].str;
    const std::string& v = meta[i + 1].str;
    if (k == "version") {
      s.version = Num(v);
      has_version = true;
    } else if (k == "last_event_id") {
      s.last_event_id = Num(v);
    } else if (k == "exam_id") {
      s.exam_id = v;
    } else if (k == "school_id") {
      s.school_id = v;
    } else if (k == "name") {
      s.name = v;
    } else if (k == "starts_at") {
      s.starts_at = absl::FromUnixMicros(Num(v));
    } else if (k == "ends_at") {
      s.ends_at = absl::FromUnixMicros(Num(v));
    } else if (k == "hide_wait_estimate") {
      s.hide_wait_estimate = v == "1";
    } else if (k == "finished_count") {
      s.finished_count = static_cast<int32_t>(Num(v));
    } else if (k == "finished_total_ms") {
      s.finished_total_ms = Num(v);
    }
  }
  if (!has_version) return std::optional<RoomSnapshot>();
  const auto& lobby = r.elements[1].elements;
  for (size_t i = 0; i + 1 < lobby.size(); i += 2) {
    std::vector<std::string> f = absl::StrSplit(lobby[i + 1].str, kSep);
    if (f.size() < 6) continue;
    SnapshotCandidate c;
    c.sequence = static_cast<int32_t>(Num(lobby[i].str));
    c.status = static_cast<v1::CandidateStatus>(Num(f[0]));
    c.account_id = f[1];
    c.name = f[2];
    c.id_number_masked = f[3];
    c.left = f[4] == "1";
    c.online = f[5] == "1";
    s.candidates.push_back(std::move(c));
  }
  std::sort(s.candidates.begin(), s.candidates.end(),
            [](const auto& a, const auto& b) { return a.sequence < b.sequence; });
  return std::optional<RoomSnapshot>(std::move(s));
}

absl::StatusOr<bool> LiveState::Touch(const std::string& room_id, const std::string& account_id) {
  int64_t now = NowMs();
  ASSIGN_OR_RETURN(RedisReply r,
                   touch_.Run(*pool_, {Key(room_id, "presence")},
                              {account_id, std::to_string(now),
                               std::to_string(now + absl::ToInt64Milliseconds(presence_ttl_)),
                               std::to_string(kPresenceKeyTtlMs)}));
  return r.integer == 1;
}

absl::StatusOr<bool> LiveState::Drop(const std::string& room_id, const std::string& account_id) {
  ASSIGN_OR_RETURN(RedisReply r, drop_.Run(*pool_, {Key(room_id, "presence")},
                                           {account_id, std::to_string(NowMs())}));
  return r.integer == 1;
}

absl::StatusOr<std::vector<std::string>> LiveState::Expire(const std::string& room_id) {
  ASSIGN_OR_RETURN(RedisReply r,
                   expire_.Run(*pool_, {Key(room_id, "presence")}, {std::to_string(NowMs())}));
  std::vector<std::string> out;
  for (const auto& e : r.elements) out.push_back(e.str);
  return out;
}

absl::StatusOr<std::vector<std::string>> LiveState::Online(const std::string& room_id) {
  ASSIGN_OR_RETURN(RedisReply r, pool_->Command({"HGETALL", Key(room_id, "presence")}));
  int64_t now = NowMs();
  std::vector<std::string> out;
  for (size_t i = 0; i + 1 < r.elements.size(); i += 2) {
    if (Num(r.elements[i + 1].str) > now) out.push_back(r.elements[i].str);
  }
  return out;
}

absl::Status LiveState::Publish(const std::string& room_id, int64_t event_id) {
  return pool_->Command({"PUBLISH", kEventsChannel, absl::StrCat(room_id, " ", event_id)}).status();
}

}  // namespace admissions::waiting_room
