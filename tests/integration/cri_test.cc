// The Kubernetes CRI socket of a real berthd, through the generated runtime.v1 stubs (the
// kubelet's and crictl's wire): version and readiness, the pod CIDR, and images, including a
// pull with the kubelet's auth config from Debian's docker-registry with Basic auth, started
// inside the agent's test host on 127.0.0.1.
#include <sys/stat.h>

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "cri/runtime/v1/api.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/image_support.h"
#include "tests/integration/support/oci_builder.h"
#include "tests/integration/support/registry_support.h"

namespace berth::testing {
namespace {

namespace cri = ::runtime::v1;
using ::testing::Contains;
using ::testing::HasSubstr;

class CriTest : public ::testing::Test {
 protected:
  void StartAgent(const std::vector<std::string>& flags = {}) {
    agent_.Start(flags);
    ASSERT_TRUE(agent_.running());
    auto channel = grpc::CreateChannel("unix://" + CriSocket(), grpc::InsecureChannelCredentials());
    runtime_ = cri::RuntimeService::NewStub(channel);
    images_ = cri::ImageService::NewStub(channel);
  }
  // The default: cri.sock beside the agent's socket.
  std::string CriSocket() const { return agent_.dir() + "/cri.sock"; }

  grpc::Status Call(const std::function<grpc::Status(grpc::ClientContext*)>& fn) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    return fn(&ctx);
  }
  cri::ImageStatusResponse ImageStatus(const std::string& ref) {
    cri::ImageStatusRequest req;
    req.mutable_image()->set_image(ref);
    cri::ImageStatusResponse resp;
    grpc::Status st = Call([&](grpc::ClientContext* c) { return images_->ImageStatus(c, req, &resp); });
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp;
  }
  grpc::Status Pull(const std::string& ref, const cri::AuthConfig& auth, cri::PullImageResponse* resp) {
    cri::PullImageRequest req;
    req.mutable_image()->set_image(ref);
    *req.mutable_auth() = auth;
    return Call([&](grpc::ClientContext* c) { return images_->PullImage(c, req, resp); });
  }

