#include "materials/materials_service.h"

#include <atomic>
#include <functional>
#include <memory>

#include "common/log.h"
#include "common/server.h"
#include "common/status.h"

namespace admissions::materials {
namespace {

constexpr size_t kDownloadPieceBytes = 128 * 1024;

absl::Status Busy() {
  return Error(absl::StatusCode::kUnavailable, reason::kUnavailable, "server is busy, try again");
}

absl::Status Internal() {
  return Error(absl::StatusCode::kInternal, reason::kInternal, "internal error");
}

// Runs `fn` and turns an escaping exception into INTERNAL (logged).
absl::Status Guarded(const std::function<absl::Status()>& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    Log(LogLevel::kError, "unhandled_exception", {{"what", e.what()}});
    return Internal();
  }
}

/// The client-streaming calls (UploadFile, AppendUpload) share this frame: authenticate,
/// read one message, hand it to the executor, read the next only once it is handled.
/// Every path ends in exactly one Finish, the last thing it does (OnDone may then free
/// the reactor on another thread).
template <typename Req>
class StreamIn : public grpc::ServerReadReactor<Req> {
 public:
  StreamIn(grpc::CallbackServerContext* ctx, BoundedExecutor* executor, BoundedExecutor* io)
      : ctx_(ctx), executor_(executor), io_(io), request_id_(RequestIdOf(*ctx)) {}

  /// Called once the reactor is fully constructed: the first read may complete at once on
  /// another thread.
  void Start(const Authenticator& auth) {
    auto caller = auth.Authenticate(*ctx_);
    if (!caller.ok()) {
      this->Finish(ToGrpcStatus(caller.status()));
      return;
    }
    caller_ = *std::move(caller);
    call_ = CallContextOf(*ctx_);
    this->StartRead(&req_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Post(executor_, [this] { End(cancelled_.load() || ctx_->IsCancelled()); });
    } else if (!begun_) {
      begun_ = true;
      Post(executor_, [this] {
        absl::Status begun = Begin();
        // The checks that need no body passed: initial metadata tells the gateway to send
        // a waiting client its `100 Continue` now (without it, it waits 250 ms).
        if (begun.ok()) this->StartSendInitialMetadata();
        Step(begun);
      });
    } else {
      Post(io_, [this] { Step(Piece(std::move(*Chunk()))); });
    }
  }
  void OnCancel() override { cancelled_ = true; }
  void OnDone() override { delete this; }

 protected:
  /// The first message (fields, maybe a piece).
  virtual absl::Status Begin() = 0;
  /// A following message's piece.
  virtual absl::Status Piece(std::string chunk) = 0;
  /// The stream ended (or was cut); finishes the call.
  virtual void Finished(bool cancelled) = 0;
  /// A failure before the end: drop what is held, answer `status`.
  virtual void Abandon() = 0;
  std::string* Chunk() { return req_.mutable_chunk(); }

  grpc::CallbackServerContext* ctx_;
  Req req_;
  Caller caller_;
  CallContext call_;
  bool begun_ = false;

 private:
  void Post(BoundedExecutor* ex, std::function<void()> fn) {
    bool posted = ex->TryPost([this, fn = std::move(fn)] {
      ScopedRequestId id(request_id_);
      fn();
    });
    if (!posted) Fail(Busy());
  }
  void Step(const absl::Status& st) {
    if (!st.ok()) {
      Fail(st);
      return;
    }
    this->StartRead(&req_);
  }
  void End(bool cancelled) {
    if (!begun_) {
      Fail(cancelled ? absl::CancelledError("call cancelled")
                     : InvalidField("body", "the stream carried no message"));
      return;
    }
    Finished(cancelled);
  }
  void Fail(const absl::Status& st) {
    Abandon();
    this->Finish(ToGrpcStatus(st));
  }

  BoundedExecutor* executor_;
  BoundedExecutor* io_;
  std::string request_id_;
  std::atomic<bool> cancelled_{false};
};

class UploadFileReactor final : public StreamIn<v1::UploadFileRequest> {
 public:
  UploadFileReactor(grpc::CallbackServerContext* ctx, v1::UploadFileResponse* resp,
                    MaterialsLogic* logic, BoundedExecutor* executor, BoundedExecutor* io)
      : StreamIn(ctx, executor, io), logic_(logic), resp_(resp) {}

