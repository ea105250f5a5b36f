#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <type_traits>
#include <utility>

namespace gw {

namespace detail {
template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> InvokeOnPool(F fn) {
  co_return fn();
}
}  // namespace detail

/// Runs `fn` (which may block: libpqxx, file I/O) on `pool` and resumes the calling coroutine on
/// its own executor with the result. Exceptions thrown by `fn` are rethrown in the caller.
/// This is the only sanctioned way for event-loop code to reach blocking work (DESIGN.md inv. 5).
///
/// GCC 12 destroys a lambda *temporary* twice when it is created inside a `co_await` expression
/// and has non-trivially destructible captures (a std::string, an optional, a shared_ptr): a
/// double free. Name the function first:
///   auto fn = [id = std::move(id)] { return QueryBlocking(id); };
///   auto r = co_await RunBlocking(pool, std::move(fn));
template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> RunBlocking(boost::asio::thread_pool& pool, F fn) {
  co_return co_await boost::asio::co_spawn(pool, detail::InvokeOnPool(std::move(fn)),
                                           boost::asio::use_awaitable);
}

}  // namespace gw
