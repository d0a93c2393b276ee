// A compiled seccomp program as bytes, tied to the exact config.json it was compiled for.
// Compiling the default profile (three architectures) takes milliseconds, and parsing it back
// out of config.json about half a millisecond more in every monitor; the agent compiles each
// distinct profile once and puts the result next to config.json, where the monitor takes it
// (and skips linux.seccomp while parsing) only if config.json's bytes are the ones it was
// written with. The tie is a length and a 64-bit FNV-1a digest: it catches a config.json
// edited or replaced after the agent wrote the bundle, not an adversary, who would need to
// write the bundle and so could write the profile itself.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "runtime/seccomp/seccomp_filter.h"

namespace berth::seccomp {

// The file name in a bundle directory.
inline constexpr char kCompiledProgramFile[] = "seccomp.bpf";

// `config_json` is the config.json text, whose linux.seccomp `program` was compiled from.
std::string EncodeProgram(const Program& program, std::string_view config_json);

// The program, when `bytes` is a well-formed encoding made for exactly `config_json`.
std::optional<Program> DecodeProgram(const std::string& bytes, std::string_view config_json);

}  // namespace berth::seccomp
