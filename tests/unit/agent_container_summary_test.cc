// The summary List writes straight from a record parses as the message `ps` expects: every
// field it shows, none of those it leaves out.
#include "agent/container_summary.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

namespace berth::agent {
namespace {

using google::protobuf::util::MessageDifferencer;

v1::Container Parsed(const v1::Container& record) {
  std::string bytes;
  AppendSummary(record, &bytes);
  v1::Container summary;
  EXPECT_TRUE(summary.ParseFromString(bytes));
  return summary;
}

// A record with every field set, lengths past one varint byte, and a negative exit code.
v1::Container FullRecord() {
  v1::Container r;
  r.set_id(std::string(64, 'a'));
  r.set_name("web-1");
  r.set_image("registry.local/busybox:latest");
  r.add_command("sh");
  r.add_command("-c");
  r.add_command(std::string(300, 'x'));
  r.add_env("PATH=/bin");
  r.set_working_dir("/srv");
  r.set_user("1000:1000");
  r.set_hostname("web");
  (*r.mutable_labels())["tier"] = "front";
  (*r.mutable_labels())["empty"] = "";
  (*r.mutable_labels())[std::string(200, 'k')] = "\xc3\xa9t\xc3\xa9";
  r.mutable_resources()->set_memory_limit_bytes(64 << 20);
  r.set_state(v1::EXITED);
  r.set_pid(4242);
  r.set_exit_code(-1);
  r.set_oom_killed(true);
  r.mutable_created_at()->set_seconds(1700000000);
  r.mutable_created_at()->set_nanos(5);
  r.mutable_started_at()->set_seconds(1700000001);
  r.mutable_finished_at()->set_seconds(1700000002);
  r.mutable_finished_at()->set_nanos(999999999);
  r.set_error("exec: \"nope\": not found");
  v1::ContainerConfig& config = *r.mutable_config();
  config.set_name("web-1");
  config.add_env("SECRET=1");
  v1::Mount* m = config.add_mounts();
  m->set_source(std::string(150, 's'));
  m->set_destination("/data");
  m->set_read_only(true);
  config.add_mounts()->set_destination("/tmp");
  r.set_log_path("/var/lib/berth/containers/a/log");
  v1::NetworkSettings& net = *r.mutable_network_settings();
  net.set_mode("bridge");
  net.set_ip_address("10.88.0.2");
  net.set_prefix_length(16);
  net.add_ports()->set_host_port(8080);
  r.set_image_id("sha256:" + std::string(64, 'b'));
  r.mutable_security()->set_seccomp("default");
  r.set_restart_count(3);
  r.set_stopped_by_caller(true);
  r.mutable_health()->set_status("unhealthy");
  r.mutable_health()->set_failing_streak(4);
  r.mutable_health()->add_log()->set_exit_code(1);
  return r;
}

TEST(ContainerSummary, HasWhatPsShowsAndNothingElse) {
  const v1::Container r = FullRecord();
  v1::Container want;
  want.set_id(r.id());
  want.set_name(r.name());
  want.set_image(r.image());
  *want.mutable_command() = r.command();
  *want.mutable_labels() = r.labels();
  want.set_state(r.state());
  want.set_pid(r.pid());
  want.set_exit_code(r.exit_code());
  want.set_oom_killed(true);
  *want.mutable_created_at() = r.created_at();
  *want.mutable_started_at() = r.started_at();
  *want.mutable_finished_at() = r.finished_at();
  want.set_error(r.error());
  *want.mutable_config()->mutable_mounts() = r.config().mounts();
  *want.mutable_network_settings() = r.network_settings();
  want.set_image_id(r.image_id());
  want.set_restart_count(3);
  want.set_stopped_by_caller(true);
  want.mutable_health()->set_status("unhealthy");
  want.mutable_health()->set_failing_streak(4);

  std::string diff;
  MessageDifferencer differ;
  differ.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differ.Compare(want, Parsed(r))) << diff;
}

TEST(ContainerSummary, SetButEmptyMessagesStaySetAndUnsetOnesStayUnset) {
  v1::Container r;
  r.set_id("c");
  r.mutable_created_at();             // the epoch: set, all zero
  r.mutable_network_settings();       // set, nothing in it
  r.mutable_config()->set_tty(true);  // a configuration without mounts
  const v1::Container s = Parsed(r);
  EXPECT_TRUE(s.has_created_at());
  EXPECT_TRUE(s.has_network_settings());
  EXPECT_FALSE(s.has_started_at());
  EXPECT_FALSE(s.has_finished_at());
  EXPECT_FALSE(s.has_health());
  EXPECT_FALSE(s.has_config());
}

TEST(ContainerSummary, AppendsAfterWhatIsThere) {
  const v1::Container r = FullRecord();
  std::string one, two;
  AppendSummary(r, &one);
  AppendSummary(r, &two);
  AppendSummary(r, &two);
  EXPECT_EQ(two, one + one);
}

}  // namespace
}  // namespace berth::agent
