// Device control for the cgroup drivers: validation of CgroupDeviceRule lists (both
// drivers), and for cgroup v2, where the device cgroup is an eBPF program of type
// BPF_PROG_TYPE_CGROUP_DEVICE attached to the cgroup directory, the program itself — built by
// a small emitter over struct bpf_insn (no libbpf, no compiler) — an interpreter for the
// instructions the emitter uses (so unit tests can check verdicts without root), and the
// bpf(2) calls that load, attach and replace it.
//
// Rule semantics (the same on v1 and v2): rules are read in order and the LAST rule that
// matches an access decides it; an access no rule matches is denied. A rule matches when its
// type matches ('a' matches both 'c' and 'b'), its major and minor match (-1 matches any),
// and every requested access bit ('r', 'w', 'm') is in the rule's `access`. The kernel asks
// about one open or mknod at a time, with all the bits that call needs (O_RDWR asks "rw").
#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"
#include "runtime/cgroup/cgroup_driver.h"

namespace berth {

// The largest major/minor a rule may name: the kernel's fields are u32, and v1 reserves
// ~0 for "any".
inline constexpr int64_t kMaxDeviceNumber = 0xfffffffeLL;

// InvalidArgument naming the index of the first bad rule: type not one of 'a', 'c', 'b';
// access empty or holding anything but 'r', 'w', 'm'; major/minor below -1 or above
// kMaxDeviceNumber.
absl::Status ValidateDeviceRules(const std::vector<CgroupDeviceRule>& rules);

// True when `rule` matches every device and every access ("a *:* rwm"), whether it allows
// or denies.
bool IsDeviceWildcardRule(const CgroupDeviceRule& rule);

// The program for `rules`: reads struct bpf_cgroup_dev_ctx, tests the rules from the last
// to the first and returns 1 (allow) for the first that matches, 0 (deny) when none does.
// Uses only: 32-bit loads from the context, 32-bit mov/and/rsh, JMP32 jne with an immediate
// (forward only), and exit. InvalidArgument as ValidateDeviceRules.
absl::StatusOr<std::vector<struct bpf_insn>> BuildDeviceFilter(
    const std::vector<CgroupDeviceRule>& rules);

// Runs `program` as the kernel would for an access to device `type` ('c' or 'b')
// `major`:`minor` asking for `access` (a non-empty subset of "rwm"): true = allowed. Only the
// instruction subset BuildDeviceFilter emits is understood; anything else (another opcode, a
// read of an unset register, a load outside the context, a backward or out-of-range jump,
// running off the end, a verdict other than 0/1) is an InvalidArgument error.
absl::StatusOr<bool> EvaluateDeviceFilter(const std::vector<struct bpf_insn>& program, char type,
                                          uint32_t major, uint32_t minor,
                                          const std::string& access);

// BPF_PROG_LOAD as BPF_PROG_TYPE_CGROUP_DEVICE. A verifier rejection comes back with the
// verifier's log in the message.
absl::StatusOr<UniqueFd> LoadDeviceFilter(const std::vector<struct bpf_insn>& program);

// Ids of the BPF_CGROUP_DEVICE programs attached directly to the cgroup directory `dir`
// (not those inherited from its ancestors), in the kernel's order.
absl::StatusOr<std::vector<uint32_t>> QueryDeviceFilters(const std::string& dir);

// Makes `program` the one device program attached to cgroup directory `dir`: loads it,
// attaches it (BPF_F_ALLOW_MULTI), then detaches the programs that were attached before, so
// at every moment some filter is in place (while both are attached, an access needs both).
absl::Status ReplaceDeviceFilter(const std::string& dir,
                                 const std::vector<struct bpf_insn>& program);

}  // namespace berth
