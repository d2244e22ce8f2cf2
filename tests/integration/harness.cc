#include "integration/harness.h"

#include <signal.h>
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <pqxx/pqxx>
#include <random>
#include <sstream>
#include <string_view>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/crypto.h"
#include "common/redis.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

extern char** environ;

namespace admissions::testing {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

std::string RequireEnv(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    std::cerr << "FATAL: " << name
              << " is not set. Integration tests need the PostgreSQL and Redis that "
                 "`make test` starts; run them through `make test`.\n";
    std::abort();
  }
  return v;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Tail(const std::string& path) {
  std::string all = ReadFile(path);
  return all.size() > 4000 ? all.substr(all.size() - 4000) : all;
}

int PickFreePort() {
  boost::asio::io_context ioc;
  tcp::acceptor acceptor(ioc, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

int WaitForPort(const std::string& port_file, Process& p, const std::string& log) {
  for (int i = 0; i < 600; ++i) {
    std::string text = ReadFile(port_file);
    if (!text.empty()) return std::atoi(text.c_str());
    if (!p.Running()) {
      std::cerr << "FATAL: process exited before listening; log:\n" << Tail(log) << "\n";
      std::abort();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::cerr << "FATAL: no port after 60 s; log:\n" << Tail(log) << "\n";
  std::abort();
}

std::mt19937_64& Rng() {
  static std::mt19937_64 rng(std::random_device{}() ^ static_cast<uint64_t>(getpid()));
  return rng;
}

}  // namespace

const google::protobuf::Value* HttpResponse::Find(const std::string& path) const {
  const google::protobuf::Value* v = &json;
  for (absl::string_view part : absl::StrSplit(path, '.')) {
    if (v->kind_case() != google::protobuf::Value::kStructValue) return nullptr;
    const auto& fields = v->struct_value().fields();
    auto it = fields.find(std::string(part));
    if (it == fields.end()) return nullptr;
    v = &it->second;
  }
  return v;
}

std::string HttpResponse::Str(const std::string& path) const {
  const auto* v = Find(path);
  if (v == nullptr) return "";
  switch (v->kind_case()) {
    case google::protobuf::Value::kStringValue:
      return v->string_value();
    case google::protobuf::Value::kNumberValue: {
      std::ostringstream os;
      os << v->number_value();
      return os.str();
    }
    case google::protobuf::Value::kBoolValue:
      return v->bool_value() ? "true" : "false";
    default:
      return "";
  }
}

Process::Process(const std::string& binary, const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env, const std::string& log_path) {
  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    // A variable set here replaces an inherited one of the same name.
    if (env.count(std::string(entry.substr(0, entry.find('=')))) == 0) envs.emplace_back(entry);
  }
  for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
  pid_ = fork();
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    FILE* log = std::fopen(log_path.c_str(), "a");
    if (log) {
      dup2(fileno(log), 1);
      dup2(fileno(log), 2);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    std::vector<char*> argv = {const_cast<char*>(binary.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& e : envs) envp.push_back(e.data());
    envp.push_back(nullptr);
    execve(binary.c_str(), argv.data(), envp.data());
    std::perror("execve");
    _exit(127);
  }
}

Process::~Process() { Stop(); }

bool Process::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  return waitpid(pid_, &status, WNOHANG) == 0;
}

int Process::Stop(int seconds) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < seconds * 20; ++i) {
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return -1;
}

Stack& Stack::Get() {
  static Stack* stack = [] {
    auto* s = new Stack();
    std::atexit([] { Stack::Get().Shutdown(); });
    return s;
  }();
  return *stack;
}

Stack::Stack() {
  InitCrypto();
  admin_uri_ = RequireEnv("TEST_PG_ADMIN_URI");
  redis_url_ = RequireEnv("TEST_REDIS_URL");
  std::string build = RequireEnv("ADMISSIONS_BUILD_DIR");

  char tmpl[] = "/tmp/admissions-it-XXXXXX";
  dir_ = mkdtemp(tmpl);
  db_name_ = "it_" + std::to_string(getpid()) + "_" + std::to_string(Rng()() % 100000);
  {
    pqxx::connection c(admin_uri_);
    pqxx::nontransaction tx(c);
    tx.exec("CREATE DATABASE " + tx.quote_name(db_name_));
  }
  // Same server, the new database.
  auto slash = admin_uri_.rfind('/');
  pg_uri_ = admin_uri_.substr(0, slash + 1) + db_name_;

  std::string seed = RandomBytes(32);
  signing_key_ = Base64Encode(seed);
  face_simulator_key_ = Base64Encode(RandomBytes(32));
  // Identity checks provider callbacks against the simulator's key only while no
  // provider key is configured: never inherit one from the shell.
  unsetenv("FACE_PROVIDER_PUBLIC_KEY");
  env_ = {
      {"PG_URI", pg_uri_},
      {"REDIS_URL", redis_url_},
      {"TOKEN_SIGNING_KEY", signing_key_},
      {"TOKEN_PUBLIC_KEYS", Base64Encode(KeyPairFromSeed(seed)->public_key)},
      {"PII_ENCRYPTION_KEY", Base64Encode(RandomBytes(32))},
      {"PII_INDEX_KEY", Base64Encode(RandomBytes(32))},
      {"DEV_MODE", "true"},
  };
  std::map<std::string, std::string> identity_env = env_;
  identity_env["FACE_SIMULATOR_KEY"] = face_simulator_key_;
  std::string id_log = dir_ + "/identity.log";
  identity_ = std::make_unique<Process>(
      build + "/services/identity/identity-service",
      std::vector<std::string>{"--grpc_addr=127.0.0.1:0", "--port_file=" + dir_ + "/identity.port"},
      identity_env, id_log);
  identity_port_ = WaitForPort(dir_ + "/identity.port", *identity_, id_log);
  payment_port_ = PickFreePort();
  materials_port_ = PickFreePort();
  waiting_room_port_ = PickFreePort();
  media_signaling_port_ = PickFreePort();
  payment_sandbox_key_ = Base64Encode(RandomBytes(32));
  materials_blob_dir_ = dir_ + "/materials-blobs";
  StartEnrollment();
  StartPayment();
  StartMaterials();
  StartWaitingRoom();
  StartCoturn();
  StartMediaSignaling();

  std::string gw_log = dir_ + "/gateway.log";
  gateway_ = std::make_unique<Process>(build + "/gateway/gateway",
                                       GatewayArgs(dir_ + "/gateway.port"), env_, gw_log);
  gateway_port_ = WaitForPort(dir_ + "/gateway.port", *gateway_, gw_log);
}

int Stack::StartGateway() {
  std::string build = RequireEnv("ADMISSIONS_BUILD_DIR");
  std::string name = "gateway" + std::to_string(extra_gateways_.size() + 2);
  std::string log = dir_ + "/" + name + ".log";
  std::string port_file = dir_ + "/" + name + ".port";
  extra_gateways_.push_back(
      std::make_unique<Process>(build + "/gateway/gateway", GatewayArgs(port_file), env_, log));
  return WaitForPort(port_file, *extra_gateways_.back(), log);
}

void Stack::StopExtraGateways() {
  for (auto& g : extra_gateways_) g->Stop();
  extra_gateways_.clear();
}

std::vector<std::string> Stack::GatewayArgs(const std::string& port_file) const {
  return {"--port=0",
          "--port_file=" + port_file,
          "--identity_addr=127.0.0.1:" + std::to_string(identity_port_),
          "--enrollment_addr=127.0.0.1:" + std::to_string(enrollment_port_),
          "--payment_addr=127.0.0.1:" + std::to_string(payment_port_),
          "--materials_addr=127.0.0.1:" + std::to_string(materials_port_),
          "--waiting_room_addr=127.0.0.1:" + std::to_string(waiting_room_port_),
          "--media_signaling_addr=127.0.0.1:" + std::to_string(media_signaling_port_)};
}

void Stack::Shutdown() {
  for (auto& g : extra_gateways_) g->Stop();
  extra_gateways_.clear();
  if (gateway_) gateway_->Stop();
  if (media_signaling_) media_signaling_->Stop();
  if (coturn_) coturn_->Stop();
  if (waiting_room_) waiting_room_->Stop();
  if (materials_) materials_->Stop();
  if (payment_) payment_->Stop();
  if (enrollment_) enrollment_->Stop();
  if (identity_) identity_->Stop();
  gateway_.reset();
  media_signaling_.reset();
  coturn_.reset();
  waiting_room_.reset();
  materials_.reset();
  payment_.reset();
  enrollment_.reset();
  identity_.reset();
  if (!db_name_.empty()) {
    try {
      pqxx::connection c(admin_uri_);
      pqxx::nontransaction tx(c);
      tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(db_name_) + " WITH (FORCE)");
    } catch (const std::exception& e) {
      std::cerr << "warning: cannot drop " << db_name_ << ": " << e.what() << "\n";
    }
    db_name_.clear();
  }
  if (!dir_.empty() && std::getenv("KEEP_TEST_LOGS") == nullptr) {
    std::string cmd = "rm -rf '" + dir_ + "'";
    (void)std::system(cmd.c_str());
    dir_.clear();
  }
}

Stack::~Stack() { Shutdown(); }

std::string Stack::Sql(const std::string& sql) {
  pqxx::connection c(pg_uri_);
  pqxx::work tx(c);
  auto r = tx.exec(sql);
  tx.commit();
  if (r.empty() || r[0].empty() || r[0][0].is_null()) return "";
  return r[0][0].as<std::string>();
}

void Stack::RedisDeleteMatching(const std::string& pattern) {
  RedisPool pool(RedisAddress::Parse(redis_url_).value(), 1);
  auto keys = pool.Command({"KEYS", pattern});
  ASSERT_TRUE(keys.ok()) << keys.status();
  for (const auto& k : keys->elements) ASSERT_TRUE(pool.Command({"DEL", k.str}).ok());
}

void Stack::RedisFlushAll() {
  RedisPool pool(RedisAddress::Parse(redis_url_).value(), 1);
  ASSERT_TRUE(pool.Command({"FLUSHALL"}).ok());
}

void Stack::RedisPublish(const std::string& channel, const std::string& message) {
  RedisPool pool(RedisAddress::Parse(redis_url_).value(), 1);
  ASSERT_TRUE(pool.Command({"PUBLISH", channel, message}).ok());
}

HttpResponse Stack::Call(const std::string& method, const std::string& target,
                         const std::string& body,
                         const std::map<std::string, std::string>& headers) {
  return CallVia(Via{}, method, target, body, headers);
}

HttpResponse Stack::CallVia(const Via& via, const std::string& method, const std::string& target,
                            const std::string& body,
                            const std::map<std::string, std::string>& headers) {
  boost::asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(std::chrono::seconds(30));
  if (!via.source_ip.empty()) {
    stream.socket().open(tcp::v4());
    stream.socket().bind(tcp::endpoint(boost::asio::ip::make_address(via.source_ip), 0));
  }
  stream.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                               via.port == 0 ? gateway_port_ : via.port));
  http::request<http::string_body> req(http::string_to_verb(method), target, 11);
  req.set(http::field::host, "127.0.0.1");
  bool has_type = false;
  for (const auto& [k, v] : headers) {
    req.set(k, v);
    has_type = has_type || k == "Content-Type";
  }
  if (!body.empty() && !has_type) req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(512 * 1024 * 1024);
  http::read(stream, buffer, parser);
  auto res = parser.release();
  HttpResponse out;
  out.status = res.result_int();
  for (const auto& h : res) {
    std::string name(h.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(c));
    out.headers[name] = std::string(h.value());
  }
  out.body = res.body();
  if (!out.body.empty() && (out.body[0] == '{' || out.body[0] == '[')) {
    (void)google::protobuf::util::JsonStringToMessage(out.body, &out.json);
  }
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  return out;
}

