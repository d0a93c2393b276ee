#include "runtime/seccomp/compiled_program.h"

#include <cstdint>
#include <cstring>

namespace berth::seccomp {

namespace {

constexpr char kMagic[8] = {'B', 'E', 'R', 'T', 'H', 'B', 'P', '2'};

struct Header {
  char magic[8];
  uint32_t flags;
  uint32_t instructions;
  uint64_t config_size;
  uint64_t config_digest;
};

uint64_t Fnv1a64(std::string_view bytes) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

}  // namespace

std::string EncodeProgram(const Program& program, std::string_view config_json) {
  Header h;
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.flags = program.flags;
  h.instructions = static_cast<uint32_t>(program.instructions.size());
  h.config_size = config_json.size();
  h.config_digest = Fnv1a64(config_json);
  std::string out(reinterpret_cast<const char*>(&h), sizeof(h));
  out.append(reinterpret_cast<const char*>(program.instructions.data()),
             program.instructions.size() * sizeof(sock_filter));
  return out;
}

std::optional<Program> DecodeProgram(const std::string& bytes, std::string_view config_json) {
  Header h;
  if (bytes.size() < sizeof(h)) return std::nullopt;
  std::memcpy(&h, bytes.data(), sizeof(h));
  if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0) return std::nullopt;
  const uint64_t expected = sizeof(h) + uint64_t{h.instructions} * sizeof(sock_filter);
  if (bytes.size() != expected || h.instructions == 0 || h.instructions > BPF_MAXINSNS) return std::nullopt;
  if (h.config_size != config_json.size() || h.config_digest != Fnv1a64(config_json)) return std::nullopt;
  Program program;
  program.flags = h.flags;
  program.instructions.resize(h.instructions);
  std::memcpy(program.instructions.data(), bytes.data() + sizeof(h), h.instructions * sizeof(sock_filter));
  return program;
}

}  // namespace berth::seccomp
