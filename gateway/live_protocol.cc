#include "gateway/live_protocol.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gateway/strings.h"
#include "gateway/transcoder.h"
#include "google/protobuf/util/json_util.h"

namespace admissions::gateway {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;
using media_signaling::v1::Delivery;
using media_signaling::v1::IceCandidate;
using media_signaling::v1::Signal;
using waiting_room::v1::Audience;

constexpr size_t kMaxRoomIdLength = 128;
constexpr size_t kMaxPeerIdLength = 256;
constexpr double kMaxMLineIndex = 65535;
// Integers a JSON number (a double) holds exactly.
constexpr double kMaxExactInteger = 9007199254740992.0;

absl::Status Invalid(std::string_view message) {
  return absl::InvalidArgumentError(ToAbsl(message));
}

absl::StatusOr<std::string> StringField(const Struct& root, const std::string& name,
                                        bool required) {
  auto it = root.fields().find(name);
  if (it == root.fields().end()) {
    if (required) return Invalid(absl::StrCat("\"", name, "\" is required"));
    return std::string();
  }
  if (it->second.kind_case() != Value::kStringValue) {
    return Invalid(absl::StrCat("\"", name, "\" must be a string"));
  }
  return it->second.string_value();
}

// An event id: a non-negative integer, as a JSON number or a string of digits (the API's
// 64-bit integers may arrive as strings).
absl::StatusOr<int64_t> EventIdField(const Struct& root, const std::string& name) {
  auto it = root.fields().find(name);
  if (it == root.fields().end()) return 0;
  const Value& value = it->second;
  if (value.kind_case() == Value::kNumberValue) {
    double number = value.number_value();
    if (number >= 0 && number <= kMaxExactInteger && std::floor(number) == number) {
      return static_cast<int64_t>(number);
    }
  } else if (value.kind_case() == Value::kStringValue) {
    int64_t id;
    const std::string& text = value.string_value();
    if (!text.empty() && text.size() <= 19 &&
        text.find_first_not_of("0123456789") == std::string::npos && absl::SimpleAtoi(text, &id)) {
      return id;
    }
  }
  return Invalid(absl::StrCat("\"", name, "\" must be a non-negative integer event id"));
}

absl::Status OnlyFields(const Struct& root, std::initializer_list<std::string_view> allowed,
                        std::string_view type) {
  for (const auto& [name, value] : root.fields()) {
    bool known = false;
    for (std::string_view field : allowed) known = known || field == name;
    if (!known) {
      return Invalid(absl::StrCat("\"", name, "\" is not a field of \"", ToAbsl(type), "\""));
    }
  }
  return absl::OkStatus();
}

// An optional string of a nested object: absent or null is "" (browsers' RTCIceCandidate
// toJSON() gives null for what it does not know).
absl::StatusOr<std::string> NullableStringField(const Struct& object, const std::string& name,
                                                std::string_view label) {
  auto it = object.fields().find(name);
  if (it == object.fields().end() || it->second.kind_case() == Value::kNullValue) {
    return std::string();
  }
  if (it->second.kind_case() != Value::kStringValue) {
    return Invalid(absl::StrCat("\"", ToAbsl(label), "\" must be a string"));
  }
  return it->second.string_value();
}

absl::Status ParseCandidate(const Value& value, IceCandidate* candidate) {
  if (value.kind_case() != Value::kStructValue) {
    return Invalid("\"candidate\" must be an object");
  }
  const Struct& object = value.struct_value();
  for (const auto& [name, field] : object.fields()) {
    if (name != "candidate" && name != "sdpMid" && name != "sdpMLineIndex" &&
        name != "usernameFragment") {
      return Invalid(absl::StrCat("\"", name, "\" is not a field of \"candidate\""));
    }
  }
  auto line = NullableStringField(object, "candidate", "candidate.candidate");
  if (!line.ok()) return line.status();
  if (line->empty()) {
    return Invalid(
        "\"candidate.candidate\" is required (the end of candidates is kind "
        "\"end-of-candidates\")");
  }
  auto mid = NullableStringField(object, "sdpMid", "candidate.sdpMid");
  if (!mid.ok()) return mid.status();
  auto fragment = NullableStringField(object, "usernameFragment", "candidate.usernameFragment");
  if (!fragment.ok()) return fragment.status();
  candidate->set_candidate(*std::move(line));
  candidate->set_sdp_mid(*std::move(mid));
  candidate->set_username_fragment(*std::move(fragment));
  auto it = object.fields().find("sdpMLineIndex");
  if (it != object.fields().end() && it->second.kind_case() != Value::kNullValue) {
    double index = it->second.number_value();
    if (it->second.kind_case() != Value::kNumberValue || index < 0 || index > kMaxMLineIndex ||
        std::floor(index) != index) {
      return Invalid("\"candidate.sdpMLineIndex\" must be a non-negative integer");
    }
    candidate->set_sdp_m_line_index(static_cast<int32_t>(index));
  }
  if (candidate->sdp_mid().empty() && !candidate->has_sdp_m_line_index()) {
    return Invalid("\"candidate\" needs \"sdpMid\" or \"sdpMLineIndex\"");
  }
  return absl::OkStatus();
}

absl::Status ParseSignal(const Struct& root, Signal* signal) {
  if (auto s = OnlyFields(root, {"type", "id", "to", "kind", "sdp", "candidate"}, "signal");
      !s.ok()) {
    return s;
  }
  auto to = StringField(root, "to", /*required=*/true);
  if (!to.ok()) return to.status();
  if (to->empty() || to->size() > kMaxPeerIdLength) {
    return Invalid("\"to\" must be a peer id (1 to 256 characters)");
  }
  auto kind = StringField(root, "kind", /*required=*/true);
  if (!kind.ok()) return kind.status();
  if (std::find(std::begin(kSignalKinds), std::end(kSignalKinds), *kind) ==
      std::end(kSignalKinds)) {
    return Invalid("\"kind\" must be offer, answer, candidate or end-of-candidates");
  }
  const bool description = *kind == "offer" || *kind == "answer";
  auto sdp = StringField(root, "sdp", /*required=*/description);
  if (!sdp.ok()) return sdp.status();
  if (description && sdp->empty()) return Invalid("\"sdp\" must not be empty");
  if (!description && root.fields().count("sdp")) {
    return Invalid("\"sdp\" is only for kinds offer and answer");
  }
  auto candidate = root.fields().find("candidate");
  if (*kind == "candidate") {
    if (candidate == root.fields().end()) {
      return Invalid("\"candidate\" is required with kind candidate");
    }
    if (auto s = ParseCandidate(candidate->second, signal->mutable_candidate()); !s.ok()) {
      return s;
    }
  } else if (candidate != root.fields().end()) {
    return Invalid("\"candidate\" is only for kind candidate");
  }
  signal->set_to(*std::move(to));
  signal->set_kind(*std::move(kind));
  signal->set_sdp(*std::move(sdp));
  return absl::OkStatus();
}

// The API's JSON of a service message (ResponseJson) as a Struct, so that envelope fields can
// be added to it without writing JSON by hand.
absl::StatusOr<Struct> ToStruct(const google::protobuf::Message& message) {
  auto json = ResponseJson(message);
  if (!json.ok()) return json.status();
  Struct out;
  auto parsed = google::protobuf::util::JsonStringToMessage(*json, &out);
  if (!parsed.ok()) {
    return absl::InternalError(absl::StrCat("cannot read back ", parsed.message().as_string()));
  }
  return out;
}

std::string Print(const Struct& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) return "{}";
  return out;
}

