#include "e2e/webdriver.h"

#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <exception>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"

namespace admissions::testing {
namespace {

constexpr char kChromeDriver[] = "/usr/bin/chromedriver";
constexpr char kChromium[] = "/usr/bin/chromium";

int FreePort() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor(
      ioc, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

google::protobuf::Value Object(
    std::initializer_list<std::pair<const char*, google::protobuf::Value>> fields) {
  google::protobuf::Value v;
  auto* s = v.mutable_struct_value()->mutable_fields();
  for (const auto& [k, f] : fields) (*s)[k] = f;
  return v;
}

}  // namespace

google::protobuf::Value JsonString(const std::string& s) {
  google::protobuf::Value v;
  v.set_string_value(s);
  return v;
}

google::protobuf::Value JsonNumber(double d) {
  google::protobuf::Value v;
  v.set_number_value(d);
  return v;
}

google::protobuf::Value JsonBool(bool b) {
  google::protobuf::Value v;
  v.set_bool_value(b);
  return v;
}

google::protobuf::Value JsonList(const std::vector<google::protobuf::Value>& items) {
  google::protobuf::Value v;
  auto* list = v.mutable_list_value();
  for (const auto& item : items) *list->add_values() = item;
  return v;
}

std::string ToJson(const google::protobuf::Value& v) {
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(v, &out);
  return out;
}

const google::protobuf::Value* JsonAt(const google::protobuf::Value& v, const std::string& path) {
  const google::protobuf::Value* at = &v;
  for (absl::string_view part : absl::StrSplit(path, '.', absl::SkipEmpty())) {
    if (at->kind_case() != google::protobuf::Value::kStructValue) return nullptr;
    const auto& fields = at->struct_value().fields();
    auto it = fields.find(std::string(part));
    if (it == fields.end()) return nullptr;
    at = &it->second;
  }
  return at;
}

double JsonNumberAt(const google::protobuf::Value& v, const std::string& path, double fallback) {
  const auto* at = JsonAt(v, path);
  if (at == nullptr) return fallback;
  if (at->kind_case() == google::protobuf::Value::kNumberValue) return at->number_value();
  if (at->kind_case() == google::protobuf::Value::kStringValue) {
    return std::strtod(at->string_value().c_str(), nullptr);
  }
  return fallback;
}

std::string JsonStringAt(const google::protobuf::Value& v, const std::string& path) {
  const auto* at = JsonAt(v, path);
  return at != nullptr && at->kind_case() == google::protobuf::Value::kStringValue
             ? at->string_value()
             : "";
}

ChromeDriver::ChromeDriver(Stack& stack, const std::string& log_path) : stack_(stack) {
  for (const char* binary : {kChromeDriver, kChromium}) {
    if (access(binary, X_OK) != 0) {
      status_ = absl::FailedPreconditionError(
          absl::StrCat(binary,
                       " is missing: install chromium and chromium-driver "
                       "(deploy/local/install-deps.sh)"));
      return;
    }
  }
  port_ = FreePort();
  process_ = std::make_unique<Process>(kChromeDriver,
                                       std::vector<std::string>{absl::StrCat("--port=", port_)},
                                       std::map<std::string, std::string>{}, log_path);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_->Running()) {
      status_ = absl::UnavailableError(
          absl::StrCat("chromedriver exited during start-up; see ", log_path));
      return;
    }
    auto ready = Command("GET", "/status");
    if (ready.ok() && JsonAt(*ready, "ready") != nullptr && JsonAt(*ready, "ready")->bool_value()) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  status_ = absl::DeadlineExceededError(
      absl::StrCat("chromedriver did not get ready in 30 s; see ", log_path));
}

ChromeDriver::~ChromeDriver() {
  if (process_ == nullptr) return;
  // Closes every browser still open before chromedriver itself goes.
  if (process_->Running()) (void)Command("GET", "/shutdown");
  process_->Stop(10);
}

absl::StatusOr<google::protobuf::Value> ChromeDriver::Command(const std::string& method,
                                                              const std::string& path,
                                                              const google::protobuf::Value* body) {
  HttpResponse r;
  try {
    r = stack_.CallVia(Via{port_, ""}, method, path, body == nullptr ? "" : ToJson(*body),
                       {{"Content-Type", "application/json; charset=utf-8"}});
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(method, " ", path, ": ", e.what()));
  }
  const auto* value = JsonAt(r.json, "value");
  if (r.status != 200) {
    std::string error = value != nullptr ? JsonStringAt(*value, "error") : "";
    std::string message = value != nullptr ? JsonStringAt(*value, "message") : r.body;
    return absl::InternalError(
        absl::StrCat(method, " ", path, ": HTTP ", r.status, " ", error, ": ", message));
  }
  if (value == nullptr) return google::protobuf::Value();
  return *value;
}

