#include "runtime/base/idle_memory.h"

#include <link.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/match.h"

namespace berth {
namespace {

struct Mapping {
  uintptr_t start = 0;
  uintptr_t end = 0;
  bool read_only_private = false;  // "r-xp", "r--p"
  std::string path;
};

// "00401000-00637000 r-xp 00001000 00:01 15096    /memfd:berth-shim (deleted)"
bool ParseHeader(const char* line, Mapping& m) {
  unsigned long start = 0, end = 0;
  char perms[8] = {};
  int path_at = 0;
  if (std::sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &start, &end, perms, &path_at) < 3) return false;
  m.start = start;
  m.end = end;
  m.read_only_private = perms[0] == 'r' && perms[1] != 'w' && perms[3] == 'p';
  m.path = path_at > 0 ? line + path_at : "";
  while (!m.path.empty() && (m.path.back() == '\n' || m.path.back() == ' ')) m.path.pop_back();
  return true;
}

bool IsSharedLibrary(const std::string& path) {
  const std::string name = path.substr(path.rfind('/') + 1);  // npos + 1: the whole path
  return absl::EndsWith(name, ".so") || absl::StrContains(name, ".so.");
}

// The program's own read-only segments, from its program headers: what kOwnBinary drops,
// found without reading (and the kernel without walking) /proc/self/smaps, as a shim does
// this once per container. A PT_LOAD without PF_W is never written in a process: relocations
// (RELRO included) are applied to writable segments, and a program with text relocations
// would not have been linked (-z text is the default). Pages are taken whole, rounded
// inwards, so a page a writable segment shares is never dropped.
struct Segments {
  static constexpr int kMax = 8;
  uintptr_t start[kMax] = {};
  uintptr_t end[kMax] = {};
  int count = 0;
};

int CollectProgramSegments(struct dl_phdr_info* info, size_t, void* data) {
  auto* out = static_cast<Segments*>(data);
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  for (int i = 0; i < info->dlpi_phnum && out->count < Segments::kMax; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_W) != 0) continue;
    const uintptr_t from = info->dlpi_addr + ph.p_vaddr;
    const uintptr_t start = (from + page - 1) & ~(page - 1);
    const uintptr_t end = (from + ph.p_filesz) & ~(page - 1);
    if (start >= end) continue;
    out->start[out->count] = start;
    out->end[out->count] = end;
    ++out->count;
  }
  return 1;  // the first object is the program itself
}

void ReleaseProgramSegments() {
  Segments segments;
  ::dl_iterate_phdr(CollectProgramSegments, &segments);
  for (int i = 0; i < segments.count; ++i) {
    (void)::madvise(reinterpret_cast<void*>(segments.start[i]), segments.end[i] - segments.start[i], MADV_DONTNEED);
  }
}

}  // namespace

void ReleaseIdleMemory(IdleRelease scope) {
  ::malloc_trim(0);
  if (scope == IdleRelease::kOwnBinary) {
    ReleaseProgramSegments();
    return;
  }
  std::FILE* smaps = std::fopen("/proc/self/smaps", "re");
  if (smaps == nullptr) return;
  // /proc files suggest 1 KiB reads, and the kernel hands smaps out a page at a time: a page
  // takes a quarter of the reads (some hundred fewer for berthd). On the stack, which a shim
  // keeps warm, rather than on the heap this function has just trimmed.
  char buffer[4096];
  std::setvbuf(smaps, buffer, _IOFBF, sizeof(buffer));
  // The file this very function was loaded from: the program (or its memfd copy).
  const auto self = reinterpret_cast<uintptr_t>(&ReleaseIdleMemory);
  std::string self_path;
  std::vector<Mapping> candidates;
  Mapping current;
  bool have_current = false;
  char line[1024];
  while (std::fgets(line, sizeof(line), smaps) != nullptr) {
    Mapping m;
    if (std::strchr(line, '-') != nullptr && ParseHeader(line, m) && m.end > m.start) {
      current = std::move(m);
      have_current = true;
      if (self >= current.start && self < current.end) self_path = current.path;
      continue;
    }
    // A mapping with private (copied) pages has content the file does not: never drop those.
    unsigned long anon_kb = 0;
    if (have_current && std::sscanf(line, "Anonymous: %lu kB", &anon_kb) == 1) {
      if (current.read_only_private && anon_kb == 0 && !current.path.empty() && current.path[0] == '/') {
        candidates.push_back(current);
      }
      have_current = false;
    }
  }
  std::fclose(smaps);
  if (self_path.empty()) return;
  for (const Mapping& m : candidates) {
    const bool wanted =
        m.path == self_path || (scope == IdleRelease::kBinaryAndLibraries && IsSharedLibrary(m.path));
    if (wanted) (void)::madvise(reinterpret_cast<void*>(m.start), m.end - m.start, MADV_DONTNEED);
  }
}

}  // namespace berth
