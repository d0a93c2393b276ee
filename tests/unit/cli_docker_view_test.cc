// berth CLI: the docker-shaped views `inspect -f` reads (cli/docker_view.h) and the rows of
// `ps`/`images`/`network ls --format` (cli/list_views.h), built from berth.v1 messages.
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/time/time.h"
#include "cli/docker_view.h"
#include "cli/human_format.h"
#include "cli/image_format.h"
#include "cli/list_views.h"
#include "cli/ps_table.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;
using json = nlohmann::json;

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

v1::Container RunningContainer() {
  v1::Container c;
  c.set_id(std::string(64, 'a'));
  c.set_name("web");
  c.set_image("busybox");
  c.set_image_id("sha256:" + std::string(64, 'b'));
  for (const char* arg : {"/entry", "sleep", "1000"}) c.add_command(arg);
  c.add_env("PATH=/bin");
  c.set_hostname("web-host");
  (*c.mutable_labels())["tier"] = "front";
  (*c.mutable_labels())["app"] = "web";
  c.set_state(v1::RUNNING);
  c.set_pid(4242);
  *c.mutable_created_at() = TimeToProto(kNow - absl::Minutes(3));
  c.mutable_started_at()->set_seconds(1700000000 - 120);
  c.mutable_started_at()->set_nanos(500000000);
  c.mutable_resources()->set_memory_limit_bytes(64 << 20);
  c.mutable_resources()->set_cpu_millis(500);
  v1::ContainerConfig* cfg = c.mutable_config();
  cfg->add_command("sleep");
  cfg->add_command("1000");
  cfg->mutable_restart_policy()->set_name("on-failure");
  cfg->mutable_restart_policy()->set_max_retries(3);
  v1::Mount* mount = cfg->add_mounts();
  mount->set_source("/srv/a-long-data-directory");
  mount->set_destination("/data");
  mount->set_read_only(true);
  v1::PortMapping* asked = cfg->add_ports();
  asked->set_host_port(8080);
  asked->set_container_port(80);
  v1::NetworkSettings* ns = c.mutable_network_settings();
  ns->set_mode("bridge");
  ns->set_network("bridge");
  ns->set_network_id("n1");
  ns->set_ip_address("10.89.0.2");
  ns->set_gateway("10.89.0.1");
  *ns->add_ports() = *asked;
  return c;
}

TEST(ContainerView, DockerShape) {
  const json v = ContainerView(RunningContainer(), nullptr);
  EXPECT_EQ(v["Id"], std::string(64, 'a'));
  EXPECT_EQ(v["Name"], "/web");
  EXPECT_EQ(v["Path"], "/entry");
  EXPECT_EQ(v["Args"], json({"sleep", "1000"}));
  EXPECT_EQ(v["Image"], "sha256:" + std::string(64, 'b'));
  EXPECT_EQ(v["State"]["Status"], "running");
  EXPECT_EQ(v["State"]["Running"], true);
  EXPECT_EQ(v["State"]["Pid"], 4242);
  EXPECT_EQ(v["State"]["StartedAt"], "2023-11-14T22:11:20.5Z");
  EXPECT_EQ(v["State"]["FinishedAt"], "0001-01-01T00:00:00Z");
  EXPECT_FALSE(v["State"].contains("Health"));
  EXPECT_EQ(v["Config"]["Labels"], json({{"app", "web"}, {"tier", "front"}}));
  EXPECT_EQ(v["Config"]["Image"], "busybox");
  EXPECT_EQ(v["Config"]["Hostname"], "web-host");
  // The create asked for the command: what runs before it is the image's entrypoint.
  EXPECT_EQ(v["Config"]["Cmd"], json({"sleep", "1000"}));
  EXPECT_EQ(v["Config"]["Entrypoint"], json({"/entry"}));
  EXPECT_EQ(v["HostConfig"]["RestartPolicy"], json({{"Name", "on-failure"}, {"MaximumRetryCount", 3}}));
  EXPECT_EQ(v["HostConfig"]["Memory"], 64 << 20);
  EXPECT_EQ(v["HostConfig"]["NanoCpus"], 500000000);
  EXPECT_EQ(v["HostConfig"]["NetworkMode"], "bridge");
  EXPECT_EQ(v["HostConfig"]["PortBindings"], json::parse(R"({"80/tcp":[{"HostIp":"","HostPort":"8080"}]})"));
  EXPECT_EQ(v["NetworkSettings"]["Ports"], json::parse(R"({"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]})"));
  EXPECT_EQ(v["NetworkSettings"]["Networks"]["bridge"]["IPAddress"], "10.89.0.2");
  EXPECT_EQ(v["Mounts"], json::parse(R"([{"Type":"bind","Source":"/srv/a-long-data-directory",
                                          "Destination":"/data","Mode":"ro","RW":false}])"));
}

