#include "runtime/cgroup/device_filter.h"

#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"

namespace berth {
namespace {

constexpr uint32_t kAllAccess = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;

// The access bits of a validated access string; 0 when it holds anything but r, w, m.
uint32_t AccessBits(absl::string_view access) {
  uint32_t bits = 0;
  for (char c : access) {
    switch (c) {
      case 'r':
        bits |= BPF_DEVCG_ACC_READ;
        break;
      case 'w':
        bits |= BPF_DEVCG_ACC_WRITE;
        break;
      case 'm':
        bits |= BPF_DEVCG_ACC_MKNOD;
        break;
      default:
        return 0;
    }
  }
  return bits;
}

// ---- Emitter ----

// Registers of the program. r1 holds the context on entry; once the three fields are loaded
// it is free, and serves as scratch for the access test. r6..r9 stay untouched.
constexpr uint8_t kCtx = BPF_REG_1;
constexpr uint8_t kScratch = BPF_REG_1;
constexpr uint8_t kAccess = BPF_REG_2;
constexpr uint8_t kType = BPF_REG_3;
constexpr uint8_t kMajor = BPF_REG_4;
constexpr uint8_t kMinor = BPF_REG_5;

bpf_insn Insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn insn;
  std::memset(&insn, 0, sizeof(insn));
  insn.code = code;
  insn.dst_reg = dst;
  insn.src_reg = src;
  insn.off = off;
  insn.imm = imm;
  return insn;
}

bpf_insn LoadCtx32(uint8_t dst, size_t offset) {
  return Insn(BPF_LDX | BPF_MEM | BPF_W, dst, kCtx, static_cast<int16_t>(offset), 0);
}
bpf_insn Mov32Reg(uint8_t dst, uint8_t src) {
  return Insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0);
}
bpf_insn Mov32Imm(uint8_t dst, int32_t imm) {
  return Insn(BPF_ALU | BPF_MOV | BPF_K, dst, 0, 0, imm);
}
bpf_insn And32Imm(uint8_t dst, int32_t imm) {
  return Insn(BPF_ALU | BPF_AND | BPF_K, dst, 0, 0, imm);
}
bpf_insn Rsh32Imm(uint8_t dst, int32_t imm) {
  return Insn(BPF_ALU | BPF_RSH | BPF_K, dst, 0, 0, imm);
}
// The offset is fixed up once the target is known. JMP32 compares the low 32 bits with the
// immediate as a u32: a 64-bit JMP would sign-extend it and miss majors/minors >= 2^31.
bpf_insn Jne32Imm(uint8_t dst, uint32_t imm) {
  return Insn(BPF_JMP32 | BPF_JNE | BPF_K, dst, 0, 0, static_cast<int32_t>(imm));
}
bpf_insn Exit() { return Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

// ---- bpf(2) ----

long Bpf(int cmd, union bpf_attr* attr) { return ::syscall(__NR_bpf, cmd, attr, sizeof(*attr)); }

uint64_t Ptr(const void* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); }

union bpf_attr ZeroAttr() {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  return attr;
}

absl::StatusOr<UniqueFd> OpenCgroupDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(absl::StrCat("open ", dir));
  return UniqueFd(fd);
}

struct Attached {
  std::vector<uint32_t> ids;
  uint32_t flags = 0;  // how the cgroup's device programs were attached (BPF_F_*)
};

absl::StatusOr<Attached> QueryAttached(int cgroup_fd, const std::string& dir) {
  std::vector<uint32_t> ids(8);
  for (;;) {
    union bpf_attr attr = ZeroAttr();
    attr.query.target_fd = static_cast<uint32_t>(cgroup_fd);
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = Ptr(ids.data());
    attr.query.prog_cnt = static_cast<uint32_t>(ids.size());
    if (Bpf(BPF_PROG_QUERY, &attr) == 0) {
      ids.resize(attr.query.prog_cnt);
      return Attached{std::move(ids), attr.query.attach_flags};
    }
    // ENOSPC: more programs than room; prog_cnt says how many there are now.
    if (errno == ENOSPC && attr.query.prog_cnt > ids.size()) {
      ids.resize(attr.query.prog_cnt);
      continue;
    }
    return ErrnoToStatus(absl::StrCat("query device programs of ", dir));
  }
}

