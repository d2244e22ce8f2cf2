// Streamed request and response bodies through the gateway (stream_body / stream_response
// routes), against an in-process fake of the materials service.

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/read.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "common/crypto.h"
#include "common/status.h"
#include "common/token.h"
#include "gateway/server.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "materials/v1/materials.grpc.pb.h"

namespace admissions::gateway {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using api::v1::HttpBodyChunk;
using materials::v1::AppendUploadRequest;
using materials::v1::GetItemContentRequest;
using materials::v1::Materials;
using materials::v1::Upload;
using materials::v1::UploadFileRequest;
using materials::v1::UploadFileResponse;

constexpr int64_t kNow = 1'700'000'000;
constexpr size_t kChunkBytes = 64 * 1024;
constexpr char kFilesPath[] = "/v1/exams/e1/materials/r1/files";
constexpr char kAppendPath[] = "/v1/exams/e1/materials/uploads/u1";
constexpr size_t kItemSize = 300'000;

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

bool WaitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

std::string TestBytes(size_t n, uint32_t seed = 1) {
  std::string out(n, '\0');
  uint32_t x = seed;
  for (char& c : out) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return out;
}

// What the fake saw of one streamed upload.
struct UploadRecord {
  std::map<std::string, std::string> fields;  // The string fields of the first message.
  size_t first_chunk_size = 0;
  std::vector<size_t> pieces;
  std::string body;
  bool cancelled = false;
  bool completed = false;
};

class FakeMaterials;

// One upload the way the materials service is meant to take it: check the first message,
// say so with the initial metadata (so the gateway sends 100 Continue at once), then take the
// pieces, refusing past the limit.
template <typename Request, typename Response>
class UploadReactor final : public grpc::ServerReadReactor<Request> {
 public:
  UploadReactor(FakeMaterials* fake, grpc::CallbackServerContext* context, Response* response,
                bool early_metadata)
      : fake_(fake), context_(context), response_(response), early_metadata_(early_metadata) {
    this->StartRead(&request_);
  }

  void OnReadDone(bool ok) override;
  void OnDone() override { delete this; }

 private:
  FakeMaterials* fake_;
  grpc::CallbackServerContext* context_;
  Response* response_;
  bool early_metadata_;
  Request request_;
  bool first_ = true;
  int index_ = -1;
};

class FakeMaterials final : public Materials::CallbackService {
 public:
  grpc::ServerReadReactor<UploadFileRequest>* UploadFile(grpc::CallbackServerContext* context,
                                                         UploadFileResponse* response) override {
    return new UploadReactor<UploadFileRequest, UploadFileResponse>(this, context, response,
                                                                    /*early_metadata=*/true);
  }

  // Without early metadata: the gateway then sends 100 Continue after its short wait.
  grpc::ServerReadReactor<AppendUploadRequest>* AppendUpload(grpc::CallbackServerContext* context,
                                                             Upload* response) override {
    return new UploadReactor<AppendUploadRequest, Upload>(this, context, response,
                                                          /*early_metadata=*/false);
  }

  grpc::ServerWriteReactor<HttpBodyChunk>* GetItemContent(
      grpc::CallbackServerContext* context, const GetItemContentRequest* request) override;

  /// The most bytes an upload may have, and the most it may declare (Content-Length).
  void set_limit(size_t bytes) {
    absl::MutexLock lock(&mu_);
    limit_ = bytes;
  }
  void set_declared_limit(size_t bytes) {
    absl::MutexLock lock(&mu_);
    declared_limit_ = bytes;
  }
  size_t limit() {
    absl::MutexLock lock(&mu_);
    return limit_;
  }
  size_t declared_limit() {
    absl::MutexLock lock(&mu_);
    return declared_limit_;
  }