 private:
  absl::Status Begin() override {
    return Guarded([&]() -> absl::Status {
      ASSIGN_OR_RETURN(upload_, logic_->BeginFile(caller_, call_, req_));
      ASSIGN_OR_RETURN(writer_, logic_->blobs()->NewBlob());
      if (!req_.chunk().empty()) return Piece(std::move(*Chunk()));
      return absl::OkStatus();
    });
  }
  absl::Status Piece(std::string chunk) override {
    total_ += static_cast<int64_t>(chunk.size());
    RETURN_IF_ERROR(logic_->CheckSize(upload_, total_));
    RETURN_IF_ERROR(writer_->Append(chunk));
    return logic_->CheckHead(upload_, writer_->head(), false);
  }
  void Finished(bool cancelled) override {
    if (cancelled) {
      // A cut upload leaves nothing: the temp file goes, no item row was written.
      writer_->Discard();
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "call cancelled"));
      return;
    }
    absl::Status st =
        Guarded([&] { return Into(logic_->FinishFile(upload_, writer_.get()), resp_); });
    if (!st.ok()) writer_->Discard();
    Finish(ToGrpcStatus(st));
  }
  void Abandon() override {
    if (writer_) writer_->Discard();
  }

  MaterialsLogic* logic_;
  v1::UploadFileResponse* resp_;
  MaterialsLogic::FileUpload upload_;
  std::unique_ptr<BlobWriter> writer_;
  int64_t total_ = 0;
};

class AppendUploadReactor final : public StreamIn<v1::AppendUploadRequest> {
 public:
  AppendUploadReactor(grpc::CallbackServerContext* ctx, v1::Upload* resp, MaterialsLogic* logic,
                      BoundedExecutor* executor, BoundedExecutor* io)
      : StreamIn(ctx, executor, io), logic_(logic), resp_(resp) {}

 private:
  absl::Status Begin() override {
    return Guarded([&]() -> absl::Status {
      ASSIGN_OR_RETURN(append_, logic_->BeginAppend(caller_, call_, req_));
      if (!req_.chunk().empty()) return Piece(std::move(*Chunk()));
      return absl::OkStatus();
    });
  }
  absl::Status Piece(std::string chunk) override {
    return Guarded([&] { return logic_->AppendChunk(*append_, chunk); });
  }
  void Finished(bool cancelled) override {
    // Cut or not, what arrived is fsynced and recorded, so the client can resume from it.
    absl::Status st = Guarded([&] { return Into(logic_->EndAppend(*append_, cancelled), resp_); });
    append_.reset();
    if (st.ok() && cancelled) st = absl::CancelledError("call cancelled");
    Finish(ToGrpcStatus(st));
  }
  void Abandon() override { append_.reset(); }

  MaterialsLogic* logic_;
  v1::Upload* resp_;
  std::unique_ptr<MaterialsLogic::Append> append_;
};

class ContentReactor final : public grpc::ServerWriteReactor<api::v1::HttpBodyChunk> {
 public:
  ContentReactor(grpc::CallbackServerContext* ctx, const v1::GetItemContentRequest* req,
                 MaterialsLogic* logic, const Authenticator& auth, BoundedExecutor* executor,
                 BoundedExecutor* io)
      : logic_(logic), io_(io), request_id_(RequestIdOf(*ctx)) {
    auto caller = auth.Authenticate(*ctx);
    if (!caller.ok()) {
      Finish(ToGrpcStatus(caller.status()));
      return;
    }
    bool posted =
        executor->TryPost([this, req, caller = *std::move(caller), call = CallContextOf(*ctx)] {
          ScopedRequestId id(request_id_);
          absl::Status st = Guarded([&]() -> absl::Status {
            ASSIGN_OR_RETURN(content_, logic_->OpenContent(caller, call, *req));
            return absl::OkStatus();
          });
          if (!st.ok()) {
            Finish(ToGrpcStatus(st));
            return;
          }
          *chunk_.mutable_head() = content_.head;
          StartWrite(&chunk_);
        });
    if (!posted) Finish(ToGrpcStatus(Busy()));
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "call cancelled"));
      return;
    }
    if (content_.reader == nullptr || content_.remaining == 0) {
      Finish(grpc::Status::OK);
      return;
    }
    bool posted = io_->TryPost([this] {
      ScopedRequestId id(request_id_);
      size_t n = static_cast<size_t>(
          std::min<int64_t>(content_.remaining, static_cast<int64_t>(kDownloadPieceBytes)));
      chunk_.Clear();
      absl::Status st = content_.reader->ReadAt(content_.offset, n, chunk_.mutable_data());
      if (st.ok() && chunk_.data().empty()) st = absl::DataLossError("the blob ended early");
      if (!st.ok()) {
        Log(LogLevel::kError, "blob_read_failed", {{"error", st.message()}});
        Finish(ToGrpcStatus(Internal()));
        return;
      }
      content_.offset += static_cast<int64_t>(chunk_.data().size());
      content_.remaining -= static_cast<int64_t>(chunk_.data().size());
      StartWrite(&chunk_);
    });
    if (!posted) Finish(ToGrpcStatus(Busy()));
  }
  void OnDone() override { delete this; }

 private:
  MaterialsLogic* logic_;
  BoundedExecutor* io_;
  std::string request_id_;
  MaterialsLogic::Content content_;
  api::v1::HttpBodyChunk chunk_;
};

}  // namespace

template <typename Fn>
grpc::ServerUnaryReactor* MaterialsService::Authed(grpc::CallbackServerContext* ctx, Fn&& fn) {
  return RunAuthenticated(ctx, *auth_, executor_, std::forward<Fn>(fn));
}