// Detaches program `id` from the cgroup. A program that is gone, or no longer attached here,
// is what we wanted anyway.
absl::Status Detach(int cgroup_fd, uint32_t id, const std::string& dir) {
  union bpf_attr get = ZeroAttr();
  get.prog_id = id;
  long fd = Bpf(BPF_PROG_GET_FD_BY_ID, &get);
  if (fd < 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoToStatus(absl::StrCat("get device program ", id));
  }
  UniqueFd prog(static_cast<int>(fd));
  union bpf_attr attr = ZeroAttr();
  attr.target_fd = static_cast<uint32_t>(cgroup_fd);
  attr.attach_bpf_fd = static_cast<uint32_t>(prog.get());
  attr.attach_type = BPF_CGROUP_DEVICE;
  if (Bpf(BPF_PROG_DETACH, &attr) != 0 && errno != ENOENT) {
    return ErrnoToStatus(absl::StrCat("detach device program ", id, " from ", dir));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateDeviceRules(const std::vector<CgroupDeviceRule>& rules) {
  for (size_t i = 0; i < rules.size(); ++i) {
    const CgroupDeviceRule& r = rules[i];
    auto bad = [&](absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat("device rule ", i, ": ", what));
    };
    if (r.type != 'a' && r.type != 'c' && r.type != 'b') {
      return bad(absl::StrCat("type \"", absl::CEscape(std::string(1, r.type)),
                              "\" is not one of a, c, b"));
    }
    if (r.access.empty() || AccessBits(r.access) == 0) {
      return bad(absl::StrCat("access \"", absl::CEscape(r.access),
                              "\" is not a non-empty subset of rwm"));
    }
    for (auto [name, value] : {std::pair{"major", r.major}, std::pair{"minor", r.minor}}) {
      if (value < -1 || value > kMaxDeviceNumber) {
        return bad(absl::StrCat(name, " ", value, " is out of range (-1 for any, else 0..",
                                kMaxDeviceNumber, ")"));
      }
    }
  }
  return absl::OkStatus();
}

bool IsDeviceWildcardRule(const CgroupDeviceRule& rule) {
  return rule.type == 'a' && rule.major == -1 && rule.minor == -1 &&
         AccessBits(rule.access) == kAllAccess;
}

absl::StatusOr<std::vector<bpf_insn>> BuildDeviceFilter(
    const std::vector<CgroupDeviceRule>& rules) {
  RETURN_IF_ERROR(ValidateDeviceRules(rules));
  std::vector<bpf_insn> prog = {
      LoadCtx32(kAccess, offsetof(bpf_cgroup_dev_ctx, access_type)),
      LoadCtx32(kMajor, offsetof(bpf_cgroup_dev_ctx, major)),
      LoadCtx32(kMinor, offsetof(bpf_cgroup_dev_ctx, minor)),
      // access_type = (access << 16) | type
      Mov32Reg(kType, kAccess),
      And32Imm(kType, 0xffff),
      Rsh32Imm(kAccess, 16),
  };
  // From the last rule back: the first that matches is the one that decides.
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    const CgroupDeviceRule& r = *it;
    std::vector<size_t> to_next;  // the jumps taken when this rule does not match
    if (r.type != 'a') {
      to_next.push_back(prog.size());
      prog.push_back(Jne32Imm(kType, r.type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK));
    }
    uint32_t bits = AccessBits(r.access);
    if (bits != kAllAccess) {
      // Matches only when no requested bit lies outside the rule's.
      prog.push_back(Mov32Reg(kScratch, kAccess));
      prog.push_back(And32Imm(kScratch, static_cast<int32_t>(~bits & kAllAccess)));
      to_next.push_back(prog.size());
      prog.push_back(Jne32Imm(kScratch, 0));
    }
    if (r.major != -1) {
      to_next.push_back(prog.size());
      prog.push_back(Jne32Imm(kMajor, static_cast<uint32_t>(r.major)));
    }
    if (r.minor != -1) {
      to_next.push_back(prog.size());
      prog.push_back(Jne32Imm(kMinor, static_cast<uint32_t>(r.minor)));
    }
    prog.push_back(Mov32Imm(BPF_REG_0, r.allow ? 1 : 0));
    prog.push_back(Exit());
    // A rule that matches everything ends the program: the verifier refuses unreachable
    // instructions, and the earlier rules could never decide anything.
    if (to_next.empty()) return prog;
    for (size_t at : to_next) prog[at].off = static_cast<int16_t>(prog.size() - at - 1);
  }
  prog.push_back(Mov32Imm(BPF_REG_0, 0));
  prog.push_back(Exit());
  return prog;
}

