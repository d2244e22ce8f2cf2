#include "gateway/upstreams.h"

#include <atomic>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace admissions::gateway {
namespace {

constexpr char kHealthCheckMethod[] = "/grpc.health.v1.Health/Check";
constexpr uint32_t kServing = 1;

}  // namespace

Upstreams::Upstreams(std::vector<UpstreamConfig> configs) {
  upstreams_.reserve(configs.size());
  for (UpstreamConfig& config : configs) {
    Upstream upstream;
    // HTTP/2 keepalive while calls are open: a long stream (a room's events, an interview's
    // signaling) to a service whose host vanished without a reset fails within ~30 s and is
    // resumed, instead of waiting forever. Services accept these pings (common/server.cc).
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);  // An idle stream keeps pinging.
    upstream.channel =
        grpc::CreateCustomChannel(config.address, grpc::InsecureChannelCredentials(), args);
    upstream.stub = std::make_unique<grpc::GenericStub>(upstream.channel);
    upstream.config = std::move(config);
    upstreams_.push_back(std::move(upstream));
  }
}

Upstreams::~Upstreams() { CancelAll(); }

void Upstreams::StartCall(int upstream, const std::string& method,
                          std::shared_ptr<UpstreamCall> call, Done done) {
  UpstreamCall* raw = call.get();
  bool closed;
  {
    absl::MutexLock lock(&mu_);
    closed = closed_;
    if (!closed) calls_.emplace(raw, call);
  }
  if (closed) {
    done(grpc::Status(grpc::StatusCode::CANCELLED, "gateway is shutting down"));
    return;
  }
  // The completion drops its references before Finish() so that nothing the caller owns is
  // destroyed on a gRPC thread after CancelAll() has returned.
  upstreams_[upstream].stub->UnaryCall(
      &raw->context, method, grpc::StubOptions(), &raw->request, &raw->response,
      [this, raw, done = std::move(done)](grpc::Status status) mutable {
        done(status);
        done = nullptr;
        Finish(raw);
      });
}

bool Upstreams::StartStream(int upstream, const std::string& method,
                            std::shared_ptr<UpstreamStream> stream) {
  UpstreamStream* raw = stream.get();
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return false;
    streams_.emplace(raw, stream);
  }
  // The map's reference is dropped outside the lock: it may be the last one.
  raw->on_done_ = [this, raw] {
    std::shared_ptr<UpstreamStream> last;
    {
      absl::MutexLock lock(&mu_);
      auto it = streams_.find(raw);
      if (it == streams_.end()) return;
      last = std::move(it->second);
      streams_.erase(it);
    }
  };
  upstreams_[upstream].stub->PrepareBidiStreamingCall(&raw->context_, method, grpc::StubOptions(),
                                                      raw);
  raw->AddHold();
  raw->StartCall();
  return true;
}

void UpstreamStream::Write(grpc::ByteBuffer message, bool last) {
  absl::MutexLock lock(&mu_);
  if (released_) return;
  request_ = std::move(message);
  if (last) {
    StartWriteLast(&request_, grpc::WriteOptions());
  } else {
    StartWrite(&request_);
  }
}

void UpstreamStream::WritesDone() {
  absl::MutexLock lock(&mu_);
  if (!released_) StartWritesDone();
}

void UpstreamStream::Read() {
  absl::MutexLock lock(&mu_);
  if (!released_) StartRead(&response_);
}

void UpstreamStream::Release() {
  {
    absl::MutexLock lock(&mu_);
    if (released_) return;
    released_ = true;
  }
  RemoveHold();
}

void UpstreamStream::OnDone(const grpc::Status& status) {
  status_ = status;
  sink_(this, Event::kDone, status.ok());
  sink_ = nullptr;
  auto on_done = std::move(on_done_);
  on_done();
}

void Upstreams::Finish(UpstreamCall* call) {
  absl::MutexLock lock(&mu_);
  calls_.erase(call);
}

void Upstreams::CancelAll() {
  std::vector<std::shared_ptr<UpstreamCall>> live;
  std::vector<std::shared_ptr<UpstreamStream>> streams;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    for (const auto& [raw, call] : calls_) live.push_back(call);
    for (const auto& [raw, stream] : streams_) streams.push_back(stream);
  }
  for (const auto& call : live) call->context.TryCancel();
  live.clear();
  // Their owners may never run again (the io threads stop before this), so the holds are
  // released here; an owner that still runs finds its operations refused.
  for (const auto& stream : streams) {
    stream->Cancel();
    stream->Release();
  }
  streams.clear();
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(this, &Upstreams::Idle));
}

void Upstreams::CheckHealth(std::chrono::milliseconds timeout,
                            std::function<void(std::vector<std::string> failed)> done) {
  if (upstreams_.empty()) {
    done({});
    return;
  }
  struct Round {
    absl::Mutex mu;
    std::vector<std::string> failed ABSL_GUARDED_BY(mu);
    std::atomic<size_t> remaining;
    std::function<void(std::vector<std::string>)> done;
  };
  auto round = std::make_shared<Round>();
  round->remaining = upstreams_.size();
  round->done = std::move(done);
  for (size_t i = 0; i < upstreams_.size(); ++i) {
    auto call = std::make_shared<UpstreamCall>();
    call->context.set_deadline(std::chrono::system_clock::now() + timeout);
    call->request = StringToByteBuffer("");
    UpstreamCall* raw = call.get();
    std::string name = upstreams_[i].config.name;
    StartCall(static_cast<int>(i), kHealthCheckMethod, std::move(call),
              [round, raw, name](const grpc::Status& status) {
                bool serving = status.ok() && IsServing(raw->response);
                if (!serving) {
                  absl::MutexLock lock(&round->mu);
                  round->failed.push_back(name);
                }
                if (round->remaining.fetch_sub(1) == 1) {
                  std::vector<std::string> failed;
                  {
                    absl::MutexLock lock(&round->mu);
                    failed.swap(round->failed);
                  }
                  round->done(std::move(failed));
                }
              });
  }
}

bool Upstreams::Idle() const { return calls_.empty() && streams_.empty(); }

bool IsServing(const grpc::ByteBuffer& bytes) {
  using google::protobuf::internal::WireFormatLite;
  std::string data = ByteBufferToString(bytes);
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(data.data()),
                                            static_cast<int>(data.size()));
  uint32_t status = 0;
  while (uint32_t tag = in.ReadTag()) {
    if (WireFormatLite::GetTagFieldNumber(tag) == 1 &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_VARINT) {
      if (!in.ReadVarint32(&status)) return false;
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return false;
    }
  }
  return status == kServing;
}

std::string ByteBufferToString(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Valid() || !buffer.Dump(&slices).ok()) return out;
  out.reserve(buffer.Length());
  for (const grpc::Slice& slice : slices) {
    out.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return out;
}

grpc::ByteBuffer StringToByteBuffer(std::string_view bytes) {
  grpc::Slice slice(bytes.data(), bytes.size());
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace admissions::gateway
