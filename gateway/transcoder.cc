#include "gateway/transcoder.h"

#include <algorithm>
#include <limits>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/crypto.h"
#include "common/status.h"
#include "gateway/strings.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/json_util.h"

namespace admissions::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr size_t kMaxEchoedValue = 40;

absl::Status Bad(std::string_view message, std::string_view field = {}) {
  if (field.empty()) {
    return Error(absl::StatusCode::kInvalidArgument, reason::kInvalidArgument, message);
  }
  return InvalidField(field, message);
}

// "messages[0]" -> ("messages", "[0]").
std::pair<std::string_view, std::string_view> SplitIndex(std::string_view segment) {
  size_t bracket = segment.find('[');
  if (bracket == std::string_view::npos) return {segment, {}};
  return {segment.substr(0, bracket), segment.substr(bracket)};
}

// Rewrites a field path of proto names as the parser reports it ("messages[0].sent_at") with
// JSON names ("messages[0].sentAt"). A map's entry path ends at the map field.
std::string JsonPath(const Descriptor* root, std::string_view proto_path) {
  std::vector<std::string> out;
  const Descriptor* type = root;
  for (std::string_view segment : Split(proto_path, '.')) {
    auto [name, index] = SplitIndex(segment);
    const FieldDescriptor* field =
        type == nullptr ? nullptr : type->FindFieldByName(std::string(name));
    if (field == nullptr && type != nullptr) field = FieldByJsonName(type, name);
    if (field == nullptr) {
      out.push_back(std::string(segment));
      type = nullptr;
      continue;
    }
    if (field->is_map()) {
      out.push_back(field->json_name());
      break;
    }
    out.push_back(absl::StrCat(field->json_name(), ToAbsl(index)));
    type = field->message_type();
  }
  return absl::StrJoin(out, ".");
}

std::string EnumChoices(const EnumDescriptor* type) {
  std::vector<std::string> names;
  for (int i = 0; i < type->value_count(); ++i) {
    const auto* value = type->value(i);
    if (value->number() == 0 && EndsWith(value->name(), "_UNSPECIFIED")) continue;
    names.push_back(value->name());
  }
  return absl::StrJoin(names, ", ");
}

// What a value of `type` (as the JSON parser names it) should look like.
std::string Expected(std::string_view type) {
  static constexpr std::pair<std::string_view, std::string_view> kScalars[] = {
      {"TYPE_STRING", "a string"},  {"TYPE_BYTES", "base64 text"}, {"TYPE_BOOL", "true or false"},
      {"TYPE_INT32", "an int32"},   {"TYPE_SINT32", "an int32"},   {"TYPE_SFIXED32", "an int32"},
      {"TYPE_UINT32", "a uint32"},  {"TYPE_FIXED32", "a uint32"},  {"TYPE_INT64", "an int64"},
      {"TYPE_SINT64", "an int64"},  {"TYPE_SFIXED64", "an int64"}, {"TYPE_UINT64", "a uint64"},
      {"TYPE_FIXED64", "a uint64"}, {"TYPE_DOUBLE", "a number"},   {"TYPE_FLOAT", "a number"},
  };
  for (const auto& [name, text] : kScalars) {
    if (type == name) return std::string(text);
  }
  constexpr std::string_view kPrefix = "type.googleapis.com/";
  if (StartsWith(type, kPrefix)) {
    std::string full_name(type.substr(kPrefix.size()));
    const auto* pool = google::protobuf::DescriptorPool::generated_pool();
    if (const EnumDescriptor* e = pool->FindEnumTypeByName(full_name)) {
      return absl::StrCat("one of ", EnumChoices(e));
    }
    if (full_name == "google.protobuf.Timestamp") return "an RFC 3339 timestamp";
    if (full_name == "google.protobuf.Duration") return "a duration such as \"1.5s\"";
  }
  return "an object";
}