  AgentHarness agent_;
  std::unique_ptr<TestRegistry> registry_;  // after agent_: stopped before it
  std::unique_ptr<cri::RuntimeService::Stub> runtime_;
  std::unique_ptr<cri::ImageService::Stub> images_;
};

TEST_F(CriTest, VersionStatusAndPodCidr) {
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  struct stat st;
  ASSERT_EQ(::stat(CriSocket().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the CRI socket is root's only";

  cri::VersionRequest vreq;
  cri::VersionResponse version;
  grpc::Status s = Call([&](grpc::ClientContext* c) { return runtime_->Version(c, vreq, &version); });
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(version.runtime_name(), "berth");
  EXPECT_EQ(version.runtime_api_version(), "v1");
  EXPECT_EQ(version.version(), "0.1.0");
  EXPECT_FALSE(version.runtime_version().empty());

  cri::StatusRequest sreq;
  sreq.set_verbose(true);
  cri::StatusResponse status;
  s = Call([&](grpc::ClientContext* c) { return runtime_->Status(c, sreq, &status); });
  ASSERT_TRUE(s.ok()) << s.error_message();
  std::map<std::string, bool> conditions;
  for (const auto& c : status.status().conditions()) conditions[c.type()] = c.status();
  EXPECT_EQ(conditions["RuntimeReady"], true);
  EXPECT_EQ(conditions["NetworkReady"], true);

  // A bad pod CIDR is refused with the value quoted; a good one is reported back.
  cri::UpdateRuntimeConfigRequest bad;
  bad.mutable_runtime_config()->mutable_network_config()->set_pod_cidr("10.244.0.0/99");
  cri::UpdateRuntimeConfigResponse uresp;
  s = Call([&](grpc::ClientContext* c) { return runtime_->UpdateRuntimeConfig(c, bad, &uresp); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("10.244.0.0/99"));
  cri::UpdateRuntimeConfigRequest good;
  good.mutable_runtime_config()->mutable_network_config()->set_pod_cidr("10.244.1.0/24,fd00:10:244:1::/64");
  s = Call([&](grpc::ClientContext* c) { return runtime_->UpdateRuntimeConfig(c, good, &uresp); });
  ASSERT_TRUE(s.ok()) << s.error_message();
  status.Clear();
  s = Call([&](grpc::ClientContext* c) { return runtime_->Status(c, sreq, &status); });
  ASSERT_TRUE(s.ok());
  EXPECT_THAT(status.info().at("config"), HasSubstr("10.244.1.0/24,fd00:10:244:1::/64"));
}

TEST_F(CriTest, CriSocketNoneServesNone) {
  ASSERT_NO_FATAL_FAILURE(StartAgent({"--cri-socket", "none"}));
  struct stat st;
  EXPECT_NE(::stat(CriSocket().c_str(), &st), 0) << "no CRI socket was asked for";
  // berth.v1 is unaffected.
  EXPECT_TRUE(agent_.Version().ok());
}

TEST_F(CriTest, ImagesAreTheAgentsImages) {
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  auto berth_busybox = InspectImage(agent_, "busybox");
  ASSERT_TRUE(berth_busybox.ok()) << berth_busybox.status();

  cri::ListImagesRequest lreq;
  cri::ListImagesResponse list;
  grpc::Status s = Call([&](grpc::ClientContext* c) { return images_->ListImages(c, lreq, &list); });
  ASSERT_TRUE(s.ok()) << s.error_message();
  const cri::Image* busybox = nullptr;
  for (const auto& i : list.images()) {
    if (i.id() == berth_busybox->id()) busybox = &i;
  }
  ASSERT_NE(busybox, nullptr) << list.DebugString();
  EXPECT_THAT(busybox->repo_tags(), Contains("docker.io/library/busybox:latest"));
  EXPECT_THAT(busybox->repo_digests(),
              Contains(absl::StrCat("docker.io/library/busybox@", berth_busybox->manifest_digest())));
  EXPECT_EQ(busybox->size(), static_cast<uint64_t>(berth_busybox->size()));
  EXPECT_TRUE(busybox->has_uid());
  EXPECT_EQ(busybox->uid().value(), 0);

  // By short name, full name and id; a filter for an absent image lists nothing.
  for (const std::string& ref : {std::string("busybox"), std::string("docker.io/library/busybox:latest"),
                                 berth_busybox->id()}) {
    cri::ImageStatusResponse found = ImageStatus(ref);
    ASSERT_TRUE(found.has_image()) << ref;
    EXPECT_EQ(found.image().id(), berth_busybox->id()) << ref;
  }
  EXPECT_FALSE(ImageStatus("example.com/absent:v1").has_image()) << "absent: an empty answer, not an error";
  cri::ListImagesRequest filtered;
  filtered.mutable_filter()->mutable_image()->set_image("example.com/absent:v1");
  list.Clear();
  s = Call([&](grpc::ClientContext* c) { return images_->ListImages(c, filtered, &list); });
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(list.images_size(), 0);

  // Removing an absent image succeeds (the kubelet retries); an empty reference does not.
  cri::RemoveImageRequest rreq;
  rreq.mutable_image()->set_image("example.com/absent:v1");
  cri::RemoveImageResponse rresp;
  s = Call([&](grpc::ClientContext* c) { return images_->RemoveImage(c, rreq, &rresp); });
  EXPECT_TRUE(s.ok()) << s.error_message();
  rreq.mutable_image()->set_image("");
  s = Call([&](grpc::ClientContext* c) { return images_->RemoveImage(c, rreq, &rresp); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // The image filesystem: the store's directory, its bytes and inodes.
  cri::ImageFsInfoRequest freq;
  cri::ImageFsInfoResponse fs;
  s = Call([&](grpc::ClientContext* c) { return images_->ImageFsInfo(c, freq, &fs); });
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(fs.image_filesystems_size(), 1);
  EXPECT_EQ(fs.image_filesystems(0).fs_id().mountpoint(), agent_.root() + "/images");
  EXPECT_GT(fs.image_filesystems(0).used_bytes().value(), static_cast<uint64_t>(berth_busybox->size()));
  EXPECT_GT(fs.image_filesystems(0).inodes_used().value(), 10u);
  EXPECT_GT(fs.image_filesystems(0).timestamp(), 0);
}

TEST_F(CriTest, PullWithTheKubeletsAuthConfigThenRemove) {
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  registry_ = std::make_unique<TestRegistry>(agent_.netns_fd(), agent_.dir() + "/registry",
                                             RegistryConfig{.user = "kubelet", .password = "right-pass"});
  ASSERT_TRUE(registry_->ok()) << registry_->error();
  auto busybox = ExportedBusybox(agent_);
  ASSERT_TRUE(busybox.ok()) << busybox.status();
  const Image image = DerivedImage(*busybox, {File("hello.txt", "from the cri\n")});
  ASSERT_TRUE(registry_->PushImage("private/app", "v1", image).ok());
  const std::string ref = absl::StrCat(registry_->host(), "/private/app:v1");

  cri::PullImageResponse pulled;
  grpc::Status s = Pull(ref, {}, &pulled);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  cri::AuthConfig wrong;
  wrong.set_username("kubelet");
  wrong.set_password("wrong-pass");
  s = Pull(ref, wrong, &pulled);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.error_message(), HasSubstr("kubelet")) << "the message names the user";
  cri::AuthConfig token;
  token.set_registry_token("abc");
  s = Pull(ref, token, &pulled);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(ImageStatus(ref).has_image()) << "failed pulls store nothing under the name";

  cri::AuthConfig right;
  right.set_username("kubelet");
  right.set_password("right-pass");
  s = Pull(ref, right, &pulled);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(pulled.image_ref(), image.config_digest());
  cri::ImageStatusResponse status = ImageStatus(ref);
  ASSERT_TRUE(status.has_image());
  EXPECT_THAT(status.image().repo_tags(), Contains(ref));
  EXPECT_THAT(status.image().repo_digests(),
              Contains(absl::StrCat(registry_->host(), "/private/app@", image.manifest_digest())));
  // The same image is berth's too: a container runs from it.
  auto run = agent_.RunToExit([&] {
    v1::ContainerConfig c;
    c.set_image(ref);
    c.add_command("cat");
    c.add_command("/hello.txt");
    return c;
  }());
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->out, "from the cri\n");

  // `auth` (base64 of user:password), as a docker config carries it, works as well: a pull
  // of a second tag under it.
  ASSERT_TRUE(registry_->PushImage("private/app", "v2", image).ok());
  cri::AuthConfig encoded;
  encoded.set_auth(absl::Base64Escape("kubelet:right-pass"));
  s = Pull(absl::StrCat(registry_->host(), "/private/app:v2"), encoded, &pulled);
  ASSERT_TRUE(s.ok()) << s.error_message();

  // RemoveImage by id: refused while a container uses the image (its layers are that
  // container's root); then every name of the image goes, and berth's list no longer has it.
  cri::RemoveImageRequest rreq;
  rreq.mutable_image()->set_image(pulled.image_ref());
  cri::RemoveImageResponse rresp;
  s = Call([&](grpc::ClientContext* c) { return images_->RemoveImage(c, rreq, &rresp); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_TRUE(ImageStatus(ref).has_image());
  auto containers = agent_.List();
  ASSERT_TRUE(containers.ok());
  for (const auto& c : *containers) ASSERT_TRUE(agent_.Remove(c.id()).ok());
  s = Call([&](grpc::ClientContext* c) { return images_->RemoveImage(c, rreq, &rresp); });
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(ImageStatus(ref).has_image());
  EXPECT_FALSE(ImageStatus(absl::StrCat(registry_->host(), "/private/app:v2")).has_image());
  EXPECT_EQ(InspectImage(agent_, ref).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace berth::testing
