#include "gateway/route_table.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/v1/annotations.pb.h"
#include "gateway/strings.h"

namespace admissions::gateway {
namespace {

using google::protobuf::FieldDescriptor;

constexpr std::string_view kMethods[] = {"GET", "PUT", "POST", "DELETE", "PATCH"};
constexpr int kMaxDeadlineSeconds = 600;
constexpr int kMaxStreamDeadlineSeconds = 24 * 3600;

bool IsLiteralChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

bool IsLiteral(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsLiteralChar);
}

bool IsVariableName(std::string_view s) {
  if (s.empty() || !absl::ascii_isalpha(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); });
}

absl::StatusOr<PathTemplate::Segment> ParseSegment(std::string_view text, std::string_view whole) {
  PathTemplate::Segment segment;
  if (text.size() >= 2 && text.front() == '{' && text.back() == '}') {
    std::string_view name = text.substr(1, text.size() - 2);
    if (!IsVariableName(name)) {
      return absl::InvalidArgumentError(absl::StrCat("path template ", ToAbsl(whole),
                                                     ": bad variable name '", ToAbsl(name), "'"));
    }
    segment.is_variable = true;
    segment.text = std::string(name);
    return segment;
  }
  if (!IsLiteral(text)) {
    return absl::InvalidArgumentError(
        absl::StrCat("path template ", ToAbsl(whole), ": bad segment '", ToAbsl(text), "'"));
  }
  segment.text = std::string(text);
  return segment;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// How specific a match is: one entry per segment (1 for a literal), then 1 for a verb.
// Compared lexicographically, so the first differing segment decides.
using Specificity = std::vector<char>;

Specificity SpecificityOf(const PathTemplate& t) {
  Specificity s;
  s.reserve(t.segments.size() + 1);
  for (const auto& segment : t.segments) s.push_back(segment.is_variable ? 0 : 1);
  s.push_back(t.verb.empty() ? 0 : 1);
  return s;
}

bool SegmentMatches(const PathTemplate::Segment& segment, std::string_view raw) {
  return segment.is_variable ? !raw.empty() : raw == segment.text;
}

// Matches split raw segments against `t`; on success fills `raw_values` with the raw
// (still percent-encoded) text of each variable, in order.
bool TemplateMatches(const PathTemplate& t, const std::vector<std::string_view>& raw,
                     std::vector<std::string_view>* raw_values) {
  if (raw.size() != t.segments.size()) return false;
  raw_values->clear();
  for (size_t i = 0; i < raw.size(); ++i) {
    std::string_view part = raw[i];
    if (i + 1 == raw.size() && !t.verb.empty()) {
      if (part.size() <= t.verb.size() + 1) return false;
      size_t colon = part.size() - t.verb.size() - 1;
      if (part[colon] != ':' || part.substr(colon + 1) != t.verb) return false;
      part = part.substr(0, colon);
    }
    if (!SegmentMatches(t.segments[i], part)) return false;
    if (t.segments[i].is_variable) raw_values->push_back(part);
  }
  return true;
}

bool IsSingularText(const FieldDescriptor* field) {
  return field != nullptr && !field->is_repeated() &&
         field->cpp_type() == FieldDescriptor::CPPTYPE_STRING;
}

bool IsSettableScalar(const FieldDescriptor* field) {
  return field != nullptr && !field->is_repeated() &&
         field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE;
}

absl::Status Invalid(const google::protobuf::MethodDescriptor* method, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(method->full_name(), ": ", ToAbsl(why)));
}

}  // namespace