  int Begin(const google::protobuf::Message& first, size_t chunk_size) {
    UploadRecord record;
    const auto* type = first.GetDescriptor();
    for (int i = 0; i < type->field_count(); ++i) {
      const auto* field = type->field(i);
      if (field->type() == google::protobuf::FieldDescriptor::TYPE_STRING) {
        record.fields[field->name()] = first.GetReflection()->GetString(first, field);
      }
    }
    record.first_chunk_size = chunk_size;
    absl::MutexLock lock(&mu_);
    uploads_.push_back(std::move(record));
    return static_cast<int>(uploads_.size() - 1);
  }
  size_t AddPiece(int index, const std::string& piece) {
    absl::MutexLock lock(&mu_);
    uploads_[index].pieces.push_back(piece.size());
    uploads_[index].body += piece;
    return uploads_[index].body.size();
  }
  std::string End(int index, bool cancelled) {
    absl::MutexLock lock(&mu_);
    uploads_[index].cancelled = cancelled;
    uploads_[index].completed = !cancelled;
    return uploads_[index].body;
  }

  std::vector<UploadRecord> uploads() {
    absl::MutexLock lock(&mu_);
    return uploads_;
  }
  size_t received(int index) {
    absl::MutexLock lock(&mu_);
    return index < static_cast<int>(uploads_.size()) ? uploads_[index].body.size() : 0;
  }

 private:
  absl::Mutex mu_;
  size_t limit_ ABSL_GUARDED_BY(mu_) = 64 << 20;
  size_t declared_limit_ ABSL_GUARDED_BY(mu_) = 64 << 20;
  std::vector<UploadRecord> uploads_ ABSL_GUARDED_BY(mu_);
};

grpc::Status TooLarge(size_t limit) {
  return ToGrpcStatus(Error(absl::StatusCode::kInvalidArgument, reason::kPayloadTooLarge,
                            absl::StrCat("the file is larger than ", limit, " bytes"),
                            {{"limitBytes", std::to_string(limit)}}));
}

void FillResponse(UploadFileResponse* response, const std::string& body) {
  response->set_item_id("item-1");
  response->set_size_bytes(static_cast<int64_t>(body.size()));
  response->set_sha256(HexEncode(Sha256(body)));
}

void FillResponse(Upload* response, const std::string& body) {
  response->set_upload_id("u1");
  response->set_offset(static_cast<int64_t>(body.size()));
  response->set_sha256(HexEncode(Sha256(body)));
}

template <typename Request, typename Response>
void UploadReactor<Request, Response>::OnReadDone(bool ok) {
  if (!ok) {
    // The end of the body, or the gateway cancelled: then nothing is kept.
    bool cancelled = context_->IsCancelled();
    std::string body = index_ >= 0 ? fake_->End(index_, cancelled) : std::string();
    if (cancelled) {
      this->Finish(grpc::Status::CANCELLED);
      return;
    }
    FillResponse(response_, body);
    this->Finish(grpc::Status::OK);
    return;
  }
  size_t limit = fake_->limit();
  if (first_) {
    first_ = false;
    index_ = fake_->Begin(request_, request_.chunk().size());
    size_t declared_limit = fake_->declared_limit();
    if (!request_.content_length().empty() &&
        std::stoull(request_.content_length()) > declared_limit) {
      this->Finish(TooLarge(declared_limit));
      return;
    }
    if (early_metadata_) this->StartSendInitialMetadata();
  } else if (fake_->AddPiece(index_, request_.chunk()) > limit) {
    this->Finish(TooLarge(limit));
    return;
  }
  this->StartRead(&request_);
}

// The item's bytes: "e1"/"range" with a Range gives 206 and two data messages, "chunked" an
// unknown length in three, "missing" NOT_FOUND before any message, "broken" a head and part
// of the body, then INTERNAL.
class DownloadReactor final : public grpc::ServerWriteReactor<HttpBodyChunk> {
 public:
  explicit DownloadReactor(const GetItemContentRequest& request) {
    std::string content = TestBytes(kItemSize, 7);
    const std::string& item = request.item_id();
    if (item == "missing") {
      Finish(ToGrpcStatus(Error(absl::StatusCode::kNotFound, reason::kNotFound, "no such item")));
      return;
    }
    HttpBodyChunk first;
    auto* head = first.mutable_head();
    head->set_content_type("video/mp4");
    if (item == "range" && request.range() == "bytes=100-50099") {
      head->set_status(206);
      head->set_content_length(50000);
      (*head->mutable_headers())["Content-Range"] = absl::StrCat("bytes 100-50099/", kItemSize);
      (*head->mutable_headers())["Content-Disposition"] = "attachment; filename=\"talk.mp4\"";
      (*head->mutable_headers())["Accept-Ranges"] = "bytes";
      (*head->mutable_headers())["Bad Header"] = "dropped";
      (*head->mutable_headers())["Content-Length"] = "1";  // The gateway frames the body.
      first.set_data(content.substr(100, 20000));
      messages_.push_back(first);
      HttpBodyChunk second;
      second.set_data(content.substr(20100, 30000));
      messages_.push_back(second);
    } else if (item == "chunked") {
      head->set_content_length(-1);
      messages_.push_back(first);
      for (size_t at = 0; at < kItemSize; at += 100'000) {
        HttpBodyChunk next;
        next.set_data(content.substr(at, 100'000));
        messages_.push_back(next);
      }
    } else if (item == "broken") {
      head->set_content_length(static_cast<int64_t>(kItemSize));
      first.set_data(content.substr(0, 1000));
      messages_.push_back(first);
      end_ = grpc::Status(grpc::StatusCode::INTERNAL, "disk gone");
    } else {
      Finish(ToGrpcStatus(Error(absl::StatusCode::kInvalidArgument, reason::kInvalidArgument,
                                "unexpected request")));
      return;
    }
    Next();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::CANCELLED);
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    if (next_ < messages_.size()) {
      StartWrite(&messages_[next_++]);
      return;
    }
    Finish(end_);
  }

  std::vector<HttpBodyChunk> messages_;
  size_t next_ = 0;
  grpc::Status end_ = grpc::Status::OK;
};

grpc::ServerWriteReactor<HttpBodyChunk>* FakeMaterials::GetItemContent(
    grpc::CallbackServerContext*, const GetItemContentRequest* request) {
  return new DownloadReactor(*request);
}

using Response = http::response<http::string_body>;
using Headers = std::vector<std::pair<std::string, std::string>>;

// A plain HTTP/1.1 client on one connection, able to send a request in parts.
class Client {
 public:
  explicit Client(uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  }