std::string Stack::Raw(const std::string& bytes) {
  boost::asio::io_context ioc;
  tcp::socket sock(ioc);
  sock.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), gateway_port_));
  boost::asio::write(sock, boost::asio::buffer(bytes));
  std::string out;
  char buf[4096];
  beast::error_code ec;
  // Read until the gateway closes or 5 s pass.
  sock.non_blocking(false);
  struct timeval tv {
    5, 0
  };
  setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  for (;;) {
    size_t n = sock.read_some(boost::asio::buffer(buf), ec);
    if (ec || n == 0) break;
    out.append(buf, n);
    if (out.find("\r\n\r\n") != std::string::npos && out.size() > 12) {
      // One answer is enough once its body is in (bodies here are small).
      auto cl = out.find("Content-Length: ");
      if (cl == std::string::npos) cl = out.find("content-length: ");
      if (cl != std::string::npos) {
        size_t len = std::atoi(out.c_str() + cl + 16);
        if (out.size() >= out.find("\r\n\r\n") + 4 + len) break;
      }
    }
  }
  return out;
}

std::string NewPhone() {
  static std::atomic<int> counter{0};
  uint64_t r = Rng()() % 10000000;
  char buf[16];
  std::snprintf(buf, sizeof(buf), "139%01d%07lu", counter++ % 10, static_cast<unsigned long>(r));
  return buf;
}

