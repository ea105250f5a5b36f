#pragma once

#include <cstddef>

namespace gw::memory {

/// glibc malloc set up for the gateway: at most two arenas. By default glibc gives each thread
/// that allocates an arena of its own (up to 8 per core): the database pools' threads each
/// kept an arena of mostly free memory (~0.7 MB each, ~9 MB at 1,000 readers). Call once, before
/// any thread is started. No effect with another allocator.
void ConfigureAllocator();

/// What TrimFreeMemory did.
struct TrimReport {
  std::size_t resident_before_bytes = 0;  ///< the process's RSS before (0: unknown)
  std::size_t resident_after_bytes = 0;
};

/// Gives the free memory inside the malloc heaps back to the kernel (glibc malloc_trim: whole
/// free pages are released, wherever they are in a heap, not only at its top). Many readers'
/// short-lived buffers (polls, commits, /metrics scrapes) leave free holes that glibc keeps
/// resident; at 1,000 readers that was a third of the RSS. Takes a few milliseconds on a heap
/// of ~60 MB; does not block on I/O. Thread-safe.
TrimReport TrimFreeMemory();

/// The process's resident set size in bytes (/proc/self/statm); 0 when unknown.
std::size_t ResidentBytes();

}  // namespace gw::memory