Struct Envelope(std::string_view type) {
  Struct message;
  (*message.mutable_fields())["type"].set_string_value(std::string(type));
  return message;
}

void SetString(Struct* message, const char* name, std::string_view value) {
  (*message->mutable_fields())[name].set_string_value(std::string(value));
}

void SetRef(Struct* message, const char* name, const std::optional<Value>& ref) {
  if (ref) (*message->mutable_fields())[name] = *ref;
}

// `body`'s fields with `type` (and `seq` when positive) added in front.
absl::StatusOr<std::string> Flattened(std::string_view type, int64_t seq,
                                      const google::protobuf::Message& body) {
  auto message = ToStruct(body);
  if (!message.ok()) return message.status();
  SetString(&*message, "type", type);
  if (seq > 0) SetString(&*message, "seq", absl::StrCat(seq));
  return Print(*message);
}

// `{"type":...,"seq":...,<name>:<body>}`.
absl::StatusOr<std::string> Nested(std::string_view type, int64_t seq, const char* name,
                                   const google::protobuf::Message& body) {
  auto inner = ToStruct(body);
  if (!inner.ok()) return inner.status();
  Struct message = Envelope(type);
  SetString(&message, "seq", absl::StrCat(seq));
  *(*message.mutable_fields())[name].mutable_struct_value() = *std::move(inner);
  return Print(message);
}

}  // namespace