std::string WithCheckDigit(const std::string& first17) {
  static const int kWeights[] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  int sum = 0;
  for (int i = 0; i < 17; ++i) sum += (first17[i] - '0') * kWeights[i];
  return first17 + "10X98765432"[sum % 11];
}

std::string NewResidentId() {
  uint64_t r = Rng()();
  char buf[20];
  // Region 110105, born 1990-01-01 .. 1999-12-28, random sequence.
  std::snprintf(buf, sizeof(buf), "110105199%01lu%02lu%02lu%03lu",
                static_cast<unsigned long>(r % 10), static_cast<unsigned long>(1 + (r >> 8) % 12),
                static_cast<unsigned long>(1 + (r >> 16) % 28),
                static_cast<unsigned long>((r >> 24) % 1000));
  return WithCheckDigit(buf);
}

std::map<std::string, std::string> Bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

std::string LatestSmsCode(Stack& s, const std::string& phone) {
  auto r = s.Call("GET", "/v1/dev/sms-outbox?phone=" + phone);
  EXPECT_EQ(r.status, 200) << r.body;
  const auto* msgs = r.Find("messages");
  if (msgs == nullptr || msgs->list_value().values_size() == 0) return "";
  return msgs->list_value().values(0).struct_value().fields().at("code").string_value();
}