grpc::ServerUnaryReactor* MaterialsService::CreateRequirement(
    grpc::CallbackServerContext* ctx, const v1::CreateRequirementRequest* req,
    v1::CreateRequirementResponse* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext& call) {
    return Into(logic_->CreateRequirement(caller, call, *req), resp);
  });
}

grpc::ServerUnaryReactor* MaterialsService::ListRequirements(grpc::CallbackServerContext* ctx,
                                                             const v1::ListRequirementsRequest* req,
                                                             v1::ListRequirementsResponse* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext& call) {
    return Into(logic_->ListRequirements(caller, call, *req), resp);
  });
}

grpc::ServerUnaryReactor* MaterialsService::GetMaterials(grpc::CallbackServerContext* ctx,
                                                         const v1::GetMaterialsRequest* req,
                                                         v1::MaterialsState* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext& call) {
    return Into(logic_->GetMaterials(caller, call, *req), resp);
  });
}

grpc::ServerReadReactor<v1::UploadFileRequest>* MaterialsService::UploadFile(
    grpc::CallbackServerContext* ctx, v1::UploadFileResponse* resp) {
  auto* reactor = new UploadFileReactor(ctx, resp, logic_, executor_, io_);
  reactor->Start(*auth_);
  return reactor;
}

grpc::ServerUnaryReactor* MaterialsService::PutText(grpc::CallbackServerContext* ctx,
                                                    const v1::PutTextRequest* req,
                                                    v1::PutTextResponse* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext& call) {
    return Into(logic_->PutText(caller, call, *req), resp);
  });
}

grpc::ServerUnaryReactor* MaterialsService::DeleteItem(grpc::CallbackServerContext* ctx,
                                                       const v1::DeleteItemRequest* req,
                                                       v1::DeleteItemResponse* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext& call) {
    return Into(logic_->DeleteItem(caller, call, *req), resp);
  });
}

grpc::ServerWriteReactor<api::v1::HttpBodyChunk>* MaterialsService::GetItemContent(
    grpc::CallbackServerContext* ctx, const v1::GetItemContentRequest* req) {
  return new ContentReactor(ctx, req, logic_, *auth_, executor_, io_);
}

grpc::ServerUnaryReactor* MaterialsService::Submit(grpc::CallbackServerContext* ctx,
                                                   const v1::SubmitRequest* req,
                                                   v1::SubmitResponse* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext& call) {
    return Into(logic_->Submit(caller, call, *req), resp);
  });
}

grpc::ServerUnaryReactor* MaterialsService::CreateUpload(grpc::CallbackServerContext* ctx,
                                                         const v1::CreateUploadRequest* req,
                                                         v1::Upload* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext& call) {
    return Into(logic_->CreateUpload(caller, call, *req), resp);
  });
}

grpc::ServerReadReactor<v1::AppendUploadRequest>* MaterialsService::AppendUpload(
    grpc::CallbackServerContext* ctx, v1::Upload* resp) {
  auto* reactor = new AppendUploadReactor(ctx, resp, logic_, executor_, io_);
  reactor->Start(*auth_);
  return reactor;
}

grpc::ServerUnaryReactor* MaterialsService::GetUpload(grpc::CallbackServerContext* ctx,
                                                      const v1::GetUploadRequest* req,
                                                      v1::Upload* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext&) {
    return Into(logic_->GetUpload(caller, *req), resp);
  });
}

grpc::ServerUnaryReactor* MaterialsService::CancelUpload(grpc::CallbackServerContext* ctx,
                                                         const v1::CancelUploadRequest* req,
                                                         v1::CancelUploadResponse* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext&) {
    return Into(logic_->CancelUpload(caller, *req), resp);
  });
}

grpc::ServerUnaryReactor* MaterialsService::ListSubmissions(grpc::CallbackServerContext* ctx,
                                                            const v1::ListSubmissionsRequest* req,
                                                            v1::ListSubmissionsResponse* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext& call) {
    return Into(logic_->ListSubmissions(caller, call, *req), resp);
  });
}

grpc::ServerUnaryReactor* MaterialsService::GetCandidateMaterials(
    grpc::CallbackServerContext* ctx, const v1::GetCandidateMaterialsRequest* req,
    v1::CandidateMaterials* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext& call) {
    return Into(logic_->GetCandidateMaterials(caller, call, *req), resp);
  });
}

grpc::ServerUnaryReactor* MaterialsService::Review(grpc::CallbackServerContext* ctx,
                                                   const v1::ReviewRequest* req,
                                                   v1::ReviewResponse* resp) {
  return Authed(ctx, [this, req, resp](const Caller& caller, const CallContext& call) {
    return Into(logic_->Review(caller, call, *req), resp);
  });
}

grpc::ServerUnaryReactor* MaterialsStepService::GetCandidateStep(
    grpc::CallbackServerContext* ctx, const enrollment::v1::GetCandidateStepRequest* req,
    enrollment::v1::CandidateStep* resp) {
  return RunBlocking(ctx, executor_,
                     [this, req, resp] { return Into(logic_->GetCandidateStep(*req), resp); });
}

}  // namespace admissions::materials
