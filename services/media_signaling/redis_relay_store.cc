#include "media_signaling/redis_relay_store.h"

#include <algorithm>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/status.h"

namespace admissions::media_signaling {
namespace {

// Shared by every script. KEYS[1] is the session's key prefix "{ms:<iid>}". ARGV: interview
// id, now (ms), mailbox limit, mailbox TTL (ms), key TTL (ms), the instance channel prefix;
// the script's own arguments follow from ARGV[7].
//
// A Delivery is built here in protobuf's wire form: field 1 (seq, varint) followed by the
// body, already encoded as its oneof field. Peer records keep their fixed fields encoded
// (peer id, role, account, name, send flags); screen_sharing (field 7) and connected
// (field 8) are appended when true.
constexpr char kPrelude[] = R"lua(
local P = KEYS[1]
local IID, NOW, LIMIT = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local MB_TTL, KEY_TTL, CHAN = ARGV[4], ARGV[5], ARGV[6]

local function varint(n)
  local out = {}
  while n >= 128 do
    out[#out + 1] = string.char(n % 128 + 128)
    n = math.floor(n / 128)
  end
  out[#out + 1] = string.char(n)
  return table.concat(out)
end
local function ld(tag, s) return string.char(tag) .. varint(#s) .. s end

local function rec(peer)
  local flat = redis.call('HGETALL', P .. ':p:' .. peer)
  if #flat == 0 then return nil end
  local r = {}
  for i = 1, #flat, 2 do r[flat[i]] = flat[i + 1] end
  return r
end
local function peer_bytes(r)
  local b = r.peer
  if r.sharing == '1' then b = b .. '\56\1' end
  if r.connected == '1' then b = b .. '\64\1' end
  return b
end
local function control(inst, kind, peer, epoch)
  if inst and inst ~= '' then
    redis.call('PUBLISH', CHAN .. inst, kind .. IID .. '\n' .. peer .. '\n' .. epoch)
  end
end
local function deliver(peer, body)
  local seq_key = P .. ':seq:' .. peer
  local seq = redis.call('INCR', seq_key)
  redis.call('PEXPIRE', seq_key, KEY_TTL)
  local d = '\8' .. varint(seq) .. body
  local mb = P .. ':mb:' .. peer
  redis.call('ZADD', mb, seq, d)
  redis.call('ZREMRANGEBYRANK', mb, 0, -(LIMIT + 1))
  redis.call('PEXPIRE', mb, MB_TTL)
  local inst = redis.call('HGET', P .. ':p:' .. peer, 'inst')
  if inst and inst ~= '' then
    redis.call('PUBLISH', CHAN .. inst, 'D' .. IID .. '\n' .. peer .. '\n' .. d)
  end
  return seq
end
local function deliver_others(peer, body)
  for _, m in ipairs(redis.call('SMEMBERS', P .. ':members')) do
    if m ~= peer then deliver(m, body) end
  end
end
-- Unanswered offers from or to `peer`: forgotten when it joins afresh, leaves or is removed,
-- so that a stale one never makes a later offer look like glare.
local function forget_offers(peer)
  local offers = P .. ':offers'
  for _, f in ipairs(redis.call('HKEYS', offers)) do
    local gt = string.find(f, '>', 1, true)
    if gt and (string.sub(f, 1, gt - 1) == peer or string.sub(f, gt + 1) == peer) then
      redis.call('HDEL', offers, f)
    end
  end
end
local function ended()
  local e = redis.call('HGET', P .. ':meta', 'ended')
  if e and e ~= '' then return e end
  return nil
end
-- The sender of a call: ARGV[7] peer, ARGV[8] epoch, ARGV[9] account, ARGV[10] login session.
local function sender()
  local e = ended()
  if e then return nil, {'ENDED', e} end
  local r = rec(ARGV[7])
  if not r then return nil, {'NOT_JOINED'} end
  if r.account ~= ARGV[9] or r.sid ~= ARGV[10] then return nil, {'FORBIDDEN'} end
  if r.epoch ~= ARGV[8] then return nil, {'REPLACED'} end
  return r
end
)lua";

// ARGV[7..]: peer, account, login session, role, encoded peer, instance, grace (ms), room,
// candidate account, resume ('1': screen sharing carries over from the replaced connection).
constexpr char kJoin[] = R"lua(
local peer = ARGV[7]
local e = ended()
if e then return {'ENDED', e} end
redis.call('HSET', P .. ':meta', 'room', ARGV[14], 'candidate', ARGV[15])
redis.call('PEXPIRE', P .. ':meta', KEY_TTL)
local key = P .. ':p:' .. peer
local old = rec(peer)
if old then control(old.inst, 'R', peer, old.epoch) end
local epoch = redis.call('INCR', P .. ':epoch:' .. peer)
redis.call('PEXPIRE', P .. ':epoch:' .. peer, KEY_TTL)
local sharing = '0'
if old and old.sharing and ARGV[16] == '1' then sharing = old.sharing end
redis.call('HSET', key, 'account', ARGV[8], 'sid', ARGV[9], 'role', ARGV[10], 'peer', ARGV[11],
  'inst', ARGV[12], 'epoch', epoch, 'connected', '1', 'sharing', sharing,
  'lease', tostring(NOW + tonumber(ARGV[13])))
redis.call('PEXPIRE', key, KEY_TTL)
redis.call('SADD', P .. ':members', peer)
redis.call('PEXPIRE', P .. ':members', KEY_TTL)
forget_offers(peer)
local mine = peer_bytes(rec(peer))
local body = ld(old and 50 or 34, mine)
local peers = {}
for _, m in ipairs(redis.call('SMEMBERS', P .. ':members')) do
  if m ~= peer then
    local r = rec(m)
    if r then
      deliver(m, body)
      peers[#peers + 1] = peer_bytes(r)
    end
  end
end
return {'OK', epoch, old and 1 or 0, peers, mine}
)lua";

// ARGV[7..]: peer, after.
constexpr char kRead[] = R"lua(
local last = redis.call('GET', P .. ':seq:' .. ARGV[7]) or '0'
return {last, redis.call('ZRANGEBYSCORE', P .. ':mb:' .. ARGV[7], '(' .. ARGV[8], '+inf')}
)lua";

// ARGV[11..]: to, kind, encoded signal, polite ('1' when the sender's id sorts after the
// recipient's), offer TTL (ms).
constexpr char kRelay[] = R"lua(
local me, err = sender()
if not me then return err end
local from, to, kind = ARGV[7], ARGV[11], ARGV[12]
if redis.call('EXISTS', P .. ':p:' .. to) == 0 then return {'UNKNOWN_PEER'} end
local offers = P .. ':offers'
if kind == 'offer' then
  local theirs = redis.call('HGET', offers, to .. '>' .. from)
  if theirs and tonumber(theirs) > NOW then
    if ARGV[14] == '1' then return {'GLARE'} end
    redis.call('HDEL', offers, to .. '>' .. from)
  end
  redis.call('HSET', offers, from .. '>' .. to, tostring(NOW + tonumber(ARGV[15])))
  redis.call('PEXPIRE', offers, KEY_TTL)
elseif kind == 'answer' then
  redis.call('HDEL', offers, to .. '>' .. from)
end
return {'OK', deliver(to, ld(26, ARGV[13]))}
)lua";

constexpr char kLeave[] = R"lua(
local me, err = sender()
if not me then return err end
local peer = ARGV[7]
redis.call('DEL', P .. ':p:' .. peer)
redis.call('SREM', P .. ':members', peer)
forget_offers(peer)
control(me.inst, 'X', peer, me.epoch)
deliver_others(peer, ld(42, ld(10, peer) .. ld(18, 'LEFT')))
return {'OK'}
)lua";

constexpr char kVerify[] = R"lua(
local me, err = sender()
if not me then return err end
return {'OK', me.role, redis.call('HGET', P .. ':meta', 'room') or ''}
)lua";

