#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/string_view.h"

namespace admissions {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

/// One structured log line: {"ts":..., "level":..., "svc":..., "event":..., k: v, ...}
/// on stderr. Fields are strings; never pass ID numbers, phones, passwords or tokens.
/// Debian's Abseil has its own absl::string_view (not std::string_view), hence
/// the overloads.
struct LogField {
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, absl::string_view v) : key(k), value(v.data(), v.size()) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(v) {}
  std::string_view key;
  std::string_view value;
};
void Log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields = {});

/// Names the process in every line ("identity", "gateway", ...); sets the minimum level.
void InitLogging(std::string_view service, LogLevel min_level = LogLevel::kInfo);
/// Writes out what is buffered (lines reach stderr within 50 ms, warnings and
/// errors at once; exit flushes). Call before an abrupt exit.
void FlushLogs();

/// Appends `s` to `out` as a JSON string, quotes included (RFC 8259 escapes; control
/// characters as \u00XX; bytes >= 0x80 as they are). Used by the log lines and by any
/// canonical JSON a service hashes or signs.
void AppendJsonString(std::string& out, std::string_view s);
/// While alive, every line this thread logs carries "request_id": the id of the call
/// it is working on (set by RunBlocking from the gateway's x-request-id).
class ScopedRequestId {
 public:
  explicit ScopedRequestId(std::string_view id);
  ~ScopedRequestId();
  ScopedRequestId(const ScopedRequestId&) = delete;
  ScopedRequestId& operator=(const ScopedRequestId&) = delete;

 private:
  std::string previous_;
};

/// Parses "debug", "info", "warn", "error"; unknown text gives kInfo.
LogLevel ParseLogLevel(std::string_view text);

}  // namespace admissions
