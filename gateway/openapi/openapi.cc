#include "gateway/openapi/openapi.h"

#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "api/v1/annotations.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/type_resolver.h"
#include "google/protobuf/util/type_resolver_util.h"

namespace admissions::openapi {
namespace internal {
/// The FileDescriptorSet of every file under proto/, with its comments (SourceCodeInfo).
/// Defined in a .cc that the build generates (embed_descriptor_set.cmake).
std::string_view ProtoDescriptorSet();
}  // namespace internal

namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;
using google::protobuf::MethodDescriptor;
using google::protobuf::ServiceDescriptor;
using google::protobuf::SourceCodeInfo;
using google::protobuf::Value;

constexpr std::string_view kGatewayTag = "Gateway";
constexpr std::string_view kErrorSchema = "Error";

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "openapi: %s\n", why.c_str());
  std::abort();
}

// ---- JSON values as google.protobuf.Value ----

Value Str(std::string_view text) {
  Value v;
  v.set_string_value(std::string(text));
  return v;
}

Value Bool(bool b) {
  Value v;
  v.set_bool_value(b);
  return v;
}

Value List(std::vector<Value> items) {
  Value v;
  auto* list = v.mutable_list_value();
  for (Value& item : items) *list->add_values() = std::move(item);
  return v;
}

Value Obj(std::initializer_list<std::pair<std::string_view, Value>> entries = {}) {
  Value v;
  auto* fields = v.mutable_struct_value()->mutable_fields();
  for (const auto& [key, value] : entries) (*fields)[std::string(key)] = value;
  return v;
}

void Set(Value* object, std::string_view key, Value value) {
  (*object->mutable_struct_value()->mutable_fields())[std::string(key)] = std::move(value);
}

// The object at `key`, created empty when absent.
Value* At(Value* object, std::string_view key) {
  Value& child = (*object->mutable_struct_value()->mutable_fields())[std::string(key)];
  if (!child.has_struct_value()) child.mutable_struct_value();
  return &child;
}

bool IsRef(const Value& schema) {
  return schema.has_struct_value() && schema.struct_value().fields().count("$ref") == 1;
}

Value SchemaRef(std::string_view name) {
  return Obj({{"$ref", Str(std::string("#/components/schemas/") + std::string(name))}});
}

Value ResponseRef(std::string_view name) {
  return Obj({{"$ref", Str(std::string("#/components/responses/") + std::string(name))}});
}

// Adds `key` to a schema; a $ref takes no siblings in OpenAPI 3.0, so it is wrapped first.
void Annotate(Value* schema, std::string_view key, Value value) {
  if (IsRef(*schema)) *schema = Obj({{"allOf", List({*schema})}});
  Set(schema, key, std::move(value));
}

// Pretty-printed JSON with object keys in sorted order. MessageToJsonString prints a Struct's
// map in hash order, which changes from run to run; deterministic serialization sorts map
// entries by key, and the binary-to-JSON converter keeps the wire order.
std::string PrintSorted(const Value& document) {
  std::string binary;
  {
    google::protobuf::io::StringOutputStream stream(&binary);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    if (!document.SerializeToCodedStream(&coded)) Die("cannot serialize the document");
  }
  constexpr char kUrlPrefix[] = "type.googleapis.com";
  std::unique_ptr<google::protobuf::util::TypeResolver> resolver(
      google::protobuf::util::NewTypeResolverForDescriptorPool(
          kUrlPrefix, google::protobuf::DescriptorPool::generated_pool()));
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  std::string json;
  auto status = google::protobuf::util::BinaryToJsonString(
      resolver.get(), std::string(kUrlPrefix) + "/" + Value::descriptor()->full_name(), binary,
      &json, options);
  if (!status.ok()) Die("cannot print the document: " + status.ToString());
  if (json.empty() || json.back() != '\n') json += '\n';
  return json;
}

// ---- comments from the embedded descriptor set ----

using Path = std::vector<int>;

Path PathOf(const Descriptor* message) {
  if (message->containing_type() == nullptr) {
    return {google::protobuf::FileDescriptorProto::kMessageTypeFieldNumber, message->index()};
  }
  Path path = PathOf(message->containing_type());
  path.insert(path.end(),
              {google::protobuf::DescriptorProto::kNestedTypeFieldNumber, message->index()});
  return path;
}