// ARGV[11]: '1' or '0'.
constexpr char kScreen[] = R"lua(
local me, err = sender()
if not me then return err end
redis.call('HSET', P .. ':p:' .. ARGV[7], 'sharing', ARGV[11])
me.sharing = ARGV[11]
local body = ld(50, peer_bytes(me))
for _, m in ipairs(redis.call('SMEMBERS', P .. ':members')) do deliver(m, body) end
return {'OK'}
)lua";

// ARGV[7..]: peer, epoch, grace (ms).
constexpr char kDisconnect[] = R"lua(
local peer = ARGV[7]
local r = rec(peer)
if not r or r.epoch ~= ARGV[8] or r.connected ~= '1' then return 0 end
redis.call('HSET', P .. ':p:' .. peer, 'connected', '0', 'inst', '',
  'lease', tostring(NOW + tonumber(ARGV[9])))
r.connected = '0'
deliver_others(peer, ld(50, peer_bytes(r)))
return 1
)lua";

// ARGV[7]: grace (ms); then pairs of peer and epoch.
constexpr char kLease[] = R"lua(
local n = 0
for i = 8, #ARGV, 2 do
  local key = P .. ':p:' .. ARGV[i]
  local v = redis.call('HMGET', key, 'epoch', 'connected')
  if v[1] == ARGV[i + 1] and v[2] == '1' then
    redis.call('HSET', key, 'lease', tostring(NOW + tonumber(ARGV[7])))
    -- A long interview keeps its keys: they expire KEY_TTL after the last sign of life.
    redis.call('PEXPIRE', key, KEY_TTL)
    n = n + 1
  end
