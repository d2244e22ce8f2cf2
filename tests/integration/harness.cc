#include "integration/harness.h"

#include <signal.h>
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
#include <thread>

#include "absl/strings/str_split.h"
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
  for (char** e = environ; *e != nullptr; ++e) envs.emplace_back(*e);
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
  std::map<std::string, std::string> env = {
      {"PG_URI", pg_uri_},
      {"REDIS_URL", redis_url_},
      {"TOKEN_SIGNING_KEY", signing_key_},
      {"TOKEN_PUBLIC_KEYS", Base64Encode(KeyPairFromSeed(seed)->public_key)},
      {"PII_ENCRYPTION_KEY", Base64Encode(RandomBytes(32))},
      {"PII_INDEX_KEY", Base64Encode(RandomBytes(32))},
      {"DEV_MODE", "true"},
  };
  std::string id_log = dir_ + "/identity.log";
  identity_ = std::make_unique<Process>(
      build + "/services/identity/identity-service",
      std::vector<std::string>{"--grpc_addr=127.0.0.1:0", "--port_file=" + dir_ + "/identity.port"},
      env, id_log);
  int identity_port = WaitForPort(dir_ + "/identity.port", *identity_, id_log);

  std::string gw_log = dir_ + "/gateway.log";
  gateway_ = std::make_unique<Process>(
      build + "/gateway/gateway",
      std::vector<std::string>{"--port=0", "--port_file=" + dir_ + "/gateway.port",
                               "--identity_addr=127.0.0.1:" + std::to_string(identity_port)},
      env, gw_log);
  gateway_port_ = WaitForPort(dir_ + "/gateway.port", *gateway_, gw_log);
}

void Stack::Shutdown() {
  if (gateway_) gateway_->Stop();
  if (identity_) identity_->Stop();
  gateway_.reset();
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

HttpResponse Stack::Call(const std::string& method, const std::string& target,
                         const std::string& body,
                         const std::map<std::string, std::string>& headers) {
  boost::asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(std::chrono::seconds(30));
  stream.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), gateway_port_));
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
  parser.body_limit(64 * 1024 * 1024);
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

}  // namespace admissions::testing