Path PathOf(const FieldDescriptor* field) {
  Path path = PathOf(field->containing_type());
  path.insert(path.end(), {google::protobuf::DescriptorProto::kFieldFieldNumber, field->index()});
  return path;
}

Path PathOf(const EnumDescriptor* type) {
  if (type->containing_type() == nullptr) {
    return {google::protobuf::FileDescriptorProto::kEnumTypeFieldNumber, type->index()};
  }
  Path path = PathOf(type->containing_type());
  path.insert(path.end(), {google::protobuf::DescriptorProto::kEnumTypeFieldNumber, type->index()});
  return path;
}

Path PathOf(const EnumValueDescriptor* value) {
  Path path = PathOf(value->type());
  path.insert(path.end(),
              {google::protobuf::EnumDescriptorProto::kValueFieldNumber, value->index()});
  return path;
}

Path PathOf(const ServiceDescriptor* service) {
  return {google::protobuf::FileDescriptorProto::kServiceFieldNumber, service->index()};
}

Path PathOf(const MethodDescriptor* method) {
  Path path = PathOf(method->service());
  path.insert(path.end(),
              {google::protobuf::ServiceDescriptorProto::kMethodFieldNumber, method->index()});
  return path;
}

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

// Comment text as prose: the lines of a paragraph joined by spaces, paragraphs by a blank line.
void AppendProse(std::string_view comment, std::string* out) {
  bool in_paragraph = false;
  while (!comment.empty()) {
    size_t end = comment.find('\n');
    std::string_view line = Trim(comment.substr(0, end));
    comment = end == std::string_view::npos ? std::string_view() : comment.substr(end + 1);
    if (line.empty()) {
      in_paragraph = false;
      continue;
    }
    if (!out->empty()) *out += in_paragraph ? " " : "\n\n";
    *out += line;
    in_paragraph = true;
  }
}

class Comments {
 public:
  Comments() {
    std::string_view data = internal::ProtoDescriptorSet();
    if (!set_.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
      Die("the embedded descriptor set does not parse");
    }
    for (const auto& file : set_.file()) {
      auto& locations = by_file_[file.name()];
      for (const auto& location : file.source_code_info().location()) {
        locations[Path(location.path().begin(), location.path().end())] = &location;
      }
    }
  }

  template <typename D>
  std::string Of(const D* descriptor) const {
    return At(descriptor->file()->name(), PathOf(descriptor));
  }

  std::string OfPackage(const FileDescriptor* file) const {
    return At(file->name(), {google::protobuf::FileDescriptorProto::kPackageFieldNumber});
  }

 private:
  std::string At(const std::string& file, const Path& path) const {
    auto f = by_file_.find(file);
    if (f == by_file_.end()) return {};
    auto l = f->second.find(path);
    if (l == f->second.end()) return {};
    std::string text;
    AppendProse(l->second->leading_comments(), &text);
    AppendProse(l->second->trailing_comments(), &text);
    return text;
  }

  google::protobuf::FileDescriptorSet set_;
  std::map<std::string, std::map<Path, const SourceCodeInfo::Location*>> by_file_;
};

// The first sentence of the first paragraph.
std::string Summary(const std::string& description) {
  std::string_view text = description;
  text = text.substr(0, text.find("\n\n"));
  size_t stop = text.find(". ");
  return std::string(stop == std::string_view::npos ? text : text.substr(0, stop + 1));
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    default:
      return "Success";
  }
}

// ---- the error responses shared by every operation ----

struct ErrorResponse {
  int status;
  std::string_view name;
  std::string_view description;
  /// Only on operations that read a JSON body.
  bool body_only;
};