// Turns the JSON parser's status into INVALID_ARGUMENT naming the field at fault.
absl::Status FromParseError(const Descriptor* root, std::string_view text) {
  text = ToStd(absl::StripAsciiWhitespace(ToAbsl(text)));
  constexpr std::string_view kInvalid = "): invalid value ";
  constexpr std::string_view kForType = " for type ";
  constexpr std::string_view kNoField = ": Cannot find field.";
  constexpr std::string_view kNotList = ": Proto field is not repeating, cannot start list.";

  if (text == ": Root element must be a message.") {
    return Bad("request body must be a JSON object");
  }
  if (StartsWith(text, "(")) {
    size_t close = text.find(kInvalid);
    size_t for_type = text.rfind(kForType);
    if (close != std::string_view::npos && for_type != std::string_view::npos && for_type > close) {
      std::string field = JsonPath(root, text.substr(1, close - 1));
      std::string_view value =
          text.substr(close + kInvalid.size(), for_type - close - kInvalid.size());
      std::string expected = Expected(text.substr(for_type + kForType.size()));
      if (value.size() <= kMaxEchoedValue && value.find("Field '") == std::string_view::npos) {
        return Bad(absl::StrCat("field ", field, ": invalid value ", ToAbsl(value), ", expected ",
                                expected),
                   field);
      }
      return Bad(absl::StrCat("field ", field, ": invalid value, expected ", expected), field);
    }
  }
  for (std::string_view suffix : {kNoField, kNotList}) {
    if (!EndsWith(text, suffix)) continue;
    std::string_view head = text.substr(0, text.size() - suffix.size());
    std::string field;
    if (StartsWith(head, "(")) {
      size_t close = head.find(") ");
      if (close != std::string_view::npos) {
        field = absl::StrCat(JsonPath(root, head.substr(1, close - 1)), ".",
                             ToAbsl(head.substr(close + 2)));
      }
    } else {
      field = std::string(head);
    }
    if (suffix == kNoField) return Bad(absl::StrCat("unknown field ", field), field);
    return Bad(absl::StrCat("field ", field, " is not a list"), field);
  }
  constexpr std::string_view kScalarObject = ": invalid value Starting an object on a scalar field";
  if (StartsWith(text, kScalarObject) && text.find(kForType) != std::string_view::npos) {
    std::string field = JsonPath(root, text.substr(text.rfind(kForType) + kForType.size()));
    return Bad(absl::StrCat("field ", field, ": expected a scalar, not an object"), field);
  }
  constexpr std::string_view kMapList = "Cannot bind a list to map for field '";
  if (size_t at = text.find(kMapList); at != std::string_view::npos) {
    std::string_view rest = text.substr(at + kMapList.size());
    std::string field = JsonPath(root, rest.substr(0, rest.find('\'')));
    return Bad(absl::StrCat("field ", field, ": expected an object, not a list"), field);
  }
  std::string_view first_line = text.substr(0, text.find('\n'));
  return Bad(absl::StrCat("malformed JSON: ", ToAbsl(first_line)));
}

template <typename T>
bool ParseInteger(std::string_view text, T* out) {
  if (text.empty() || absl::ascii_isspace(static_cast<unsigned char>(text.front())) ||
      absl::ascii_isspace(static_cast<unsigned char>(text.back()))) {
    return false;
  }
  return absl::SimpleAtoi(ToAbsl(text), out);
}

// An optional sign and digits: an integer, perhaps out of range.
bool LooksInteger(std::string_view text) {
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) text.remove_prefix(1);
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
}

std::string Echo(std::string_view text) {
  if (text.size() <= kMaxEchoedValue) return absl::StrCat("\"", ToAbsl(text), "\"");
  return "the value";
}