bool IsValidRoomId(std::string_view room_id) {
  if (room_id.empty() || room_id.size() > kMaxRoomIdLength) return false;
  for (char c : room_id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != ':' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

absl::Status ParseLiveMessage(std::string_view text, LiveClientMessage* message) {
  *message = LiveClientMessage{};
  Struct root;
  google::protobuf::util::JsonParseOptions options;
  auto parsed = google::protobuf::util::JsonStringToMessage(std::string(text), &root, options);
  if (!parsed.ok()) {
    return Invalid(absl::StrCat("malformed JSON: ", parsed.message().as_string()));
  }
  if (auto it = root.fields().find("id"); it != root.fields().end()) message->id = it->second;
  auto type = StringField(root, "type", /*required=*/true);
  if (!type.ok()) return type.status();
  message->type_name = *type;
  if (*type == "auth") {
    message->type = LiveClientMessage::Type::kAuth;
    if (auto s = OnlyFields(root, {"type", "id", "accessToken"}, *type); !s.ok()) return s;
    auto token = StringField(root, "accessToken", /*required=*/true);
    if (!token.ok()) return token.status();
    message->access_token = *std::move(token);
    return absl::OkStatus();
  }
  if (*type == "subscribe" || *type == "unsubscribe") {
    const bool subscribe = *type == "subscribe";
    message->type =
        subscribe ? LiveClientMessage::Type::kSubscribe : LiveClientMessage::Type::kUnsubscribe;
    auto s = subscribe ? OnlyFields(root, {"type", "id", "roomId", "after"}, *type)
                       : OnlyFields(root, {"type", "id", "roomId"}, *type);
    if (!s.ok()) return s;
    auto room = StringField(root, "roomId", /*required=*/true);
    if (!room.ok()) return room.status();
    message->room_id = *std::move(room);
    if (!IsValidRoomId(message->room_id)) {
      return Invalid("\"roomId\" must be 1 to 128 letters, digits or ._:-");
    }
    if (subscribe) {
      auto after = EventIdField(root, "after");
      if (!after.ok()) return after.status();
      message->after = *after;
    }
    return absl::OkStatus();
  }
  if (*type == "ping") {
    message->type = LiveClientMessage::Type::kPing;
    return OnlyFields(root, {"type", "id"}, *type);
  }
  if (*type == "join") {
    message->type = LiveClientMessage::Type::kJoin;
    if (auto s = OnlyFields(root, {"type", "id", "roomId", "afterSeq"}, *type); !s.ok()) return s;
    auto room = StringField(root, "roomId", /*required=*/true);
    if (!room.ok()) return room.status();
    message->room_id = *std::move(room);
    if (!IsValidRoomId(message->room_id)) {
      return Invalid("\"roomId\" must be 1 to 128 letters, digits or ._:-");
    }
    auto after = EventIdField(root, "afterSeq");
    if (!after.ok()) return after.status();
    message->after = *after;
    return absl::OkStatus();
  }
  if (*type == "signal") {
    message->type = LiveClientMessage::Type::kSignal;
    return ParseSignal(root, &message->signal);
  }
  if (*type == "leave" || *type == "ice-servers") {
    message->type =
        *type == "leave" ? LiveClientMessage::Type::kLeave : LiveClientMessage::Type::kIceServers;
    return OnlyFields(root, {"type", "id"}, *type);
  }
  if (*type == "screen-share") {
    message->type = LiveClientMessage::Type::kScreenShare;
    if (auto s = OnlyFields(root, {"type", "id", "on"}, *type); !s.ok()) return s;
    auto it = root.fields().find("on");
    if (it == root.fields().end()) return Invalid("\"on\" is required");
    if (it->second.kind_case() != Value::kBoolValue) return Invalid("\"on\" must be true or false");
    message->on = it->second.bool_value();
    return absl::OkStatus();
  }
  message->type = LiveClientMessage::Type::kUnknown;
  return absl::OkStatus();
}

std::string LiveReadyMessage(std::string_view account_id, int64_t expires_at) {
  Struct message = Envelope("ready");
  SetString(&message, "accountId", account_id);
  SetString(
      &message, "expiresAt",
      absl::FormatTime(absl::RFC3339_sec, absl::FromUnixSeconds(expires_at), absl::UTCTimeZone()));
  return Print(message);
}

std::string LiveSubscribedMessage(std::string_view room_id, int64_t last_event_id,
                                  const std::optional<Value>& ref) {
  Struct message = Envelope("subscribed");
  SetString(&message, "roomId", room_id);
  SetString(&message, "lastEventId", absl::StrCat(last_event_id));
  SetRef(&message, "ref", ref);
  return Print(message);
}

std::string LiveUnsubscribedMessage(std::string_view room_id, const std::optional<Value>& ref) {
  Struct message = Envelope("unsubscribed");
  SetString(&message, "roomId", room_id);
  SetRef(&message, "ref", ref);
  return Print(message);
}

std::string LivePongMessage(const std::optional<Value>& id) {
  Struct message = Envelope("pong");
  SetRef(&message, "id", id);
  return Print(message);
}

std::string LiveErrorMessage(std::string_view code, std::string_view message_text,
                             std::string_view room_id, const std::optional<Value>& ref) {
  Struct message = Envelope("error");
  SetString(&message, "code", code);
  SetString(&message, "message", message_text);
  if (!room_id.empty()) SetString(&message, "roomId", room_id);
  SetRef(&message, "ref", ref);
  return Print(message);
}

std::string LiveErrorMessage(const api::v1::ErrorInfo& info, std::string_view room_id,
                             const std::optional<Value>& ref) {
  Struct message = Envelope("error");
  SetString(&message, "code", info.code());
  SetString(&message, "message", info.message());
  if (!room_id.empty()) SetString(&message, "roomId", room_id);
  SetRef(&message, "ref", ref);
  if (!info.details().empty()) {
    Struct* details = (*message.mutable_fields())["details"].mutable_struct_value();
    for (const auto& [key, value] : info.details()) SetString(details, key.c_str(), value);
  }
  return Print(message);
}

absl::StatusOr<std::string> LiveJoinedMessage(const media_signaling::v1::Joined& joined,
                                              const std::optional<Value>& ref) {
  auto message = ToStruct(joined);
  if (!message.ok()) return message.status();
  SetString(&*message, "type", "joined");
  SetRef(&*message, "ref", ref);
  return Print(*message);
}

absl::StatusOr<std::string> LiveDeliveryMessage(const Delivery& delivery) {
  switch (delivery.body_case()) {
    case Delivery::kSignal:
      return Flattened("signal", delivery.seq(), delivery.signal());
    case Delivery::kPeerJoined:
      return Nested("peer-joined", delivery.seq(), "peer", delivery.peer_joined());
    case Delivery::kPeerLeft:
      return Flattened("peer-left", delivery.seq(), delivery.peer_left());
    case Delivery::kPeerUpdated:
      return Nested("peer-updated", delivery.seq(), "peer", delivery.peer_updated());
    case Delivery::kSessionEnded:
      return Flattened("session-ended", delivery.seq(), delivery.session_ended());
    case Delivery::kReplaced:
      return Print(Envelope("replaced"));
    case Delivery::kJoined:
    case Delivery::BODY_NOT_SET:
      break;
  }
  return Invalid("a delivery without a body, or a second joined");
}

std::string LiveSessionEndedMessage(std::string_view reason) {
  Struct message = Envelope("session-ended");
  SetString(&message, "reason", reason);
  return Print(message);
}

std::string LiveLeftMessage(const std::optional<Value>& ref) {
  Struct message = Envelope("left");
  SetRef(&message, "ref", ref);
  return Print(message);
}

std::string LiveScreenShareMessage(bool on, const std::optional<Value>& ref) {
  Struct message = Envelope("screen-share");
  (*message.mutable_fields())["on"].set_bool_value(on);
  SetRef(&message, "ref", ref);
  return Print(message);
}

absl::StatusOr<std::string> LiveIceServersMessage(const media_signaling::v1::IceServers& servers,
                                                  const std::optional<Value>& ref) {
  auto message = ToStruct(servers);
  if (!message.ok()) return message.status();
  SetString(&*message, "type", "ice-servers");
  SetRef(&*message, "ref", ref);
  return Print(*message);
}

absl::StatusOr<std::string> LiveEventFrame(std::string_view room_id,
                                           const waiting_room::v1::Event& event) {
  auto json = ResponseJson(event);
  if (!json.ok()) return json.status();
  // The envelope around the service's JSON is fixed text: room ids are checked to need no
  // escaping, and the frame is then built once for every subscriber of the room.
  return absl::StrCat(R"({"type":"event","roomId":")", ToAbsl(room_id), R"(","event":)", *json,
                      "}");
}

bool LiveEventVisible(Audience audience, std::string_view to_account_id, bool examiner,
                      std::string_view account_id) {
  if (examiner) return true;
  if (audience == waiting_room::v1::ROOM) return true;
  return audience == waiting_room::v1::PRIVATE && !account_id.empty() &&
         to_account_id == account_id;
}

}  // namespace admissions::gateway