constexpr ErrorResponse kErrorResponses[] = {
    {400, "InvalidArgument",
     "INVALID_ARGUMENT, with details.field naming the field at fault: malformed JSON, an unknown "
     "field or query parameter, a value of the wrong type or out of range, an unknown enum name, "
     "a value the service rejects. PAYLOAD_TOO_LARGE comes as 413.",
     false},
    {401, "Unauthenticated",
     "UNAUTHENTICATED: no access token, a malformed, badly signed or expired one, or one whose "
     "session has ended (logout, refresh-token reuse, password reset). Sent with "
     "`WWW-Authenticate: Bearer`. Endpoints without a token answer it for bad credentials or "
     "signatures.",
     false},
    {403, "PermissionDenied",
     "PERMISSION_DENIED, or a reason naming what the caller still lacks (AGREEMENT_REQUIRED, "
     "NOT_ELIGIBLE, ...; see docs/api/README.md).",
     false},
    {404, "NotFound", "NOT_FOUND: no such endpoint, or no such resource for this caller.", false},
    {409, "Conflict",
     "ALREADY_EXISTS, or a reason saying that the resource's state does not allow the call "
     "(gRPC FAILED_PRECONDITION or ABORTED).",
     false},
    {413, "PayloadTooLarge", "PAYLOAD_TOO_LARGE: the request body exceeds the gateway's limit.",
     false},
    {415, "UnsupportedFormat",
     "UNSUPPORTED_FORMAT: a request body whose Content-Type is not application/json.", true},
    {429, "RateLimited",
     "RATE_LIMITED: too many requests; `Retry-After` and details.retryAfterSeconds give the "
     "seconds to wait.",
     false},
    {500, "Internal", "INTERNAL: an unexpected failure; the message reveals nothing internal.",
     false},
    {503, "Unavailable", "UNAVAILABLE: the service behind the endpoint cannot be reached; retry.",
     false},
    {504, "DeadlineExceeded",
     "DEADLINE_EXCEEDED: the service did not answer within the gateway's deadline.", false},
};

Value ErrorResponseComponent(const ErrorResponse& error) {
  Value response =
      Obj({{"description", Str(error.description)},
           {"content", Obj({{"application/json", Obj({{"schema", SchemaRef(kErrorSchema)}})}})}});
  if (error.status == 429) {
    Set(At(&response, "headers"), "Retry-After",
        Obj({{"description", Str("Seconds to wait before trying again.")},
             {"schema", Obj({{"type", Str("integer")}})}}));
  }
  return response;
}

// ---- the document ----

class Generator {
 public:
  explicit Generator(bool include_dev_only) : include_dev_only_(include_dev_only) {}

  Value Build() {
    for (std::string_view name : kServices) {
      const ServiceDescriptor* service =
          google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(std::string(name));
      if (service == nullptr) {
        Die("service " + std::string(name) + " is not in the generated pool (is it linked?)");
      }
      AddService(service);
    }
    AddGatewayOperations();
    AddMessage(api::v1::ErrorBody::descriptor(), std::string(kErrorSchema));
    EmitPendingSchemas();

    Value tags = List({});
    for (const auto& [name, description] : tags_) {
      Value tag = Obj({{"name", Str(name)}});
      if (!description.empty()) Set(&tag, "description", Str(description));
      *tags.mutable_list_value()->add_values() = std::move(tag);
    }

    Value responses = Obj();
    for (const ErrorResponse& error : kErrorResponses) {
      Set(&responses, error.name, ErrorResponseComponent(error));
    }

    return Obj({
        {"openapi", Str("3.0.3")},
        {"info", Info()},
        {"servers", List({Obj({{"url", Str("http://127.0.0.1:8080")},
                               {"description", Str("make run (development mode)")}})})},
        {"tags", std::move(tags)},
        {"paths", std::move(paths_)},
        {"components",
         Obj({{"schemas", std::move(schemas_)},
              {"responses", std::move(responses)},
              {"parameters", Obj({{"RequestId", RequestIdParameter()}})},
              {"securitySchemes",
               Obj({{"bearer", Obj({{"type", Str("http")},
                                    {"scheme", Str("bearer")},
                                    {"bearerFormat", Str("JWT (EdDSA)")},
                                    {"description", Str("The accessToken of POST /v1/sessions or "
                                                        "POST /v1/sessions:refresh.")}})}})}})},
    });
  }

