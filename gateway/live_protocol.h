#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "api/v1/annotations.pb.h"
#include "google/protobuf/struct.pb.h"
#include "media_signaling/v1/media_signaling.pb.h"
#include "waiting_room/v1/waiting_room.pb.h"

namespace admissions::gateway {

/// The messages of the live channel (GET /v1/live), JSON text frames; docs/api/live.md is
/// their reference. Parsing and printing go through protobuf's JSON (google.protobuf.Struct
/// for the envelope, the service's own messages inside), so no JSON is written by hand except
/// the event frame's fixed prefix (LiveEventFrame).

/// Error codes of `{"type":"error"}` that only the live channel produces; an upstream refusal
/// keeps the service's reason (PERMISSION_DENIED, NOT_FOUND, ...).
namespace live_error {
inline constexpr std::string_view kInvalidArgument = "INVALID_ARGUMENT";
inline constexpr std::string_view kUnknownType = "UNKNOWN_TYPE";
inline constexpr std::string_view kUnauthenticated = "UNAUTHENTICATED";
inline constexpr std::string_view kAlreadySubscribed = "ALREADY_SUBSCRIBED";
inline constexpr std::string_view kNotSubscribed = "NOT_SUBSCRIBED";
inline constexpr std::string_view kTooManySubscriptions = "TOO_MANY_SUBSCRIPTIONS";
inline constexpr std::string_view kUnavailable = "UNAVAILABLE";
inline constexpr std::string_view kAlreadyJoined = "ALREADY_JOINED";
inline constexpr std::string_view kNotJoined = "NOT_JOINED";
inline constexpr std::string_view kRateLimited = "RATE_LIMITED";
}  // namespace live_error

/// WebSocket close codes the gateway uses (RFC 6455 section 7.4; 4xxx are the application's).
namespace live_close {
inline constexpr uint16_t kGoingAway = 1001;  // Shutdown: reconnect elsewhere.
inline constexpr uint16_t kPolicy = 1008;     // Slow consumer.
inline constexpr uint16_t kTooBig = 1009;     // A frame over the message limit.
inline constexpr uint16_t kInternal = 1011;
inline constexpr uint16_t kUnauthenticated = 4401;  // No, bad, expired or revoked token.
inline constexpr uint16_t kForbidden = 4403;        // A candidate gate is not passed.
}  // namespace live_close

/// One client → server message. `type` is kept as sent so that an unknown one can be named.
struct LiveClientMessage {
  enum class Type {
    kAuth,
    kSubscribe,
    kUnsubscribe,
    kPing,
    kJoin,
    kSignal,
    kLeave,
    kScreenShare,
    kIceServers,
    kUnknown,
  };
  Type type = Type::kUnknown;
  std::string type_name;
  std::string access_token;  // auth
  std::string room_id;       // subscribe, unsubscribe, join
  int64_t after = 0;         // subscribe; join's `afterSeq`
  /// signal: `to`, `kind` and `sdp` or `candidate` (`from` is the service's to set).
  media_signaling::v1::Signal signal;
  bool on = false;  // screen-share
  /// The client's `id`, any JSON value: echoed as `ref` in the answer (`id` in a pong).
  std::optional<google::protobuf::Value> id;
};

/// A room id the channel accepts: 1 to 128 of [A-Za-z0-9._:-] (so that it needs no escaping).
bool IsValidRoomId(std::string_view room_id);

/// Parses one text frame into `message`. Whatever could be read (the `id` above all) is filled
/// in even on failure, so that the error can refer to it. INVALID_ARGUMENT for malformed JSON,
/// a root that is not an object, a missing or mistyped field, or a field the type does not
/// have; an unknown `type` is not an error here (Type::kUnknown).
absl::Status ParseLiveMessage(std::string_view text, LiveClientMessage* message);

/// `{"type":"ready","accountId":...,"expiresAt":...}`: authenticated.
std::string LiveReadyMessage(std::string_view account_id, int64_t expires_at);
/// `{"type":"subscribed","roomId":...,"lastEventId":"N","ref":...}`.
std::string LiveSubscribedMessage(std::string_view room_id, int64_t last_event_id,
                                  const std::optional<google::protobuf::Value>& ref);
/// `{"type":"unsubscribed","roomId":...,"ref":...}`.
std::string LiveUnsubscribedMessage(std::string_view room_id,
                                    const std::optional<google::protobuf::Value>& ref);
/// `{"type":"pong","id":...}`.
std::string LivePongMessage(const std::optional<google::protobuf::Value>& id);
/// `{"type":"error","code":...,"message":...,"roomId":...,"ref":...}` (roomId when not empty).
std::string LiveErrorMessage(std::string_view code, std::string_view message,
                             std::string_view room_id,
                             const std::optional<google::protobuf::Value>& ref);

/// The error of an upstream refusal: the service's reason and message, and its details
/// (`"details":{"field":...}`) when it gave any.
std::string LiveErrorMessage(const api::v1::ErrorInfo& info, std::string_view room_id,
                             const std::optional<google::protobuf::Value>& ref);

/// The signaling kinds a `signal` carries (media_signaling.proto, Signal).
inline constexpr std::string_view kSignalKinds[] = {"offer", "answer", "candidate",
                                                    "end-of-candidates"};

/// `{"type":"joined","ref":...,` and the fields of `joined` as proto JSON `}`.
absl::StatusOr<std::string> LiveJoinedMessage(const media_signaling::v1::Joined& joined,
                                              const std::optional<google::protobuf::Value>& ref);
/// One message of a Connect stream other than `joined`, as the client gets it: `signal`,
/// `peer-joined`, `peer-left`, `peer-updated`, `session-ended` (each with `"seq":"N"`) or
/// `replaced`. INVALID_ARGUMENT for a delivery with no body or a `joined` one.
absl::StatusOr<std::string> LiveDeliveryMessage(const media_signaling::v1::Delivery& delivery);
/// `{"type":"session-ended","reason":...}` without a seq: the gateway ended the session (its
/// stream could not be resumed).
std::string LiveSessionEndedMessage(std::string_view reason);
/// `{"type":"left","ref":...}`.
std::string LiveLeftMessage(const std::optional<google::protobuf::Value>& ref);
/// `{"type":"screen-share","on":...,"ref":...}`.
std::string LiveScreenShareMessage(bool on, const std::optional<google::protobuf::Value>& ref);
/// `{"type":"ice-servers","ref":...,"iceServers":[...],"expiresAt":...}`.
absl::StatusOr<std::string> LiveIceServersMessage(
    const media_signaling::v1::IceServers& servers,
    const std::optional<google::protobuf::Value>& ref);

/// `{"type":"event","roomId":...,"event":{...}}` with the event as proto JSON (lowerCamelCase,
/// enum names, every scalar printed, int64 as strings). Built once per event and shared by
/// every subscriber of the room. `room_id` must be valid (IsValidRoomId).
absl::StatusOr<std::string> LiveEventFrame(std::string_view room_id,
                                           const waiting_room::v1::Event& event);

/// Whether a subscriber sees an event: examiners everything, a candidate ROOM events and the
/// PRIVATE events addressed to them.
bool LiveEventVisible(waiting_room::v1::Audience audience, std::string_view to_account_id,
                      bool examiner, std::string_view account_id);

}  // namespace admissions::gateway
