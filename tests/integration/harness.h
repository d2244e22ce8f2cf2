#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
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

/// Where a request goes and where it comes from.
struct Via {
  int port = 0;           // 0: the stack's first gateway.
  std::string source_ip;  // "": the kernel's choice (127.0.0.1). Any 127.x.y.z works, so
                          // a test can have a client address (and per-IP limits) of its own.
};

/// One private database, identity-, enrollment-, payment-, materials- and
/// waiting-room-service and a gateway for a test binary, on free
/// ports, with keys of its own. Fails the test run when TEST_PG_ADMIN_URI,
/// TEST_REDIS_URL or ADMISSIONS_BUILD_DIR is missing: nothing skips.
class Stack {
 public:
  static Stack& Get();  // Started on first use, stopped at exit.

  HttpResponse Call(const std::string& method, const std::string& target,
                    const std::string& body = "",
                    const std::map<std::string, std::string>& headers = {});
  HttpResponse CallVia(const Via& via, const std::string& method, const std::string& target,
                       const std::string& body = "",
                       const std::map<std::string, std::string>& headers = {});
  /// Starts one more gateway on the same identity-service and Redis (another
  /// instance behind the load balancer); returns its port. Stopped with the stack.
  int StartGateway();
  /// Stops (SIGTERM: the gateway drains and closes live sockets with 1001) every gateway
  /// StartGateway started.
  void StopExtraGateways();
  /// Sends bytes as they are and returns what comes back (for malformed HTTP).
  std::string Raw(const std::string& bytes);

  const std::string& pg_uri() const { return pg_uri_; }
  const std::string& redis_url() const { return redis_url_; }
  const std::string& signing_key() const { return signing_key_; }
  /// The development face simulator's Ed25519 seed (base64), given to identity as
  /// FACE_SIMULATOR_KEY. FACE_PROVIDER_PUBLIC_KEY is never set, so identity checks
  /// provider callbacks against this key's public half: tests sign as the provider.
  const std::string& face_simulator_key() const { return face_simulator_key_; }
  int gateway_port() const { return gateway_port_; }
  /// identity-service's gRPC port (for its internal calls, which have no HTTP route).
  int identity_port() const { return identity_port_; }
  /// enrollment-service's gRPC port (its internal GetExam has no HTTP route).
  int enrollment_port() const { return enrollment_port_; }
  /// payment-service's gRPC port (its JourneyStepSource has no HTTP route).
  int payment_port() const { return payment_port_; }
  /// The sandbox payment provider's Ed25519 seed (base64), given to payment as
  /// PAYMENT_SANDBOX_KEY: tests sign notifications as the provider.
  const std::string& payment_sandbox_key() const { return payment_sandbox_key_; }
  /// Kills payment-service with SIGKILL (no drain, in-flight calls cut) and starts it
  /// again on the same port.
  void KillAndRestartPayment();
  /// materials-service's gRPC port (its JourneyStepSource has no HTTP route).
  int materials_port() const { return materials_port_; }
  /// The materials blob store's directory (blobs/, tmp/, uploads/ inside).
  const std::string& materials_blob_dir() const { return materials_blob_dir_; }
  /// Kills materials-service with SIGKILL and starts it again on the same port.
  void KillAndRestartMaterials();
  /// waiting-room-service's gRPC port (its Subscribe, AuthorizeSubscription, TouchPresence
  /// and JourneyStepSource have no HTTP route).
  int waiting_room_port() const { return waiting_room_port_; }
  /// Kills waiting-room-service with SIGKILL and starts it again on the same port.
  void KillAndRestartWaitingRoom();
  /// media-signaling-service's gRPC port.
  int media_signaling_port() const { return media_signaling_port_; }
  /// Kills media-signaling-service with SIGKILL and starts it again on the same port.
  void KillAndRestartMediaSignaling();
  /// The stack's coturn (TURN REST credentials with turn_secret()), on 127.0.0.1.
  int turn_port() const { return turn_port_; }
  const std::string& turn_secret() const { return turn_secret_; }
  std::string tmp_dir() const { return dir_; }
  /// One SQL statement on the test database; returns the first column of the first row.
  std::string Sql(const std::string& sql);
  /// Deletes the Redis keys matching `pattern` (KEYS: test data only).
  void RedisDeleteMatching(const std::string& pattern);
  /// FLUSHALL on the stack's Redis (a failover that lost everything).
  void RedisFlushAll();
  /// PUBLISH on the stack's Redis (as another service instance would).
  void RedisPublish(const std::string& channel, const std::string& message);

