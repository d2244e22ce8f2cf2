#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/struct.pb.h"
#include "integration/harness.h"

namespace admissions::testing {

/// chromedriver (Debian's chromium-driver, /usr/bin/chromedriver) on a free port of
/// 127.0.0.1, for driving headless Chromium through the W3C WebDriver HTTP protocol.
/// Requests go through the stack's HTTP client (`Stack::CallVia`). Shut down (every
/// browser it started closed) when destroyed.
class ChromeDriver {
 public:
  /// Starts chromedriver and waits until its /status says ready. Fails (never skips) when
  /// chromedriver or chromium is missing: `status()` says why.
  ChromeDriver(Stack& stack, const std::string& log_path);
  ~ChromeDriver();
  ChromeDriver(const ChromeDriver&) = delete;
  ChromeDriver& operator=(const ChromeDriver&) = delete;

  const absl::Status& status() const { return status_; }
  int port() const { return port_; }
  Stack& stack() { return stack_; }

  /// One WebDriver command: METHOD /path with a JSON body (or none); the answer's `value`,
  /// or the WebDriver error (`error`, `message`) as a status.
  absl::StatusOr<google::protobuf::Value> Command(const std::string& method,
                                                  const std::string& path,
                                                  const google::protobuf::Value* body = nullptr);

 private:
  Stack& stack_;
  int port_ = 0;
  std::unique_ptr<Process> process_;
  absl::Status status_;
};

/// One headless Chromium session: navigate, run scripts, close.
class BrowserSession {
 public:
  /// The Chromium switches every session gets: headless, fake camera and microphone
  /// (a test pattern and a beep) with the permission prompt answered yes, autoplay allowed,
  /// and loopback ICE candidates as plain 127.0.0.1 (docs/e2e.md).
  static std::vector<std::string> DefaultArgs();

  /// Opens a session with DefaultArgs() plus `extra_args`; `status()` says why it failed.
  BrowserSession(ChromeDriver& driver, const std::string& name,
                 const std::vector<std::string>& extra_args = {});
  /// Deletes the session (Chromium exits).
  ~BrowserSession();
  BrowserSession(const BrowserSession&) = delete;
  BrowserSession& operator=(const BrowserSession&) = delete;

  const absl::Status& status() const { return status_; }
  const std::string& name() const { return name_; }

  absl::Status Navigate(const std::string& url);
  /// The script runs as a function body; `arguments` holds `args` (a JSON array, or null
  /// for none). Returns what it returns.
  absl::StatusOr<google::protobuf::Value> Execute(const std::string& script,
                                                  const google::protobuf::Value* args = nullptr);
  /// As Execute, but the result is what the script passes to its last argument (a callback),
  /// which must come within the session's script timeout (SetScriptTimeout).
  absl::StatusOr<google::protobuf::Value> ExecuteAsync(
      const std::string& script, const google::protobuf::Value* args = nullptr);
  absl::Status SetScriptTimeout(int milliseconds);

 private:
  ChromeDriver& driver_;
  std::string name_;
  std::string session_id_;
  absl::Status status_;
};

/// JSON helpers for scripts' arguments and results.
google::protobuf::Value JsonString(const std::string& s);
google::protobuf::Value JsonNumber(double d);
google::protobuf::Value JsonBool(bool b);
google::protobuf::Value JsonList(const std::vector<google::protobuf::Value>& items);
/// Compact JSON text of a Value.
std::string ToJson(const google::protobuf::Value& v);
/// The member at a dotted path ("links.peer.framesDecoded"); nullptr when absent.
const google::protobuf::Value* JsonAt(const google::protobuf::Value& v, const std::string& path);
/// The number or string at a dotted path as a number; `fallback` when absent.
double JsonNumberAt(const google::protobuf::Value& v, const std::string& path, double fallback = 0);
/// The string at a dotted path; "" when absent or not a string.
std::string JsonStringAt(const google::protobuf::Value& v, const std::string& path);

}  // namespace admissions::testing
