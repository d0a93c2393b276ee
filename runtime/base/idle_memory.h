// What a long-lived process gives back when it is idle: its resident copies of code and
// read-only data, and malloc's free memory.
//
// Starting up runs much code once (parsing, set-up, a container's creation in berth-shim),
// and every page of it that ran stays mapped. The pages themselves stay in the page cache,
// shared with every other process that maps them (all berth-shims run one sealed copy of the
// binary); the process only drops its own mappings of them, and what it runs afterwards
// faults back in without any I/O. Pss and the anonymous pages are the honest measure of what
// a process costs; this makes VmRSS say the same.
#pragma once

namespace berth {

enum class IdleRelease {
  // The executable's read-only segments, as its program headers give them (a static
  // program: all its code and constants); cheap enough to run once per container.
  kOwnBinary,
  // The executable's and every shared library's read-only, private file mappings that hold
  // no private copy of any page, as /proc/self/smaps shows them (a relocated RELRO mapping
  // does, and is left alone).
  kBinaryAndLibraries,
};

// Trims malloc, then unmaps the resident pages of the mappings `scope` names; nothing
// writable is touched. Only mappings that live as long as the process (the executable,
// shared libraries) are, so another thread cannot have replaced one meanwhile. Best effort:
// a failure changes nothing.
void ReleaseIdleMemory(IdleRelease scope);

}  // namespace berth