 private:
  static Value Info() {
    return Obj(
        {{"title", Str("Admissions interview platform API")},
         {"version", Str("v1")},
         {"description",
          Str("Generated from the service protos (proto/*/v1/*.proto) by openapi-gen; do not "
              "edit by hand. JSON bodies use protobuf's JSON mapping: lowerCamelCase field "
              "names, enums by name, 64-bit integers as strings, timestamps in RFC 3339, every "
              "scalar field of a response present. A request body that names an unknown field "
              "is rejected. Errors are "
              "`{\"error\": {\"code\": REASON, \"message\": ..., \"details\": {...}}}`. "
              "Operations marked x-dev-only exist only in development mode. See "
              "docs/api/README.md.")}});
  }

  static Value RequestIdParameter() {
    return Obj({{"name", Str("X-Request-Id")},
                {"in", Str("header")},
                {"required", Bool(false)},
                {"description",
                 Str("Correlates the logs of the gateway and the services. Letters, digits, "
                     "'-', '_' and '.'; when absent or malformed the gateway makes one up. The "
                     "response carries it back.")},
                {"schema", Obj({{"type", Str("string")}})}});
  }

  void AddService(const ServiceDescriptor* service) {
    for (int i = 0; i < service->method_count(); ++i) {
      const MethodDescriptor* method = service->method(i);
      if (!method->options().HasExtension(api::v1::http)) continue;
      const api::v1::HttpRule& rule = method->options().GetExtension(api::v1::http);
      if (rule.dev_only() && !include_dev_only_) continue;
      AddOperation(method, rule);
      std::string description = comments_.Of(service);
      if (description.empty()) description = comments_.OfPackage(service->file());
      tags_[service->name()] = description;
    }
  }