absl::StatusOr<PathTemplate> PathTemplate::Parse(std::string_view text) {
  if (text.size() < 2 || text[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("path template '", ToAbsl(text), "' must start with '/' and name a path"));
  }
  PathTemplate t;
  std::vector<std::string_view> parts = Split(text.substr(1), '/');
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string_view part = parts[i];
    bool last = i + 1 == parts.size();
    size_t colon = part.find(':');
    if (colon != std::string_view::npos) {
      if (!last) {
        return absl::InvalidArgumentError(absl::StrCat(
            "path template ", ToAbsl(text), ": ':' is allowed only in the last segment"));
      }
      t.verb = std::string(part.substr(colon + 1));
      if (!IsLiteral(t.verb)) {
        return absl::InvalidArgumentError(
            absl::StrCat("path template ", ToAbsl(text), ": bad verb"));
      }
      part = part.substr(0, colon);
    }
    auto segment = ParseSegment(part, text);
    if (!segment.ok()) return segment.status();
    t.segments.push_back(*std::move(segment));
  }
  return t;
}

bool PathTemplate::SameShape(const PathTemplate& other) const {
  if (segments.size() != other.segments.size() || verb != other.verb) return false;
  for (size_t i = 0; i < segments.size(); ++i) {
    const Segment& a = segments[i];
    const Segment& b = other.segments[i];
    if (a.is_variable != b.is_variable) return false;
    if (!a.is_variable && a.text != b.text) return false;
  }
  return true;
}

absl::StatusOr<const Route*> RouteTable::Add(Route route) {
  if (std::find(std::begin(kMethods), std::end(kMethods), route.http_method) ==
      std::end(kMethods)) {
    return absl::InvalidArgumentError(absl::StrCat("unsupported HTTP method ", route.http_method));
  }
  auto parsed = PathTemplate::Parse(route.path);
  if (!parsed.ok()) return parsed.status();
  route.path_template = *std::move(parsed);
  for (const auto& existing : routes_) {
    if (existing->http_method == route.http_method &&
        existing->path_template.SameShape(route.path_template)) {
      return absl::AlreadyExistsError(
          absl::StrCat(route.http_method, " ", route.path, " collides with ", existing->path));
    }
  }
  route.id = static_cast<int>(routes_.size());
  size_t length = route.path_template.segments.size();
  if (by_length_.size() <= length) by_length_.resize(length + 1);
  by_length_[length].push_back(route.id);
  routes_.push_back(std::make_unique<Route>(std::move(route)));
  return routes_.back().get();
}

RouteMatch RouteTable::Match(std::string_view method, std::string_view path) const {
  RouteMatch result;
  if (path.size() < 2 || path[0] != '/') return result;
  std::vector<std::string_view> raw = Split(path.substr(1), '/');
  if (raw.size() >= by_length_.size()) return result;

  const Route* best = nullptr;
  Specificity best_specificity;
  std::vector<std::string_view> best_values;
  std::vector<std::string_view> values;
  for (int index : by_length_[raw.size()]) {
    const Route& route = *routes_[index];
    if (!TemplateMatches(route.path_template, raw, &values)) continue;
    if (route.http_method != method) {
      if (std::find(result.allowed.begin(), result.allowed.end(), route.http_method) ==
          result.allowed.end()) {
        result.allowed.push_back(route.http_method);
      }
      continue;
    }
    Specificity specificity = SpecificityOf(route.path_template);
    if (best == nullptr || specificity > best_specificity) {
      best = &route;
      best_specificity = std::move(specificity);
      best_values.swap(values);
    }
  }
  if (best == nullptr) {
    if (!result.allowed.empty()) {
      std::sort(result.allowed.begin(), result.allowed.end());
      result.kind = RouteMatch::Kind::kMethodNotAllowed;
    }
    return result;
  }
  result.allowed.clear();
  result.route = best;
  size_t value_index = 0;
  for (const auto& segment : best->path_template.segments) {
    if (!segment.is_variable) continue;
    auto decoded = PercentDecode(best_values[value_index++], /*plus_is_space=*/false);
    std::string problem;
    if (!decoded.ok()) {
      problem = "is not validly percent-encoded";
    } else if (!IsValidUtf8(*decoded)) {
      problem = "is not valid UTF-8";
    } else if (decoded->find('\0') != std::string::npos) {
      problem = "contains a NUL character";
    }
    if (!problem.empty()) {
      result.kind = RouteMatch::Kind::kBadPath;
      result.error = absl::StrCat("path variable ", segment.text, " ", problem);
      result.error_field = segment.text;
      result.variables.clear();
      return result;
    }
    result.variables.push_back({segment.text, *std::move(decoded)});
  }
  result.kind = RouteMatch::Kind::kFound;
  return result;
}