Candidate RegisterCandidate(Stack& s, const std::string& password) {
  Candidate c;
  c.phone = NewPhone();
  c.id_number = NewResidentId();
  c.password = password;
  auto sent =
      s.Call("POST", "/v1/sms-codes", R"({"phone":")" + c.phone + R"(","purpose":"REGISTER"})");
  EXPECT_EQ(sent.status, 202) << sent.body;
  std::string code = LatestSmsCode(s, c.phone);
  auto created = s.Call(
      "POST", "/v1/accounts",
      R"({"phone":")" + c.phone + R"(","smsCode":")" + code + R"(","password":")" + password +
          R"(","name":"张三","idType":"RESIDENT_ID","idNumber":")" + c.id_number + R"("})");
  EXPECT_EQ(created.status, 201) << created.body;
  c.account_id = created.Str("accountId");
  return c;
}

std::pair<std::string, std::string> Login(Stack& s, const std::string& login,
                                          const std::string& password) {
  auto r = s.Call("POST", "/v1/sessions",
                  R"({"login":")" + login + R"(","password":")" + password + R"("})");
  EXPECT_EQ(r.status, 200) << r.body;
  return {r.Str("accessToken"), r.Str("refreshToken")};
}

std::map<std::string, std::string> FaceCallback::Headers() const {
  return {{"X-Face-Signature", signature},
          {"X-Face-Timestamp", timestamp},
          {"X-Face-Nonce", nonce},
          {"Content-Type", "application/json"}};
}

std::string FaceResultJson(const std::string& verification_id, bool passed, double score) {
  return absl::StrCat(R"({"verificationId":")", verification_id, R"(","result":")",
                      passed ? "PASSED" : "FAILED", R"(","score":)", score,
                      R"(,"providerRef":"test-)", HexEncode(RandomBytes(4)), R"("})");
}