  void AddOperation(const MethodDescriptor* method, const api::v1::HttpRule& rule) {
    std::string http_method;
    std::string path;
    switch (rule.pattern_case()) {
      case api::v1::HttpRule::kGet:
        http_method = "get";
        path = rule.get();
        break;
      case api::v1::HttpRule::kPut:
        http_method = "put";
        path = rule.put();
        break;
      case api::v1::HttpRule::kPost:
        http_method = "post";
        path = rule.post();
        break;
      case api::v1::HttpRule::kDelete:
        http_method = "delete";
        path = rule.delete_();
        break;
      case api::v1::HttpRule::kPatch:
        http_method = "patch";
        path = rule.patch();
        break;
      case api::v1::HttpRule::PATTERN_NOT_SET:
        Die(method->full_name() + ": http rule without a path");
    }
    const bool body_is_message = rule.body() == "*";
    const int status = rule.success_status() == 0 ? 200 : rule.success_status();
    const Descriptor* input = method->input_type();
    const Descriptor* output = method->output_type();
    auto field_named = [&](const Descriptor* type, const std::string& name, std::string_view what) {
      const FieldDescriptor* field = FieldByAnyName(type, name);
      if (field == nullptr) {
        Die(method->full_name() + ": " + std::string(what) + " " + name + " names no field");
      }
      return field;
    };

    Value op =
        Obj({{"operationId", Str(method->service()->name() + "." + method->name())},
             {"tags", List({Str(method->service()->name())})},
             {"x-grpc-method", Str("/" + method->service()->full_name() + "/" + method->name())}});
    std::string description = comments_.Of(method);
    Set(&op, "summary", Str(description.empty() ? method->name() : Summary(description)));
    if (!rule.no_auth()) {
      std::vector<std::string> gates = RequiredGates(rule);
      if (!gates.empty()) {
        std::vector<Value> names;
        std::string text = "For a candidate account:";
        for (const std::string& gate : gates) {
          names.push_back(Str(gate));
          text += gate == "AGREEMENT" ? " 403 AGREEMENT_REQUIRED until the current user agreement "
                                        "is accepted;"
                  : gate == "FACE_VERIFICATION"
                      ? " 403 VERIFICATION_REQUIRED until a real-person verification has passed;"
                      : " the gate " + gate + ";";
        }
        text.back() = '.';
        AppendParagraph(text, &description);
        Set(&op, "x-candidate-gates", List(std::move(names)));
      }
    }
    if (rule.dev_only()) {
      AppendParagraph(
          "Development mode only: the gateway serves it only when started in "
          "development mode.",
          &description);
      Set(&op, "x-dev-only", Bool(true));
    }
    if (!description.empty()) Set(&op, "description", Str(description));

    // Fields that the path, a header or the raw body set; the query may not name them.
    std::set<const FieldDescriptor*> bound;
    std::vector<Value> parameters = {Obj({{"$ref", Str("#/components/parameters/RequestId")}})};
    auto add_parameter = [&](const std::string& name, std::string_view in, bool required,
                             const FieldDescriptor* field, Value schema) {
      Value parameter = Obj({{"name", Str(name)},
                             {"in", Str(in)},
                             {"required", Bool(required)},
                             {"schema", std::move(schema)}});
      if (std::string text = comments_.Of(field); !text.empty()) {
        Set(&parameter, "description", Str(text));
      }
      parameters.push_back(std::move(parameter));
    };
    for (const std::string& name : PathVariables(path)) {
      const FieldDescriptor* field = FieldByJsonName(input, name);
      if (field == nullptr)
        Die(method->full_name() + ": path variable {" + name + "} names no field");
      bound.insert(field);
      add_parameter(name, "path", true, field, SingleSchema(field));
    }
    for (const api::v1::HeaderBinding& binding : rule.headers()) {
      const FieldDescriptor* field = field_named(input, binding.field(), "header field");
      bound.insert(field);
      add_parameter(binding.header(), "header", false, field, SingleSchema(field));
    }
    if (body_is_message) {
      Set(&op, "requestBody",
          Obj({{"required", Bool(false)},
               {"description", Str("An empty body counts as {}. Path variables override the "
                                   "fields of the same name.")},
               {"content", Obj({{"application/json", Obj({{"schema", MessageSchema(input)}})}})}}));
    } else {
      if (!rule.stream_body().empty()) {
        const FieldDescriptor* field = field_named(input, rule.stream_body(), "stream_body");
        bound.insert(field);
        Set(&op, "requestBody",
            Obj({{"required", Bool(false)},
                 {"description",
                  Str("The raw bytes, whatever the Content-Type, with a Content-Length or "
                      "chunked. The gateway streams them to the service in pieces as they "
                      "arrive, so the size is limited only by the service; it honours "
                      "`Expect: 100-continue`, and when the service refuses part-way (413 "
                      "PAYLOAD_TOO_LARGE, say) it answers at once and closes the connection.")},
                 {"content", Obj({{"application/octet-stream",
                                   Obj({{"schema", Obj({{"type", Str("string")},
                                                        {"format", Str("binary")}})}})}})}}));
      }
      if (!rule.body().empty()) {
        const FieldDescriptor* field = field_named(input, rule.body(), "body");
        bound.insert(field);
        Set(&op, "requestBody",
            Obj({{"required", Bool(false)},
                 {"description", Str("Read as raw bytes, whatever the Content-Type, into the "
                                     "request field " +
                                     field->json_name() + ".")},
                 {"content",
                  Obj({{"*/*", Obj({{"schema", Obj({{"type", Str("string")},
                                                    {"format", Str("binary")}})}})}})}}));
      }
      // Every other non-message field may come from the query string; a repeated one from the
      // parameter repeated.
      for (int i = 0; i < input->field_count(); ++i) {
        const FieldDescriptor* field = input->field(i);
        if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) continue;
        if (bound.count(field) > 0) continue;
        add_parameter(field->json_name(), "query", false, field, FieldSchema(field, false));
      }
    }
    Set(&op, "parameters", List(std::move(parameters)));

