#include "gateway/live_protocol.h"

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
using waiting_room::v1::Audience;

constexpr size_t kMaxRoomIdLength = 128;
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
