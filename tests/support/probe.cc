// berth-probe: a static program the integration tests run inside containers to try, one raw
// syscall at a time, what a container must not be able to do (and what --privileged allows).
//
//   berth-probe NAME...   runs the named probes (all of them with "all")
//   berth-probe euid      prints the effective uid (for setuid checks)
//   berth-probe fds       prints the open fds other than the one listing them
//
// Each probe prints one line "NAME=RESULT": "ok", an errno name ("EPERM"), or a short word
// for results that are neither ("empty" for a masked file). Nothing a probe does outlives the
// probe; where success would change the node (a clock, a reboot, sysrq), the probe asks in a
// way the kernel refuses on its own terms (EINVAL, ENOENT) once the seccomp filter and
// capabilities let the call through, and never writes.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <linux/sched.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

namespace {

const char* ErrnoName(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EROFS: return "EROFS";
    case ENOSYS: return "ENOSYS";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case EBADF: return "EBADF";
    case ENOEXEC: return "ENOEXEC";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case ESTALE: return "ESTALE";
    case ENXIO: return "ENXIO";
    case ENODEV: return "ENODEV";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENOMEM: return "ENOMEM";
    case EBUSY: return "EBUSY";
    case ESRCH: return "ESRCH";
    case EEXIST: return "EEXIST";
    default: {
      static char buf[32];
      snprintf(buf, sizeof(buf), "E%d", err);
      return buf;
    }
  }
}

// "ok" when rc >= 0 (closing a returned fd when `fd`), else the errno's name.
std::string Result(long rc, bool fd = false) {
  if (rc >= 0) {
    if (fd) close(static_cast<int>(rc));
    return "ok";
  }
  return ErrnoName(errno);
}

std::string ProbeMount() {
  mkdir("/tmp/berth-probe-mnt", 0700);
  long rc = mount("tmpfs", "/tmp/berth-probe-mnt", "tmpfs", 0, nullptr);
  if (rc == 0) umount2("/tmp/berth-probe-mnt", MNT_DETACH);
  return Result(rc);
}

std::string ProbeUnshare(int flags) {
  // In a child: a namespace that was made must not change the probe's own view.
  pid_t pid = fork();
  if (pid == 0) _exit(unshare(flags) == 0 ? 0 : errno);
  int status = 0;
  waitpid(pid, &status, 0);
  int err = WIFEXITED(status) ? WEXITSTATUS(status) : 255;
  if (err == 0) return "ok";
  return ErrnoName(err);
}

std::string ProbeKeyctl() {
  return Result(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
}

std::string ProbeBpf() {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.map_type = BPF_MAP_TYPE_ARRAY;
  attr.key_size = 4;
  attr.value_size = 4;
  attr.max_entries = 1;
  return Result(syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr)), true);
}

std::string ProbePerf() {
  struct perf_event_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.type = PERF_TYPE_SOFTWARE;
  attr.size = sizeof(attr);
  attr.config = PERF_COUNT_SW_TASK_CLOCK;
  attr.disabled = 1;
  attr.exclude_kernel = 1;
  attr.exclude_hv = 1;
  return Result(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0), true);
}

std::string ProbeIoUring() {
  struct io_uring_params params;
  memset(&params, 0, sizeof(params));
  return Result(syscall(SYS_io_uring_setup, 1, &params), true);
}

std::string ProbeUserfaultfd() { return Result(syscall(SYS_userfaultfd, O_CLOEXEC), true); }

// The "shocker" attack: open a file by a handle, which bypasses the container's root.
std::string ProbeNameToHandle() {
  struct {
    struct file_handle h;
    unsigned char bytes[128];
  } handle;
  handle.h.handle_bytes = sizeof(handle.bytes);
  int mount_id = 0;
  return Result(syscall(SYS_name_to_handle_at, AT_FDCWD, "/", &handle.h, &mount_id, 0));
}