absl::Status SetScalar(const FieldDescriptor* field, std::string_view text, std::string_view source,
                       Message* message) {
  const Reflection* r = message->GetReflection();
  const bool rep = field->is_repeated();
  const std::string& name = field->json_name();
  auto fail = [&](std::string_view why) {
    return Bad(absl::StrCat(ToAbsl(source), " ", name, ": ", ToAbsl(why)), name);
  };
  auto out_of_range = [&](std::string_view type) {
    return fail(absl::StrCat(Echo(text), " is out of range for ", ToAbsl(type)));
  };
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string value(text);
      if (field->type() == FieldDescriptor::TYPE_BYTES) {
        auto decoded = Base64Decode(text);
        if (!decoded) decoded = Base64UrlDecode(text);
        if (!decoded) return fail("expected base64 text");
        value = *std::move(decoded);
      } else if (!IsValidUtf8(text)) {
        return fail("not valid UTF-8");
      }
      rep ? r->AddString(message, field, std::move(value))
          : r->SetString(message, field, std::move(value));
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v = 0;
      if (!ParseInteger(text, &v)) {
        return LooksInteger(text) ? out_of_range("int64")
                                  : fail(absl::StrCat(Echo(text), " is not an integer"));
      }
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_INT32) {
        if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
          return out_of_range("int32");
        }
        rep ? r->AddInt32(message, field, static_cast<int32_t>(v))
            : r->SetInt32(message, field, static_cast<int32_t>(v));
      } else {
        rep ? r->AddInt64(message, field, v) : r->SetInt64(message, field, v);
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v = 0;
      if (!ParseInteger(text, &v)) {
        return LooksInteger(text)
                   ? out_of_range(field->cpp_type() == FieldDescriptor::CPPTYPE_UINT32 ? "uint32"
                                                                                       : "uint64")
                   : fail(absl::StrCat(Echo(text), " is not an integer"));
      }
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_UINT32) {
        if (v > std::numeric_limits<uint32_t>::max()) return out_of_range("uint32");
        rep ? r->AddUInt32(message, field, static_cast<uint32_t>(v))
            : r->SetUInt32(message, field, static_cast<uint32_t>(v));
      } else {
        rep ? r->AddUInt64(message, field, v) : r->SetUInt64(message, field, v);
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      double v = 0;
      if (text.empty() || !absl::SimpleAtod(ToAbsl(text), &v)) {
        return fail(absl::StrCat(Echo(text), " is not a number"));
      }
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT) {
        rep ? r->AddFloat(message, field, static_cast<float>(v))
            : r->SetFloat(message, field, static_cast<float>(v));
      } else {
        rep ? r->AddDouble(message, field, v) : r->SetDouble(message, field, v);
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool v;
      if (text == "true") {
        v = true;
      } else if (text == "false") {
        v = false;
      } else {
        return fail("expected true or false");
      }
      rep ? r->AddBool(message, field, v) : r->SetBool(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* value = field->enum_type()->FindValueByName(std::string(text));
      if (value == nullptr) {
        return fail(absl::StrCat(Echo(text), " is not one of ", EnumChoices(field->enum_type())));
      }
      rep ? r->AddEnum(message, field, value) : r->SetEnum(message, field, value);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      break;
  }
  return fail("cannot be set from text");
}

}  // namespace

absl::StatusOr<std::vector<QueryParam>> ParseQuery(std::string_view query) {
  std::vector<QueryParam> params;
  for (std::string_view pair : Split(query, '&')) {
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string_view raw_name = pair.substr(0, eq);
    std::string_view raw_value = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    auto name = PercentDecode(raw_name, /*plus_is_space=*/true);
    if (!name.ok() || name->empty() || !IsValidUtf8(*name) ||
        name->find('\0') != std::string::npos) {
      return Bad("malformed query parameter name");
    }
    auto value = PercentDecode(raw_value, /*plus_is_space=*/true);
    if (!value.ok()) {
      return Bad(absl::StrCat("query parameter ", *name, " is not validly percent-encoded"), *name);
    }
    if (!IsValidUtf8(*value)) {
      return Bad(absl::StrCat("query parameter ", *name, " is not valid UTF-8"), *name);
    }
    if (value->find('\0') != std::string::npos) {
      return Bad(absl::StrCat("query parameter ", *name, " contains a NUL character"), *name);
    }
    params.push_back({*std::move(name), *std::move(value)});
  }
  return params;
}