    Value responses = Obj();
    Value success = Obj({{"description", Str(ReasonPhrase(status))}});
    if (rule.stream_response()) {
      Value binary =
          Obj({{"application/octet-stream",
                Obj({{"schema", Obj({{"type", Str("string")}, {"format", Str("binary")}})}})}});
      Set(&success, "description",
          Str("The bytes, streamed as the service reads them. The service sets the "
              "Content-Type, the length (Content-Length, or chunked when unknown) and headers "
              "such as Content-Disposition and ETag. An error after the head was sent cuts the "
              "body short and closes the connection."));
      Set(&success, "content", binary);
      bool ranged = false;
      for (const api::v1::HeaderBinding& binding : rule.headers()) {
        ranged = ranged || binding.header() == "Range";
      }
      if (ranged) {
        Set(&responses, "206",
            Obj({{"description", Str("Partial Content: the range asked for by Range, with "
                                     "Content-Range.")},
                 {"content", binary}}));
      }
    } else if (status != 204 && !rule.response_body().empty()) {
      const FieldDescriptor* field = field_named(output, rule.response_body(), "response_body");
      Set(&success, "content",
          Obj({{"text/plain; charset=utf-8", Obj({{"schema", Obj({{"type", Str("string")}})}})}}));
      std::string text = comments_.Of(field);
      Set(&success, "description",
          Str(text.empty() ? std::string(ReasonPhrase(status))
                           : std::string(ReasonPhrase(status)) + ": " + text));
    } else if (status != 204) {
      Set(&success, "content",
          Obj({{"application/json", Obj({{"schema", MessageSchema(output)}})}}));
    }
    Set(&responses, std::to_string(status), std::move(success));
    for (const ErrorResponse& error : kErrorResponses) {
      if (error.body_only && !body_is_message) continue;
      Set(&responses, std::to_string(error.status), ResponseRef(error.name));
    }
    Set(&op, "responses", std::move(responses));
    if (!rule.no_auth()) Set(&op, "security", List({Obj({{"bearer", List({})}})}));