  void Shutdown();
  ~Stack();

 private:
  Stack();
  std::string dir_;
  std::string admin_uri_, pg_uri_, db_name_, redis_url_;
  std::string signing_key_, face_simulator_key_;
  std::map<std::string, std::string> env_;
  int identity_port_ = 0;
  int gateway_port_ = 0;
  std::unique_ptr<Process> identity_, gateway_;
  // enrollment-service, started after identity with IDENTITY_ADDR and the stack's keys.
  void StartEnrollment();
  int enrollment_port_ = 0;
  std::unique_ptr<Process> enrollment_;
  // payment-service, started after enrollment on a port picked before enrollment starts
  // (enrollment reaches it by PAYMENT_ADDR; it reaches enrollment by ENROLLMENT_ADDR).
  void StartPayment();
  int payment_port_ = 0;
  std::string payment_sandbox_key_;
  std::unique_ptr<Process> payment_;
  // materials-service, started after payment on a port picked before enrollment starts.
  void StartMaterials();
  int materials_port_ = 0;
  std::string materials_blob_dir_;
  std::unique_ptr<Process> materials_;
  // waiting-room-service, started after materials on a port picked before enrollment starts.
  void StartWaitingRoom();
  int waiting_room_port_ = 0;
  std::unique_ptr<Process> waiting_room_;
  // media-signaling-service, started after waiting-room; coturn before it.
  void StartCoturn();
  void StartMediaSignaling();
  int media_signaling_port_ = 0;
  int turn_port_ = 0;
  std::string turn_secret_;
  std::unique_ptr<Process> media_signaling_, coturn_;

  std::vector<std::string> GatewayArgs(const std::string& port_file) const;
  // Starts BINARY (under the build directory) as NAME with its gRPC server on `port` and
  // waits for its port file.
  std::unique_ptr<Process> StartOnPort(const std::string& name, const std::string& binary, int port,
                                       const std::map<std::string, std::string>& env);
  // SIGKILLs NAME's process (no drain) and reaps it, for a test's crash-and-restart.
  void Kill(std::unique_ptr<Process>& process, const std::string& name);
  std::vector<std::unique_ptr<Process>> extra_gateways_;
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

/// A face provider callback as the provider sends it: Ed25519 over
/// `timestamp "." nonce "." body` with the stack's simulator key.
struct FaceCallback {
  std::string body, signature, timestamp, nonce;
  std::map<std::string, std::string> Headers() const;
};
/// The JSON body of identity.v1.FaceProviderResult.
std::string FaceResultJson(const std::string& verification_id, bool passed, double score = 0.5);
/// Signs `body` with `seed_b64`; `timestamp` in epoch seconds, a fresh random nonce when
/// `nonce` is empty.
FaceCallback SignFaceCallback(const std::string& seed_b64, const std::string& body,
                              int64_t timestamp, std::string nonce = "");
/// Signed now with the stack's simulator key.
FaceCallback SignFaceCallback(Stack& s, const std::string& body);
HttpResponse PostFaceCallback(Stack& s, const FaceCallback& cb);

/// The version of the current user agreement.
int CurrentAgreementVersion(Stack& s, const std::string& token);
/// Accepts the current user agreement (expects 204).
void AcceptAgreement(Stack& s, const std::string& token);
/// POST /v1/verifications for ACCOUNT; returns {verificationId, qrPayload}.
std::pair<std::string, std::string> StartVerification(Stack& s, const std::string& token);
/// A candidate who has accepted the agreement and passed verification (through the
/// QR scan and the simulator), with a token.
struct ReadyCandidate {
  Candidate c;
  std::string token;
};
ReadyCandidate VerifiedCandidate(Stack& s);
/// Expects an error answer: status, error.code, a message, and error.details.field
/// when `field` is given.
void ExpectError(const HttpResponse& r, int status, const std::string& code,
                 const std::string& field = "");
/// The first column of the first row as a number (for count(*) queries).
int SqlInt(Stack& s, const std::string& sql);

/// Polls `probe` until it returns true or `timeout` passes; true when it did.
bool PollUntil(double timeout_seconds, const std::function<bool()>& probe);

/// Sends a request whose body the gateway may refuse before reading it all (413 while
/// the client still sends): a failed write is not an error; the answer is read anyway.
/// status 0 when no answer came.
HttpResponse CallExpectingEarlyAnswer(Stack& s, const std::string& method,
                                      const std::string& target, const std::string& body,
                                      const std::map<std::string, std::string>& headers = {});

}  // namespace admissions::testing
