#include "common/memory.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

namespace gw::memory {
namespace {

// The trim gives free heap pages back (issue 18): after many blocks were allocated, written and
// freed (holes glibc keeps resident), the RSS after a trim is well below the RSS with them.
TEST(Memory, TrimGivesFreedHeapPagesBack) {
  ASSERT_GT(ResidentBytes(), 0u);
  constexpr std::size_t kBlocks = 4096;
  constexpr std::size_t kBlock = 8 * 1024;  // under the mmap threshold: inside the heap
  std::vector<std::unique_ptr<char[]>> blocks;
  for (std::size_t i = 0; i < kBlocks; ++i) {
    blocks.emplace_back(new char[kBlock]);
    std::memset(blocks.back().get(), 1, kBlock);
  }
  // Free all but every 64th block: the survivors keep the heap's top from shrinking on its own.
  for (std::size_t i = 0; i < kBlocks; ++i) {
    if (i % 64 != 63) blocks[i].reset();
  }
  auto report = TrimFreeMemory();
  ASSERT_GT(report.resident_before_bytes, 0u);
  ASSERT_GT(report.resident_after_bytes, 0u);
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
  // ~32 MB were freed; most of it goes back.
  EXPECT_LT(report.resident_after_bytes + 16 * 1024 * 1024, report.resident_before_bytes)
      << report.resident_before_bytes << " -> " << report.resident_after_bytes;
#endif
}

}  // namespace
}  // namespace gw::memory