std::string ProbeOpenByHandle() {
  struct {
    struct file_handle h;
    unsigned char bytes[128];
  } handle;
  memset(&handle, 0, sizeof(handle));
  handle.h.handle_bytes = sizeof(handle.bytes);
  int mount_id = 0;
  // A real handle when the kernel gives one; else ext4's root inode, as the attack guesses.
  if (syscall(SYS_name_to_handle_at, AT_FDCWD, "/", &handle.h, &mount_id, 0) != 0) {
    handle.h.handle_bytes = 8;
    handle.h.handle_type = 1;
    unsigned int root_inode[2] = {2, 0};
    memcpy(handle.h.f_handle, root_inode, sizeof(root_inode));
  }
  int mount_fd = open("/", O_RDONLY | O_DIRECTORY);
  long rc = syscall(SYS_open_by_handle_at, mount_fd, &handle.h, O_RDONLY);
  int err = errno;
  close(mount_fd);
  errno = err;
  return Result(rc, true);
}

std::string ProbePtrace() {
  pid_t target = fork();
  if (target == 0) {
    for (;;) pause();
  }
  long rc = ptrace(PTRACE_ATTACH, target, nullptr, nullptr);
  int err = errno;
  kill(target, SIGKILL);
  waitpid(target, nullptr, 0);
  errno = err;
  return Result(rc);
}

// In /dev: where a node could work at all (a privileged container's /dev allows devices).
constexpr char kBlockNode[] = "/dev/berth-probe-blk";

std::string ProbeMknodBlock() {
  unlink(kBlockNode);
  long rc = mknod(kBlockNode, S_IFBLK | 0600, makedev(7, 0));
  return Result(rc);
}

// After mknod_block: can the node's loop0 be opened for reading through it?
std::string ProbeReadBlock() {
  struct stat st;
  if (lstat(kBlockNode, &st) != 0) return "absent";
  int fd = open(kBlockNode, O_RDONLY);
  std::string out = Result(fd);
  if (fd >= 0) close(fd);
  unlink(kBlockNode);
  return out;
}

// ping without CAP_NET_RAW: an ICMP datagram socket (net.ipv4.ping_group_range) sends an
// echo request to 127.0.0.1 and gets the reply.
std::string ProbeIcmpEcho() {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMP);
  if (fd < 0) return ErrnoName(errno);
  struct sockaddr_in to = {};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  unsigned char echo[16] = {8 /* ICMP_ECHO */, 0, 0, 0, 0, 0, 0, 1, 'b', 'e', 'r', 't', 'h'};
  struct timeval tv = {2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string out = "ok";
  unsigned char reply[64];
  if (sendto(fd, echo, sizeof(echo), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)) < 0) {
    out = ErrnoName(errno);
  } else if (recv(fd, reply, sizeof(reply), 0) < 8 || reply[0] != 0 /* ICMP_ECHOREPLY */) {
    out = "no-reply";
  }
  close(fd);
  return out;
}

std::string ProbeRawSocket() { return Result(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), true); }

std::string ProbeOpenWrite(const char* path) { return Result(open(path, O_WRONLY | O_CLOEXEC), true); }

std::string ProbeCgroupMount() {
  mkdir("/tmp/berth-probe-cg", 0700);
  long rc = mount("cgroup", "/tmp/berth-probe-cg", "cgroup", 0, "memory");
  if (rc == 0) umount2("/tmp/berth-probe-cg", MNT_DETACH);
  return Result(rc);
}

std::string ProbeKcore() {
  int fd = open("/proc/kcore", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoName(errno);
  char buf[16];
  ssize_t n = read(fd, buf, sizeof(buf));
  int err = errno;
  close(fd);
  if (n < 0) return ErrnoName(err);
  return n == 0 ? "empty" : "read";
}

// CAD_OFF: outside the node's pid namespace the kernel refuses it with EINVAL, so a probe
// that gets past the filter and the capability check still changes nothing.
std::string ProbeReboot() {
  return Result(syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_CAD_OFF, nullptr));
}

std::string ProbeSwapon() { return Result(swapon("/tmp/berth-probe-no-such-swap", 0)); }