FaceCallback SignFaceCallback(const std::string& seed_b64, const std::string& body,
                              int64_t timestamp, std::string nonce) {
  FaceCallback cb;
  cb.body = body;
  cb.timestamp = std::to_string(timestamp);
  cb.nonce = nonce.empty() ? Base64UrlEncode(RandomBytes(16)) : std::move(nonce);
  auto keys = KeyPairFromSeed(*Base64Decode(seed_b64));
  EXPECT_TRUE(keys.ok()) << keys.status();
  std::string input = cb.timestamp + "." + cb.nonce + "." + cb.body;
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(input.data()),
                       input.size(),
                       reinterpret_cast<const unsigned char*>(keys->secret_key.data()));
  cb.signature = Base64Encode(std::string(reinterpret_cast<char*>(sig), sizeof(sig)));
  return cb;
}

FaceCallback SignFaceCallback(Stack& s, const std::string& body) {
  return SignFaceCallback(s.face_simulator_key(), body, absl::ToUnixSeconds(absl::Now()));
}

HttpResponse PostFaceCallback(Stack& s, const FaceCallback& cb) {
  return s.Call("POST", "/v1/providers/face/notify", cb.body, cb.Headers());
}

int CurrentAgreementVersion(Stack& s, const std::string& token) {
  auto r = s.Call("GET", "/v1/agreement", "", Bearer(token));
  EXPECT_EQ(r.status, 200) << r.body;
  return std::atoi(r.Str("version").c_str());
}

void AcceptAgreement(Stack& s, const std::string& token) {
  int version = CurrentAgreementVersion(s, token);
  auto r = s.Call("POST", "/v1/agreement:accept", absl::StrCat(R"({"version":)", version, "}"),
                  Bearer(token));
  EXPECT_EQ(r.status, 204) << r.body;
}

std::pair<std::string, std::string> StartVerification(Stack& s, const std::string& token) {
  auto r = s.Call("POST", "/v1/verifications", R"({"purpose":"ACCOUNT"})", Bearer(token));
  EXPECT_EQ(r.status, 201) << r.body;
  return {r.Str("verificationId"), r.Str("qrPayload")};
}

ReadyCandidate VerifiedCandidate(Stack& s) {
  ReadyCandidate rc;
  rc.c = RegisterCandidate(s);
  rc.token = Login(s, rc.c.phone, rc.c.password).first;
  AcceptAgreement(s, rc.token);
  auto [id, qr] = StartVerification(s, rc.token);
  auto scan =
      s.Call("POST", "/v1/verifications:scan", R"({"qrPayload":")" + qr + "\"}", Bearer(rc.token));
  EXPECT_EQ(scan.status, 200) << scan.body;
  auto done = s.Call("POST", "/v1/dev/verifications/" + id + ":complete", R"({"passed":true})");
  EXPECT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(done.Str("status"), "PASSED") << done.body;
  return rc;
}

void ExpectError(const HttpResponse& r, int status, const std::string& code,
                 const std::string& field) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.ErrorCode(), code) << r.body;
  EXPECT_FALSE(r.Str("error.message").empty()) << r.body;
  if (!field.empty()) {
    EXPECT_EQ(r.Str("error.details.field"), field) << r.body;
  }
}

int SqlInt(Stack& s, const std::string& sql) {
  std::string v = s.Sql(sql);
  return v.empty() ? 0 : std::stoi(v);
}

