#include "runtime/seccomp/compiled_program.h"

#include <cstdint>
#include <cstring>

namespace berth::seccomp {

namespace {

constexpr char kMagic[8] = {'B', 'E', 'R', 'T', 'H', 'B', 'P', '1'};

struct Header {
  char magic[8];
  uint32_t flags;
  uint32_t instructions;
  uint32_t source_size;
};

}  // namespace

std::string EncodeProgram(const Program& program, const std::string& source) {
  Header h;
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.flags = program.flags;
  h.instructions = static_cast<uint32_t>(program.instructions.size());
  h.source_size = static_cast<uint32_t>(source.size());
  std::string out(reinterpret_cast<const char*>(&h), sizeof(h));
  out += source;
  out.append(reinterpret_cast<const char*>(program.instructions.data()),
             program.instructions.size() * sizeof(sock_filter));
  return out;
}

std::optional<Program> DecodeProgram(const std::string& bytes, const std::string& source) {
  Header h;
  if (bytes.size() < sizeof(h)) return std::nullopt;
  std::memcpy(&h, bytes.data(), sizeof(h));
  if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0) return std::nullopt;
  const uint64_t expected = sizeof(h) + uint64_t{h.source_size} + uint64_t{h.instructions} * sizeof(sock_filter);
  if (bytes.size() != expected || h.instructions == 0 || h.instructions > BPF_MAXINSNS) return std::nullopt;
  if (bytes.compare(sizeof(h), h.source_size, source) != 0 || h.source_size != source.size()) return std::nullopt;
  Program program;
  program.flags = h.flags;
  program.instructions.resize(h.instructions);
  std::memcpy(program.instructions.data(), bytes.data() + sizeof(h) + h.source_size,
              h.instructions * sizeof(sock_filter));
  return program;
}

}  // namespace berth::seccomp