  Response Fetch(http::verb method, const std::string& target, const std::string& body = "",
                 const Headers& headers = {}) {
    http::request<http::string_body> request(method, target, 11);
    request.set(http::field::host, "localhost");
    for (const auto& [k, v] : headers) request.set(k, v);
    request.body() = body;
    request.prepare_payload();
    http::write(socket_, request);
    return Read();
  }

  void SendRaw(std::string_view bytes) { net::write(socket_, net::buffer(bytes)); }
  /// Sends until all is sent or the connection fails; the bytes sent.
  size_t TrySend(std::string_view bytes) {
    beast::error_code ec;
    return net::write(socket_, net::buffer(bytes), ec);
  }

  Response Read() {
    Response response;
    http::read(socket_, buffer_, response);
    return response;
  }
  Response Read(beast::error_code* ec) {
    Response response;
    http::read(socket_, buffer_, response, *ec);
    return response;
  }

  bool Closed() {
    beast::error_code ec;
    char byte;
    socket_.read_some(net::buffer(&byte, 1), ec);
    return ec == net::error::eof || ec == net::error::connection_reset;
  }
  void Close() {
    beast::error_code ec;
    socket_.close(ec);
  }

 private:
  net::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

class GatewayStreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { InitCrypto(); }

  void SetUp() override {
    grpc::ServerBuilder builder;
    int grpc_port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &grpc_port);
    builder.RegisterService(&materials_);
    grpc_server_ = builder.BuildAndStart();
    ASSERT_NE(grpc_server_, nullptr);
    materials_address_ = "127.0.0.1:" + std::to_string(grpc_port);
    auto signer = TokenSigner::FromBase64Seed(Base64Encode(std::string(32, 'k')));
    ASSERT_TRUE(signer.ok());
    signer_.emplace(*std::move(signer));
    StartGateway(DefaultOptions());
  }

