// The planning half of process_plan.h and the statuses failures stand for; the applying half
// runs in every container and exec of container_runtime_test.
#include "runtime/container/process_plan.h"

#include <linux/capability.h>

#include <cerrno>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/container/sync_channel.h"

namespace berth::container_internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

spec::Process ProcessOf(std::vector<std::string> args, std::vector<std::string> env) {
  spec::Process p;
  p.args = std::move(args);
  p.env = std::move(env);
  return p;
}

TEST(PlanExec, SearchesTheProcessesOwnPathInOrder) {
  spec::Process p = ProcessOf({"tool", "-v"}, {"HOME=/", "PATH=/opt/bin:/usr/bin/::/sbin"});
  absl::StatusOr<ExecPlan> plan = PlanExec(p);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(plan->searched);
  EXPECT_THAT(plan->candidates, ElementsAre("/opt/bin/tool", "/usr/bin/tool", "tool", "/sbin/tool"));
  ASSERT_EQ(plan->argv.size(), 3u);
  EXPECT_EQ(plan->argv[0], p.args[0].c_str());  // into the process, not copies
  EXPECT_EQ(plan->argv[2], nullptr);
  ASSERT_EQ(plan->envp.size(), 3u);
  EXPECT_EQ(plan->envp[2], nullptr);

  ProcessFailure missing{ProcessStep::kExecSearch, ENOENT, 0};
  ProcessPlan whole;
  whole.exec = std::move(*plan);
  absl::Status st = DescribeFailure(whole, missing);
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(st.message(), HasSubstr("exec tool (searched PATH /opt/bin:/usr/bin/::/sbin)"));
  EXPECT_EQ(ErrnoOf(st), ENOENT);

  ProcessFailure denied{ProcessStep::kExec, EACCES, 1};
  st = DescribeFailure(whole, denied);
  EXPECT_THAT(st.message(), HasSubstr("exec /usr/bin/tool"));
  EXPECT_EQ(ErrnoOf(st), EACCES);
}

TEST(PlanExec, APathIsTriedAloneAndWithoutPathTheDefaultIsSearched) {
  absl::StatusOr<ExecPlan> plan = PlanExec(ProcessOf({"./run.sh"}, {}));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_FALSE(plan->searched);
  EXPECT_THAT(plan->candidates, ElementsAre("./run.sh"));

  plan = PlanExec(ProcessOf({"sh"}, {"HOME=/"}));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->candidates.front(), "/usr/local/sbin/sh");
  EXPECT_EQ(plan->candidates.back(), "/bin/sh");

  EXPECT_EQ(PlanExec(ProcessOf({}, {})).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PlanCredentials, CapabilityNamesBecomeTheKernelsBits) {
  spec::Capabilities caps;
  caps.bounding = {"CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_SETUID"};
  caps.effective = {"CAP_CHOWN", "CAP_NET_BIND_SERVICE"};
  caps.permitted = {"CAP_CHOWN", "CAP_NET_BIND_SERVICE"};
  caps.ambient = {"CAP_NET_BIND_SERVICE"};
  absl::StatusOr<CredentialPlan> plan = PlanCredentials({1000, 100, {10, 20}}, caps);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->uid, 1000u);
  EXPECT_EQ(plan->gid, 100u);
  EXPECT_THAT(plan->groups, ElementsAre(10u, 20u));
  EXPECT_TRUE(plan->capabilities);
  EXPECT_EQ(plan->bounding, (uint64_t{1} << CAP_CHOWN) | (uint64_t{1} << CAP_NET_BIND_SERVICE) |
                                (uint64_t{1} << CAP_SETUID));
  EXPECT_EQ(plan->sets[0].effective, (1u << CAP_CHOWN) | (1u << CAP_NET_BIND_SERVICE));
  EXPECT_EQ(plan->sets[0].permitted, plan->sets[0].effective);
  EXPECT_EQ(plan->sets[0].inheritable, 0u);
  EXPECT_EQ(plan->sets[1].effective, 0u);
  EXPECT_THAT(plan->ambient, ElementsAre(CAP_NET_BIND_SERVICE));

  absl::StatusOr<CredentialPlan> none = PlanCredentials({0, 0, {}}, std::nullopt);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->capabilities);

  caps.effective.push_back("CAP_NO_SUCH_THING");
  absl::StatusOr<CredentialPlan> bad = PlanCredentials({0, 0, {}}, caps);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("process.capabilities.effective"));
}

TEST(DescribeFailure, NamesTheStepAndWhatItWasAskedToDo) {
  spec::Process p = ProcessOf({"true"}, {});
  p.cwd = "/work";
  p.user = {1000, 1000, {}};
  p.rlimits = {{"RLIMIT_NOFILE", 2048, 1024}};
  const int stdio[3] = {-1, 5, 6};
  absl::StatusOr<ProcessPlan> plan = PlanProcess(p, stdio, 9, nullptr, 0);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->stdio[0], 9);  // none given: /dev/null's fd

  auto message = [&](ProcessStep step, int err, int detail = 0) {
    return std::string(DescribeFailure(*plan, {step, err, detail}).message());
  };
  EXPECT_THAT(message(ProcessStep::kChdir, ENOENT), HasSubstr("chdir /work"));
  EXPECT_THAT(message(ProcessStep::kCwdOutsideRoot, EPERM), HasSubstr("cwd /work is outside the container's root"));
  EXPECT_THAT(message(ProcessStep::kDupStdio, EBADF, 2), HasSubstr("dup stdio fd 6"));
  EXPECT_THAT(message(ProcessStep::kRlimit, EPERM, 0), HasSubstr("setrlimit RLIMIT_NOFILE soft 1024 hard 2048"));
  EXPECT_THAT(message(ProcessStep::kSetresuid, EPERM), HasSubstr("setresuid 1000"));
  EXPECT_THAT(message(ProcessStep::kRaiseAmbient, EPERM, 12), HasSubstr("raise ambient capability 12"));
  EXPECT_TRUE(DescribeFailure(*plan, {}).ok());

  const int closed[3] = {-1, -1, -1};
  absl::StatusOr<ProcessPlan> unplannable = PlanProcess(p, closed, -1, nullptr, 0);
  EXPECT_FALSE(unplannable.ok()) << "no stdio and no /dev/null to stand in";
  EXPECT_THAT(unplannable.status().message(), HasSubstr("stdio fd 0"));
}

}  // namespace
}  // namespace berth::container_internal