absl::StatusOr<RouteTable> BuildRouteTable(const std::vector<ServiceBinding>& services,
                                           bool dev_mode) {
  RouteTable table;
  for (const ServiceBinding& binding : services) {
    const google::protobuf::ServiceDescriptor* service = binding.service;
    for (int m = 0; m < service->method_count(); ++m) {
      const google::protobuf::MethodDescriptor* method = service->method(m);
      if (!method->options().HasExtension(api::v1::http)) continue;
      const api::v1::HttpRule& rule = method->options().GetExtension(api::v1::http);
      if (rule.dev_only() && !dev_mode) continue;

      Route route;
      switch (rule.pattern_case()) {
        case api::v1::HttpRule::kGet:
          route.http_method = "GET";
          route.path = rule.get();
          break;
        case api::v1::HttpRule::kPut:
          route.http_method = "PUT";
          route.path = rule.put();
          break;
        case api::v1::HttpRule::kPost:
          route.http_method = "POST";
          route.path = rule.post();
          break;
        case api::v1::HttpRule::kDelete:
          route.http_method = "DELETE";
          route.path = rule.delete_();
          break;
        case api::v1::HttpRule::kPatch:
          route.http_method = "PATCH";
          route.path = rule.patch();
          break;
        case api::v1::HttpRule::PATTERN_NOT_SET:
          return Invalid(method, "http rule has no method and path");
      }
      if (method->client_streaming() && method->server_streaming()) {
        return Invalid(method, "a bidi-streaming RPC cannot be an HTTP endpoint");
      }
      if (method->client_streaming() != !rule.stream_body().empty()) {
        return Invalid(method, "stream_body is for client-streaming RPCs, which need it");
      }
      if (method->server_streaming() != rule.stream_response()) {
        return Invalid(method, "stream_response is for server-streaming RPCs, which need it");
      }
      if (!rule.stream_body().empty()) {
        route.stream_body_field = FieldByAnyName(method->input_type(), rule.stream_body());
        if (!IsSingularText(route.stream_body_field) ||
            route.stream_body_field->type() != FieldDescriptor::TYPE_BYTES) {
          return Invalid(method, absl::StrCat("http rule stream_body \"", rule.stream_body(),
                                              "\" names no bytes field"));
        }
        if (!rule.body().empty()) return Invalid(method, "stream_body excludes body");
      }
      if (rule.stream_response()) {
        if (method->output_type() != api::v1::HttpBodyChunk::descriptor()) {
          return Invalid(method,
                         "stream_response needs an RPC returning admissions.api.v1.HttpBodyChunk");
        }
        if (!rule.response_body().empty() || rule.success_status() != 0) {
          return Invalid(method,
                         "stream_response excludes response_body and success_status (the head "
                         "sets the status)");
        }
        route.stream_response = true;
      }
      if (rule.body() != "*" && !rule.body().empty()) {
        route.raw_body_field = FieldByAnyName(method->input_type(), rule.body());
        if (!IsSingularText(route.raw_body_field)) {
          return Invalid(method, absl::StrCat("http rule body \"", rule.body(),
                                              "\" names no string or bytes field"));
        }
      }
      for (const api::v1::HeaderBinding& binding : rule.headers()) {
        const FieldDescriptor* field = FieldByAnyName(method->input_type(), binding.field());
        if (binding.header().empty() || !IsSingularText(field) ||
            field->type() != FieldDescriptor::TYPE_STRING) {
          return Invalid(method, absl::StrCat("http rule header \"", binding.header(),
                                              "\" must name a string field"));
        }
        route.header_fields.push_back({binding.header(), field});
      }
      if (!rule.response_body().empty()) {
        route.response_body_field = FieldByAnyName(method->output_type(), rule.response_body());
        if (!IsSingularText(route.response_body_field)) {
          return Invalid(method, absl::StrCat("http rule response_body \"", rule.response_body(),
                                              "\" names no string or bytes field"));
        }
      }
      bool skip_agreement = false;
      bool skip_face = false;
      for (int gate : rule.skip_gates()) {
        skip_agreement = skip_agreement || gate == api::v1::AGREEMENT;
        skip_face = skip_face || gate == api::v1::FACE_VERIFICATION;
      }
      int status = rule.success_status() == 0 ? 200 : rule.success_status();
      if (status < 200 || status > 299) {
        return Invalid(method, "http rule success_status must be 2xx");
      }
      route.grpc_method = absl::StrCat("/", service->full_name(), "/", method->name());
      route.method = method;
      route.upstream = binding.upstream;
      route.body_is_message = rule.body() == "*";
      route.no_auth = rule.no_auth();
      route.requires_agreement = !rule.no_auth() && !skip_agreement;
      route.requires_face_verification = !rule.no_auth() && !skip_face;
      route.dev_only = rule.dev_only();
      route.success_status = status;
      if (rule.max_body_bytes() < 0) return Invalid(method, "http rule max_body_bytes is negative");
      route.max_body_bytes = static_cast<uint64_t>(rule.max_body_bytes());
      // A stream moves a whole file, which can take an hour on a bad connection.
      const int max_deadline = method->client_streaming() || method->server_streaming()
                                   ? kMaxStreamDeadlineSeconds
                                   : kMaxDeadlineSeconds;
      if (rule.deadline_seconds() < 0 || rule.deadline_seconds() > max_deadline) {
        return Invalid(method,
                       absl::StrCat("http rule deadline_seconds must be 0..", max_deadline));
      }
      route.deadline = std::chrono::seconds(rule.deadline_seconds());
      route.ends_session = route.http_method == "DELETE" && route.path == "/v1/sessions/current";

      auto added = table.Add(std::move(route));
      if (!added.ok()) return Invalid(method, ToStd(added.status().message()));
      for (const auto& segment : (*added)->path_template.segments) {
        if (!segment.is_variable) continue;
        const FieldDescriptor* field = FieldByJsonName(method->input_type(), segment.text);
        if (!IsSettableScalar(field)) {
          return Invalid(method, absl::StrCat("path variable {", segment.text,
                                              "} names no singular scalar field of ",
                                              method->input_type()->full_name()));
        }
      }
    }
  }
  return table;
}

const FieldDescriptor* FieldByJsonName(const google::protobuf::Descriptor* type,
                                       std::string_view json_name) {
  for (int i = 0; i < type->field_count(); ++i) {
    if (type->field(i)->json_name() == json_name) return type->field(i);
  }
  return nullptr;
}

const FieldDescriptor* FieldByAnyName(const google::protobuf::Descriptor* type,
                                      std::string_view name) {
  const FieldDescriptor* field = type->FindFieldByName(std::string(name));
  return field != nullptr ? field : FieldByJsonName(type, name);
}

absl::StatusOr<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) {
        return absl::InvalidArgumentError("truncated percent escape");
      }
      int hi = HexValue(text[i + 1]);
      int lo = HexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return absl::InvalidArgumentError("bad percent escape");
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool IsValidUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int extra;
    uint32_t cp;
    uint32_t min;
    if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
      min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
      min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
      min = 0x10000;
    } else {
      return false;
    }
    if (end - p <= extra) return false;
    for (int k = 1; k <= extra; ++k) {
      if ((p[k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    p += extra + 1;
  }
  return true;
}

}  // namespace admissions::gateway
