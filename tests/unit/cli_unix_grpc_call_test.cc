// UnixGrpcCall against a real gRPC server on a unix socket: the same library berthd serves
// with, so framing, flow control, trailers and cancellation are checked against another
// implementation of HTTP/2 than the one the client uses.
#include "cli/unix_grpc_call.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "berth/v1/containers.grpc.pb.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

// Answers Exec by what the first request's id asks for.
class FakeContainers final : public v1::Containers::Service {
 public:
  std::atomic<bool> saw_cancel{false};
  std::atomic<bool> saw_half_close{false};

  grpc::Status Exec(grpc::ServerContext* ctx,
                    grpc::ServerReaderWriter<v1::ExecResponse, v1::ExecRequest>* stream) override {
    v1::ExecRequest first;
    if (!stream->Read(&first)) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request");
    v1::ExecRequest more;
    saw_half_close = !stream->Read(&more);  // the client sent one message and its end
    v1::ExecResponse response;
    if (first.id() == "echo") {
      // Each argument comes back as an output chunk; then the count as the exit code.
      for (const std::string& arg : first.start().args()) {
        response.mutable_output()->set_data(arg);
        response.mutable_output()->set_stream(v1::STDOUT);
        stream->Write(response);
      }
      response.set_exit_code(first.start().args_size());
      stream->Write(response);
      return grpc::Status::OK;
    }
    if (first.id() == "big") {
      // More than the client's receive window (8 MiB) in one message, then many small ones.
      response.mutable_output()->set_data(std::string(12 << 20, 'x'));
      stream->Write(response);
      for (int i = 0; i < 2000; ++i) {
        response.mutable_output()->set_data(std::string(1000, static_cast<char>('a' + i % 26)));
        stream->Write(response);
      }
      return grpc::Status::OK;
    }
    if (first.id() == "fail") {
      ctx->AddTrailingMetadata("berth-process-start-failed", "1");
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "exec \"n\xc3\xa9\" 100% missing\nsecond line");
    }
    if (first.id() == "hang") {
      response.set_pid(42);
      stream->Write(response);
      while (!ctx->IsCancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      saw_cancel = true;
      return grpc::Status(grpc::StatusCode::CANCELLED, "gone");
    }
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "unknown test case");
  }
};

class UnixGrpcCallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("berth-unixcall-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    socket_ = (dir_ / "agent.sock").string();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix://" + socket_, grpc::InsecureServerCredentials());
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<UnixGrpcCall> Start(const std::string& id, std::vector<std::string> args = {}) {
    v1::ExecRequest request;
    request.set_id(id);
    for (std::string& a : args) request.mutable_start()->add_args(std::move(a));
    auto call = UnixGrpcCall::Start(socket_, "/berth.v1.Containers/Exec", request);
    EXPECT_TRUE(call.ok()) << call.status();
    return call.ok() ? *std::move(call) : nullptr;
  }

  FakeContainers service_;
  std::filesystem::path dir_;
  std::string socket_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(UnixGrpcCallTest, SendsTheRequestAndReadsEveryResponseThenOk) {
  auto call = Start("echo", {"one", std::string(100000, 'z'), "", "three"});
  ASSERT_NE(call, nullptr);
  v1::ExecResponse response;
  std::vector<std::string> got;
  int exit_code = -1;
  while (call->Read(&response)) {
    if (response.has_output()) got.push_back(response.output().data());
    if (response.msg_case() == v1::ExecResponse::kExitCode) exit_code = response.exit_code();
  }
  EXPECT_EQ(got, (std::vector<std::string>{"one", std::string(100000, 'z'), "", "three"}));
  EXPECT_EQ(exit_code, 4);
  grpc::Status status = call->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(call->HeardFromAgent());
  EXPECT_TRUE(service_.saw_half_close) << "the request must end the client's side of the stream";
}

TEST_F(UnixGrpcCallTest, MessagesLargerThanTheWindowArriveWhole) {
  auto call = Start("big");
  ASSERT_NE(call, nullptr);
  v1::ExecResponse response;
  ASSERT_TRUE(call->Read(&response));
  EXPECT_EQ(response.output().data(), std::string(12 << 20, 'x'));
  int small = 0;
  while (call->Read(&response)) {
    ASSERT_EQ(response.output().data(), std::string(1000, static_cast<char>('a' + small % 26)));
    ++small;
  }
  EXPECT_EQ(small, 2000);
  EXPECT_TRUE(call->Finish().ok());
}