    *At(At(&paths_, path), http_method) = std::move(op);
  }

  // The candidate gates that an authenticated rule keeps: every Gate but those it skips.
  static std::vector<std::string> RequiredGates(const api::v1::HttpRule& rule) {
    std::vector<std::string> gates;
    const EnumDescriptor* gate = api::v1::Gate_descriptor();
    for (int i = 0; i < gate->value_count(); ++i) {
      int number = gate->value(i)->number();
      if (number == 0) continue;
      bool skipped = false;
      for (int skip : rule.skip_gates()) skipped = skipped || skip == number;
      if (!skipped) gates.push_back(gate->value(i)->name());
    }
    return gates;
  }

  static void AppendParagraph(std::string_view text, std::string* out) {
    if (!out->empty()) *out += "\n\n";
    *out += text;
  }

  void AddGatewayOperations() {
    tags_[std::string(kGatewayTag)] = "The gateway's own endpoints: liveness, readiness, metrics.";
    Set(&schemas_, "HealthStatus",
        Obj({{"type", Str("object")},
             {"properties",
              Obj({{"status", Obj({{"type", Str("string")},
                                   {"enum", List({Str("ok"), Str("unavailable")})}})},
                   {"failed",
                    Obj({{"type", Str("array")},
                         {"items", Obj({{"type", Str("string")}})},
                         {"description", Str("The upstreams that did not answer the health check "
                                             "(503 only).")}})}})}}));
    auto health = [](std::string_view description) {
      return Obj(
          {{"description", Str(description)},
           {"content", Obj({{"application/json", Obj({{"schema", SchemaRef("HealthStatus")}})}})}});
    };
    auto operation = [](std::string_view id, std::string_view summary, Value responses) {
      return Obj({{"operationId", Str(std::string(kGatewayTag) + "." + std::string(id))},
                  {"tags", List({Str(kGatewayTag)})},
                  {"summary", Str(summary)},
                  {"responses", std::move(responses)}});
    };
    Set(At(&paths_, "/healthz"), "get",
        operation("Healthz", "Liveness: 200 while the process runs.",
                  Obj({{"200", health("The process is alive: {\"status\": \"ok\"}.")}})));
    Set(At(&paths_, "/readyz"), "get",
        operation("Readyz", "Readiness: 200 when every upstream service answers its health check.",
                  Obj({{"200", health("Every upstream answered.")},
                       {"503", health("Some upstream did not answer; `failed` names it.")}})));
    Set(At(&paths_, "/metrics"), "get",
        operation(
            "Metrics", "Prometheus metrics of the gateway.",
            Obj({{"200", Obj({{"description", Str("Prometheus text exposition format 0.0.4.")},
                              {"content",
                               Obj({{"text/plain; version=0.0.4; charset=utf-8",
                                     Obj({{"schema", Obj({{"type", Str("string")}})}})}})}})}})));
  }

  static std::vector<std::string> PathVariables(const std::string& path) {
    std::vector<std::string> names;
    for (size_t open = path.find('{'); open != std::string::npos; open = path.find('{', open)) {
      size_t close = path.find('}', open);
      if (close == std::string::npos) break;
      names.push_back(path.substr(open + 1, close - open - 1));
      open = close;
    }
    return names;
  }

  static const FieldDescriptor* FieldByJsonName(const Descriptor* type, const std::string& name) {
    for (int i = 0; i < type->field_count(); ++i) {
      if (type->field(i)->json_name() == name) return type->field(i);
    }
    return nullptr;
  }

  // By proto name, else by JSON name, as the gateway's route table looks them up.
  static const FieldDescriptor* FieldByAnyName(const Descriptor* type, const std::string& name) {
    const FieldDescriptor* field = type->FindFieldByName(name);
    return field != nullptr ? field : FieldByJsonName(type, name);
  }

  // The schema of a field as it appears in an object; with its description unless a query
  // parameter, which carries the description itself.
  Value FieldSchema(const FieldDescriptor* field, bool with_description = true) {
    Value schema;
    if (field->is_map()) {
      schema = Obj({{"type", Str("object")},
                    {"additionalProperties", SingleSchema(field->message_type()->map_value())}});
    } else if (field->is_repeated()) {
      schema = Obj({{"type", Str("array")}, {"items", SingleSchema(field)}});
    } else {
      schema = SingleSchema(field);
    }
    std::string description = with_description ? comments_.Of(field) : std::string();
    const auto* oneof = field->real_containing_oneof();
    if (oneof != nullptr) {
      std::string members;
      for (int i = 0; i < oneof->field_count(); ++i) {
        if (i > 0) members += ", ";
        members += oneof->field(i)->json_name();
      }
      if (!description.empty()) description += "\n\n";
      description += "At most one of " + members + ".";
    }
    if (!description.empty()) Annotate(&schema, "description", Str(description));
    if (field->options().deprecated()) Annotate(&schema, "deprecated", Bool(true));
    return schema;
  }

  // The schema of one value of a field (an element, for a repeated one).
  Value SingleSchema(const FieldDescriptor* field) {
    auto typed = [](std::string_view type, std::string_view format = {}) {
      Value schema = Obj({{"type", Str(type)}});
      if (!format.empty()) Set(&schema, "format", Str(format));
      return schema;
    };
    switch (field->type()) {
      case FieldDescriptor::TYPE_DOUBLE:
        return typed("number", "double");
      case FieldDescriptor::TYPE_FLOAT:
        return typed("number", "float");
      case FieldDescriptor::TYPE_INT64:
      case FieldDescriptor::TYPE_SINT64:
      case FieldDescriptor::TYPE_SFIXED64:
        return typed("string", "int64");
      case FieldDescriptor::TYPE_UINT64:
      case FieldDescriptor::TYPE_FIXED64:
        return typed("string", "uint64");
      case FieldDescriptor::TYPE_INT32:
      case FieldDescriptor::TYPE_SINT32:
      case FieldDescriptor::TYPE_SFIXED32:
        return typed("integer", "int32");
      case FieldDescriptor::TYPE_UINT32:
      case FieldDescriptor::TYPE_FIXED32:
        return typed("integer", "uint32");
      case FieldDescriptor::TYPE_BOOL:
        return typed("boolean");
      case FieldDescriptor::TYPE_STRING:
        return typed("string");
      case FieldDescriptor::TYPE_BYTES:
        return typed("string", "byte");
      case FieldDescriptor::TYPE_ENUM:
        return EnumSchema(field->enum_type());
      case FieldDescriptor::TYPE_MESSAGE:
      case FieldDescriptor::TYPE_GROUP:
        return MessageSchema(field->message_type());
    }
    Die(field->full_name() + ": unknown field type");
  }

  // Well-known types inline (their JSON forms are special); other messages by reference.
  Value MessageSchema(const Descriptor* type) {
    const std::string& name = type->full_name();
    if (name == "google.protobuf.Timestamp") {
      return Obj({{"type", Str("string")}, {"format", Str("date-time")}});
    }
    if (name == "google.protobuf.Duration") {
      return Obj({{"type", Str("string")},
                  {"description", Str("Seconds with an \"s\" suffix, e.g. \"1.5s\".")}});
    }
    if (name == "google.protobuf.Struct") {
      return Obj({{"type", Str("object")}, {"additionalProperties", Bool(true)}});
    }
    if (name == "google.protobuf.Value") return Obj({{"description", Str("Any JSON value.")}});
    if (name == "google.protobuf.ListValue") {
      return Obj({{"type", Str("array")}, {"items", Obj()}});
    }
    if (name == "google.protobuf.Empty") return Obj({{"type", Str("object")}});
    if (name == "google.protobuf.FieldMask") {
      return Obj({{"type", Str("string")},
                  {"description", Str("Field paths in lowerCamelCase, comma-separated.")}});
    }
    if (name == "google.protobuf.Any") {
      return Obj({{"type", Str("object")},
                  {"properties", Obj({{"@type", Obj({{"type", Str("string")}})}})},
                  {"additionalProperties", Bool(true)}});
    }
    if (type->file()->name() == "google/protobuf/wrappers.proto") {
      Value schema = SingleSchema(type->field(0));
      Set(&schema, "nullable", Bool(true));
      return schema;
    }
    std::string schema_name = SchemaName(type);
    if (named_.insert(schema_name).second) pending_.push_back(type);
    return SchemaRef(schema_name);
  }

  Value EnumSchema(const EnumDescriptor* type) {
    std::string schema_name = SchemaName(type->full_name());
    if (!named_.insert(schema_name).second) return SchemaRef(schema_name);
    std::vector<Value> names;
    std::string values_text;
    for (int i = 0; i < type->value_count(); ++i) {
      const EnumValueDescriptor* value = type->value(i);
      names.push_back(Str(value->name()));
      if (std::string text = comments_.Of(value); !text.empty()) {
        if (!values_text.empty()) values_text += "\n";
        values_text += "- `" + value->name() + "`: " + text;
      }
    }
    Value schema = Obj({{"type", Str("string")}, {"enum", List(std::move(names))}});
    std::string description = comments_.Of(type);
    if (!values_text.empty()) {
      if (!description.empty()) description += "\n\n";
      description += values_text;
    }
    if (!description.empty()) Set(&schema, "description", Str(description));
    Set(&schemas_, schema_name, std::move(schema));
    return SchemaRef(schema_name);
  }

  void AddMessage(const Descriptor* type, std::string schema_name) {
    Value properties = Obj();
    for (int i = 0; i < type->field_count(); ++i) {
      const FieldDescriptor* field = type->field(i);
      Set(&properties, field->json_name(), FieldSchema(field));
    }
    Value schema = Obj({{"type", Str("object")}});
    if (type->field_count() > 0) Set(&schema, "properties", std::move(properties));
    if (std::string text = comments_.Of(type); !text.empty()) {
      Set(&schema, "description", Str(text));
    }
    Set(&schemas_, schema_name, std::move(schema));
  }

  void EmitPendingSchemas() {
    while (!pending_.empty()) {
      const Descriptor* type = pending_.back();
      pending_.pop_back();
      AddMessage(type, SchemaName(type));
    }
  }

  // "identity.v1.Me" for admissions.identity.v1.Me; the error body is "Error".
  static std::string SchemaName(const Descriptor* type) {
    if (type == api::v1::ErrorBody::descriptor()) return std::string(kErrorSchema);
    return SchemaName(type->full_name());
  }

  static std::string SchemaName(const std::string& full_name) {
    constexpr std::string_view kPrefix = "admissions.";
    if (full_name.compare(0, kPrefix.size(), kPrefix) == 0) return full_name.substr(kPrefix.size());
    return full_name;
  }

  const bool include_dev_only_;
  const Comments comments_;
  Value paths_ = Obj();
  Value schemas_ = Obj();
  std::map<std::string, std::string> tags_;
  std::set<std::string> named_;
  std::vector<const Descriptor*> pending_;
};

}  // namespace

std::string GenerateOpenApi(bool include_dev_only) {
  return PrintSorted(Generator(include_dev_only).Build());
}

}  // namespace admissions::openapi
