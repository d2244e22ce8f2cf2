#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gateway/route_table.h"
#include "google/protobuf/message.h"

namespace admissions::gateway {

/// One decoded query parameter.
struct QueryParam {
  std::string name;
  std::string value;
};

/// Splits and decodes a query string ("a=1&b=x+y"). INVALID_ARGUMENT (reason INVALID_ARGUMENT,
/// details.field = the parameter) on a bad escape, invalid UTF-8, a NUL, or an empty name.
absl::StatusOr<std::vector<QueryParam>> ParseQuery(std::string_view query);

/// A request header bound to a string field, and its value.
struct HeaderValue {
  std::string_view header;
  const google::protobuf::FieldDescriptor* field = nullptr;
  std::string_view value;
};

/// What an HTTP request contributes to a request message.
struct RequestParts {
  /// True for rules with body "*": `body` is the message's JSON (empty counts as "{}").
  bool body_is_message = false;
  /// Set for rules whose body names a field: `body` is stored there as is.
  const google::protobuf::FieldDescriptor* raw_body_field = nullptr;
  /// Must be empty unless one of the two above is set.
  std::string_view body;
  std::vector<HeaderValue> headers;
  std::vector<QueryParam> query;
  std::vector<PathVariable> path;
};

/// Fills `message` (cleared first) from the body, the bound headers, then the query
/// parameters, then the path variables, each later source overriding scalar fields set by an
/// earlier one. Every failure is INVALID_ARGUMENT with reason INVALID_ARGUMENT, a message that
/// names the problem and, when a field is at fault, details.field = its JSON path (e.g.
/// "messages[0].sentAt"): malformed JSON, a root that is not an object, an unknown field, a
/// value of the wrong type, an unknown enum name, an integer out of range, invalid UTF-8, an
/// unknown or repeated query parameter, a query parameter that names a non-scalar field or a
/// field that the path, a header or the raw body sets.
absl::Status TranscodeRequest(const RequestParts& parts, google::protobuf::Message* message);

/// Sets one field from text: strings (UTF-8), bytes (base64), integers (range-checked),
/// floating point, bools ("true"/"false"), enums by name. Repeated fields get the value
/// appended. `source` says where the text came from in error messages ("query parameter").
absl::Status SetFieldFromText(const google::protobuf::FieldDescriptor* field, std::string_view text,
                              std::string_view source, google::protobuf::Message* message);

/// The response JSON: lowerCamelCase names, enums by name, primitive fields always printed.
absl::StatusOr<std::string> ResponseJson(const google::protobuf::Message& message);

/// The response body: the JSON of `message`, or, when `field` is set (the rule's response_body),
/// that string or bytes field's value as is.
absl::StatusOr<std::string> ResponseBody(const google::protobuf::Message& message,
                                         const google::protobuf::FieldDescriptor* field);

/// A fresh, empty message of a type from the generated pool.
std::unique_ptr<google::protobuf::Message> NewMessage(const google::protobuf::Descriptor* type);

}  // namespace admissions::gateway