absl::Status SetFieldFromText(const FieldDescriptor* field, std::string_view text,
                              std::string_view source, Message* message) {
  return SetScalar(field, text, source, message);
}

absl::Status TranscodeRequest(const RequestParts& parts, Message* message) {
  message->Clear();
  const Descriptor* type = message->GetDescriptor();
  const Reflection* reflection = message->GetReflection();
  absl::flat_hash_set<const FieldDescriptor*> reserved;
  if (parts.raw_body_field != nullptr) {
    const FieldDescriptor* field = parts.raw_body_field;
    if (field->type() != FieldDescriptor::TYPE_BYTES && !IsValidUtf8(parts.body)) {
      return Bad("request body is not valid UTF-8");
    }
    reflection->SetString(message, field, std::string(parts.body));
    reserved.insert(field);
  } else if (parts.body_is_message) {
    if (!IsValidUtf8(parts.body)) return Bad("request body is not valid UTF-8");
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    std::string_view body = parts.body.empty() ? std::string_view("{}") : parts.body;
    auto status = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(body.data(), body.size()), message, options);
    if (!status.ok()) return FromParseError(type, status.message().as_string());
  } else if (!parts.body.empty()) {
    return Bad("this endpoint takes no request body");
  }

  for (const HeaderValue& header : parts.headers) {
    reserved.insert(header.field);
    if (!IsValidUtf8(header.value)) {
      return Bad(absl::StrCat("header ", ToAbsl(header.header), " is not valid UTF-8"),
                 header.field->json_name());
    }
    reflection->SetString(message, header.field, std::string(header.value));
  }
  for (const PathVariable& var : parts.path) {
    const FieldDescriptor* field = FieldByJsonName(type, var.field);
    if (field == nullptr || field->is_repeated() ||
        field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      return Error(absl::StatusCode::kInternal, reason::kInternal,
                   absl::StrCat("path variable ", var.field, " names no scalar field"));
    }
    reserved.insert(field);
  }
  absl::flat_hash_set<const FieldDescriptor*> seen;
  for (const QueryParam& param : parts.query) {
    const FieldDescriptor* field = FieldByJsonName(type, param.name);
    if (field == nullptr) {
      return Bad(absl::StrCat("unknown query parameter ", param.name), param.name);
    }
    if (reserved.contains(field)) {
      return Bad(absl::StrCat("query parameter ", param.name,
                              " names a field set by a path variable, a header or the body"),
                 param.name);
    }
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      return Bad(
          absl::StrCat("query parameter ", param.name, " names a field that is not a scalar"),
          param.name);
    }
    if (!seen.insert(field).second && !field->is_repeated()) {
      return Bad(absl::StrCat("query parameter ", param.name, " is given more than once"),
                 param.name);
    }
    auto status = SetScalar(field, param.value, "query parameter", message);
    if (!status.ok()) return status;
  }
  for (const PathVariable& var : parts.path) {
    auto status = SetScalar(FieldByJsonName(type, var.field), var.value, "path variable", message);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ResponseBody(const Message& message, const FieldDescriptor* field) {
  if (field == nullptr) return ResponseJson(message);
  return message.GetReflection()->GetString(message, field);
}

absl::StatusOr<std::string> ResponseJson(const Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = false;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot print response: ", status.message().as_string()));
  }
  return out;
}

std::unique_ptr<Message> NewMessage(const Descriptor* type) {
  const Message* prototype =
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(type);
  if (prototype == nullptr) {
    static auto* dynamic_factory = new google::protobuf::DynamicMessageFactory();
    prototype = dynamic_factory->GetPrototype(type);
  }
  return std::unique_ptr<Message>(prototype->New());
}

}  // namespace admissions::gateway
