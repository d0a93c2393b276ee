// The Kubernetes CRI socket of a real berthd, through the generated runtime.v1 stubs (the
// kubelet's and crictl's wire): version and readiness, the pod CIDR, images (including a
// pull with the kubelet's auth config from Debian's docker-registry with Basic auth, started
// inside the agent's test host on 127.0.0.1), and pods: a sandbox with two containers that
// share its localhost, IPC and host name, their CRI logs, ExecSync, stop and removal with
// nothing left, the refusals, an agent killed and started again, and the streaming server's
// exec, attach and port-forward.
#include <sys/stat.h>

#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "cri/runtime/v1/api.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/cri_stream_client.h"
#include "tests/integration/support/image_support.h"
#include "tests/integration/support/network_support.h"
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

  // A pod "web" in namespace "default" with `uid`, its log directory under the test's dir.
  cri::PodSandboxConfig PodConfig(const std::string& uid) {
    cri::PodSandboxConfig config;
    config.mutable_metadata()->set_name("web");
    config.mutable_metadata()->set_namespace_("default");
    config.mutable_metadata()->set_uid(uid);
    config.set_hostname("web-pod");
    config.set_log_directory(agent_.dir() + "/pods/" + uid);
    config.mutable_dns_config()->add_servers("10.96.0.10");
    config.mutable_dns_config()->add_searches("default.svc.cluster.local");
    config.mutable_dns_config()->add_options("ndots:5");
    (*config.mutable_labels())["app"] = "web";
    (*config.mutable_annotations())["note"] = "made by cri_test";
    return config;
  }
  std::string RunPod(const cri::PodSandboxConfig& config) {
    cri::RunPodSandboxRequest req;
    *req.mutable_config() = config;
    cri::RunPodSandboxResponse resp;
    grpc::Status s = Call([&](grpc::ClientContext* c) { return runtime_->RunPodSandbox(c, req, &resp); });
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.pod_sandbox_id();
  }
  grpc::Status CreateIn(const std::string& pod, const cri::PodSandboxConfig& pod_config,
                        const cri::ContainerConfig& config, std::string* id) {
    cri::CreateContainerRequest req;
    req.set_pod_sandbox_id(pod);
    *req.mutable_config() = config;
    *req.mutable_sandbox_config() = pod_config;
    cri::CreateContainerResponse resp;
    grpc::Status s = Call([&](grpc::ClientContext* c) { return runtime_->CreateContainer(c, req, &resp); });
    *id = resp.container_id();
    return s;
  }
  cri::ContainerConfig Busybox(const std::string& name, const std::vector<std::string>& command) {
    cri::ContainerConfig config;
    config.mutable_metadata()->set_name(name);
    config.mutable_image()->set_image("busybox");
    for (const auto& a : command) config.add_command(a);
    config.set_log_path(name + "_0.log");
    return config;
  }
  // `command` in busybox with berth-nettool at /nettool (read-only).
  cri::ContainerConfig WithNettool(const std::string& name, const std::vector<std::string>& command) {
    cri::ContainerConfig config = Busybox(name, command);
    cri::Mount* nettool = config.add_mounts();
    nettool->set_host_path(BERTH_NETTOOL_PATH);
    nettool->set_container_path("/nettool");
    nettool->set_readonly(true);
    return config;
  }
  grpc::Status RemovePod(const std::string& pod) {
    cri::RemovePodSandboxRequest remove;
    remove.set_pod_sandbox_id(pod);
    cri::RemovePodSandboxResponse removed;
    return Call([&](grpc::ClientContext* c) { return runtime_->RemovePodSandbox(c, remove, &removed); });
  }
  grpc::Status Start(const std::string& id) {
    cri::StartContainerRequest req;
    req.set_container_id(id);
    cri::StartContainerResponse resp;
    return Call([&](grpc::ClientContext* c) { return runtime_->StartContainer(c, req, &resp); });
  }
  grpc::Status ExecSync(const std::string& id, const std::vector<std::string>& cmd, cri::ExecSyncResponse* resp,
                        int64_t timeout = 0) {
    cri::ExecSyncRequest req;
    req.set_container_id(id);
    for (const auto& a : cmd) req.add_cmd(a);
    req.set_timeout(timeout);
    return Call([&](grpc::ClientContext* c) { return runtime_->ExecSync(c, req, resp); });
  }
  cri::PodSandboxStatus PodStatus(const std::string& id) {
    cri::PodSandboxStatusRequest req;
    req.set_pod_sandbox_id(id);
    cri::PodSandboxStatusResponse resp;
    grpc::Status s = Call([&](grpc::ClientContext* c) { return runtime_->PodSandboxStatus(c, req, &resp); });
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.status();
  }
  cri::ContainerStatus ContainerStatus(const std::string& id) {
    cri::ContainerStatusRequest req;
    req.set_container_id(id);
    cri::ContainerStatusResponse resp;
    grpc::Status s = Call([&](grpc::ClientContext* c) { return runtime_->ContainerStatus(c, req, &resp); });
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.status();
  }
  std::vector<cri::PodSandbox> Pods(const cri::PodSandboxFilter& filter = {}) {
    cri::ListPodSandboxRequest req;
    *req.mutable_filter() = filter;
    cri::ListPodSandboxResponse resp;
    grpc::Status s = Call([&](grpc::ClientContext* c) { return runtime_->ListPodSandbox(c, req, &resp); });
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.items().begin(), resp.items().end()};
  }
  std::vector<cri::Container> Containers(const cri::ContainerFilter& filter = {}) {
    cri::ListContainersRequest req;
    *req.mutable_filter() = filter;
    cri::ListContainersResponse resp;
    grpc::Status s = Call([&](grpc::ClientContext* c) { return runtime_->ListContainers(c, req, &resp); });
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.containers().begin(), resp.containers().end()};
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
  const std::string digested = absl::StrCat(registry_->host(), "/private/app@", image.manifest_digest());
  EXPECT_THAT(status.image().repo_digests(), Contains(digested));
  // Each name it reports finds it again: the id and the repo digest.
  EXPECT_EQ(ImageStatus(digested).image().id(), status.image().id());
  EXPECT_EQ(ImageStatus(status.image().id()).image().id(), status.image().id());
  EXPECT_FALSE(ImageStatus(absl::StrCat(registry_->host(), "/other/app@", image.manifest_digest())).has_image())
      << "another repository's digest is not this image's";
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

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_F(CriTest, PodWithTwoContainersSharingLocalhostIpcAndHostname) {
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  const cri::PodSandboxConfig pod_config = PodConfig("uid-pod-1");
  const std::string pod = RunPod(pod_config);
  ASSERT_FALSE(pod.empty());

  cri::PodSandboxStatus status = PodStatus(pod);
  EXPECT_EQ(status.id(), pod);
  EXPECT_EQ(status.state(), cri::SANDBOX_READY);
  EXPECT_EQ(status.metadata().name(), "web");
  EXPECT_EQ(status.metadata().namespace_(), "default");
  EXPECT_EQ(status.metadata().uid(), "uid-pod-1");
  EXPECT_THAT(status.network().ip(), ::testing::StartsWith("10.88."));
  EXPECT_GT(status.created_at(), 0);
  EXPECT_EQ(status.labels().size(), 1u);
  EXPECT_EQ(status.labels().at("app"), "web");
  EXPECT_EQ(status.annotations().at("note"), "made by cri_test");
  // A person sees it with berth's own tools, in the k8s.io view.
  auto in_view = agent_.List("io.berth.view=k8s.io");
  ASSERT_TRUE(in_view.ok());
  ASSERT_EQ(in_view->size(), 1u);
  EXPECT_EQ(in_view->at(0).id(), pod);
  const int sandbox_pid = in_view->at(0).pid();

  std::string server, client;
  cri::ContainerConfig server_config = WithNettool("server", {"/nettool", "tcp-serve", "8080"});
  ASSERT_TRUE(CreateIn(pod, pod_config, server_config, &server).ok());
  cri::ContainerConfig client_config = WithNettool("client", {"sleep", "1000"});
  (*client_config.mutable_labels())["role"] = "client";
  grpc::Status s = CreateIn(pod, pod_config, client_config, &client);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(ContainerStatus(client).state(), cri::CONTAINER_CREATED);
  ASSERT_TRUE(Start(server).ok());
  s = Start(client);
  ASSERT_TRUE(s.ok()) << s.error_message();

  // localhost is the pod's: the client reaches the server on 127.0.0.1.
  cri::ExecSyncResponse out;
  s = ExecSync(client, {"/nettool", "tcp-ask", "127.0.0.1", "8080", "hello"}, &out, 20);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.exit_code(), 0) << out.stderr();
  EXPECT_THAT(out.stdout(), HasSubstr("hello from 127.0.0.1"));
  // The pod's ipc, uts and net namespaces, held by the sandbox's process.
  for (const std::string type : {"ipc", "uts", "net"}) {
    char buf[128] = {};
    std::string link = absl::StrCat("/proc/", sandbox_pid, "/ns/", type);
    ASSERT_GT(::readlink(link.c_str(), buf, sizeof(buf) - 1), 0);
    for (const std::string& id : {server, client}) {
      out.Clear();
      ASSERT_TRUE(ExecSync(id, {"readlink", "/proc/self/ns/" + type}, &out).ok());
      EXPECT_EQ(out.stdout(), std::string(buf) + "\n") << type;
    }
  }
  out.Clear();
  ASSERT_TRUE(ExecSync(client, {"sh", "-c", "hostname; cat /etc/resolv.conf"}, &out).ok());
  EXPECT_THAT(out.stdout(), ::testing::StartsWith("web-pod\n"));
  EXPECT_THAT(out.stdout(), HasSubstr("nameserver 10.96.0.10"));
  EXPECT_THAT(out.stdout(), HasSubstr("default.svc.cluster.local"));
  EXPECT_THAT(out.stdout(), HasSubstr("options ndots:5\n"));
  // Output, stderr and the exit code; a timeout kills the command.
  out.Clear();
  ASSERT_TRUE(ExecSync(client, {"sh", "-c", "echo out; echo err >&2; exit 3"}, &out).ok());
  EXPECT_EQ(out.stdout(), "out\n");
  EXPECT_EQ(out.stderr(), "err\n");
  EXPECT_EQ(out.exit_code(), 3);
  out.Clear();
  s = ExecSync(client, {"sleep", "30"}, &out, 1);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();

  // The server's log, in the CRI format, where the kubelet asked for it.
  const std::string log = pod_config.log_directory() + "/server_0.log";
  cri::ContainerStatus server_status = ContainerStatus(server);
  EXPECT_EQ(server_status.state(), cri::CONTAINER_RUNNING);
  EXPECT_EQ(server_status.log_path(), log);
  EXPECT_GT(server_status.started_at(), 0);
  EXPECT_EQ(server_status.metadata().name(), "server");
  EXPECT_EQ(server_status.image().image(), "busybox");
  EXPECT_FALSE(server_status.image_ref().empty());
  EXPECT_THAT(ReadText(log), ::testing::ContainsRegex("^[0-9T:.+Z-]+ stdout F listening 8080\n"));

  // The kubelet's rotation: it renames the file, then asks for a reopen; the shim carries on
  // in a new file at the path, and the renamed one gets nothing more.
  ASSERT_EQ(::rename(log.c_str(), (log + ".1").c_str()), 0);
  cri::ReopenContainerLogRequest reopen;
  reopen.set_container_id(server);
  cri::ReopenContainerLogResponse reopened;
  s = Call([&](grpc::ClientContext* c) { return runtime_->ReopenContainerLog(c, reopen, &reopened); });
  ASSERT_TRUE(s.ok()) << s.error_message();
  out.Clear();
  ASSERT_TRUE(ExecSync(client, {"/nettool", "tcp-ask", "127.0.0.1", "8080", "again"}, &out, 20).ok());
  // The server prints the line as it answers, so the client can be done before the shim has
  // copied it from the server's stdout into the log.
  EXPECT_TRUE(Eventually([&] { return ReadText(log).find("again from 127.0.0.1") != std::string::npos; }))
      << "the reopened log holds: " << ReadText(log);
  EXPECT_THAT(ReadText(log + ".1"), ::testing::Not(HasSubstr("again")));
  EXPECT_THAT(ReadText(log + ".1"), HasSubstr("listening 8080"));
  ::unlink((log + ".1").c_str());  // the kubelet's to remove

  cri::ContainerFilter by_pod;
  by_pod.set_pod_sandbox_id(pod);
  EXPECT_EQ(Containers(by_pod).size(), 2u);
  cri::ContainerFilter by_label;
  (*by_label.mutable_label_selector())["role"] = "client";
  auto clients = Containers(by_label);
  ASSERT_EQ(clients.size(), 1u);
  EXPECT_EQ(clients[0].id(), client);
  EXPECT_EQ(clients[0].pod_sandbox_id(), pod);
  EXPECT_EQ(clients[0].labels().size(), 1u);

  // Stop one container: it is EXITED with its end recorded.
  cri::StopContainerRequest stop;
  stop.set_container_id(server);
  stop.set_timeout(2);
  cri::StopContainerResponse stopped;
  s = Call([&](grpc::ClientContext* c) { return runtime_->StopContainer(c, stop, &stopped); });
  ASSERT_TRUE(s.ok()) << s.error_message();
  server_status = ContainerStatus(server);
  EXPECT_EQ(server_status.state(), cri::CONTAINER_EXITED);
  EXPECT_GE(server_status.finished_at(), server_status.started_at());
  EXPECT_FALSE(server_status.reason().empty());

  // Stop the pod: the other container is ended and the sandbox is NOTREADY.
  cri::StopPodSandboxRequest stop_pod;
  stop_pod.set_pod_sandbox_id(pod);
  cri::StopPodSandboxResponse stopped_pod;
  s = Call([&](grpc::ClientContext* c) { return runtime_->StopPodSandbox(c, stop_pod, &stopped_pod); });
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(PodStatus(pod).state(), cri::SANDBOX_NOTREADY);
  EXPECT_EQ(ContainerStatus(client).state(), cri::CONTAINER_EXITED);
  cri::PodSandboxFilter ready;
  ready.mutable_state()->set_state(cri::SANDBOX_READY);
  EXPECT_TRUE(Pods(ready).empty());

  // Remove it: nothing of the pod is left (the harness checks cgroups, veths and mounts).
  cri::RemovePodSandboxRequest remove;
  remove.set_pod_sandbox_id(pod);
  cri::RemovePodSandboxResponse removed;
  s = Call([&](grpc::ClientContext* c) { return runtime_->RemovePodSandbox(c, remove, &removed); });
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(Pods().empty());
  EXPECT_TRUE(Containers().empty());
  auto left = agent_.List();
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());
  struct stat st;
  EXPECT_NE(::lstat(log.c_str(), &st), 0) << "the log goes with the container";
  // Removing again is not an error.
  s = Call([&](grpc::ClientContext* c) { return runtime_->RemovePodSandbox(c, remove, &removed); });
  EXPECT_TRUE(s.ok()) << s.error_message();
}

