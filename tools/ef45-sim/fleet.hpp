#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ef45sim {

struct FleetOptions {
  int readers = 1;
  std::uint16_t base_port = 0;     ///< reader i listens on base_port + i; 0 = ephemeral ports
  std::uint16_t control_port = 0;  ///< 0 = ephemeral
  std::string bind_address = "127.0.0.1";
  double rate = 0.0;       ///< recognitions per reader per second (0 = none)
  double door_rate = 0.0;  ///< door changes per reader per second
  std::uint64_t seed = 1;
};

/// A fleet of emulated readers served from one io_context: one listener per reader plus the
/// control API. All state lives on one strand. Usable in-process (tests) or from ef45-sim's main.
class Fleet {
 public:
  Fleet(boost::asio::io_context& io, FleetOptions options);
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  /// Binds every listener (throws on failure) and starts serving and generating.
  void Start();
  /// Closes listeners and connections, stops timers; io_context::run() then returns.
  void Stop();

  std::uint16_t ReaderPort(int index) const;
  std::uint16_t ControlPort() const;
  int size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ef45sim
