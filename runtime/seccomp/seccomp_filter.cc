#include "runtime/seccomp/seccomp_filter.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unique_fd.h"

namespace berth::seccomp {

namespace {

constexpr char kField[] = "linux.seccomp";

// Largest errno a seccomp filter can return: the kernel clamps larger data to MAX_ERRNO.
constexpr uint32_t kMaxErrno = 4095;

absl::Status FieldError(const std::string& field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

struct CtxRelease {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using FilterCtx = std::unique_ptr<void, CtxRelease>;  // scmp_filter_ctx is a void*

// The libseccomp action for an OCI action; `field` names the action for errors. An errno
// return defaults to EPERM, as the OCI runtime spec says.
absl::StatusOr<uint32_t> ActionValue(const std::string& action, std::optional<uint32_t> errno_ret,
                                     const std::string& field) {
  if (errno_ret.has_value() && *errno_ret > kMaxErrno) {
    return FieldError(field, absl::StrCat("errno return ", *errno_ret, " is not an errno (0..",
                                          kMaxErrno, ")"));
  }
  const uint32_t data = errno_ret.value_or(EPERM);
  if (action == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(data);
  if (action == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(data);
  if (action == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (action == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (action == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (action == "SCMP_ACT_KILL" || action == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (action == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  // ValidateSeccomp has refused anything else already.
  return FieldError(field, absl::StrCat("unsupported action ", action));
}

std::optional<uint32_t> ArchToken(const std::string& name) {
  static constexpr std::pair<const char*, uint32_t> kArches[] = {
      {"SCMP_ARCH_X86", SCMP_ARCH_X86},
      {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
      {"SCMP_ARCH_X32", SCMP_ARCH_X32},
      {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
      {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
      {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
      {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
      {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
      {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
      {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
      {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
      {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
      {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
      {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
      {"SCMP_ARCH_S390", SCMP_ARCH_S390},
      {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
      {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},
      {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
      {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
  };
  for (const auto& [arch_name, token] : kArches) {
    if (name == arch_name) return token;
  }
  return std::nullopt;
}

std::optional<scmp_compare> CompareOp(const std::string& op) {
  if (op == "SCMP_CMP_NE") return SCMP_CMP_NE;
  if (op == "SCMP_CMP_LT") return SCMP_CMP_LT;
  if (op == "SCMP_CMP_LE") return SCMP_CMP_LE;
  if (op == "SCMP_CMP_EQ") return SCMP_CMP_EQ;
  if (op == "SCMP_CMP_GE") return SCMP_CMP_GE;
  if (op == "SCMP_CMP_GT") return SCMP_CMP_GT;
  if (op == "SCMP_CMP_MASKED_EQ") return SCMP_CMP_MASKED_EQ;
  return std::nullopt;
}

// The conditions of one rule. libseccomp ANDs the conditions of a rule but refuses two on the
// same argument (runc then adds one rule per condition, which turns AND into OR and can allow
// more than asked): refused here instead.
absl::StatusOr<std::vector<scmp_arg_cmp>> Conditions(const spec::SeccompSyscall& rule,
                                                     const std::string& rule_field) {
  std::vector<scmp_arg_cmp> conditions;
  std::array<bool, 6> seen{};
  for (size_t a = 0; a < rule.args.size(); ++a) {
    const spec::SeccompArg& arg = rule.args[a];
    const std::string arg_field = absl::StrCat(rule_field, ".args[", a, "]");
    std::optional<scmp_compare> op = CompareOp(arg.op);
    if (arg.index >= seen.size() || !op.has_value()) {
      return FieldError(arg_field, "invalid condition");  // ValidateSeccomp refuses these first
    }
    if (seen[arg.index]) {
      return FieldError(arg_field + ".index",
                        absl::StrCat("a second condition on argument ", arg.index,
                                     " in one rule is not supported (libseccomp cannot AND them)"));
    }
    seen[arg.index] = true;
    // OCI's MASKED_EQ reads value as the mask and valueTwo as the datum, as libseccomp does.
    conditions.push_back(scmp_arg_cmp{arg.index, *op, arg.value, arg.value_two});
  }
  return conditions;
}

// libseccomp 2.5 writes its program to an fd only: a memfd, read back.
absl::StatusOr<std::vector<sock_filter>> ExportBpf(void* ctx) {
  UniqueFd fd(::memfd_create("berth-seccomp-bpf", MFD_CLOEXEC));
  if (!fd) return ErrnoToStatus("memfd_create");
  if (int rc = seccomp_export_bpf(ctx, fd.get()); rc < 0) return ErrnoStatus(-rc, "seccomp_export_bpf");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoToStatus("fstat the exported filter");
  if (st.st_size <= 0 || st.st_size % sizeof(sock_filter) != 0) {
    return absl::InternalError(
        absl::StrCat("libseccomp exported ", st.st_size, " bytes, not whole BPF instructions"));
  }
  std::vector<sock_filter> program(static_cast<size_t>(st.st_size) / sizeof(sock_filter));
  char* out = reinterpret_cast<char*>(program.data());
  size_t done = 0;
  while (done < static_cast<size_t>(st.st_size)) {
    ssize_t n = ::pread(fd.get(), out + done, st.st_size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoToStatus("read the exported filter");
    if (n == 0) return absl::InternalError("the exported filter ended early");
    done += static_cast<size_t>(n);
  }
  return program;
}

// x32 syscalls arrive with AUDIT_ARCH_X86_64 too, their number or'ed with this bit
// (__X32_SYSCALL_BIT in the kernel's asm/unistd.h).
constexpr uint32_t kX32SyscallBit = 0x40000000;

// Syscalls newer than the profile fail with ENOSYS, not with the default EPERM.
//
// Why: a profile lists the syscalls that existed when it was written. A later kernel adds
// syscalls that libc starts to use as soon as they exist (clone3, faccessat2, openat2,
// close_range, fchmodat2, ...), and libc falls back to the older call only on ENOSYS, which
// is what an old kernel would say. EPERM instead reads as a real refusal and breaks the
// program. So a number above the highest native syscall the profile names is answered as the
// kernel of the profile's time would answer it. Numbers within the profile's range keep the
// default action: the profile knew them and left them out on purpose.
//
// libseccomp cannot express "any number above N", so these instructions go in front of its
// program. Only native x86-64 numbers are judged here: other architectures fall through to
// libseccomp's own checks, and so does x32 (same audit arch, numbers with kX32SyscallBit)
// when the profile covers it. When it does not, x32 numbers get ENOSYS, as from a kernel
// built without x32, instead of libseccomp's bad-architecture kill. The jumps are classic
// BPF's relative offsets (instructions to skip), computed from the layout.
std::vector<sock_filter> NewerSyscallsEnosys(uint32_t highest_known, bool x32_enosys) {
  enum : uint8_t { kLoadArch, kIsX86_64, kLoadNr, kIsX32, kIsNewer, kReturnEnosys, kEnd };
  // From instruction `from`, the offset that lands on `to` (the instruction after `from` is 0).
  constexpr auto jump = [](uint8_t from, uint8_t to) -> uint8_t { return to - from - 1; };
  static_assert(kEnd < 256, "classic BPF jump offsets are 8 bits");
  std::vector<sock_filter> stub = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, jump(kIsX86_64, kLoadNr),
               jump(kIsX86_64, kEnd)),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, kX32SyscallBit, jump(kIsX32, x32_enosys ? kReturnEnosys : kEnd),
               jump(kIsX32, kIsNewer)),
      BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, highest_known, jump(kIsNewer, kReturnEnosys),
               jump(kIsNewer, kEnd)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
  };
  return stub;  // libseccomp's program follows at kEnd and starts by loading the arch itself
}

}  // namespace

absl::StatusOr<Program> Compile(const spec::Seccomp& seccomp) {
  RETURN_IF_ERROR(spec::ValidateSeccomp(seccomp, kField));
  const std::string default_field = absl::StrCat(kField, ".defaultAction");
  ASSIGN_OR_RETURN(uint32_t default_action,
                   ActionValue(seccomp.default_action, seccomp.default_errno_ret, default_field));

  FilterCtx ctx(seccomp_init(default_action));
  if (ctx == nullptr) return absl::InternalError("seccomp_init failed");
  // The runtime sets no_new_privs itself before Load (seccomp_load is never used).
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0); rc < 0) {
    return ErrnoStatus(-rc, "seccomp_attr_set(CTL_NNP)");
  }
  // A binary tree over syscall numbers: about log2(n) comparisons per syscall instead of a
  // scan of every rule. libseccomp before 2.5 lacks it and keeps the linear program.
  (void)seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);

  for (size_t i = 0; i < seccomp.architectures.size(); ++i) {
    std::optional<uint32_t> token = ArchToken(seccomp.architectures[i]);
    const std::string field = absl::StrCat(kField, ".architectures[", i, "]");
    if (!token.has_value()) return FieldError(field, "unknown architecture");
    int rc = seccomp_arch_add(ctx.get(), *token);
    if (rc < 0 && rc != -EEXIST) return Annotate(ErrnoStatus(-rc, "seccomp_arch_add"), field);
  }

  // The ENOSYS rule below is x86-64's: elsewhere every unknown number gets the default action.
  const bool native_x86_64 = seccomp_arch_native() == SCMP_ARCH_X86_64;
  int highest_native = -1;
  std::set<std::string> unknown;
  for (size_t i = 0; i < seccomp.syscalls.size(); ++i) {
    const spec::SeccompSyscall& rule = seccomp.syscalls[i];
    const std::string rule_field = absl::StrCat(kField, ".syscalls[", i, "]");
    ASSIGN_OR_RETURN(uint32_t action,
                     ActionValue(rule.action, rule.errno_ret, rule_field + ".action"));
    ASSIGN_OR_RETURN(std::vector<scmp_arg_cmp> conditions, Conditions(rule, rule_field));
    for (const std::string& name : rule.names) {
      if (native_x86_64) {
        // Negative: a pseudo number for a syscall x86-64 does not have (e.g. i386's stime).
        highest_native =
            std::max(highest_native, seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name.c_str()));
      }
      const int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) {
        unknown.insert(name);
        continue;
      }
      // libseccomp refuses rules that repeat the default action; they change nothing anyway.
      if (action == default_action) continue;
      int rc = seccomp_rule_add_array(ctx.get(), action, nr, static_cast<unsigned int>(conditions.size()),
                                      conditions.data());
      if (rc < 0) {
        return Annotate(ErrnoStatus(-rc, "seccomp_rule_add"), absl::StrCat(rule_field, " (", name, ")"));
      }
    }
  }

  Program program;
  ASSIGN_OR_RETURN(std::vector<sock_filter> bpf, ExportBpf(ctx.get()));
  const bool errno_default = seccomp.default_action == "SCMP_ACT_ERRNO";
  if (native_x86_64 && errno_default && highest_native >= 0 &&
      seccomp.default_errno_ret.value_or(EPERM) != ENOSYS) {
    const bool x32 = std::find(seccomp.architectures.begin(), seccomp.architectures.end(), "SCMP_ARCH_X32") !=
                     seccomp.architectures.end();
    program.instructions = NewerSyscallsEnosys(static_cast<uint32_t>(highest_native), !x32);
  }
  program.instructions.insert(program.instructions.end(), bpf.begin(), bpf.end());
  if (program.instructions.size() > BPF_MAXINSNS) {
    return absl::InvalidArgumentError(absl::StrCat(
        kField, ": the filter has ", program.instructions.size(),
        " BPF instructions, more than the kernel's limit of ", BPF_MAXINSNS));
  }

  for (const std::string& flag : seccomp.flags) {
    if (flag == "SECCOMP_FILTER_FLAG_LOG") program.flags |= SECCOMP_FILTER_FLAG_LOG;
    if (flag == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") program.flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    // SECCOMP_FILTER_FLAG_TSYNC syncs the filter to the caller's other threads; the child that
    // loads it has none.
  }
  program.unknown_names.assign(unknown.begin(), unknown.end());
  return program;
}

int LoadOrErrno(const Program& program) noexcept {
  const size_t size = program.instructions.size();
  if (size == 0 || size > BPF_MAXINSNS) return EINVAL;
  struct sock_fprog prog {};
  prog.len = static_cast<unsigned short>(size);
  // The kernel copies the program in; it never writes through this pointer.
  prog.filter = const_cast<struct sock_filter*>(program.instructions.data());
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, program.flags, &prog) < 0) return errno;
  return 0;
}

absl::Status Load(const Program& program) {
  if (int err = LoadOrErrno(program); err != 0) return ErrnoStatus(err, "load the seccomp filter");
  return absl::OkStatus();
}

}  // namespace berth::seccomp