// Exec, attach and port-forward through the streaming server, over SPDY/3.1 (crictl's and
// the kubelet's wire) and WebSocket: stdin, stdout, stderr, the exit status on the error
// channel, a terminal and its size, and a TCP connection into the pod's localhost.
TEST_F(CriTest, ExecAttachAndPortForwardThroughTheStreamingServer) {
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  const cri::PodSandboxConfig pod_config = PodConfig("uid-streams");
  const std::string pod = RunPod(pod_config);
  ASSERT_FALSE(pod.empty());
  std::string shell, echo, server;
  ASSERT_TRUE(CreateIn(pod, pod_config, Busybox("shell", {"sleep", "1000"}), &shell).ok());
  cri::ContainerConfig echo_config = Busybox("echo", {"sh", "-c", "while read l; do echo \"got $l\"; done; echo bye"});
  echo_config.set_stdin(true);
  echo_config.set_stdin_once(true);
  ASSERT_TRUE(CreateIn(pod, pod_config, echo_config, &echo).ok());
  cri::ContainerConfig server_config = WithNettool("server", {"/nettool", "tcp-serve", "8080"});
  ASSERT_TRUE(CreateIn(pod, pod_config, server_config, &server).ok());
  for (const auto& id : {shell, echo, server}) ASSERT_TRUE(Start(id).ok());

  auto exec_url = [&](const std::vector<std::string>& cmd, bool tty, bool in, bool err) {
    cri::ExecRequest req;
    req.set_container_id(shell);
    for (const auto& a : cmd) req.add_cmd(a);
    req.set_tty(tty);
    req.set_stdin(in);
    req.set_stdout(true);
    req.set_stderr(err);
    cri::ExecResponse resp;
    grpc::Status s = Call([&](grpc::ClientContext* c) { return runtime_->Exec(c, req, &resp); });
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.url();
  };
  const std::vector<std::string> script = {"sh", "-c", "read l; echo \"out $l\"; echo \"err $l\" >&2; exit 3"};
  for (bool websocket : {false, true}) {
    SCOPED_TRACE(websocket ? "websocket" : "spdy");
    const std::string url = exec_url(script, false, true, true);
    EXPECT_THAT(url, ::testing::MatchesRegex("http://127\\.0\\.0\\.1:[0-9]+/exec/[0-9a-f]{32}"));
    StreamOptions options;
    options.websocket = websocket;
    options.stdin_data = "hello\n";
    auto ran = RunStreamUrl(agent_.netns_fd(), url, options);
    ASSERT_TRUE(ran.ok()) << ran.status();
    EXPECT_EQ(ran->stdout_data, "out hello\n");
    EXPECT_EQ(ran->stderr_data, "err hello\n");
    EXPECT_THAT(ran->status, HasSubstr("\"reason\":\"NonZeroExitCode\""));
    EXPECT_THAT(ran->status, HasSubstr("\"message\":\"3\""));
    // The URL was good once.
    auto again = StatusLineOf(agent_.netns_fd(), url, "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n");
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_THAT(*again, HasSubstr(" 404 "));
  }
  // A terminal: its size comes from the resize channel, stdin echoes, one output stream.
  for (bool websocket : {false, true}) {
    SCOPED_TRACE(websocket ? "websocket tty" : "spdy tty");
    StreamOptions options;
    options.websocket = websocket;
    options.tty = true;
    options.stderr = false;
    options.size = std::make_pair(100, 40);
    options.stdin_data = "typed\r";
    auto ran = RunStreamUrl(agent_.netns_fd(),
                            exec_url({"sh", "-c", "read l; echo \"got $l\"; stty size; tty"}, true, true, false),
                            options);
    ASSERT_TRUE(ran.ok()) << ran.status();
    EXPECT_THAT(ran->stdout_data, HasSubstr("got typed"));
    EXPECT_THAT(ran->stdout_data, HasSubstr("40 100"));
    EXPECT_THAT(ran->stdout_data, HasSubstr("/dev/pts/"));
    EXPECT_EQ(ran->status, "{\"metadata\":{},\"status\":\"Success\"}");
  }

  // Attach to the echo container: stdin reaches its process; closing stdin ends it.
  {
    cri::AttachRequest req;
    req.set_container_id(echo);
    req.set_stdin(true);
    req.set_stdout(true);
    req.set_stderr(true);
    cri::AttachResponse resp;
    grpc::Status s = Call([&](grpc::ClientContext* c) { return runtime_->Attach(c, req, &resp); });
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_THAT(resp.url(), HasSubstr("/attach/"));
    StreamOptions options;
    options.stdin_data = "one\ntwo\n";
    auto ran = RunStreamUrl(agent_.netns_fd(), resp.url(), options);
    ASSERT_TRUE(ran.ok()) << ran.status();
    EXPECT_EQ(ran->stdout_data, "got one\ngot two\nbye\n");
  }

  // Port forward to the server's 8080 on the pod's localhost; a closed port is an error on
  // the error stream.
  auto forward_url = [&] {
    cri::PortForwardRequest req;
    req.set_pod_sandbox_id(pod);
    req.add_port(8080);
    cri::PortForwardResponse resp;
    grpc::Status s = Call([&](grpc::ClientContext* c) { return runtime_->PortForward(c, req, &resp); });
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.url();
  };
  auto answer = ForwardOnce(agent_.netns_fd(), forward_url(), 8080, "ping");
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_THAT(*answer, HasSubstr("ping from 127.0.0.1"));
  auto closed = ForwardOnce(agent_.netns_fd(), forward_url(), 9, "ping");
  EXPECT_FALSE(closed.ok());
  EXPECT_THAT(closed.status().message(), HasSubstr("connect to localhost:9 in the pod"));

  // Refusals: a stopped container, tty with stderr, no streams, a missing sandbox; and a
  // URL that is not upgraded.
  cri::ExecRequest bad;
  bad.set_container_id(shell);
  bad.add_cmd("true");
  bad.set_tty(true);
  bad.set_stdout(true);
  bad.set_stderr(true);
  cri::ExecResponse bad_resp;
  grpc::Status s = Call([&](grpc::ClientContext* c) { return runtime_->Exec(c, bad, &bad_resp); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  bad.set_tty(false);
  bad.set_stdout(false);
  bad.set_stderr(false);
  s = Call([&](grpc::ClientContext* c) { return runtime_->Exec(c, bad, &bad_resp); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  cri::PortForwardRequest no_pod;
  no_pod.set_pod_sandbox_id("nosuchpod");
  cri::PortForwardResponse no_pod_resp;
  s = Call([&](grpc::ClientContext* c) { return runtime_->PortForward(c, no_pod, &no_pod_resp); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  auto plain = StatusLineOf(agent_.netns_fd(), exec_url({"true"}, false, false, true), "");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_THAT(*plain, HasSubstr(" 400 "));
  cri::StopContainerRequest stop;
  stop.set_container_id(shell);
  stop.set_timeout(1);
  cri::StopContainerResponse stopped;
  ASSERT_TRUE(Call([&](grpc::ClientContext* c) { return runtime_->StopContainer(c, stop, &stopped); }).ok());
  bad.set_stdout(true);
  s = Call([&](grpc::ClientContext* c) { return runtime_->Exec(c, bad, &bad_resp); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();

  s = RemovePod(pod);
  ASSERT_TRUE(s.ok()) << s.error_message();
}

// Pods on Debian's real CNI plugins (containernetworking-plugins): a bridge with host-local
// addresses and portmap for a hostPort, run by the agent inside its test host. The pod's
// address comes from the plugins' result; DEL after an agent restart uses the cached result
// and leaves no address lease, veth or pinned namespace behind.
TEST_F(CriTest, PodOnDebiansCniPlugins) {
  const std::string conf_dir = agent_.dir() + "/net.d";
  const std::string ipam_dir = agent_.dir() + "/cni-ipam";
  ASSERT_EQ(::mkdir(conf_dir.c_str(), 0755), 0);
  {
    std::ofstream conf(conf_dir + "/10-berth-test.conflist");
    conf << R"({"cniVersion": "1.0.0", "name": "berth-test", "plugins": [
      {"type": "bridge", "bridge": "cnitest0", "isGateway": true, "ipMasq": false,
       "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.77.0.0/24"}]], "dataDir": ")"
         << ipam_dir << R"("}},
      {"type": "portmap", "capabilities": {"portMappings": true}}]})";
  }
  ASSERT_NO_FATAL_FAILURE(StartAgent({"--cni-conf-dir", conf_dir, "--cni-bin-dir", "/usr/lib/cni"}));
  cri::StatusRequest status_req;
  cri::StatusResponse status_resp;
  ASSERT_TRUE(Call([&](grpc::ClientContext* c) { return runtime_->Status(c, status_req, &status_resp); }).ok());
  for (const auto& condition : status_resp.status().conditions()) {
    EXPECT_TRUE(condition.status()) << condition.type() << ": " << condition.message();
  }

  cri::PodSandboxConfig pod_config = PodConfig("uid-cni");
  cri::PortMapping* mapping = pod_config.add_port_mappings();
  mapping->set_protocol(cri::TCP);
  mapping->set_container_port(8080);
  mapping->set_host_port(18080);
  const std::string pod = RunPod(pod_config);
  ASSERT_FALSE(pod.empty());
  const std::string ip = PodStatus(pod).network().ip();
  EXPECT_THAT(ip, ::testing::MatchesRegex("10\\.77\\.0\\.[0-9]+"));
  EXPECT_TRUE(LinkExists(agent_.netns_fd(), "cnitest0"));
  std::string server;
  cri::ContainerConfig server_config = WithNettool("server", {"/nettool", "tcp-serve", "8080"});
  ASSERT_TRUE(CreateIn(pod, pod_config, server_config, &server).ok());
  ASSERT_TRUE(Start(server).ok());
  // The container has the plugins' interface; the node reaches it directly and through the
  // hostPort that portmap set up.
  cri::ExecSyncResponse out;
  ASSERT_TRUE(ExecSync(server, {"ip", "-4", "addr", "show", "eth0"}, &out).ok());
  EXPECT_THAT(out.stdout(), HasSubstr(ip + "/24"));
  CliResult direct = agent_.RunInHost({BERTH_NETTOOL_PATH, "tcp-ask", ip, "8080", "direct", "20"});
  EXPECT_EQ(direct.exit_code, 0) << direct.err;
  EXPECT_THAT(direct.out, HasSubstr("direct from 10.77.0.1"));
  CliResult mapped = agent_.RunInHost({BERTH_NETTOOL_PATH, "tcp-ask", "10.77.0.1", "18080", "mapped", "20"});
  EXPECT_EQ(mapped.exit_code, 0) << mapped.err;
  EXPECT_THAT(mapped.out, HasSubstr("mapped from"));
  struct stat st;
  EXPECT_EQ(::stat((ipam_dir + "/berth-test/" + ip).c_str(), &st), 0) << "host-local's lease";

  // After a SIGKILL and a restart, stop tears the network down from the cached result.
  agent_.Kill(SIGKILL);
  ASSERT_NO_FATAL_FAILURE(StartAgent({"--cni-conf-dir", conf_dir, "--cni-bin-dir", "/usr/lib/cni"}));
  EXPECT_EQ(PodStatus(pod).network().ip(), ip);
  cri::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id(pod);
  cri::StopPodSandboxResponse stopped;
  grpc::Status s = Call([&](grpc::ClientContext* c) { return runtime_->StopPodSandbox(c, stop, &stopped); });
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_NE(::stat((ipam_dir + "/berth-test/" + ip).c_str(), &st), 0) << "the lease is released";
  EXPECT_THAT(LinkNamesWithPrefix(agent_.netns_fd(), "veth"), ::testing::IsEmpty());
  EXPECT_NE(::stat((agent_.dir() + "/root/cni/results/" + pod + "-eth0.json").c_str(), &st), 0);
  cri::RemovePodSandboxRequest remove;
  remove.set_pod_sandbox_id(pod);
  cri::RemovePodSandboxResponse removed;
  s = Call([&](grpc::ClientContext* c) { return runtime_->RemovePodSandbox(c, remove, &removed); });
  ASSERT_TRUE(s.ok()) << s.error_message();

  // A list naming a plugin the node lacks: the network is not ready, and a pod is refused
  // with nothing made.
  {
    std::ofstream conf(conf_dir + "/00-broken.conflist");
    conf << R"({"cniVersion": "1.0.0", "name": "broken", "plugins": [{"type": "no-such-plugin"}]})";
  }
  status_resp.Clear();
  ASSERT_TRUE(Call([&](grpc::ClientContext* c) { return runtime_->Status(c, status_req, &status_resp); }).ok());
  bool network_ready = true;
  for (const auto& condition : status_resp.status().conditions()) {
    if (condition.type() != "NetworkReady") continue;
    network_ready = condition.status();
    EXPECT_EQ(condition.reason(), "NetworkPluginNotReady");
    EXPECT_THAT(condition.message(), HasSubstr("no-such-plugin"));
  }
  EXPECT_FALSE(network_ready);
  cri::RunPodSandboxRequest run;
  *run.mutable_config() = PodConfig("uid-cni-broken");
  cri::RunPodSandboxResponse ran;
  s = Call([&](grpc::ClientContext* c) { return runtime_->RunPodSandbox(c, run, &ran); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("no-such-plugin"));
  EXPECT_TRUE(Pods().empty());
}

// The kubelet's masked and read-only path lists replace Berth's defaults; seccomp follows
// the CRI: RuntimeDefault when asked, unconfined when nothing is asked.
TEST_F(CriTest, KubeletMaskedAndReadonlyPathsAndSeccompChoices) {
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  const cri::PodSandboxConfig pod_config = PodConfig("uid-paths");
  const std::string pod = RunPod(pod_config);
  ASSERT_FALSE(pod.empty());
  cri::ContainerConfig config = Busybox("paths", {"sleep", "1000"});
  auto* sc = config.mutable_linux()->mutable_security_context();
  sc->add_masked_paths("/proc/version");
  sc->add_readonly_paths("/tmp");
  std::string id;
  grpc::Status s = CreateIn(pod, pod_config, config, &id);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(Start(id).ok());
  cri::ExecSyncResponse out;
  ASSERT_TRUE(ExecSync(id, {"cat", "/proc/version"}, &out).ok());
  EXPECT_EQ(out.stdout(), "");  // masked: /dev/null over it
  out.Clear();
  ASSERT_TRUE(ExecSync(id, {"touch", "/tmp/x"}, &out).ok());
  EXPECT_NE(out.exit_code(), 0);
  EXPECT_THAT(out.stderr(), HasSubstr("Read-only"));
  out.Clear();
  ASSERT_TRUE(ExecSync(id, {"cat", "/proc/self/mountinfo"}, &out).ok());
  EXPECT_THAT(out.stdout(), HasSubstr(" /proc/version "));
  EXPECT_THAT(out.stdout(), ::testing::Not(HasSubstr(" /proc/kcore "))) << "the default list no longer applies";
  out.Clear();
  ASSERT_TRUE(ExecSync(id, {"grep", "^Seccomp:", "/proc/self/status"}, &out).ok());
  EXPECT_THAT(out.stdout(), HasSubstr("\t0")) << "no profile asked: unconfined";
  cri::ContainerConfig filtered = Busybox("filtered", {"sleep", "1000"});
  filtered.mutable_linux()->mutable_security_context()->mutable_seccomp()->set_profile_type(
      cri::SecurityProfile::RuntimeDefault);
  std::string filtered_id;
  ASSERT_TRUE(CreateIn(pod, pod_config, filtered, &filtered_id).ok());
  ASSERT_TRUE(Start(filtered_id).ok());
  out.Clear();
  ASSERT_TRUE(ExecSync(filtered_id, {"grep", "^Seccomp:", "/proc/self/status"}, &out).ok());
  EXPECT_THAT(out.stdout(), HasSubstr("\t2")) << "RuntimeDefault: Berth's filter";
  // no_new_privs as the kubelet means it: false lets privileges rise, true stops them.
  out.Clear();
  ASSERT_TRUE(ExecSync(id, {"grep", "^NoNewPrivs:", "/proc/self/status"}, &out).ok());
  EXPECT_THAT(out.stdout(), HasSubstr("\t0")) << "no_new_privs false: allowPrivilegeEscalation";
  cri::ContainerConfig nnp = Busybox("nnp", {"sleep", "1000"});
  nnp.mutable_linux()->mutable_security_context()->set_no_new_privs(true);
  std::string nnp_id;
  ASSERT_TRUE(CreateIn(pod, pod_config, nnp, &nnp_id).ok());
  ASSERT_TRUE(Start(nnp_id).ok());
  out.Clear();
  ASSERT_TRUE(ExecSync(nnp_id, {"grep", "^NoNewPrivs:", "/proc/self/status"}, &out).ok());
  EXPECT_THAT(out.stdout(), HasSubstr("\t1"));
  s = RemovePod(pod);
  ASSERT_TRUE(s.ok()) << s.error_message();
}

// The kubelet's pod cgroup (cgroupfs layout) holds the sandbox's and the containers' cgroups,
// below the agent's own cgroup parent, never at a hierarchy's root; it goes with the pod.
TEST_F(CriTest, PodCgroupParentNestsBelowTheAgentsParent) {
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  cri::PodSandboxConfig pod_config = PodConfig("uid-cgroup");
  pod_config.mutable_linux()->set_cgroup_parent("/kubepods/burstable/poduid-cgroup");
  const std::string pod = RunPod(pod_config);
  ASSERT_FALSE(pod.empty());
  std::string id;
  ASSERT_TRUE(CreateIn(pod, pod_config, Busybox("app", {"sleep", "1000"}), &id).ok());
  ASSERT_TRUE(Start(id).ok());
  const std::string pod_dir = agent_.CgroupDir("kubepods/burstable/poduid-cgroup", "pids");
  ASSERT_FALSE(pod_dir.empty());
  struct stat st;
  EXPECT_EQ(::stat((pod_dir + "/" + pod).c_str(), &st), 0) << "the sandbox's cgroup";
  EXPECT_FALSE(ReadText(pod_dir + "/" + id + "/cgroup.procs").empty()) << "the container's process";
  EXPECT_NE(::stat(agent_.CgroupDir(id, "pids").c_str(), &st), 0) << "not directly below the agent's parent";

  // A parent that would climb out is refused, and nothing is made.
  cri::PodSandboxConfig bad = PodConfig("uid-bad-cgroup");
  bad.mutable_linux()->set_cgroup_parent("kubepods/../../../escape");
  cri::RunPodSandboxRequest req;
  *req.mutable_config() = bad;
  cri::RunPodSandboxResponse resp;
  grpc::Status refused = Call([&](grpc::ClientContext* c) { return runtime_->RunPodSandbox(c, req, &resp); });
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << refused.error_message();
  EXPECT_THAT(refused.error_message(), HasSubstr("cgroup_parent"));
  EXPECT_EQ(Pods().size(), 1u);
  EXPECT_NE(::stat(agent_.CgroupDir("escape", "pids").c_str(), &st), 0);

  ASSERT_TRUE(RemovePod(pod).ok());
  EXPECT_NE(::stat(agent_.CgroupDir("kubepods", "pids").c_str(), &st), 0) << "the empty pod cgroups went too";
}

TEST_F(CriTest, StatsAndResourceUpdatesComeFromTheCgroup) {
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  const cri::PodSandboxConfig pod_config = PodConfig("uid-pod-4");
  const std::string pod = RunPod(pod_config);
  ASSERT_FALSE(pod.empty());
  cri::ContainerConfig busy = Busybox("busy", {"sh", "-c", "while :; do :; done"});
  busy.mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(64 << 20);
  std::string id;
  ASSERT_TRUE(CreateIn(pod, pod_config, busy, &id).ok());
  ASSERT_TRUE(Start(id).ok());

  // Two samples: the second has a CPU rate, since the loop keeps a core busy.
  cri::ContainerStatsRequest req;
  req.set_container_id(id);
  cri::ContainerStatsResponse first, second;
  grpc::Status s = Call([&](grpc::ClientContext* c) { return runtime_->ContainerStats(c, req, &first); });
  ASSERT_TRUE(s.ok()) << s.error_message();
  ::usleep(300 * 1000);
  s = Call([&](grpc::ClientContext* c) { return runtime_->ContainerStats(c, req, &second); });
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(second.stats().attributes().id(), id);
  EXPECT_EQ(second.stats().attributes().metadata().name(), "busy");
  EXPECT_GT(second.stats().cpu().usage_core_nano_seconds().value(), first.stats().cpu().usage_core_nano_seconds().value());
  EXPECT_GT(second.stats().cpu().usage_nano_cores().value(), 0u);
  EXPECT_GT(second.stats().memory().working_set_bytes().value(), 0u);
  EXPECT_LE(second.stats().memory().working_set_bytes().value(), 64u << 20);
  EXPECT_TRUE(second.stats().memory().has_available_bytes());

  cri::ListContainerStatsRequest list;
  list.mutable_filter()->set_pod_sandbox_id(pod);
  cri::ListContainerStatsResponse listed;
  s = Call([&](grpc::ClientContext* c) { return runtime_->ListContainerStats(c, list, &listed); });
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(listed.stats_size(), 1);

  cri::PodSandboxStatsRequest pod_req;
  pod_req.set_pod_sandbox_id(pod);
  cri::PodSandboxStatsResponse pod_stats;
  s = Call([&](grpc::ClientContext* c) { return runtime_->PodSandboxStats(c, pod_req, &pod_stats); });
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(pod_stats.stats().attributes().metadata().uid(), "uid-pod-4");
  ASSERT_EQ(pod_stats.stats().linux().containers_size(), 1);
  EXPECT_GT(pod_stats.stats().linux().cpu().usage_core_nano_seconds().value(), 0u);
  EXPECT_EQ(pod_stats.stats().linux().network().default_interface().name(), "eth0");
  EXPECT_GE(pod_stats.stats().linux().process().process_count().value(), 2u) << "the pause and the loop";

  // New limits, read back from the container's cgroup.
  cri::UpdateContainerResourcesRequest update;
  update.set_container_id(id);
  update.mutable_linux()->set_memory_limit_in_bytes(96 << 20);
  update.mutable_linux()->set_cpu_period(100000);
  update.mutable_linux()->set_cpu_quota(50000);
  cri::UpdateContainerResourcesResponse updated;
  s = Call([&](grpc::ClientContext* c) { return runtime_->UpdateContainerResources(c, update, &updated); });
  ASSERT_TRUE(s.ok()) << s.error_message();
  if (agent_.CgroupDriverName() == "v1") {
    EXPECT_EQ(ReadText(agent_.CgroupDir(id, "memory") + "/memory.limit_in_bytes"), std::to_string(96 << 20) + "\n");
    EXPECT_EQ(ReadText(agent_.CgroupDir(id, "cpu") + "/cpu.cfs_quota_us"), "50000\n");
  } else {
    EXPECT_EQ(ReadText(agent_.CgroupDir(id, "") + "/memory.max"), std::to_string(96 << 20) + "\n");
    EXPECT_EQ(ReadText(agent_.CgroupDir(id, "") + "/cpu.max"), "50000 100000\n");
  }
  EXPECT_EQ(ContainerStatus(id).resources().linux().memory_limit_in_bytes(), 96 << 20);

  s = RemovePod(pod);
  ASSERT_TRUE(s.ok()) << s.error_message();
}

TEST_F(CriTest, ContainerEventsStreamTheLifecycle) {
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  cri::GetEventsRequest events_req;
  std::unique_ptr<grpc::ClientReader<cri::ContainerEventResponse>> reader =
      runtime_->GetContainerEvents(&ctx, events_req);
  // A first call on the same channel makes sure the stream is there before anything happens.
  cri::VersionRequest vreq;
  cri::VersionResponse vresp;
  ASSERT_TRUE(Call([&](grpc::ClientContext* c) { return runtime_->Version(c, vreq, &vresp); }).ok());
  ::usleep(300 * 1000);

  const cri::PodSandboxConfig pod_config = PodConfig("uid-pod-5");
  const std::string pod = RunPod(pod_config);
  ASSERT_FALSE(pod.empty());
  std::string id;
  ASSERT_TRUE(CreateIn(pod, pod_config, Busybox("short", {"true"}), &id).ok());
  ASSERT_TRUE(Start(id).ok());
  ASSERT_TRUE(agent_.WaitForState(id, v1::EXITED));
  cri::RemoveContainerRequest rm;
  rm.set_container_id(id);
  cri::RemoveContainerResponse rm_resp;
  ASSERT_TRUE(Call([&](grpc::ClientContext* c) { return runtime_->RemoveContainer(c, rm, &rm_resp); }).ok());

  std::vector<cri::ContainerEventType> seen;
  bool pod_started = false;
  cri::ContainerEventResponse event;
  while (seen.size() < 4 && reader->Read(&event)) {
    if (event.container_id() == pod && event.container_event_type() == cri::CONTAINER_STARTED_EVENT) {
      pod_started = true;
      EXPECT_EQ(event.pod_sandbox_status().metadata().uid(), "uid-pod-5");
    }
    if (event.container_id() != id) continue;
    seen.push_back(event.container_event_type());
    EXPECT_GT(event.created_at(), 0);
    EXPECT_EQ(event.pod_sandbox_status().id(), pod);
    if (event.container_event_type() == cri::CONTAINER_STOPPED_EVENT) {
      ASSERT_EQ(event.containers_statuses_size(), 1);
      EXPECT_EQ(event.containers_statuses(0).state(), cri::CONTAINER_EXITED);
    }
  }
  EXPECT_TRUE(pod_started);
  EXPECT_THAT(seen, ::testing::ElementsAre(cri::CONTAINER_CREATED_EVENT, cri::CONTAINER_STARTED_EVENT,
                                           cri::CONTAINER_STOPPED_EVENT, cri::CONTAINER_DELETED_EVENT));
  ctx.TryCancel();

  cri::RemovePodSandboxRequest remove;
  remove.set_pod_sandbox_id(pod);
  cri::RemovePodSandboxResponse removed;
  ASSERT_TRUE(Call([&](grpc::ClientContext* c) { return runtime_->RemovePodSandbox(c, remove, &removed); }).ok());

  // Without criu on the node, a checkpoint says so.
  cri::CheckpointContainerRequest checkpoint;
  checkpoint.set_container_id(id);
  cri::CheckpointContainerResponse checkpointed;
  grpc::Status s = Call([&](grpc::ClientContext* c) { return runtime_->CheckpointContainer(c, checkpoint, &checkpointed); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << "the container is gone";
}

TEST_F(CriTest, BadRequestsAreRefusedWithNothingMade) {
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  cri::RunPodSandboxRequest no_metadata;
  cri::RunPodSandboxResponse rresp;
  grpc::Status s = Call([&](grpc::ClientContext* c) { return runtime_->RunPodSandbox(c, no_metadata, &rresp); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  const cri::PodSandboxConfig pod_config = PodConfig("uid-pod-2");
  std::string id;
  s = CreateIn("0123456789ab", pod_config, Busybox("lost", {"true"}), &id);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("pod sandbox"));

  const std::string pod = RunPod(pod_config);
  ASSERT_FALSE(pod.empty());
  cri::ContainerConfig unknown_image = Busybox("ghost", {"true"});
  unknown_image.mutable_image()->set_image("example.com/no/such:image");
  s = CreateIn(pod, pod_config, unknown_image, &id);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("example.com/no/such:image"));

  cri::ContainerConfig bad_seccomp = Busybox("filtered", {"true"});
  auto* profile = bad_seccomp.mutable_linux()->mutable_security_context()->mutable_seccomp();
  profile->set_profile_type(cri::SecurityProfile::Localhost);
  profile->set_localhost_ref(agent_.dir() + "/no-such-profile.json");
  s = CreateIn(pod, pod_config, bad_seccomp, &id);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("no-such-profile.json"));
  {
    std::ofstream(agent_.dir() + "/garbage.json") << "{ not json";
  }
  profile->set_localhost_ref(agent_.dir() + "/garbage.json");
  s = CreateIn(pod, pod_config, bad_seccomp, &id);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();

  EXPECT_TRUE(Containers().empty()) << "no refused container was made";
  cri::ContainerStatusRequest missing;
  missing.set_container_id("fedcba987654");
  cri::ContainerStatusResponse mresp;
  s = Call([&](grpc::ClientContext* c) { return runtime_->ContainerStatus(c, missing, &mresp); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  // A sandbox is not a container (and the other way round).
  missing.set_container_id(pod);
  s = Call([&](grpc::ClientContext* c) { return runtime_->ContainerStatus(c, missing, &mresp); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);

  cri::RemovePodSandboxRequest remove;
  remove.set_pod_sandbox_id(pod);
  cri::RemovePodSandboxResponse removed;
  s = Call([&](grpc::ClientContext* c) { return runtime_->RemovePodSandbox(c, remove, &removed); });
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(CriTest, PodsSurviveAnAgentKill) {
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  cri::PodSandboxConfig pod_config = PodConfig("uid-pod-3");
  // In a pod cgroup: the restarted agent's sweep of unknown cgroups must look past it.
  pod_config.mutable_linux()->set_cgroup_parent("kubepods/poduid-pod-3");
  const std::string pod = RunPod(pod_config);
  ASSERT_FALSE(pod.empty());
  std::string running, done;
  ASSERT_TRUE(CreateIn(pod, pod_config, Busybox("running", {"sleep", "1000"}), &running).ok());
  ASSERT_TRUE(Start(running).ok());
  ASSERT_TRUE(CreateIn(pod, pod_config, Busybox("done", {"sh", "-c", "exit 4"}), &done).ok());
  ASSERT_TRUE(Start(done).ok());
  ASSERT_TRUE(agent_.WaitForState(done, v1::EXITED));

  agent_.Kill(SIGKILL);
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  auto pods = Pods();
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(pods[0].id(), pod);
  EXPECT_EQ(pods[0].state(), cri::SANDBOX_READY);
  EXPECT_EQ(pods[0].metadata().uid(), "uid-pod-3");
  EXPECT_EQ(ContainerStatus(running).state(), cri::CONTAINER_RUNNING);
  EXPECT_FALSE(ReadText(agent_.CgroupDir("kubepods/poduid-pod-3/" + running, "pids") + "/cgroup.procs").empty());
  cri::ContainerStatus exited = ContainerStatus(done);
  EXPECT_EQ(exited.state(), cri::CONTAINER_EXITED);
  EXPECT_EQ(exited.exit_code(), 4);
  EXPECT_EQ(exited.reason(), "Error");
  // Still one pod: a new container joins the same namespaces.
  std::string late;
  ASSERT_TRUE(CreateIn(pod, pod_config, Busybox("late", {"sleep", "1000"}), &late).ok());
  ASSERT_TRUE(Start(late).ok());
  cri::ExecSyncResponse out;
  ASSERT_TRUE(ExecSync(late, {"hostname"}, &out).ok());
  EXPECT_EQ(out.stdout(), "web-pod\n");

  cri::RemovePodSandboxRequest remove;
  remove.set_pod_sandbox_id(pod);
  cri::RemovePodSandboxResponse removed;
  grpc::Status s = Call([&](grpc::ClientContext* c) { return runtime_->RemovePodSandbox(c, remove, &removed); });
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(Containers().empty());
}

}  // namespace
}  // namespace berth::testing