TEST(ContainerView, EntrypointAndCmdWithoutOverrides) {
  v1::Container c = RunningContainer();
  c.mutable_config()->clear_command();
  // Nothing to split by: Cmd is the argv, the entrypoint unknown.
  json v = ContainerView(c, nullptr);
  EXPECT_EQ(v["Config"]["Cmd"], json({"/entry", "sleep", "1000"}));
  EXPECT_FALSE(v["Config"].contains("Entrypoint"));
  // With the image, its own.
  v1::Image image;
  image.add_entrypoint("/entry");
  image.add_cmd("sleep");
  image.add_cmd("1000");
  v = ContainerView(c, &image);
  EXPECT_EQ(v["Config"]["Entrypoint"], json({"/entry"}));
  EXPECT_EQ(v["Config"]["Cmd"], json({"sleep", "1000"}));
  // An entrypoint the create gave replaces the image's.
  c.mutable_config()->add_entrypoint("/entry");
  v = ContainerView(c, &image);
  EXPECT_EQ(v["Config"]["Entrypoint"], json({"/entry"}));
  EXPECT_EQ(v["Config"]["Cmd"], json({"sleep", "1000"}));
}

TEST(InspectView, KeepsTheProtoFieldsBeside) {
  absl::StatusOr<json> v = InspectView(RunningContainer());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ((*v)["state"], "RUNNING");
  EXPECT_EQ((*v)["name"], "web");
  EXPECT_EQ((*v)["Name"], "/web");
  EXPECT_EQ((*v)["State"]["Status"], "running");

  v1::Network n;
  n.set_id(std::string(64, 'c'));
  n.set_name("net1");
  n.set_driver("bridge");
  n.set_subnet("10.77.0.0/24");
  n.set_gateway("10.77.0.1");
  n.add_containers("c1");
  absl::StatusOr<json> nv = InspectView(n);
  ASSERT_TRUE(nv.ok()) << nv.status();
  EXPECT_EQ((*nv)["IPAM"]["Config"], json::parse(R"([{"Subnet":"10.77.0.0/24","Gateway":"10.77.0.1"}])"));
  EXPECT_EQ((*nv)["Containers"], json::parse(R"({"c1":{}})"));
  EXPECT_EQ((*nv)["subnet"], "10.77.0.0/24");

  v1::Image image;
  image.set_id("sha256:" + std::string(64, 'd'));
  image.add_names("busybox:latest");
  image.add_names("busybox:1");
  image.set_manifest_digest("sha256:" + std::string(64, 'e'));
  absl::StatusOr<json> iv = InspectView(image);
  ASSERT_TRUE(iv.ok()) << iv.status();
  EXPECT_EQ((*iv)["RepoTags"], json({"busybox:latest", "busybox:1"}));
  EXPECT_EQ((*iv)["RepoDigests"], json({"busybox@sha256:" + std::string(64, 'e')}));
}

TEST(ListViews, PsRowEqualsTheTable) {
  const v1::Container c = RunningContainer();
  const json row = PsRowView({"", &c}, /*with_node=*/false, /*no_trunc=*/false, kNow);
  const std::vector<std::vector<std::string>> table = PsTableRows({{"", &c}}, false, false, kNow);
  ASSERT_EQ(table.size(), 2u);
  EXPECT_EQ(row["ID"], table[1][0]);
  EXPECT_EQ(row["Image"], table[1][1]);
  EXPECT_EQ(row["Command"], table[1][2]);
  EXPECT_EQ(row["RunningFor"], table[1][3]);
  EXPECT_EQ(row["Status"], table[1][4]);
  EXPECT_EQ(row["Ports"], table[1][5]);
  EXPECT_EQ(row["Names"], table[1][6]);
  EXPECT_EQ(row["State"], "running");
  EXPECT_EQ(row["Labels"], "app=web,tier=front");
  EXPECT_EQ(row["Mounts"], "/srv/a-long-da\u2026");
  EXPECT_EQ(row["Networks"], "bridge");
  EXPECT_FALSE(row.contains("Node"));
  EXPECT_EQ(PsRowView({"node-1", &c}, true, true, kNow)["Node"], "node-1");
}

TEST(ListViews, ImageAndNetworkRows) {
  v1::Image image;
  image.set_id("sha256:" + std::string(64, 'd'));
  image.add_names("busybox:latest");
  image.set_size(4300000);
  const std::vector<json> rows = ImageRowViews({image}, false, kNow);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["Repository"], "busybox");
  EXPECT_EQ(rows[0]["Tag"], "latest");
  EXPECT_EQ(rows[0]["ID"], std::string(12, 'd'));
  EXPECT_EQ(rows[0]["Size"], "4.3MB");
  EXPECT_EQ(rows[0]["CreatedSince"], "N/A");
  EXPECT_EQ(rows[0]["Digest"], "<none>");

  v1::Network n;
  n.set_id(std::string(64, 'c'));
  n.set_name("net1");
  n.set_driver("bridge");
  (*n.mutable_labels())["b"] = "2";
  (*n.mutable_labels())["a"] = "1";
  const json row = NetworkRowView(n, false);
  EXPECT_EQ(row["ID"], std::string(12, 'c'));
  EXPECT_EQ(row["Name"], "net1");
  EXPECT_EQ(row["Labels"], "a=1,b=2");
  EXPECT_EQ(row["Scope"], "local");
}

}  // namespace
}  // namespace berth::cli