absl::StatusOr<bool> EvaluateDeviceFilter(const std::vector<bpf_insn>& program, char type,
                                          uint32_t major, uint32_t minor,
                                          const std::string& access) {
  if (type != 'c' && type != 'b') {
    return absl::InvalidArgumentError(
        absl::StrCat("device type \"", absl::CEscape(std::string(1, type)), "\" is not c or b"));
  }
  uint32_t bits = AccessBits(access);
  if (access.empty() || bits == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("access \"", absl::CEscape(access), "\" is not a non-empty subset of rwm"));
  }
  const uint32_t ctx[3] = {(bits << 16) | (type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK),
                           major, minor};
  static_assert(sizeof(ctx) == sizeof(bpf_cgroup_dev_ctx));

  struct Reg {
    uint64_t value = 0;
    bool set = false;
    bool ctx = false;  // holds the context pointer, not a number
  };
  Reg regs[MAX_BPF_REG];
  regs[BPF_REG_1] = {0, true, true};

  size_t pc = 0;
  auto fail = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "instruction %d (code 0x%02x): %s", pc, pc < program.size() ? program[pc].code : 0, why));
  };
  // Every jump goes forward, so each instruction runs at most once.
  while (pc < program.size()) {
    const bpf_insn& in = program[pc];
    if (in.dst_reg >= MAX_BPF_REG || in.src_reg >= MAX_BPF_REG) return fail("no such register");
    Reg& dst = regs[in.dst_reg];
    const Reg& src = regs[in.src_reg];
    auto number = [](const Reg& r) { return r.set && !r.ctx; };
    bool writes = BPF_CLASS(in.code) == BPF_ALU || BPF_CLASS(in.code) == BPF_LDX;
    if (writes && in.dst_reg == BPF_REG_10) return fail("r10 is read-only");
    switch (in.code) {
      case BPF_LDX | BPF_MEM | BPF_W: {
        if (!src.set || !src.ctx) return fail("load from something other than the context");
        if (in.imm != 0 || in.off < 0 || in.off % 4 != 0 ||
            static_cast<size_t>(in.off) >= sizeof(ctx)) {
          return fail("load outside the context's u32 fields");
        }
        dst = {ctx[in.off / 4], true, false};
        break;
      }
      case BPF_ALU | BPF_MOV | BPF_X:
        if (!number(src) || in.off != 0 || in.imm != 0) return fail("bad mov32 reg");
        dst = {static_cast<uint32_t>(src.value), true, false};
        break;
      case BPF_ALU | BPF_MOV | BPF_K:
        if (in.src_reg != 0 || in.off != 0) return fail("bad mov32 imm");
        dst = {static_cast<uint32_t>(in.imm), true, false};
        break;
      case BPF_ALU | BPF_AND | BPF_K:
        if (!number(dst) || in.src_reg != 0 || in.off != 0) return fail("bad and32 imm");
        dst.value = static_cast<uint32_t>(dst.value) & static_cast<uint32_t>(in.imm);
        break;
      case BPF_ALU | BPF_RSH | BPF_K:
        if (!number(dst) || in.src_reg != 0 || in.off != 0 || in.imm < 0 || in.imm > 31) {
          return fail("bad rsh32 imm");
        }
        dst.value = static_cast<uint32_t>(dst.value) >> in.imm;
        break;
      case BPF_JMP32 | BPF_JNE | BPF_K: {
        if (!number(dst) || in.src_reg != 0) return fail("bad jne32 imm");
        if (in.off < 0 || pc + 1 + in.off >= program.size()) {
          return fail("jump backwards or past the end");
        }
        if (static_cast<uint32_t>(dst.value) != static_cast<uint32_t>(in.imm)) pc += in.off;
        break;
      }
      case BPF_JMP | BPF_EXIT: {
        const Reg& r0 = regs[BPF_REG_0];
        if (!number(r0) || r0.value > 1) return fail("exit without a verdict of 0 or 1 in r0");
        return r0.value == 1;
      }
      default:
        return fail("not an instruction the device filter uses");
    }
    ++pc;
  }
  return fail("ran off the end of the program");
}