end
if n > 0 then
  for _, k in ipairs({P .. ':meta', P .. ':members'}) do redis.call('PEXPIRE', k, KEY_TTL) end
end
return n
)lua";

// ARGV[7]: grace (ms). Returns {removed {peer, role, account}..., next due (ms), members, room}.
constexpr char kSweep[] = R"lua(
local grace = tonumber(ARGV[7])
local removed = {}
local due = 0
local function later(t) if due == 0 or t < due then due = t end end
for _, m in ipairs(redis.call('SMEMBERS', P .. ':members')) do
  local key = P .. ':p:' .. m
  local r = rec(m)
  if not r then
    redis.call('SREM', P .. ':members', m)
  elseif tonumber(r.lease) > NOW then
    later(tonumber(r.lease))
  elseif r.connected == '1' then
    -- The instance holding the stream stopped renewing its lease: it is gone.
    redis.call('HSET', key, 'connected', '0', 'inst', '', 'lease', tostring(NOW + grace))
    r.connected = '0'
    deliver_others(m, ld(50, peer_bytes(r)))
    later(NOW + grace)
  else
    redis.call('DEL', key)
    redis.call('SREM', P .. ':members', m)
    forget_offers(m)
    deliver_others(m, ld(42, ld(10, m) .. ld(18, 'TIMEOUT')))
    removed[#removed + 1] = {m, r.role, r.account}
  end
end
return {removed, due, redis.call('SCARD', P .. ':members'),
  redis.call('HGET', P .. ':meta', 'room') or ''}
)lua";

// ARGV[7]: reason.
constexpr char kEnd[] = R"lua(
if ended() then return 0 end
redis.call('HSET', P .. ':meta', 'ended', ARGV[7])
redis.call('PEXPIRE', P .. ':meta', KEY_TTL)
local members = redis.call('SMEMBERS', P .. ':members')
local body = ld(58, ld(10, ARGV[7]))
for _, m in ipairs(members) do deliver(m, body) end
for _, m in ipairs(members) do redis.call('DEL', P .. ':p:' .. m) end
redis.call('DEL', P .. ':members', P .. ':offers')
return 1
)lua";

std::string Prefix(const std::string& interview_id) {
  return absl::StrCat("{ms:", interview_id, "}");
}

int64_t Num(const RedisReply& r) {
  if (r.type == RedisReply::Type::kInteger) return r.integer;
  int64_t v = 0;
  (void)absl::SimpleAtoi(r.str, &v);
  return v;
}

/// A script's refusal as a status; OK when the reply starts with "OK".
absl::Status Refusal(const RedisReply& r) {
  if (r.type != RedisReply::Type::kArray || r.elements.empty()) {
    return Error(absl::StatusCode::kInternal, reason::kInternal, "unexpected reply from redis");
  }
  const std::string& what = r.elements[0].str;
  if (what == "OK") return absl::OkStatus();
  if (what == "ENDED") {
    std::string why = r.elements.size() > 1 ? r.elements[1].str : "";
    if (why == "DEFERRED") {
      return Error(absl::StatusCode::kFailedPrecondition, "NO_INTERVIEW",
                   "the interview was deferred");
    }
    return Error(absl::StatusCode::kFailedPrecondition, "INTERVIEW_FINISHED",
                 "the interview is over");
  }
  if (what == "NOT_JOINED") {
    return Error(absl::StatusCode::kFailedPrecondition, "NOT_JOINED",
                 "this peer is not in the session; connect first");
  }
  if (what == "FORBIDDEN") {
    return Error(absl::StatusCode::kPermissionDenied, reason::kPermissionDenied,
                 "this connection belongs to another login");
  }
  if (what == "REPLACED") {
    return Error(absl::StatusCode::kFailedPrecondition, "REPLACED",
                 "this connection was replaced by a newer one");
  }
  if (what == "UNKNOWN_PEER") {
    return Error(absl::StatusCode::kNotFound, "UNKNOWN_PEER", "no such peer in the session");
  }
  if (what == "GLARE") {
    return Error(absl::StatusCode::kFailedPrecondition, "GLARE",
                 "the peer's offer crossed yours; roll back and answer it");
  }
  return Error(absl::StatusCode::kInternal, reason::kInternal, "unexpected reply from redis");
}

}  // namespace