std::vector<std::string> BrowserSession::DefaultArgs() {
  return {
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--no-first-run",
      "--no-default-browser-check",
      "--use-fake-device-for-media-stream",
      "--use-fake-ui-for-media-stream",
      "--autoplay-policy=no-user-gesture-required",
      // Host candidates as real addresses (not mDNS .local names), loopback included.
      "--disable-features=WebRtcHideLocalIpsWithMdns",
      "--allow-loopback-in-peer-connection",
      // Three browsers share two cores: never throttle a page's timers or media.
      "--disable-background-timer-throttling",
      "--disable-renderer-backgrounding",
      "--disable-backgrounding-occluded-windows",
      "--window-size=640,480",
  };
}

BrowserSession::BrowserSession(ChromeDriver& driver, const std::string& name,
                               const std::vector<std::string>& extra_args)
    : driver_(driver), name_(name) {
  std::vector<google::protobuf::Value> args;
  for (const auto& a : DefaultArgs()) args.push_back(JsonString(a));
  for (const auto& a : extra_args) args.push_back(JsonString(a));
  google::protobuf::Value chrome_options =
      Object({{"binary", JsonString(kChromium)}, {"args", JsonList(args)}});
  google::protobuf::Value body =
      Object({{"capabilities",
               Object({{"alwaysMatch", Object({{"browserName", JsonString("chrome")},
                                               {"goog:chromeOptions", chrome_options}})}})}});
  auto created = driver_.Command("POST", "/session", &body);
  if (!created.ok()) {
    status_ = created.status();
    return;
  }
  session_id_ = JsonStringAt(*created, "sessionId");
  if (session_id_.empty()) {
    status_ = absl::InternalError(absl::StrCat("no sessionId in ", ToJson(*created)));
  }
}

BrowserSession::~BrowserSession() {
  if (!session_id_.empty()) (void)driver_.Command("DELETE", "/session/" + session_id_);
}

absl::Status BrowserSession::Navigate(const std::string& url) {
  google::protobuf::Value body = Object({{"url", JsonString(url)}});
  return driver_.Command("POST", absl::StrCat("/session/", session_id_, "/url"), &body).status();
}

absl::StatusOr<google::protobuf::Value> BrowserSession::Execute(
    const std::string& script, const google::protobuf::Value* args) {
  google::protobuf::Value body =
      Object({{"script", JsonString(script)}, {"args", args != nullptr ? *args : JsonList({})}});
  return driver_.Command("POST", absl::StrCat("/session/", session_id_, "/execute/sync"), &body);
}

absl::StatusOr<google::protobuf::Value> BrowserSession::ExecuteAsync(
    const std::string& script, const google::protobuf::Value* args) {
  google::protobuf::Value body =
      Object({{"script", JsonString(script)}, {"args", args != nullptr ? *args : JsonList({})}});
  return driver_.Command("POST", absl::StrCat("/session/", session_id_, "/execute/async"), &body);
}

absl::Status BrowserSession::SetScriptTimeout(int milliseconds) {
  google::protobuf::Value body = Object({{"script", JsonNumber(milliseconds)}});
  return driver_.Command("POST", absl::StrCat("/session/", session_id_, "/timeouts"), &body)
      .status();
}

}  // namespace admissions::testing