absl::StatusOr<UniqueFd> LoadDeviceFilter(const std::vector<bpf_insn>& program) {
  static const char kLicense[] = "GPL";
  union bpf_attr attr = ZeroAttr();
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = Ptr(program.data());
  attr.insn_cnt = static_cast<uint32_t>(program.size());
  attr.license = Ptr(kLicense);
  // Shows in bpftool prog list; names allow [A-Za-z0-9_.] only.
  std::strncpy(attr.prog_name, "berth_devices", sizeof(attr.prog_name) - 1);
  long fd = Bpf(BPF_PROG_LOAD, &attr);
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
  int err = errno;
  std::string what = absl::StrCat("load device program (", program.size(), " instructions)");
  if (err != EACCES && err != EINVAL) return ErrnoStatus(err, what);
  // Rejected by the verifier, most likely: load again with a log to say why. Not on the first
  // attempt, where a log only costs time (and a too-small buffer fails a good program).
  std::string log(64 * 1024, '\0');
  attr.log_buf = Ptr(log.data());
  attr.log_size = static_cast<uint32_t>(log.size());
  attr.log_level = 1;
  fd = Bpf(BPF_PROG_LOAD, &attr);
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
  log.resize(std::strlen(log.c_str()));
  // The reason is at the end of the log.
  constexpr size_t kMaxLog = 2048;
  if (log.size() > kMaxLog) log = "..." + log.substr(log.size() - kMaxLog);
  absl::Status st = ErrnoStatus(err, what);
  if (log.empty()) return st;
  return absl::Status(
      st.code(),
      absl::StrCat(st.message(), "; verifier: ", absl::StripTrailingAsciiWhitespace(log)));
}

absl::StatusOr<std::vector<uint32_t>> QueryDeviceFilters(const std::string& dir) {
  ASSIGN_OR_RETURN(UniqueFd cgroup, OpenCgroupDir(dir));
  ASSIGN_OR_RETURN(Attached attached, QueryAttached(cgroup.get(), dir));
  return std::move(attached.ids);
}

absl::Status ReplaceDeviceFilter(const std::string& dir, const std::vector<bpf_insn>& program) {
  ASSIGN_OR_RETURN(UniqueFd prog, LoadDeviceFilter(program));
  ASSIGN_OR_RETURN(UniqueFd cgroup, OpenCgroupDir(dir));
  ASSIGN_OR_RETURN(Attached before, QueryAttached(cgroup.get(), dir));
  union bpf_attr attr = ZeroAttr();
  attr.target_fd = static_cast<uint32_t>(cgroup.get());
  attr.attach_bpf_fd = static_cast<uint32_t>(prog.get());
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (Bpf(BPF_PROG_ATTACH, &attr) != 0) {
    absl::Status st = ErrnoToStatus(absl::StrCat("attach device program to ", dir));
    if (!before.ids.empty() && before.flags != BPF_F_ALLOW_MULTI) {
      // The kernel refuses to mix attach modes on one cgroup.
      st = absl::Status(st.code(),
                        absl::StrCat(st.message(), " (a program is attached there with flags ",
                                     before.flags, ", not BPF_F_ALLOW_MULTI)"));
    }
    return st;
  }
  // The attachment holds its own reference to the program.
  prog.Reset();
  for (uint32_t id : before.ids) RETURN_IF_ERROR(Detach(cgroup.get(), id, dir));
  return absl::OkStatus();
}

}  // namespace berth
