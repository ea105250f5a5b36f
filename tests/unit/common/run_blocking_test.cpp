#include "common/run_blocking.hpp"

#include <gtest/gtest.h>

#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

namespace gw {
namespace {

namespace asio = boost::asio;

asio::awaitable<void> HopAndCheck(asio::thread_pool& pool, std::thread::id loop_thread,
                                  bool& ran_elsewhere, bool& resumed_on_loop, int& value) {
  value = co_await RunBlocking(pool, [loop_thread, &ran_elsewhere] {
    ran_elsewhere = std::this_thread::get_id() != loop_thread;
    return 42;
  });
  resumed_on_loop = std::this_thread::get_id() == loop_thread;
}

TEST(RunBlocking, RunsOnPoolAndResumesOnCaller) {
  asio::io_context io;
  asio::thread_pool pool(1);
  bool ran_elsewhere = false;
  bool resumed_on_loop = false;
  int value = 0;
  asio::co_spawn(
      io, HopAndCheck(pool, std::this_thread::get_id(), ran_elsewhere, resumed_on_loop, value),
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
  EXPECT_TRUE(ran_elsewhere);
  EXPECT_TRUE(resumed_on_loop);
  EXPECT_EQ(value, 42);
}

asio::awaitable<void> Throwing(asio::thread_pool& pool, bool& caught) {
  try {
    co_await RunBlocking(pool, []() -> int { throw std::runtime_error("db down"); });
  } catch (const std::runtime_error&) {
    caught = true;
  }
}

TEST(RunBlocking, PropagatesExceptions) {
  asio::io_context io;
  asio::thread_pool pool(1);
  bool caught = false;
  asio::co_spawn(io, Throwing(pool, caught), asio::detached);
  io.run();
  EXPECT_TRUE(caught);
}

asio::awaitable<void> NamedCaptures(asio::thread_pool& pool, std::size_t& total) {
  for (int i = 0; i < 200; ++i) {
    std::optional<std::string> id = std::string(100, 'x');  // heap-allocated capture
    auto fn = [id = std::move(id)] { return id->size(); };
    total += co_await RunBlocking(pool, std::move(fn));
  }
}

// The pattern run_blocking.hpp prescribes (named function, non-trivial captures) stays clean
// under ASan; the temporary form double-frees with GCC 12.
TEST(RunBlocking, NamedFunctionWithOwningCapturesIsSafe) {
  asio::io_context io;
  asio::thread_pool pool(2);
  std::size_t total = 0;
  asio::co_spawn(io, NamedCaptures(pool, total), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  io.run();
  EXPECT_EQ(total, 200u * 100u);
}

}  // namespace
}  // namespace gw