  void TearDown() override {
    gateway_.reset();
    grpc_server_->Shutdown();
  }

  GatewayOptions DefaultOptions() {
    GatewayOptions options;
    options.port = 0;
    options.threads = 2;
    options.handle_signals = false;
    options.max_body_bytes = 4096;
    options.stream_chunk_bytes = kChunkBytes;
    options.grpc_deadline = std::chrono::milliseconds(5000);
    options.shutdown_grace = std::chrono::milliseconds(2000);
    options.upstream_addresses["materials"] = materials_address_;
    options.now_seconds = [] { return kNow; };
    return options;
  }

  void StartGateway(GatewayOptions options) {
    gateway_.reset();
    auto verifier = TokenVerifier::FromBase64PublicKeys(signer_->PublicKeyBase64());
    ASSERT_TRUE(verifier.ok());
    auto gateway = Gateway::Create(std::move(options), *std::move(verifier), &revocations_);
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = *std::move(gateway);
    ASSERT_TRUE(gateway_->Start().ok());
  }

  /// A candidate past both gates.
  std::string Token() {
    api::v1::TokenClaims claims;
    claims.set_sub("acc-1");
    claims.set_sid("s1");
    claims.add_roles("CANDIDATE");
    claims.set_iat(kNow);
    claims.set_exp(kNow + 600);
    claims.set_agr(1);
    claims.set_fv(true);
    return signer_->Sign(claims);
  }
  std::string AuthLine() { return "Authorization: Bearer " + Token() + "\r\n"; }
  Headers Auth() { return {{"Authorization", "Bearer " + Token()}}; }

  std::string PutHead(size_t content_length, const std::string& extra = "") {
    return absl::StrCat("PUT ", kFilesPath, "?filename=talk.mp4 HTTP/1.1\r\nHost: x\r\n",
                        AuthLine(), "Content-Length: ", content_length, "\r\n", extra, "\r\n");
  }