TEST_F(UnixGrpcCallTest, TheAgentsStatusMessageAndTrailersComeThrough) {
  auto call = Start("fail");
  ASSERT_NE(call, nullptr);
  v1::ExecResponse response;
  EXPECT_FALSE(call->Read(&response));
  grpc::Status status = call->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "exec \"n\xc3\xa9\" 100% missing\nsecond line");
  EXPECT_TRUE(call->HasTrailer("berth-process-start-failed"));
  EXPECT_FALSE(call->HasTrailer("berth-something-else"));
  EXPECT_TRUE(call->HeardFromAgent());
}

TEST_F(UnixGrpcCallTest, FinishingEarlyCancelsTheCallAtTheAgent) {
  auto call = Start("hang");
  ASSERT_NE(call, nullptr);
  v1::ExecResponse response;
  ASSERT_TRUE(call->Read(&response));
  EXPECT_EQ(response.pid(), 42);
  EXPECT_EQ(call->Finish().error_code(), grpc::StatusCode::CANCELLED);
  for (int i = 0; i < 400 && !service_.saw_cancel; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_TRUE(service_.saw_cancel) << "the agent must see the call cancelled";
}

TEST_F(UnixGrpcCallTest, CancelFromAnotherThreadEndsAWaitingRead) {
  auto call = Start("hang");
  ASSERT_NE(call, nullptr);
  v1::ExecResponse response;
  ASSERT_TRUE(call->Read(&response));
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    call->Cancel();
  });
  EXPECT_FALSE(call->Read(&response));  // blocks until the cancel
  canceller.join();
  EXPECT_EQ(call->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(UnixGrpcCallTest, ACancelBeforeTheFirstReadIsCancelledNotABrokenConnection) {
  // The cancel shuts the socket while the request still waits to be sent: the read must not
  // report the send that the cancel broke.
  auto call = Start("hang");
  ASSERT_NE(call, nullptr);
  call->Cancel();
  v1::ExecResponse response;
  EXPECT_FALSE(call->Read(&response));
  const grpc::Status status = call->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED) << status.error_message();
}

TEST_F(UnixGrpcCallTest, AnUnknownMethodIsUnimplemented) {
  v1::ExecRequest request;
  auto call = UnixGrpcCall::Start(socket_, "/berth.v1.Containers/NoSuchMethod", request);
  ASSERT_TRUE(call.ok()) << call.status();
  v1::ExecResponse response;
  EXPECT_FALSE((*call)->Read(&response));
  EXPECT_EQ((*call)->Finish().error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(UnixGrpcCallTest, NoAgentListeningIsAnErrorBeforeAnyCall) {
  v1::ExecRequest request;
  auto call = UnixGrpcCall::Start((dir_ / "nobody.sock").string(), "/berth.v1.Containers/Exec", request);
  ASSERT_FALSE(call.ok());
  EXPECT_EQ(call.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(UnixGrpcCallTest, APeerThatHangsUpIsUnavailable) {
  // A listener that accepts and closes at once: no HTTP/2 at all.
  const std::string path = (dir_ / "hangup.sock").string();
  int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", path.c_str());
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  std::thread peer([listener] { ::close(::accept(listener, nullptr, nullptr)); });
  v1::ExecRequest request;
  auto call = UnixGrpcCall::Start(path, "/berth.v1.Containers/Exec", request);
  ASSERT_TRUE(call.ok());
  v1::ExecResponse response;
  EXPECT_FALSE((*call)->Read(&response));
  EXPECT_EQ((*call)->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_FALSE((*call)->HeardFromAgent());
  peer.join();
  ::close(listener);
}

TEST(PercentDecode, DecodesEscapesAndKeepsStrayPercents) {
  EXPECT_EQ(PercentDecode("%41b%c3%A9"), "Ab\xc3\xa9");
  EXPECT_EQ(PercentDecode("100%"), "100%");
  EXPECT_EQ(PercentDecode("%zz%4"), "%zz%4");
  EXPECT_EQ(PercentDecode("plain text"), "plain text");
}

}  // namespace
}  // namespace berth::cli