v1::Peer PeerOf(const ParticipantInfo& p) {
  v1::Peer peer;
  peer.set_peer_id(p.peer_id);
  peer.set_role(p.role);
  peer.set_account_id(p.account_id);
  peer.set_name(p.name);
  peer.set_send_audio(p.role != v1::SECONDARY);
  peer.set_send_video(true);
  return peer;
}

std::optional<Routed> ParseRouted(const std::string& payload) {
  if (payload.empty()) return std::nullopt;
  size_t a = payload.find('\n', 1);
  if (a == std::string::npos) return std::nullopt;
  size_t b = payload.find('\n', a + 1);
  if (b == std::string::npos) return std::nullopt;
  Routed out;
  out.interview_id = payload.substr(1, a - 1);
  out.peer_id = payload.substr(a + 1, b - a - 1);
  std::string rest = payload.substr(b + 1);
  switch (payload[0]) {
    case 'D':
      out.kind = Routed::Kind::kDelivery;
      if (!out.delivery.ParseFromString(rest)) return std::nullopt;
      return out;
    case 'R':
    case 'X':
      out.kind = payload[0] == 'R' ? Routed::Kind::kReplaced : Routed::Kind::kClosed;
      if (!absl::SimpleAtoi(rest, &out.epoch)) return std::nullopt;
      return out;
    default:
      return std::nullopt;
  }
}

RedisRelayStore::RedisRelayStore(RedisPool* pool, RelayOptions options)
    : pool_(pool),
      options_(std::move(options)),
      join_(absl::StrCat(kPrelude, kJoin)),
      read_(absl::StrCat(kPrelude, kRead)),
      relay_(absl::StrCat(kPrelude, kRelay)),
      leave_(absl::StrCat(kPrelude, kLeave)),
      verify_(absl::StrCat(kPrelude, kVerify)),
      screen_(absl::StrCat(kPrelude, kScreen)),
      disconnect_(absl::StrCat(kPrelude, kDisconnect)),
      lease_(absl::StrCat(kPrelude, kLease)),
      sweep_(absl::StrCat(kPrelude, kSweep)),
      end_(absl::StrCat(kPrelude, kEnd)) {}

int64_t RedisRelayStore::NowMs() const { return absl::ToUnixMillis(options_.now()); }

std::vector<std::string> RedisRelayStore::Common(const std::string& interview_id) const {
  return {interview_id,
          std::to_string(NowMs()),
          std::to_string(options_.mailbox_limit),
          std::to_string(absl::ToInt64Milliseconds(options_.mailbox_ttl)),
          std::to_string(absl::ToInt64Milliseconds(options_.key_ttl)),
          kInstanceChannelPrefix};
}

absl::StatusOr<RedisReply> RedisRelayStore::Run(RedisScript& script,
                                                const std::string& interview_id,
                                                std::vector<std::string> args) {
  std::vector<std::string> argv = Common(interview_id);
  argv.insert(argv.end(), std::make_move_iterator(args.begin()),
              std::make_move_iterator(args.end()));
  return script.Run(*pool_, {Prefix(interview_id)}, argv);
}

absl::StatusOr<RedisReply> RedisRelayStore::RunSender(RedisScript& script, const Sender& s,
                                                      std::vector<std::string> extra) {
  std::vector<std::string> args = {s.peer_id, std::to_string(s.epoch), s.account_id, s.session_id};
  args.insert(args.end(), std::make_move_iterator(extra.begin()),
              std::make_move_iterator(extra.end()));
  return Run(script, s.interview_id, std::move(args));
}

absl::Status RedisRelayStore::Schedule(const std::string& interview_id, int64_t due_ms) {
  return pool_->Command({"ZADD", kSessionsKey, "LT", std::to_string(due_ms), interview_id})
      .status();
}

