// berth-kernel-floor: what the kernel alone costs to start a container, with no runtime process
// at all, beside which berth-density's CPU per start (Berth's and crun's) can be read.
//
// --workers processes (as berth-density's clients) each start their share of --containers
// `sleep 3600` containers one after another, in two shapes, in rounds that alternate:
//   - berth: the shape of Berth's default container. Its directory with the overlay's upper,
//     work and mount-point directories and the three /etc files (what berthd writes), a cgroup
//     in each v1 hierarchy with controllers (as the shim makes them), clone into new mount,
//     pid, network, ipc, uts and cgroup namespaces, the join to the cgroups, then in the child:
//     the overlay, /proc, a tmpfs /dev with six device nodes, devpts, /dev/shm, mqueue, a
//     read-only sysfs, the /etc binds, the default spec's sysctl, masked and read-only paths,
//     pivot_root, the hostname, the default capabilities, no_new_privs, Berth's default seccomp
//     filter, and execve;
//   - crun: what berth-density's crun containers are: one shared rootfs (a bind mount), no
//     /etc binds, no sysctl, no filter; the rest alike.
// Every step is one system call with no parsing, checking or bookkeeping around it: no real
// runtime can do less for the same container (device nodes are made with mknod, cheaper than
// Berth's binds). The node's CPU (/proc/stat) is read around each round, as berth-density does.
// The containers run until the end; then they are killed and everything made is removed.
// Not a test: it prints, it asserts nothing.
#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/bench_host.h"
#include "bench/bench_proc.h"
#include "bench/bench_stats.h"
#include "runtime/base/file_util.h"
#include "runtime/seccomp/seccomp_filter.h"
#include "runtime/seccomp/seccomp_profile.h"
#include "runtime/spec/spec.h"

