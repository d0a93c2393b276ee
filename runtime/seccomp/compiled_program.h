// A compiled seccomp program as bytes, tied to the exact linux.seccomp it was compiled from.
// Compiling the default profile (three architectures) takes milliseconds; the agent compiles
// each distinct profile once and puts the result next to config.json, where the monitor
// takes it only if it was compiled from the very profile config.json holds.
#pragma once

#include <optional>
#include <string>

#include "runtime/seccomp/seccomp_filter.h"

namespace berth::seccomp {

// The file name in a bundle directory.
inline constexpr char kCompiledProgramFile[] = "seccomp.bpf";

// `source` is spec::SerializeSeccomp of what `program` was compiled from.
std::string EncodeProgram(const Program& program, const std::string& source);

// The program, when `bytes` is a well-formed encoding whose source equals `source`.
std::optional<Program> DecodeProgram(const std::string& bytes, const std::string& source);

}  // namespace berth::seccomp