bool PollUntil(double timeout_seconds, const std::function<bool()>& probe) {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::microseconds(static_cast<int64_t>(timeout_seconds * 1e6));
  for (;;) {
    if (probe()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// ---- enrollment-service (started by the Stack after identity).

void Stack::StartEnrollment() {
  std::string build = RequireEnv("ADMISSIONS_BUILD_DIR");
  std::map<std::string, std::string> env = env_;
  env["IDENTITY_ADDR"] = "127.0.0.1:" + std::to_string(identity_port_);
  env["PAYMENT_ADDR"] = "127.0.0.1:" + std::to_string(payment_port_);
  env["MATERIALS_ADDR"] = "127.0.0.1:" + std::to_string(materials_port_);
  env["WAITING_ROOM_ADDR"] = "127.0.0.1:" + std::to_string(waiting_room_port_);
  std::string log = dir_ + "/enrollment.log";
  enrollment_ = std::make_unique<Process>(
      build + "/services/enrollment/enrollment-service",
      std::vector<std::string>{"--grpc_addr=127.0.0.1:0",
                               "--port_file=" + dir_ + "/enrollment.port"},
      env, log);
  enrollment_port_ = WaitForPort(dir_ + "/enrollment.port", *enrollment_, log);
}

// ---- Services restarted by tests, on a port fixed before the first start.

std::unique_ptr<Process> Stack::StartOnPort(const std::string& name, const std::string& binary,
                                            int port,
                                            const std::map<std::string, std::string>& env) {
  std::string log = dir_ + "/" + name + ".log";
  std::string port_file = dir_ + "/" + name + ".port";
  auto process = std::make_unique<Process>(
      RequireEnv("ADMISSIONS_BUILD_DIR") + "/" + binary,
      std::vector<std::string>{"--grpc_addr=127.0.0.1:" + std::to_string(port),
                               "--port_file=" + port_file},
      env, log);
  WaitForPort(port_file, *process, log);
  return process;
}

void Stack::Kill(std::unique_ptr<Process>& process, const std::string& name) {
  if (process) {
    kill(process->pid(), SIGKILL);  // No drain: calls in flight are cut.
    process->Stop();                // Reaps it.
  }
  // The restart's port file is then the new process's.
  std::remove((dir_ + "/" + name + ".port").c_str());
}

// ---- payment-service (started by the Stack after enrollment, on payment_port_).

void Stack::StartPayment() {
  std::map<std::string, std::string> env = env_;
  env["ENROLLMENT_ADDR"] = "127.0.0.1:" + std::to_string(enrollment_port_);
  env["PAYMENT_SANDBOX_KEY"] = payment_sandbox_key_;
  env["PAYMENT_RECONCILE_AFTER_SECONDS"] = "2";
  env["PAYMENT_RECONCILE_INTERVAL_SECONDS"] = "1";
  payment_ = StartOnPort("payment", "services/payment/payment-service", payment_port_, env);
}

void Stack::KillAndRestartPayment() {
  Kill(payment_, "payment");
  StartPayment();
}

// ---- materials-service (started by the Stack after payment, on materials_port_).

void Stack::StartMaterials() {
  std::map<std::string, std::string> env = env_;
  env["ENROLLMENT_ADDR"] = "127.0.0.1:" + std::to_string(enrollment_port_);
  env["MATERIALS_BLOB_DIR"] = materials_blob_dir_;
  // Small checkpoints, so that a test killing the service mid-upload finds progress.
  env["MATERIALS_CHECKPOINT_BYTES"] = "1048576";
  materials_ =
      StartOnPort("materials", "services/materials/materials-service", materials_port_, env);
}

void Stack::KillAndRestartMaterials() {
  Kill(materials_, "materials");
  StartMaterials();
}

// ---- waiting-room-service (started by the Stack after materials, on waiting_room_port_).

void Stack::StartWaitingRoom() {
  std::map<std::string, std::string> env = env_;
  env["IDENTITY_ADDR"] = "127.0.0.1:" + std::to_string(identity_port_);
  env["ENROLLMENT_ADDR"] = "127.0.0.1:" + std::to_string(enrollment_port_);
  env["MATERIALS_ADDR"] = "127.0.0.1:" + std::to_string(materials_port_);
  // Short presence, so that a test sees a dropped candidate go offline within seconds.
  env["WAITING_ROOM_PRESENCE_TTL_SECONDS"] = "4";
  env["WAITING_ROOM_PRESENCE_SWEEP_MS"] = "500";
  waiting_room_ = StartOnPort("waiting-room", "services/waiting_room/waiting-room-service",
                              waiting_room_port_, env);
}

void Stack::KillAndRestartWaitingRoom() {
  Kill(waiting_room_, "waiting-room");
  StartWaitingRoom();
}

// ---- coturn and media-signaling-service (started by the Stack after waiting-room).

void Stack::StartCoturn() {
  const std::string binary = "/usr/bin/turnserver";
  if (access(binary.c_str(), X_OK) != 0) {
    std::cerr << "FATAL: " << binary << " not found (Debian package coturn; "
              << "deploy/local/install-deps.sh installs it)\n";
    std::exit(1);
  }
  turn_port_ = PickFreePort();
  turn_secret_ = HexEncode(RandomBytes(16));
  // Relay ports from a range of its own per stack. Chromium allocates one relay per TURN URL
  // and local address (up to 4 per peer connection), so a browser test needs dozens.
  int relay_min = 40000 + (turn_port_ % 200) * 100;
  std::string log = dir_ + "/coturn.log";
  coturn_ = std::make_unique<Process>(
      binary,
      std::vector<std::string>{
          "-n", "--listening-ip=127.0.0.1", "--listening-port=" + std::to_string(turn_port_),
          "--relay-ip=127.0.0.1", "--min-port=" + std::to_string(relay_min),
          "--max-port=" + std::to_string(relay_min + 99), "--use-auth-secret",
          "--static-auth-secret=" + turn_secret_, "--realm=admissions.local", "--no-tls",
          "--no-dtls", "--no-cli", "--fingerprint",
          // Test-only: both peers are on loopback. Production must not allow it.
          "--allow-loopback-peers", "--no-multicast-peers", "--userdb=" + dir_ + "/turndb", "--log-file=stdout",
          "--simple-log", "--verbose",
          "--pidfile=" + dir_ + "/coturn.pid"},
      std::map<std::string, std::string>{}, log);
  bool listening = PollUntil(10, [&] {  // Its TCP listener accepts: ready.
    boost::asio::io_context ioc;
    tcp::socket socket(ioc);
    beast::error_code ec;
    socket.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), turn_port_), ec);
    return !ec;
  });
  if (!listening || !coturn_->Running()) {
    std::cerr << "FATAL: coturn did not start; see " << log << "\n";
    std::exit(1);
  }
}

