#include "common/grpc_limits.h"

#include <atomic>
#include <memory>
#include <string>

#include "grpcpp/impl/server_builder_plugin.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/channel_arguments.h"

namespace admissions {
namespace {

std::atomic<int> g_max_receive{0};

class MaxReceivePlugin : public grpc::ServerBuilderPlugin {
 public:
  std::string name() override { return "admissions_max_receive"; }
  void InitServer(grpc::ServerInitializer*) override {}
  void Finish(grpc::ServerInitializer*) override {}
  void ChangeArguments(const std::string&, void*) override {}
  void UpdateChannelArguments(grpc::ChannelArguments* args) override {
    int bytes = g_max_receive.load();
    if (bytes > 0) args->SetMaxReceiveMessageSize(bytes);
  }
};

std::unique_ptr<grpc::ServerBuilderPlugin> CreatePlugin() {
  return std::make_unique<MaxReceivePlugin>();
}

}  // namespace

void SetServerMaxReceiveMessageBytes(int bytes) {
  static const bool registered = [] {
    grpc::ServerBuilder::InternalAddPluginFactory(&CreatePlugin);
    return true;
  }();
  (void)registered;
  g_max_receive.store(bytes);
}

}  // namespace admissions
