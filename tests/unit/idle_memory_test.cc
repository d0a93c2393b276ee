// ReleaseIdleMemory in a process of its own (a fork of the test): the resident pages of its
// read-only file mappings go, the process keeps working (relocated RELRO pages and data are
// left alone: dropping them would crash the next call through the GOT), and the dropped code
// faults back in when it runs again.
#include "runtime/base/idle_memory.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

namespace berth {
namespace {

// Sum of Rss over this process's mappings of its own executable: read-only ones, and all.
struct ExeRss {
  long read_only_kb = 0;
  long all_kb = 0;
};

ExeRss ReadExeRss() {
  char exe[4096] = {};
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  ExeRss out;
  if (n <= 0) return out;
  std::FILE* f = std::fopen("/proc/self/smaps", "re");
  if (f == nullptr) return out;
  char line[4096];
  bool mine = false, read_only = false;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    unsigned long start = 0, end = 0;
    char perms[8] = {};
    if (std::sscanf(line, "%lx-%lx %7s", &start, &end, perms) == 3) {
      mine = std::strstr(line, exe) != nullptr;
      read_only = std::strchr(perms, 'w') == nullptr;
      continue;
    }
    long kb = 0;
    if (mine && std::sscanf(line, "Rss: %ld kB", &kb) == 1) {
      out.all_kb += kb;
      if (read_only) out.read_only_kb += kb;
    }
  }
  std::fclose(f);
  return out;
}

// Faults in every page of the executable's read-only mappings (a fork's child starts with
// none of its parent's file pages mapped).
void TouchReadOnlyExePages() {
  char exe[4096] = {};
  if (::readlink("/proc/self/exe", exe, sizeof(exe) - 1) <= 0) return;
  std::FILE* f = std::fopen("/proc/self/maps", "re");
  if (f == nullptr) return;
  char line[4096];
  const long page = ::sysconf(_SC_PAGESIZE);
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    unsigned long start = 0, end = 0;
    char perms[8] = {};
    if (std::sscanf(line, "%lx-%lx %7s", &start, &end, perms) != 3) continue;
    if (std::strstr(line, exe) == nullptr || perms[0] != 'r' || std::strchr(perms, 'w') != nullptr) continue;
    for (unsigned long a = start; a < end; a += static_cast<unsigned long>(page)) {
      (void)*reinterpret_cast<volatile const char*>(a);
    }
  }
  std::fclose(f);
}

int g_data = 41;  // writable data: must keep its value

// Exit codes of the child: 0 all well; 2 nothing resident to begin with; 3 nothing dropped;
// 4 data lost; 5 std::string (libstdc++ through the GOT) broke.
int ChildChecks() {
  TouchReadOnlyExePages();
  ExeRss before = ReadExeRss();
  if (before.read_only_kb <= 0) return 2;
  g_data += 1;
  ReleaseIdleMemory(IdleRelease::kOwnBinary);
  ExeRss after = ReadExeRss();
  if (after.read_only_kb >= before.read_only_kb) return 3;
  if (g_data != 42) return 4;
  std::string s = std::to_string(g_data) + " still works";
  if (s != "42 still works") return 5;
  return 0;
}

TEST(IdleMemoryTest, DropsResidentCodeAndKeepsTheProcessWorking) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(ChildChecks());
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died of signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "2: nothing resident, 3: nothing dropped, 4: data lost, 5: GOT broken";
}

TEST(IdleMemoryTest, LibrariesTooAndRepeatedCallsAreHarmless) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    for (int i = 0; i < 3; ++i) ReleaseIdleMemory(IdleRelease::kBinaryAndLibraries);
    _exit(ChildChecks());
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace berth