void Stack::StartMediaSignaling() {
  std::map<std::string, std::string> env = env_;
  env["WAITING_ROOM_ADDR"] = "127.0.0.1:" + std::to_string(waiting_room_port_);
  env["TURN_SECRET"] = turn_secret_;
  std::string turn = "turn:127.0.0.1:" + std::to_string(turn_port_);
  env["TURN_URLS"] = turn + "?transport=udp," + turn + "?transport=tcp";
  env["STUN_URLS"] = "stun:127.0.0.1:" + std::to_string(turn_port_);
  // A short grace, so that a test sees a vanished participant leave within seconds.
  env["MEDIA_GRACE_SECONDS"] = "4";
  media_signaling_ =
      StartOnPort("media-signaling", "services/media_signaling/media-signaling-service",
                  media_signaling_port_, env);
}

void Stack::KillAndRestartMediaSignaling() {
  Kill(media_signaling_, "media-signaling");
  StartMediaSignaling();
}

HttpResponse CallExpectingEarlyAnswer(Stack& s, const std::string& method,
                                      const std::string& target, const std::string& body,
                                      const std::map<std::string, std::string>& headers) {
  boost::asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(std::chrono::seconds(30));
  stream.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), s.gateway_port()));
  http::request<http::string_body> req(http::string_to_verb(method), target, 11);
  req.set(http::field::host, "127.0.0.1");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  beast::error_code ec;
  http::write(stream, req, ec);  // May break off: the answer came first.
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(512 * 1024 * 1024);
  http::read(stream, buffer, parser, ec);
  HttpResponse out;
  if (!parser.is_header_done()) return out;
  auto res = parser.release();
  out.status = res.result_int();
  for (const auto& h : res) {
    std::string name(h.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(c));
    out.headers[name] = std::string(h.value());
  }
  out.body = res.body();
  if (!out.body.empty() && out.body[0] == '{') {
    (void)google::protobuf::util::JsonStringToMessage(out.body, &out.json);
  }
  return out;
}

}  // namespace admissions::testing
