#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"

namespace admissions::gateway {

/// A parsed path template such as "/v1/exams/{examId}/admission:confirm": segments that are
/// literals or variables (a request field's JSON name), and an optional verb after a ':' on
/// the last segment.
struct PathTemplate {
  struct Segment {
    bool is_variable = false;
    /// The literal text, or the variable's field JSON name.
    std::string text;
  };
  std::vector<Segment> segments;
  std::string verb;

  /// INVALID_ARGUMENT unless `text` is "/" followed by non-empty segments, each a literal of
  /// [A-Za-z0-9-._~] or a whole "{name}", the last one optionally followed by ":verb".
  static absl::StatusOr<PathTemplate> Parse(std::string_view text);

  /// True when both match the same paths (variable names aside).
  bool SameShape(const PathTemplate& other) const;
};

/// One HTTP endpoint and the RPC behind it.
struct Route {
  /// Dense index from 0 in the table; metrics series are indexed by it.
  int id = -1;
  /// "GET", "POST", "PUT", "DELETE" or "PATCH".
  std::string http_method;
  /// As written in the proto, e.g. "/v1/rooms/{roomId}:enter"; the label in logs and metrics.
  std::string path;
  PathTemplate path_template;

  /// "/admissions.identity.v1.Identity/GetMe".
  std::string grpc_method;
  /// The RPC; null only in tables built by hand for tests.
  const google::protobuf::MethodDescriptor* method = nullptr;
  /// Index of the upstream that serves the RPC.
  int upstream = -1;
  /// True for body "*": the JSON body is the request message.
  bool body_is_message = false;
  /// Set when the rule's body names a field: the raw request body goes there, unparsed and
  /// whatever its content type.
  const google::protobuf::FieldDescriptor* raw_body_field = nullptr;
  /// A request header copied into a string field of the request.
  struct HeaderField {
    std::string header;
    const google::protobuf::FieldDescriptor* field = nullptr;
  };
  std::vector<HeaderField> header_fields;
  /// Set when the rule's response_body names a field: its value is the whole text/plain body.
  const google::protobuf::FieldDescriptor* response_body_field = nullptr;
  bool no_auth = false;
  bool dev_only = false;
  /// Candidate gates of an authenticated route: those its rule does not skip.
  bool requires_agreement = false;
  bool requires_face_verification = false;
  /// 200 unless the rule says otherwise; 204 sends no body.
  int success_status = 200;
  /// The largest body this route takes; 0: the gateway's default.
  uint64_t max_body_bytes = 0;
  /// The upstream deadline of this route; zero: the gateway's default.
  std::chrono::milliseconds deadline{0};
  /// Set for a rule with stream_body (a client-streaming RPC): the bytes field that carries
  /// the request body in pieces, one per message after the first.
  const google::protobuf::FieldDescriptor* stream_body_field = nullptr;
  /// A rule with stream_response (a server-streaming RPC returning api.v1.HttpBodyChunk): the
  /// messages are the HTTP response, head first.
  bool stream_response = false;
  /// DELETE /v1/sessions/current: on success the gateway revokes the caller's session locally.
  bool ends_session = false;
};

/// A path variable bound by a match: the field's JSON name and the percent-decoded value.
struct PathVariable {
  std::string field;
  std::string value;
};

struct RouteMatch {
  enum class Kind {
    kFound,
    /// No template matches the path.
    kNotFound,
    /// Some template matches the path, none with this method; `allowed` lists their methods.
    kMethodNotAllowed,
    /// A template matched but a variable is not valid percent-encoded UTF-8 (`error`,
    /// `error_field`).
    kBadPath,
  };
  Kind kind = Kind::kNotFound;
  const Route* route = nullptr;
  std::vector<PathVariable> variables;
  std::vector<std::string> allowed;
  std::string error;
  std::string error_field;
};

/// The gateway's endpoints, matched by method and path. Immutable once built; Match() is
/// safe from any number of threads.
class RouteTable {
 public:
  RouteTable() = default;
  RouteTable(RouteTable&&) = default;
  RouteTable& operator=(RouteTable&&) = default;

  /// Parses `route.path` into `route.path_template` and assigns `route.id`. INVALID_ARGUMENT
  /// for a bad template or method; ALREADY_EXISTS when a route with the same method matches
  /// the same paths.
  absl::StatusOr<const Route*> Add(Route route);

  /// Matches `path` (the request target without its query). Among the templates that match,
  /// the one whose first differing segment is a literal wins; at equal segments one with a
  /// verb beats a variable that swallowed the ':'. No trailing slash, no empty segment.
  RouteMatch Match(std::string_view method, std::string_view path) const;

  const std::vector<std::unique_ptr<Route>>& routes() const { return routes_; }
  size_t size() const { return routes_.size(); }

 private:
  std::vector<std::unique_ptr<Route>> routes_;
  /// Route indexes by segment count.
  std::vector<std::vector<int>> by_length_;
};

/// A service whose RPCs become routes, and the upstream that serves it.
struct ServiceBinding {
  const google::protobuf::ServiceDescriptor* service = nullptr;
  int upstream = -1;
};

/// Builds the table from the `(admissions.api.v1.http)` option of every method of the given
/// services. Methods without the option are not exposed; `dev_only` ones only when `dev_mode`.
/// Fails (INVALID_ARGUMENT, naming the method) on a rule without a path, a success status
/// outside 2xx, a variable that names no singular scalar field of the request, a body, header
/// or response_body that names no singular string or bytes field, or two rules that collide.
/// A client-streaming RPC needs stream_body naming a bytes field (and no body); a
/// server-streaming one needs stream_response and HttpBodyChunk responses (and no
/// response_body or success_status); a bidi RPC has no route.
absl::StatusOr<RouteTable> BuildRouteTable(const std::vector<ServiceBinding>& services,
                                           bool dev_mode);

/// The field of `type` whose JSON name is `json_name`, or null.
const google::protobuf::FieldDescriptor* FieldByJsonName(const google::protobuf::Descriptor* type,
                                                         std::string_view json_name);

/// The field of `type` named `name`, by proto name or else by JSON name, or null.
const google::protobuf::FieldDescriptor* FieldByAnyName(const google::protobuf::Descriptor* type,
                                                        std::string_view name);

/// Decodes %XX escapes; `plus_is_space` for query strings. INVALID_ARGUMENT on a bad escape.
absl::StatusOr<std::string> PercentDecode(std::string_view text, bool plus_is_space);

/// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or code points past
/// U+10FFFF).
bool IsValidUtf8(std::string_view text);

}  // namespace admissions::gateway