absl::StatusOr<JoinResult> RedisRelayStore::Join(const ParticipantInfo& p,
                                                 const std::string& instance) {
  int64_t grace_ms = absl::ToInt64Milliseconds(options_.grace);
  ASSIGN_OR_RETURN(RedisReply r,
                   Run(join_, p.interview_id,
                       {p.peer_id, p.account_id, p.session_id, std::to_string(p.role),
                        PeerOf(p).SerializeAsString(), instance, std::to_string(grace_ms),
                        p.room_id, p.candidate_account_id, p.resume ? "1" : "0"}));
  RETURN_IF_ERROR(Refusal(r));
  if (r.elements.size() < 5) {
    return Error(absl::StatusCode::kInternal, reason::kInternal, "unexpected reply from redis");
  }
  JoinResult out;
  (void)out.self.ParseFromString(r.elements[4].str);
  out.epoch = Num(r.elements[1]);
  out.rejoined = Num(r.elements[2]) == 1;
  for (const auto& e : r.elements[3].elements) {
    v1::Peer peer;
    if (peer.ParseFromString(e.str)) out.peers.push_back(std::move(peer));
  }
  std::sort(out.peers.begin(), out.peers.end(),
            [](const v1::Peer& a, const v1::Peer& b) { return a.peer_id() < b.peer_id(); });
  // Swept when its grace would end; a live stream's lease keeps moving that on.
  RETURN_IF_ERROR(Schedule(p.interview_id, NowMs() + grace_ms));
  return out;
}

absl::StatusOr<Mailbox> RedisRelayStore::ReadMailbox(const std::string& interview_id,
                                                     const std::string& peer_id,
                                                     int64_t after_seq) {
  ASSIGN_OR_RETURN(RedisReply r, Run(read_, interview_id, {peer_id, std::to_string(after_seq)}));
  Mailbox out;
  if (r.elements.size() != 2) {
    return Error(absl::StatusCode::kInternal, reason::kInternal, "unexpected reply from redis");
  }
  out.last_seq = Num(r.elements[0]);
  for (const auto& e : r.elements[1].elements) {
    v1::Delivery d;
    if (d.ParseFromString(e.str)) out.deliveries.push_back(std::move(d));
  }
  return out;
}

absl::StatusOr<int64_t> RedisRelayStore::Relay(const Sender& sender, const v1::Signal& signal,
                                               bool polite) {
  ASSIGN_OR_RETURN(
      RedisReply r,
      RunSender(relay_, sender,
                {signal.to(), signal.kind(), signal.SerializeAsString(), polite ? "1" : "0",
                 std::to_string(absl::ToInt64Milliseconds(options_.offer_ttl))}));
  RETURN_IF_ERROR(Refusal(r));
  return r.elements.size() > 1 ? Num(r.elements[1]) : 0;
}

absl::Status RedisRelayStore::Leave(const Sender& sender) {
  ASSIGN_OR_RETURN(RedisReply r, RunSender(leave_, sender, {}));
  return Refusal(r);
}

absl::StatusOr<SenderInfo> RedisRelayStore::Verify(const Sender& sender) {
  ASSIGN_OR_RETURN(RedisReply r, RunSender(verify_, sender, {}));
  RETURN_IF_ERROR(Refusal(r));
  SenderInfo out;
  if (r.elements.size() > 2) {
    out.role = static_cast<v1::PeerRole>(Num(r.elements[1]));
    out.room_id = r.elements[2].str;
  }
  return out;
}

absl::Status RedisRelayStore::SetScreenSharing(const Sender& sender, bool on) {
  ASSIGN_OR_RETURN(RedisReply r, RunSender(screen_, sender, {on ? "1" : "0"}));
  return Refusal(r);
}

absl::Status RedisRelayStore::Disconnect(const std::string& interview_id,
                                         const std::string& peer_id, int64_t epoch) {
  int64_t grace_ms = absl::ToInt64Milliseconds(options_.grace);
  ASSIGN_OR_RETURN(RedisReply r, Run(disconnect_, interview_id,
                                     {peer_id, std::to_string(epoch), std::to_string(grace_ms)}));
  if (r.integer == 1) return Schedule(interview_id, NowMs() + grace_ms);
  return absl::OkStatus();
}

