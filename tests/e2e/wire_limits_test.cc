// What a request echoes into an error cannot make the answer too big for gRPC's
// metadata: the caller gets the coordinator's own status with the message cut, not
// "received initial metadata size exceeds limit".
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "client/cli/client.h"
#include "common/rpc/rpc.h"
#include "server/grpc/coordinator.h"

namespace actgrid {
namespace {

TEST(WireLimits, ErrorsEchoingHugeValuesReachTheCallerCut) {
  server::CoordinatorOptions options;
  options.db_path = ":memory:";
  options.listen = "127.0.0.1:0";
  auto coordinator = server::Coordinator::Start(options);
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(rpc::kMaxMessageBytes);
  args.SetMaxSendMessageSize(rpc::kMaxMessageBytes);
  cli::Client client(grpc::CreateCustomChannel("127.0.0.1:" + std::to_string((*coordinator)->port()),
                                               grpc::InsecureChannelCredentials(), args));
  for (const std::string& ref : {std::string(20000, 'g'), std::string(20000, '\x1b')}) {
    auto grid = client.GetGrid(ref);
    ASSERT_FALSE(grid.ok());
    EXPECT_TRUE(absl::IsNotFound(grid.status()) || absl::IsInvalidArgument(grid.status())) << grid.status();
    EXPECT_NE(grid.status().message().find("(cut; "), std::string::npos) << grid.status().message().substr(0, 200);
  }
  const std::string cut = rpc::StatusMessageForTheWire(std::string(3000, 'x') + std::string(3000, '\xc3'));
  EXPECT_LT(cut.size(), 6200u);
  EXPECT_NE(cut.find("(cut; 6000 bytes)"), std::string::npos);
}

}  // namespace
}  // namespace actgrid
