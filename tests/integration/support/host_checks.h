// Host-side observations for integration tests: what a test can see of an agent's containers
// without asking the agent (directories under its root, cgroups, processes), and bounded
// polling for conditions that become true asynchronously.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/support/agent_harness.h"

namespace berth::testing {

// Names in a directory (without "." and ".."); empty when it does not exist.
std::vector<std::string> DirEntries(const std::string& dir);

// True while `pid` exists and is not a zombie (the VM's PID 1 reaps orphans late, so a
// zombie counts as gone).
bool PidRunning(pid_t pid);

// The namespace `pid` is in, as its /proc/<pid>/ns/<type> link reads ("net:[4026531840]"); a
// text naming the link when it cannot be read, so that two unreadable ones never compare equal.
std::string NamespaceOf(pid_t pid, const std::string& type);

// Polls `condition` every 20 ms until it holds or `timeout` passed; returns its last value.
bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// <root>/containers of an agent, and the container ids (64 hex) that have a directory there.
std::string ContainersDir(const AgentHarness& agent);
std::set<std::string> ContainerDirIds(const AgentHarness& agent);

// Container ids (64 hex) that have a cgroup below the agent's cgroup parent in `controller`.
std::set<std::string> ContainerCgroupIds(const AgentHarness& agent, const std::string& controller = "pids");

// The shim's pid from a container's state.json; 0 when unreadable.
pid_t ShimPidFromState(const AgentHarness& agent, const std::string& id);

// Every container the agent lists (all states); fails the test when List fails.
std::vector<v1::Container> ListAll(AgentHarness& agent);

// True when `s` is 64 lowercase hex characters.
bool IsHexId(const std::string& s);

}  // namespace berth::testing