absl::Status RedisRelayStore::KeepAlive(const std::vector<LocalParticipant>& local) {
  std::map<std::string, std::vector<std::string>> by_session;
  std::string grace_ms = std::to_string(absl::ToInt64Milliseconds(options_.grace));
  for (const auto& p : local) {
    auto& args = by_session[p.interview_id];
    if (args.empty()) args.push_back(grace_ms);
    args.push_back(p.peer_id);
    args.push_back(std::to_string(p.epoch));
  }
  absl::Status first = absl::OkStatus();
  for (auto& [interview_id, args] : by_session) {
    absl::Status st = Run(lease_, interview_id, std::move(args)).status();
    // The sweeper may have dropped a session it found empty just before a join.
    if (st.ok()) {
      st = pool_
               ->Command({"ZADD", kSessionsKey, "NX",
                          std::to_string(NowMs() + absl::ToInt64Milliseconds(options_.grace)),
                          interview_id})
               .status();
    }
    if (!st.ok() && first.ok()) first = st;
  }
  return first;
}

absl::StatusOr<std::vector<Removed>> RedisRelayStore::Sweep() {
  int64_t now = NowMs();
  ASSIGN_OR_RETURN(RedisReply due, pool_->Command({"ZRANGEBYSCORE", kSessionsKey, "-inf",
                                                   std::to_string(now), "LIMIT", "0", "500"}));
  std::vector<Removed> removed;
  absl::Status first_error;
  std::string grace_ms = std::to_string(absl::ToInt64Milliseconds(options_.grace));
  for (const auto& e : due.elements) {
    const std::string& interview_id = e.str;
    auto r = Run(sweep_, interview_id, {grace_ms});
    if (!r.ok()) {  // The others are swept still, and what was removed is returned.
      if (first_error.ok()) first_error = r.status();
      continue;
    }
    if (r->elements.size() < 4) continue;
    for (const auto& x : r->elements[0].elements) {
      if (x.elements.size() < 3) continue;
      Removed gone;
      gone.interview_id = interview_id;
      gone.room_id = r->elements[3].str;
      gone.peer_id = x.elements[0].str;
      gone.role = static_cast<v1::PeerRole>(Num(x.elements[1]));
      gone.account_id = x.elements[2].str;
      removed.push_back(std::move(gone));
    }
    int64_t next = Num(r->elements[1]);
    absl::Status st = Num(r->elements[2]) == 0
                          ? pool_->Command({"ZREM", kSessionsKey, interview_id}).status()
                          : pool_
                                ->Command({"ZADD", kSessionsKey,
                                           std::to_string(std::max(next, now + 1)), interview_id})
                                .status();
    if (!st.ok() && first_error.ok()) first_error = st;
  }
  // A participant removed above is gone from Redis: it must reach the caller even when
  // another session failed, or its loss would never be reported.
  if (removed.empty() && !first_error.ok()) return first_error;
  if (!first_error.ok()) {
    Log(LogLevel::kWarn, "sweep_partly_failed", {{"error", first_error.message()}});
  }
  return removed;
}

absl::StatusOr<bool> RedisRelayStore::ClaimCheck(const std::string& interview_id,
                                                 absl::Duration period) {
  ASSIGN_OR_RETURN(RedisReply r,
                   pool_->Command({"SET", Prefix(interview_id) + ":check", "1", "NX", "PX",
                                   std::to_string(absl::ToInt64Milliseconds(period))}));
  return !r.is_nil();
}

absl::StatusOr<std::optional<SessionRef>> RedisRelayStore::Session(
    const std::string& interview_id) {
  ASSIGN_OR_RETURN(RedisReply r, pool_->Command({"HMGET", Prefix(interview_id) + ":meta", "room",
                                                 "candidate", "ended"}));
  if (r.elements.size() != 3 || r.elements[0].is_nil() || !r.elements[2].is_nil()) {
    return std::optional<SessionRef>();
  }
  return std::optional<SessionRef>(SessionRef{r.elements[0].str, r.elements[1].str});
}

absl::StatusOr<bool> RedisRelayStore::EndSession(const std::string& interview_id,
                                                 const std::string& reason) {
  ASSIGN_OR_RETURN(RedisReply r, Run(end_, interview_id, {reason}));
  RETURN_IF_ERROR(pool_->Command({"ZREM", kSessionsKey, interview_id}).status());
  return r.integer == 1;
}

}  // namespace admissions::media_signaling
