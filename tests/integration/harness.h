#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "google/protobuf/struct.pb.h"

namespace admissions::testing {

/// An HTTP answer with its body parsed as JSON when it is JSON.
struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // Lower-case names.
  std::string body;
  google::protobuf::Value json;

  /// A dotted path into the JSON body ("error.code"); "" when absent.
  std::string Str(const std::string& path) const;
  const google::protobuf::Value* Find(const std::string& path) const;
  std::string ErrorCode() const { return Str("error.code"); }
};

/// A child process started with arguments and extra environment; SIGTERM and
/// reaped when destroyed.
class Process {
 public:
  Process(const std::string& binary, const std::vector<std::string>& args,
          const std::map<std::string, std::string>& env, const std::string& log_path);
  ~Process();
  /// Sends SIGTERM and waits up to `seconds`; returns the exit status or -1.
  int Stop(int seconds = 15);
  bool Running();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

/// One private database, identity-service and gateway for a test binary, on free
/// ports, with keys of its own. Fails the test run when TEST_PG_ADMIN_URI,
/// TEST_REDIS_URL or ADMISSIONS_BUILD_DIR is missing: nothing skips.
class Stack {
 public:
  static Stack& Get();  // Started on first use, stopped at exit.

  HttpResponse Call(const std::string& method, const std::string& target,
                    const std::string& body = "",
                    const std::map<std::string, std::string>& headers = {});
  /// Sends bytes as they are and returns what comes back (for malformed HTTP).
  std::string Raw(const std::string& bytes);

  const std::string& pg_uri() const { return pg_uri_; }
  const std::string& redis_url() const { return redis_url_; }
  const std::string& signing_key() const { return signing_key_; }
  int gateway_port() const { return gateway_port_; }
  std::string tmp_dir() const { return dir_; }
  /// One SQL statement on the test database; returns the first column of the first row.
  std::string Sql(const std::string& sql);
  /// Deletes the Redis keys matching `pattern` (KEYS: test data only).
  void RedisDeleteMatching(const std::string& pattern);

  void Shutdown();
  ~Stack();

 private:
  Stack();
  std::string dir_;
  std::string admin_uri_, pg_uri_, db_name_, redis_url_;
  std::string signing_key_;
  int gateway_port_ = 0;
  std::unique_ptr<Process> identity_, gateway_;
};

/// A fresh mainland mobile number and a valid resident ID number for each call.
std::string NewPhone();
std::string NewResidentId();
/// Adds the GB 11643 check character to 17 digits.
std::string WithCheckDigit(const std::string& first17);

/// Registers a candidate through the dev SMS outbox and returns {phone, idNumber}.
struct Candidate {
  std::string phone, id_number, password, account_id;
};
Candidate RegisterCandidate(Stack& s, const std::string& password = "pass-word-1");
/// Logs in; returns {accessToken, refreshToken}.
std::pair<std::string, std::string> Login(Stack& s, const std::string& login,
                                          const std::string& password);
std::string LatestSmsCode(Stack& s, const std::string& phone);
std::map<std::string, std::string> Bearer(const std::string& token);

}  // namespace admissions::testing