  FakeMaterials materials_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::string materials_address_;
  std::optional<TokenSigner> signer_;
  RevocationList revocations_;
  std::unique_ptr<Gateway> gateway_;
};

TEST_F(GatewayStreamTest, UploadArrivesInOrderedBoundedPieces) {
  std::string body = TestBytes(1'000'000);
  Client client(gateway_->port());
  Headers headers = Auth();
  headers.push_back({"Content-Type", "video/mp4"});
  Response r =
      client.Fetch(http::verb::put, std::string(kFilesPath) + "?filename=talk.mp4", body, headers);
  ASSERT_EQ(r.result_int(), 201) << r.body();
  std::string sha = HexEncode(Sha256(body));
  EXPECT_TRUE(Contains(r.body(), absl::StrCat(R"("sha256":")", sha, R"(")"))) << r.body();
  EXPECT_TRUE(Contains(r.body(), R"("sizeBytes":"1000000")")) << r.body();
  EXPECT_TRUE(r.keep_alive());

  auto uploads = materials_.uploads();
  ASSERT_EQ(uploads.size(), 1u);
  const UploadRecord& upload = uploads[0];
  EXPECT_EQ(upload.fields.at("exam_id"), "e1");
  EXPECT_EQ(upload.fields.at("requirement_id"), "r1");
  EXPECT_EQ(upload.fields.at("filename"), "talk.mp4");
  EXPECT_EQ(upload.fields.at("content_length"), "1000000");
  EXPECT_EQ(upload.first_chunk_size, 0u);
  EXPECT_TRUE(upload.completed);
  EXPECT_EQ(upload.body, body);  // Every piece, in order.
  ASSERT_GE(upload.pieces.size(), body.size() / kChunkBytes);
  for (size_t piece : upload.pieces) {
    EXPECT_GT(piece, 0u);
    EXPECT_LE(piece, kChunkBytes);
  }

  // The connection serves the next request, and the upload was counted.
  Response metrics = client.Fetch(http::verb::get, "/metrics");
  ASSERT_EQ(metrics.result_int(), 200);
  std::string route = R"(route="/v1/exams/{examId}/materials/{requirementId}/files",method="PUT")";
  EXPECT_TRUE(Contains(metrics.body(),
                       absl::StrCat("gateway_requests_total{", route, R"(,status="201"} 1)")))
      << metrics.body();
  EXPECT_TRUE(Contains(metrics.body(), absl::StrCat("gateway_streamed_body_bytes_total{", route,
                                                    R"(,direction="in"} 1000000)")))
      << metrics.body();
}

TEST_F(GatewayStreamTest, EmptyBodyIsOneMessage) {
  Response r = Client(gateway_->port()).Fetch(http::verb::put, kFilesPath, "", Auth());
  ASSERT_EQ(r.result_int(), 201) << r.body();
  auto uploads = materials_.uploads();
  ASSERT_EQ(uploads.size(), 1u);
  EXPECT_TRUE(uploads[0].pieces.empty());
  EXPECT_TRUE(uploads[0].completed);
}

TEST_F(GatewayStreamTest, AppendUploadBindsOffsetAndLength) {
  std::string body = TestBytes(200'000, 3);
  Headers headers = Auth();
  headers.push_back({"Upload-Offset", "4096"});
  Response r = Client(gateway_->port()).Fetch(http::verb::patch, kAppendPath, body, headers);
  ASSERT_EQ(r.result_int(), 200) << r.body();
  EXPECT_TRUE(Contains(r.body(), R"("offset":"200000")")) << r.body();
  auto uploads = materials_.uploads();
  ASSERT_EQ(uploads.size(), 1u);
  EXPECT_EQ(uploads[0].fields.at("exam_id"), "e1");
  EXPECT_EQ(uploads[0].fields.at("upload_id"), "u1");
  EXPECT_EQ(uploads[0].fields.at("upload_offset"), "4096");
  EXPECT_EQ(uploads[0].fields.at("content_length"), "200000");
  EXPECT_EQ(uploads[0].body, body);
}

TEST_F(GatewayStreamTest, ChunkedRequestBody) {
  std::string body = TestBytes(150'000, 5);
  Client client(gateway_->port());
  client.SendRaw(absl::StrCat("PUT ", kFilesPath, " HTTP/1.1\r\nHost: x\r\n", AuthLine(),
                              "Transfer-Encoding: chunked\r\n\r\n"));
  for (size_t at = 0; at < body.size(); at += 70'000) {
    std::string part = body.substr(at, 70'000);
    client.SendRaw(absl::StrCat(absl::Hex(part.size()), "\r\n", part, "\r\n"));
  }
  client.SendRaw("0\r\n\r\n");
  Response r = client.Read();
  ASSERT_EQ(r.result_int(), 201) << r.body();
  auto uploads = materials_.uploads();
  ASSERT_EQ(uploads.size(), 1u);
  EXPECT_EQ(uploads[0].fields.at("content_length"), "");
  EXPECT_EQ(uploads[0].body, body);
  for (size_t piece : uploads[0].pieces) EXPECT_LE(piece, kChunkBytes);
  EXPECT_EQ(client.Fetch(http::verb::get, "/healthz").result_int(), 200);
}

TEST_F(GatewayStreamTest, ExpectContinueOnceTheServiceTookTheCall) {
  std::string body = TestBytes(100'000, 9);
  Client client(gateway_->port());
  client.SendRaw(PutHead(body.size(), "Expect: 100-continue\r\n"));
  Response interim = client.Read();
  EXPECT_EQ(interim.result_int(), 100);
  EXPECT_EQ(materials_.uploads().size(), 1u);  // The call had started.
  client.SendRaw(body);
  Response r = client.Read();
  ASSERT_EQ(r.result_int(), 201) << r.body();
  EXPECT_EQ(materials_.uploads()[0].body, body);
}

TEST_F(GatewayStreamTest, ExpectContinueWithoutEarlyMetadata) {
  std::string body = TestBytes(10'000, 11);
  Client client(gateway_->port());
  client.SendRaw(absl::StrCat("PATCH ", kAppendPath, " HTTP/1.1\r\nHost: x\r\n", AuthLine(),
                              "Upload-Offset: 0\r\nContent-Length: ", body.size(),
                              "\r\nExpect: 100-continue\r\n\r\n"));
  EXPECT_EQ(client.Read().result_int(), 100);
  client.SendRaw(body);
  EXPECT_EQ(client.Read().result_int(), 200);
}

TEST_F(GatewayStreamTest, RefusedDeclaredSizeGetsNoContinue) {
  materials_.set_declared_limit(50'000);
  Client client(gateway_->port());
  client.SendRaw(PutHead(10'000'000, "Expect: 100-continue\r\n"));
  Response r = client.Read();
  EXPECT_EQ(r.result_int(), 413) << r.body();
  EXPECT_TRUE(Contains(r.body(), R"("code":"PAYLOAD_TOO_LARGE")")) << r.body();
  EXPECT_TRUE(Contains(r.body(), R"("limitBytes":"50000")")) << r.body();
  EXPECT_FALSE(r.keep_alive());
  EXPECT_TRUE(client.Closed());
}

TEST_F(GatewayStreamTest, ServiceLimitIs413WhileTheClientIsStillSending) {
  materials_.set_limit(256 * 1024);
  const size_t declared = 4 << 20;
  // The declared size passes; the service counts the bytes and stops at its limit.
  Client client(gateway_->port());
  client.SendRaw(absl::StrCat("PUT ", kFilesPath, " HTTP/1.1\r\nHost: x\r\n", AuthLine(),
                              "Content-Length: ", declared, "\r\n\r\n"));
  std::atomic<size_t> sent{0};
  std::thread sender([&] {
    std::string piece = TestBytes(32 * 1024, 13);
    while (sent < declared) {
      size_t n = client.TrySend(piece);
      sent += n;
      if (n < piece.size()) return;
    }
  });
  beast::error_code ec;
  Response r = client.Read(&ec);
  sender.join();
  ASSERT_FALSE(ec) << ec.message() << " after sending " << sent.load();
  EXPECT_EQ(r.result_int(), 413) << r.body();
  EXPECT_TRUE(Contains(r.body(), R"("code":"PAYLOAD_TOO_LARGE")")) << r.body();
  EXPECT_EQ(r[http::field::connection], "close");
  auto uploads = materials_.uploads();
  ASSERT_EQ(uploads.size(), 1u);
  EXPECT_FALSE(uploads[0].completed);
  EXPECT_LT(uploads[0].body.size(), 256 * 1024 + 2 * kChunkBytes);
}

TEST_F(GatewayStreamTest, RefusedDeclaredSizeWithoutExpectIs413) {
  materials_.set_declared_limit(50'000);
  Client client(gateway_->port());
  client.SendRaw(PutHead(400'000));
  EXPECT_EQ(client.TrySend(TestBytes(400'000, 31)), 400'000u);  // The gateway lingers.
  Response r = client.Read();
  EXPECT_EQ(r.result_int(), 413) << r.body();
  EXPECT_FALSE(r.keep_alive());
}

TEST_F(GatewayStreamTest, AcceptedDeclaredSizeStreams) {
  materials_.set_limit(1 << 20);
  std::string body = TestBytes(500'000, 17);
  Client client(gateway_->port());
  client.SendRaw(PutHead(body.size()));
  client.SendRaw(body);
  EXPECT_EQ(client.Read().result_int(), 201);
}

TEST_F(GatewayStreamTest, ClientLeavingMidBodyCancelsTheCall) {
  {
    Client client(gateway_->port());
    client.SendRaw(PutHead(1'000'000));
    client.SendRaw(TestBytes(200'000, 19));
    ASSERT_TRUE(WaitFor([&] { return materials_.received(0) >= 3 * kChunkBytes; }));
    client.Close();
  }
  ASSERT_TRUE(WaitFor([&] {
    auto uploads = materials_.uploads();
    return !uploads.empty() && uploads[0].cancelled;
  }));
  EXPECT_FALSE(materials_.uploads()[0].completed);
}

TEST_F(GatewayStreamTest, QuietClientTimesOutAndTheCallIsCancelled) {
  GatewayOptions options = DefaultOptions();
  options.stream_idle_timeout = std::chrono::milliseconds(300);
  StartGateway(std::move(options));
  Client client(gateway_->port());
  client.SendRaw(PutHead(1'000'000));
  client.SendRaw(TestBytes(1000, 23));
  ASSERT_TRUE(WaitFor([&] {
    auto uploads = materials_.uploads();
    return !uploads.empty() && uploads[0].cancelled;
  }));
  EXPECT_TRUE(client.Closed());
}

TEST_F(GatewayStreamTest, UnauthenticatedUploadIsRefusedBeforeTheBody) {
  Client client(gateway_->port());
  client.SendRaw(
      absl::StrCat("PUT ", kFilesPath, " HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"));
  client.SendRaw(TestBytes(100'000, 29));
  Response r = client.Read();
  EXPECT_EQ(r.result_int(), 401);
  EXPECT_FALSE(r.keep_alive());
  EXPECT_TRUE(materials_.uploads().empty());
}

TEST_F(GatewayStreamTest, StreamedRangeResponseIsByteExactAndKeepsTheConnection) {
  std::string content = TestBytes(kItemSize, 7);
  Client client(gateway_->port());
  Headers headers = Auth();
  headers.push_back({"Range", "bytes=100-50099"});
  Response r =
      client.Fetch(http::verb::get, "/v1/exams/e1/materials/items/range/content", "", headers);
  ASSERT_EQ(r.result_int(), 206) << r.body();
  EXPECT_EQ(r[http::field::content_type], "video/mp4");
  EXPECT_EQ(r[http::field::content_length], "50000");
  EXPECT_EQ(r[http::field::content_range], absl::StrCat("bytes 100-50099/", kItemSize));
  EXPECT_EQ(r[http::field::content_disposition], "attachment; filename=\"talk.mp4\"");
  EXPECT_EQ(r[http::field::accept_ranges], "bytes");
  EXPECT_EQ(r["Bad Header"], "");
  EXPECT_FALSE(r["X-Request-Id"].empty());
  EXPECT_TRUE(r.body() == content.substr(100, 50000));

  Response chunked =
      client.Fetch(http::verb::get, "/v1/exams/e1/materials/items/chunked/content", "", Auth());
  ASSERT_EQ(chunked.result_int(), 200);
  EXPECT_TRUE(chunked.chunked());
  EXPECT_TRUE(chunked.body() == content);
  EXPECT_EQ(client.Fetch(http::verb::get, "/healthz").result_int(), 200);
}

TEST_F(GatewayStreamTest, ErrorBeforeTheFirstChunkIsJson) {
  Client client(gateway_->port());
  Response r =
      client.Fetch(http::verb::get, "/v1/exams/e1/materials/items/missing/content", "", Auth());
  EXPECT_EQ(r.result_int(), 404);
  EXPECT_EQ(r[http::field::content_type], "application/json");
  EXPECT_TRUE(Contains(r.body(), R"("code":"NOT_FOUND")")) << r.body();
  EXPECT_EQ(client.Fetch(http::verb::get, "/healthz").result_int(), 200);
}

TEST_F(GatewayStreamTest, ErrorAfterTheHeadCutsTheBodyShort) {
  Client client(gateway_->port());
  std::string raw = absl::StrCat("GET /v1/exams/e1/materials/items/broken/content HTTP/1.1\r\n",
                                 "Host: x\r\n", AuthLine(), "\r\n");
  client.SendRaw(raw);
  beast::error_code ec;
  Response r = client.Read(&ec);
  EXPECT_EQ(ec, http::error::partial_message) << ec.message();
  EXPECT_EQ(r.result_int(), 200);
}

}  // namespace
}  // namespace admissions::gateway
