#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

namespace gw {

/// A strand on `executor`, as an any_io_executor. When `executor` is an io_context's own, the
/// strand is made over that concrete type: a strand<io_context::executor_type> fits in
/// any_io_executor's inline storage, so neither a copy of it nor what Asio asks of it on every
/// handler (outstanding work, blocking, the allocator) allocates. A strand over an
/// any_io_executor does not fit: each of those was a malloc per timer wait and per post
/// (issue 18).
inline boost::asio::any_io_executor MakeStrand(const boost::asio::any_io_executor& executor) {
  if (const auto* io = executor.target<boost::asio::io_context::executor_type>()) {
    return boost::asio::make_strand(*io);
  }
  return boost::asio::make_strand(executor);
}

/// True when the caller runs in `executor`: a strand's handler for a strand, the io_context's
/// thread for an io_context executor.
inline bool RunningInThisThread(const boost::asio::any_io_executor& executor) {
  using boost::asio::io_context;
  using boost::asio::strand;
  if (const auto* s = executor.target<strand<io_context::executor_type>>()) {
    return s->running_in_this_thread();
  }
  if (const auto* s = executor.target<strand<boost::asio::any_io_executor>>()) {
    return s->running_in_this_thread();
  }
  if (const auto* io = executor.target<io_context::executor_type>()) {
    return io->running_in_this_thread();
  }
  return false;
}

}  // namespace gw
