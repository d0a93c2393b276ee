// Processes for berth-bench: spawning and waiting (posix_spawn, no shell), and what /proc says
// about a process (memory, parent, name). Failures throw BenchError.
#pragma once

#include <sys/types.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace berth::bench {

struct BenchError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Set by SIGINT/SIGTERM/SIGHUP; the measuring loops stop (throw) when it is set.
bool Interrupted();
void InstallInterruptHandlers();
void ThrowIfInterrupted();

struct SpawnOptions {
  std::string stdin_path = "/dev/null";
  std::string stdout_path = "/dev/null";
  std::string stderr_path = "/dev/null";  // opened for append
  std::string cwd;                        // empty: the bench's
  bool own_process_group = false;         // so a ^C at the terminal reaches only the bench
  // "NAME=VALUE" entries set on top of the bench's environment (replacing a NAME it has).
  std::vector<std::string> env;
};

// argv[0] is the program path (absolute, or looked up in PATH).
pid_t Spawn(const std::vector<std::string>& argv, const SpawnOptions& options = {});
// The raw wait status; retries on EINTR.
int WaitFor(pid_t pid);
// Spawn + WaitFor; the wait status.
int RunToCompletion(const std::vector<std::string>& argv, const SpawnOptions& options = {});
bool ExitedZero(int wait_status);
std::string DescribeWaitStatus(int wait_status);

// An executable: `name` if it has a slash, else the first match in PATH; empty if none.
std::string FindExecutable(const std::string& name);
// The directory this program was started from (via /proc/self/exe).
std::string SelfDir();

struct MemoryUse {
  long vm_rss_kb = -1;     // /proc/PID/status VmRSS
  long rss_anon_kb = -1;   // RssAnon
  long rss_file_kb = -1;   // RssFile
  long pss_kb = -1;        // /proc/PID/smaps_rollup Pss
};
MemoryUse ReadMemoryUse(pid_t pid);
pid_t ParentPid(pid_t pid);  // -1 if unknown

// The node's CPU time so far, all CPUs together (/proc/stat), in seconds: busy (user, nice,
// system, irq, softirq, steal) and idle (idle, iowait). Differences of two readings say how
// busy the node was between them.
struct NodeCpu {
  double busy_s = 0;
  double idle_s = 0;
};
NodeCpu ReadNodeCpu();
// Adds the CPU time between two readings to `sum` (one timed stretch of several).
void AddNodeCpu(NodeCpu& sum, const NodeCpu& before, const NodeCpu& after);
// The busy share of the CPU time in `cpu`, in percent (0 when there is none).
double BusyPercent(const NodeCpu& cpu);
std::string CommOf(pid_t pid);
bool ProcessExists(pid_t pid);

// Last `max_bytes` of a file, for error messages.
std::string FileTail(const std::string& path, size_t max_bytes = 2000);

}  // namespace berth::bench