namespace berth::bench {
namespace {

constexpr int kRounds = 4;  // per shape, alternating

enum class Shape { kBerth, kCrun };

// Everything a container's child needs, prepared before the clone: the child only makes
// system calls on it (the workers are single-threaded, but nothing is allocated there anyway).
struct ContainerPlan {
  Shape shape;
  std::string dir;                 // berth: its directory; crun: unused
  std::string rootfs;              // the mount point pivot_root goes to
  std::string overlay_options;     // berth only
  std::vector<int> cgroup_tasks;   // an open `tasks` per hierarchy
};

struct Options {
  int containers = 400;
  int workers = 8;
  std::string tmpdir = "/tmp";
};

// Shared by every worker and child: the compiled filter, the capability numbers to keep, the
// busybox layer.
struct Common {
  seccomp::Program filter;
  std::vector<int> keep_caps;
  std::string lower;   // the busybox layer (berth's overlay lower)
  std::string shared;  // the crun shape's rootfs
  std::vector<CgroupHierarchy> hierarchies;
  std::string cgroup_parent;  // below each hierarchy's own_dir
};

constexpr const char* kMasked[] = {"proc/asound",     "proc/acpi",         "proc/interrupts", "proc/kcore",
                                   "proc/keys",       "proc/latency_stats", "proc/timer_list", "proc/timer_stats",
                                   "proc/sched_debug", "proc/scsi",         "sys/firmware",    "sys/devices/virtual/powercap"};
constexpr const char* kReadOnly[] = {"proc/bus", "proc/fs", "proc/irq", "proc/sys", "proc/sysrq-trigger"};
constexpr const char* kEtcFiles[] = {"hosts", "hostname", "resolv.conf"};

// The child's failure: the step and errno go to the worker through the pipe; exit.
[[noreturn]] void ChildFail(int report_fd, const char* step) {
  char message[160];
  const int n = std::snprintf(message, sizeof(message), "%s: %s", step, std::strerror(errno));
  if (n > 0) (void)!::write(report_fd, message, std::min<size_t>(n, sizeof(message) - 1));
  ::_exit(1);
}

void MountOrFail(int report_fd, const char* source, const char* target, const char* type, unsigned long flags,
                 const char* data) {
  if (::mount(source, target, type, flags, data) != 0) ChildFail(report_fd, target);
}

// The container's side, from the clone to the execve. Returns only on failure (by _exit).
[[noreturn]] void RunChild(const Common& common, const ContainerPlan& plan, int report_fd) {
  const bool berth = plan.shape == Shape::kBerth;
  for (int fd : plan.cgroup_tasks) {
    if (::write(fd, "0", 1) != 1) ChildFail(report_fd, "join the cgroup");
  }
  MountOrFail(report_fd, nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
  if (berth) {
    MountOrFail(report_fd, "overlay", plan.rootfs.c_str(), "overlay", 0, plan.overlay_options.c_str());
  } else {
    MountOrFail(report_fd, plan.rootfs.c_str(), plan.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr);
  }
  if (::chdir(plan.rootfs.c_str()) != 0) ChildFail(report_fd, "chdir to the rootfs");
  MountOrFail(report_fd, "proc", "proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, nullptr);
  MountOrFail(report_fd, "tmpfs", "dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
  struct Device {
    const char* path;
    unsigned major, minor;
  };
  for (const Device& d : {Device{"dev/null", 1, 3}, Device{"dev/zero", 1, 5}, Device{"dev/full", 1, 7},
                          Device{"dev/random", 1, 8}, Device{"dev/urandom", 1, 9}, Device{"dev/tty", 5, 0}}) {
    if (::mknod(d.path, S_IFCHR | 0666, makedev(d.major, d.minor)) != 0) ChildFail(report_fd, d.path);
  }
  for (const char* dir : {"dev/pts", "dev/shm", "dev/mqueue"}) {
    if (::mkdir(dir, 0755) != 0) ChildFail(report_fd, dir);
  }
  MountOrFail(report_fd, "devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
  MountOrFail(report_fd, "shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=1777,size=65536k");
  MountOrFail(report_fd, "mqueue", "dev/mqueue", "mqueue", MS_NOSUID | MS_NOEXEC | MS_NODEV, nullptr);
  for (const auto& [target, link] : {std::pair{"/proc/self/fd", "dev/fd"}, std::pair{"/proc/self/fd/0", "dev/stdin"},
                                     std::pair{"/proc/self/fd/1", "dev/stdout"}, std::pair{"/proc/self/fd/2", "dev/stderr"},
                                     std::pair{"pts/ptmx", "dev/ptmx"}}) {
    if (::symlink(target, link) != 0) ChildFail(report_fd, link);
  }
  MountOrFail(report_fd, "sysfs", "sys", "sysfs", MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY, nullptr);
  if (berth) {
    char source[512], target[64];
    for (const char* name : kEtcFiles) {
      std::snprintf(source, sizeof(source), "%s/%s", plan.dir.c_str(), name);
      std::snprintf(target, sizeof(target), "etc/%s", name);
      const int fd = ::open(target, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
      if (fd < 0) ChildFail(report_fd, target);
      ::close(fd);
      MountOrFail(report_fd, source, target, nullptr, MS_BIND, nullptr);
      MountOrFail(report_fd, nullptr, target, nullptr, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
    }
    const int fd = ::open("proc/sys/net/ipv4/ping_group_range", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "0 2147483647", 12) != 12) ChildFail(report_fd, "net.ipv4.ping_group_range");
    ::close(fd);
  }
  for (const char* path : kMasked) {
    struct stat st;
    if (::stat(path, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      MountOrFail(report_fd, "tmpfs", path, "tmpfs", MS_RDONLY, nullptr);
    } else {
      MountOrFail(report_fd, "dev/null", path, nullptr, MS_BIND, nullptr);
    }
  }
  for (const char* path : kReadOnly) {
    if (::access(path, F_OK) != 0) continue;
    MountOrFail(report_fd, path, path, nullptr, MS_BIND | MS_REC, nullptr);
    MountOrFail(report_fd, nullptr, path, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                nullptr);
  }
  if (::syscall(SYS_pivot_root, ".", ".") != 0) ChildFail(report_fd, "pivot_root");
  if (::umount2(".", MNT_DETACH) != 0) ChildFail(report_fd, "detach the old root");
  if (::chdir("/") != 0) ChildFail(report_fd, "chdir /");
  if (::sethostname("floor", 5) != 0) ChildFail(report_fd, "sethostname");
  __user_cap_data_struct caps[2] = {};
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    if (std::find(common.keep_caps.begin(), common.keep_caps.end(), cap) != common.keep_caps.end()) {
      caps[cap / 32].effective |= 1u << (cap % 32);
      caps[cap / 32].permitted |= 1u << (cap % 32);
      caps[cap / 32].inheritable |= 1u << (cap % 32);
    } else if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      ChildFail(report_fd, "drop a bounding capability");
    }
  }
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  if (::syscall(SYS_capset, &header, caps) != 0) ChildFail(report_fd, "capset");
  if (berth) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ChildFail(report_fd, "no_new_privs");
    if (int err = seccomp::LoadOrErrno(common.filter); err != 0) {
      errno = err;
      ChildFail(report_fd, "load the seccomp filter");
    }
  }
  char arg0[] = "sleep", arg1[] = "3600", env0[] = "PATH=/bin";
  char* argv[] = {arg0, arg1, nullptr};
  char* envp[] = {env0, nullptr};
  ::execve("/bin/sleep", argv, envp);
  ChildFail(report_fd, "execve /bin/sleep");
}

// What the agent and the shim do outside the container for one start, then the clone; waits
// until the child has exec'd (its end of the pipe closes) or failed. Returns the pid.
pid_t StartOne(const Common& common, Shape shape, const std::string& id, const std::string& base) {
  ContainerPlan plan;
  plan.shape = shape;
  if (shape == Shape::kBerth) {
    plan.dir = base + "/" + id;
    MakeDir(plan.dir, 0700);
    for (const char* sub : {"upper", "work", "rootfs"}) MakeDir(plan.dir + "/" + sub, 0700);
    for (const char* name : kEtcFiles) WriteTextFile(plan.dir + "/" + name, "127.0.0.1\tlocalhost\n");
    plan.rootfs = plan.dir + "/rootfs";
    plan.overlay_options = "lowerdir=" + common.lower + ",upperdir=" + plan.dir + "/upper,workdir=" + plan.dir + "/work";
  } else {
    plan.rootfs = common.shared;
  }
  for (const CgroupHierarchy& h : common.hierarchies) {
    const std::string dir = h.own_dir + "/" + common.cgroup_parent + "/" + id;
    MakeCgroup(h, dir);
    const int fd = ::open((dir + "/tasks").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) throw BenchError("open " + dir + "/tasks: " + std::strerror(errno));
    plan.cgroup_tasks.push_back(fd);
  }
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) throw BenchError(std::string("pipe: ") + std::strerror(errno));
  const long pid = ::syscall(SYS_clone, CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS |
                                            CLONE_NEWCGROUP | SIGCHLD,
                             nullptr, nullptr, nullptr, nullptr);
  if (pid == 0) {
    ::close(report[0]);
    RunChild(common, plan, report[1]);
  }
  const int clone_errno = errno;
  ::close(report[1]);
  for (int fd : plan.cgroup_tasks) ::close(fd);
  if (pid < 0) {
    ::close(report[0]);
    throw BenchError(std::string("clone: ") + std::strerror(clone_errno));
  }
  char message[160] = {};
  ssize_t n;
  while ((n = ::read(report[0], message, sizeof(message) - 1)) < 0 && errno == EINTR) {
  }
  ::close(report[0]);
  if (n > 0) throw BenchError("container " + id + ": " + message);
  return static_cast<pid_t>(pid);
}

// One round: `count` starts of `shape` from the workers, ids from `first`. Returns the wall
// time (s) and adds the node's CPU to `cpu`.
double Round(const Common& common, const Options& options, Shape shape, int first, int count, const std::string& base,
             NodeCpu& cpu) {
  const NodeCpu before = ReadNodeCpu();
  const auto t0 = Clock::now();
  std::fflush(nullptr);  // or each worker would print what is buffered again
  std::vector<pid_t> workers;
  for (int w = 0; w < options.workers; ++w) {
    const pid_t pid = ::fork();
    if (pid < 0) throw BenchError(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      int rc = 0;
      try {
        for (int i = first + w; i < first + count; i += options.workers) {
          std::string id = shape == Shape::kBerth ? "b" : "c";
          id += std::to_string(i);
          StartOne(common, shape, id, base);
        }
      } catch (const BenchError& e) {
        std::fprintf(stderr, "berth-kernel-floor: %s\n", e.what());
        rc = 1;
      }
      std::fflush(nullptr);
      ::_exit(rc);
    }
    workers.push_back(pid);
  }
  bool failed = false;
  for (pid_t pid : workers) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    failed = failed || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
  }
  const double seconds = MillisBetween(t0, Clock::now()) / 1000.0;
  AddNodeCpu(cpu, before, ReadNodeCpu());
  if (failed) throw BenchError("a worker failed (above)");
  return seconds;
}

// SIGKILL to every process in the cgroups one level below `parent` (each container's).
void KillCgroupMembers(const std::string& parent) {
  DIR* dir = ::opendir(parent.c_str());
  if (dir == nullptr) return;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
    FILE* procs = std::fopen((parent + "/" + e->d_name + "/cgroup.procs").c_str(), "r");
    if (procs == nullptr) continue;
    int pid;
    while (std::fscanf(procs, "%d", &pid) == 1) ::kill(pid, SIGKILL);
    std::fclose(procs);
  }
  ::closedir(dir);
}

void PrintShape(const char* what, int containers, double seconds, const NodeCpu& cpu) {
  std::printf("  %-58s %7.1f/s  %5.2f ms of CPU each (node %.0f %% busy)\n", what, containers / seconds,
              1000 * cpu.busy_s / containers, BusyPercent(cpu));
}

int Run(const Options& options, const std::string& command) {
  if (::geteuid() != 0) throw BenchError("needs root (namespaces, mounts, cgroups)");
  if (::access("/bin/busybox", X_OK) != 0) throw BenchError("no /bin/busybox (install busybox-static)");
  // Orphaned containers (their worker has exited) are reparented here and reaped at the end.
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) throw BenchError("PR_SET_CHILD_SUBREAPER failed");