// CLOCK_MONOTONIC cannot be set by anyone: EINVAL once allowed; the clock never changes.
std::string ProbeClockSettime() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return Result(syscall(SYS_clock_settime, CLOCK_MONOTONIC, &ts));
}

std::string ProbeInitModule() { return Result(syscall(SYS_init_module, nullptr, 0, "")); }

std::string ProbeVsock() { return Result(socket(AF_VSOCK, SOCK_STREAM, 0), true); }

std::string ProbePersonality() {
  long rc = syscall(SYS_personality, 0x0040000 /* ADDR_NO_RANDOMIZE */);
  if (rc >= 0) syscall(SYS_personality, rc);
  return Result(rc);
}

std::string ProbeSetns() {
  int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoName(errno);
  long rc = setns(fd, CLONE_NEWNET);
  int err = errno;
  close(fd);
  errno = err;
  return Result(rc);
}

std::string ProbeClone3() {
  struct clone_args args;
  memset(&args, 0, sizeof(args));
  args.flags = CLONE_NEWUSER;
  args.exit_signal = SIGCHLD;
  long rc = syscall(SYS_clone3, &args, sizeof(args));
  if (rc == 0) _exit(0);
  if (rc > 0) waitpid(static_cast<pid_t>(rc), nullptr, 0);
  return Result(rc);
}

const std::vector<std::pair<const char*, std::function<std::string()>>>& Probes() {
  static const auto* probes = new std::vector<std::pair<const char*, std::function<std::string()>>>{
      {"mount", ProbeMount},
      {"unshare_user", [] { return ProbeUnshare(CLONE_NEWUSER); }},
      {"unshare_mount", [] { return ProbeUnshare(CLONE_NEWNS); }},
      {"clone3_newuser", ProbeClone3},
      {"setns", ProbeSetns},
      {"keyctl", ProbeKeyctl},
      {"bpf", ProbeBpf},
      {"perf_event_open", ProbePerf},
      {"io_uring_setup", ProbeIoUring},
      {"userfaultfd", ProbeUserfaultfd},
      {"name_to_handle_at", ProbeNameToHandle},
      {"open_by_handle_at", ProbeOpenByHandle},
      {"ptrace", ProbePtrace},
      {"mknod_block", ProbeMknodBlock},
      {"read_block", ProbeReadBlock},
      {"raw_socket", ProbeRawSocket},
      {"sysrq_trigger", [] { return ProbeOpenWrite("/proc/sysrq-trigger"); }},
      {"core_pattern", [] { return ProbeOpenWrite("/proc/sys/kernel/core_pattern"); }},
      {"sys_kernel", [] { return ProbeOpenWrite("/sys/kernel/profiling"); }},
      {"cgroup_mount", ProbeCgroupMount},
      {"kcore", ProbeKcore},
      {"reboot", ProbeReboot},
      {"swapon", ProbeSwapon},
      {"clock_settime", ProbeClockSettime},
      {"init_module", ProbeInitModule},
      {"vsock", ProbeVsock},
      {"icmp_echo", ProbeIcmpEcho},
      {"personality", ProbePersonality},
  };
  return *probes;
}

int ListFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) {
    perror("opendir /proc/self/fd");
    return 1;
  }
  std::string out;
  while (struct dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    if (atoi(e->d_name) == dirfd(dir)) continue;
    if (!out.empty()) out += ",";
    out += e->d_name;
  }
  closedir(dir);
  printf("fds=%s\n", out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: berth-probe all | euid | fds | PROBE...\n");
    return 2;
  }
  std::string first = argv[1];
  if (first == "euid") {
    printf("euid=%d\n", geteuid());
    return 0;
  }
  if (first == "fds") return ListFds();
  for (int i = 1; i < argc; ++i) {
    std::string want = argv[i];
    bool found = false;
    for (const auto& [name, probe] : Probes()) {
      if (want != "all" && want != name) continue;
      found = true;
      printf("%s=%s\n", name, probe().c_str());
      fflush(stdout);
    }
    if (!found) {
      fprintf(stderr, "berth-probe: no probe named %s\n", want.c_str());
      return 2;
    }
  }
  return 0;
}
