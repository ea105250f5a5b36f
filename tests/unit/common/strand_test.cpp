// gw::MakeStrand (issue 18): a strand over the io_context's own executor type, so that Asio's
// per-handler queries and copies of it do not allocate; it must still be a strand.
#include "common/strand.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <thread>
#include <vector>

namespace gw {
namespace {

namespace asio = boost::asio;

TEST(Strand, OverAnIoContextIsAStrandOfItsConcreteExecutor) {
  asio::io_context io;
  asio::any_io_executor strand = MakeStrand(io.get_executor());
  EXPECT_NE(strand.target<asio::strand<asio::io_context::executor_type>>(), nullptr);
  // Anything else still gets a strand (over the type-erased executor).
  asio::thread_pool pool(1);
  asio::any_io_executor other = MakeStrand(pool.get_executor());
  EXPECT_NE(other.target<asio::strand<asio::any_io_executor>>(), nullptr);
  pool.join();
}

TEST(Strand, RunningInThisThreadTellsTheStrandsHandlersFromOthers) {
  asio::io_context io;
  asio::any_io_executor a = MakeStrand(io.get_executor());
  asio::any_io_executor b = MakeStrand(io.get_executor());
  int checked = 0;
  EXPECT_FALSE(RunningInThisThread(a));
  asio::post(a, [&] {
    EXPECT_TRUE(RunningInThisThread(a));
    EXPECT_FALSE(RunningInThisThread(b));
    EXPECT_TRUE(RunningInThisThread(io.get_executor()));
    ++checked;
  });
  io.run();
  EXPECT_EQ(checked, 1);
  EXPECT_FALSE(RunningInThisThread(io.get_executor()));
}

TEST(Strand, KeepsHandlersInTurnOnManyThreads) {
  asio::io_context io;
  asio::any_io_executor strand = MakeStrand(io.get_executor());
  std::atomic<int> inside{0};
  std::atomic<bool> overlapped{false};
  int count = 0;  // touched only on the strand
  constexpr int kHandlers = 20000;
  for (int i = 0; i < kHandlers; ++i) {
    asio::post(strand, [&] {
      if (inside.fetch_add(1) != 0) overlapped = true;
      ++count;
      inside.fetch_sub(1);
    });
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back([&] { io.run(); });
  for (auto& t : threads) t.join();
  EXPECT_FALSE(overlapped.load());
  EXPECT_EQ(count, kHandlers);
}

}  // namespace
}  // namespace gw
