#pragma once

#include "common/caller.h"
#include "common/executor.h"
#include "enrollment/v1/enrollment.grpc.pb.h"
#include "materials/materials_logic.h"
#include "materials/v1/materials.grpc.pb.h"

namespace admissions::materials {

/// gRPC adapter of materials.v1.Materials: authenticates, runs MaterialsLogic on the
/// executor, maps the status. The streaming calls are reactors that keep one message in
/// flight: a piece is written (on `io`) before the next is read, so memory per call is
/// one piece whatever the file's size.
class MaterialsService final : public v1::Materials::CallbackService {
 public:
  /// `executor`: blocking work that uses PostgreSQL or other services (sized to the pool);
  /// `io`: file reads and writes of the streaming calls.
  MaterialsService(MaterialsLogic* logic, const Authenticator* auth, BoundedExecutor* executor,
                   BoundedExecutor* io)
      : logic_(logic), auth_(auth), executor_(executor), io_(io) {}

  grpc::ServerUnaryReactor* CreateRequirement(grpc::CallbackServerContext* ctx,
                                              const v1::CreateRequirementRequest* req,
                                              v1::CreateRequirementResponse* resp) override;
  grpc::ServerUnaryReactor* ListRequirements(grpc::CallbackServerContext* ctx,
                                             const v1::ListRequirementsRequest* req,
                                             v1::ListRequirementsResponse* resp) override;
  grpc::ServerUnaryReactor* GetMaterials(grpc::CallbackServerContext* ctx,
                                         const v1::GetMaterialsRequest* req,
                                         v1::MaterialsState* resp) override;
  grpc::ServerReadReactor<v1::UploadFileRequest>* UploadFile(grpc::CallbackServerContext* ctx,
                                                             v1::UploadFileResponse* resp) override;
  grpc::ServerUnaryReactor* PutText(grpc::CallbackServerContext* ctx, const v1::PutTextRequest* req,
                                    v1::PutTextResponse* resp) override;
  grpc::ServerUnaryReactor* DeleteItem(grpc::CallbackServerContext* ctx,
                                       const v1::DeleteItemRequest* req,
                                       v1::DeleteItemResponse* resp) override;
  grpc::ServerWriteReactor<api::v1::HttpBodyChunk>* GetItemContent(
      grpc::CallbackServerContext* ctx, const v1::GetItemContentRequest* req) override;
  grpc::ServerUnaryReactor* Submit(grpc::CallbackServerContext* ctx, const v1::SubmitRequest* req,
                                   v1::SubmitResponse* resp) override;
  grpc::ServerUnaryReactor* CreateUpload(grpc::CallbackServerContext* ctx,
                                         const v1::CreateUploadRequest* req,
                                         v1::Upload* resp) override;
  grpc::ServerReadReactor<v1::AppendUploadRequest>* AppendUpload(grpc::CallbackServerContext* ctx,
                                                                 v1::Upload* resp) override;
  grpc::ServerUnaryReactor* GetUpload(grpc::CallbackServerContext* ctx,
                                      const v1::GetUploadRequest* req, v1::Upload* resp) override;
  grpc::ServerUnaryReactor* CancelUpload(grpc::CallbackServerContext* ctx,
                                         const v1::CancelUploadRequest* req,
                                         v1::CancelUploadResponse* resp) override;
  grpc::ServerUnaryReactor* ListSubmissions(grpc::CallbackServerContext* ctx,
                                            const v1::ListSubmissionsRequest* req,
                                            v1::ListSubmissionsResponse* resp) override;
  grpc::ServerUnaryReactor* GetCandidateMaterials(grpc::CallbackServerContext* ctx,
                                                  const v1::GetCandidateMaterialsRequest* req,
                                                  v1::CandidateMaterials* resp) override;
  grpc::ServerUnaryReactor* Review(grpc::CallbackServerContext* ctx, const v1::ReviewRequest* req,
                                   v1::ReviewResponse* resp) override;

 private:
  template <typename Fn>
  grpc::ServerUnaryReactor* Authed(grpc::CallbackServerContext* ctx, Fn&& fn);

  MaterialsLogic* logic_;
  const Authenticator* auth_;
  BoundedExecutor* executor_;
  BoundedExecutor* io_;
};

/// enrollment.v1.JourneyStepSource for the MATERIALS step (internal, unauthenticated like
/// the other internal RPCs).
class MaterialsStepService final : public enrollment::v1::JourneyStepSource::CallbackService {
 public:
  MaterialsStepService(MaterialsLogic* logic, BoundedExecutor* executor)
      : logic_(logic), executor_(executor) {}
  grpc::ServerUnaryReactor* GetCandidateStep(grpc::CallbackServerContext* ctx,
                                             const enrollment::v1::GetCandidateStepRequest* req,
                                             enrollment::v1::CandidateStep* resp) override;

 private:
  MaterialsLogic* logic_;
  BoundedExecutor* executor_;
};

}  // namespace admissions::materials
