#pragma once

#include <string>
#include <string_view>

namespace admissions::openapi {

/// The services whose RPCs the gateway exposes, by full name. Each one's descriptor must be
/// in the generated pool (link its proto library whole; see gateway/openapi/CMakeLists.txt).
inline constexpr std::string_view kServices[] = {
    "admissions.identity.v1.Identity",        "admissions.enrollment.v1.Enrollment",
    "admissions.payment.v1.Payment",          "admissions.materials.v1.Materials",
    "admissions.waiting_room.v1.WaitingRoom", "admissions.media_signaling.v1.MediaSignaling",
};

/// The OpenAPI 3.0 document of the HTTP API, pretty-printed JSON ending in a newline.
///
/// One operation per `(admissions.api.v1.http)` rule of the services above, read from the
/// generated descriptor pool, plus the gateway's own /healthz, /readyz and /metrics.
/// Operations marked `dev_only` carry `x-dev-only: true` and appear only when
/// `include_dev_only`. Schemas follow protobuf's JSON mapping (JSON field names, enums by
/// name, 64-bit integers as strings, Timestamp as RFC 3339). Summaries and descriptions come
/// from the .proto comments, embedded at build time.
///
/// The output is a function of the descriptors alone: object keys are sorted, so two calls,
/// or two builds of the same protos, give the same bytes. Aborts when a service above is
/// missing from the pool, which is a link error rather than a runtime condition.
std::string GenerateOpenApi(bool include_dev_only);

}  // namespace admissions::openapi
