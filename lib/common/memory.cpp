#include "common/memory.hpp"

#include <malloc.h>
#include <unistd.h>

#include <fstream>

namespace gw::memory {

void ConfigureAllocator() {
#ifdef M_ARENA_MAX
  // Two, not one: the event loop and a database thread allocating at once rarely wait on each
  // other, and the arenas' slack is bounded.
  mallopt(M_ARENA_MAX, 2);
#endif
}

std::size_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0;
  std::size_t resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

TrimReport TrimFreeMemory() {
  TrimReport report;
  report.resident_before_bytes = ResidentBytes();
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
  report.resident_after_bytes = ResidentBytes();
  return report;
}

}  // namespace gw::memory