  Common common;
  absl::StatusOr<seccomp::Program> filter =
      seccomp::Compile(seccomp::Resolve(seccomp::DefaultProfile(), spec::DefaultCapabilities()));
  if (!filter.ok()) throw BenchError("compiling the default seccomp profile: " + std::string(filter.status().message()));
  common.filter = *std::move(filter);
  for (const std::string& name : spec::DefaultCapabilities()) {
    absl::StatusOr<int> number = spec::CapabilityNumber(name);
    if (number.ok()) common.keep_caps.push_back(*number);
  }
  for (CgroupHierarchy& h : OwnCgroupHierarchies()) {
    // The hierarchies Berth's containers get a cgroup in: v1, with controllers.
    const std::string name = h.mount_point.substr(h.mount_point.find_last_of('/') + 1);
    if (!h.v2 && name != "systemd") common.hierarchies.push_back(std::move(h));
  }
  if (common.hierarchies.empty()) throw BenchError("no cgroup v1 hierarchy with controllers: nothing to compare with");
  common.cgroup_parent = "berth-kernel-floor-" + std::to_string(::getpid());

  const std::string tmp = MakeTempDir(options.tmpdir, "berth-kernel-floor-");
  bool left = false;
  auto cleanup = [&] {
    // The containers are this process's children by now (their workers have exited): killed
    // through the cgroups that hold them, then reaped, before their cgroups can go.
    KillCgroupMembers(common.hierarchies.front().own_dir + "/" + common.cgroup_parent);
    while (::waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
    }
    for (const CgroupHierarchy& h : common.hierarchies) {
      left = !KillAndRemoveCgroupTree(h.own_dir + "/" + common.cgroup_parent) || left;
    }
    left = !RemoveTree(tmp) || left;
  };
  int rc = 0;
  try {
    for (const CgroupHierarchy& h : common.hierarchies) MakeCgroup(h, h.own_dir + "/" + common.cgroup_parent);
    common.lower = tmp + "/lower";
    common.shared = tmp + "/shared";
    const std::string base = tmp + "/containers";
    for (const std::string& root : {common.lower, common.shared}) {
      MakeDir(root);
      for (const char* sub : {"bin", "dev", "etc", "proc", "sys", "tmp"}) MakeDir(root + "/" + sub);
      const std::string busybox = root + "/bin/busybox";
      WriteTextFile(busybox, ReadTextFile("/bin/busybox"));
      if (::chmod(busybox.c_str(), 0755) != 0 || ::symlink("busybox", (root + "/bin/sleep").c_str()) != 0) {
        throw BenchError("making " + root + ": " + std::strerror(errno));
      }
    }
    MakeDir(base, 0700);
    // As berthd marks its containers directory: ext4 spreads the containers' directories over
    // its block groups instead of packing them, and their inodes, near the last run's.
    (void)MarkTopOfTrees(base);

    std::printf("berth-kernel-floor: %d starts of each shape from %d workers, in %d alternating rounds\n",
                options.containers, options.workers, 2 * kRounds);
    double berth_s = 0, crun_s = 0;
    NodeCpu berth_cpu, crun_cpu;
    for (int r = 0; r < kRounds; ++r) {
      const int first = options.containers * r / kRounds;
      const int count = options.containers * (r + 1) / kRounds - first;
      auto berth_round = [&] { berth_s += Round(common, options, Shape::kBerth, first, count, base, berth_cpu); };
      auto crun_round = [&] { crun_s += Round(common, options, Shape::kCrun, first, count, base, crun_cpu); };
      if (r % 2 == 0) {
        berth_round();
        crun_round();
      } else {
        crun_round();
        berth_round();
      }
    }
    std::printf("\nThe kernel's work alone per container start (no runtime process; sleep 3600)\n");
    PrintShape("Berth's default container (overlay, /etc, seccomp, sysctl)", options.containers, berth_s, berth_cpu);
    PrintShape("berth-density's crun container (shared rootfs, no filter)", options.containers, crun_s, crun_cpu);
    std::printf("  compare: berth-density's \"node CPU in the timed rounds\" (the same CPUs, the whole runtimes)\n");
    std::printf("  reproduce: %s\n", command.c_str());
  } catch (const BenchError& e) {
    std::fprintf(stderr, "berth-kernel-floor: %s\n", e.what());
    rc = 1;
  }
  cleanup();
  if (left) {
    std::fprintf(stderr, "berth-kernel-floor: could not remove everything it made (cgroups below %s, or %s)\n",
                 common.cgroup_parent.c_str(), tmp.c_str());
    rc = 1;
  }
  return rc;
}

}  // namespace
}  // namespace berth::bench

int main(int argc, char** argv) {
  berth::bench::Options options;
  CLI::App app{"berth-kernel-floor: the kernel's own CPU per container start, without any runtime process"};
  app.add_option("--containers", options.containers, "starts of each shape")->check(CLI::Range(8, 100000));
  app.add_option("--workers", options.workers, "processes starting containers in parallel")->check(CLI::Range(1, 256));
  app.add_option("--tmpdir", options.tmpdir, "where the temp dir goes (the overlay's upper dirs: not on overlayfs)");
  CLI11_PARSE(app, argc, argv);
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);
  try {
    return berth::bench::Run(options, command);
  } catch (const berth::bench::BenchError& e) {
    std::fprintf(stderr, "berth-kernel-floor: %s\n", e.what());
    return 1;
  }
}
