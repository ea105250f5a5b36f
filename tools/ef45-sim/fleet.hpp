#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ef45sim {

struct FleetOptions {
  int readers = 1;
  std::uint16_t base_port = 0;     ///< reader i listens on base_port + i; 0 = ephemeral ports
  std::uint16_t control_port = 0;  ///< 0 = ephemeral
  std::string bind_address = "127.0.0.1";
  /// Reader i listens on (bind_address + i):base_port instead of bind_address:(base_port + i),
  /// like a site whose readers all use :9980 on their own IPs (127.0.0.2, .3, ... on loopback).
  /// IPv4 only; the control API stays on bind_address.
  bool address_per_reader = false;
  double rate = 0.0;       ///< recognitions per reader per second (0 = none)
  double door_rate = 0.0;  ///< door changes per reader per second
  std::uint64_t seed = 1;
  int biometric_kb = 0;  ///< size of emulated biometric payloads in KiB (0 = the reader's default)
  /// Period of the one fleet-wide generation tick (events are drawn per reader per tick).
  std::chrono::milliseconds tick{50};
  /// Close a keep-alive connection that stays idle this long (Poco's HTTPServer, which the
  /// firmware runs, defaults to 10 s). 0 = never.
  std::chrono::milliseconds idle_timeout{0};
  /// Largest request body a reader or the control API accepts (firmware chunks, biometrics).
  std::size_t body_limit_bytes = 8 * 1024 * 1024;
  /// Firmware install (issue 20): after an image with a version label is accepted, the reader
  /// is off the network (connections refused) for this long, then reboots on the new version.
  std::chrono::milliseconds install_time{5000};
  /// Called on the io_context thread once Stop() has run (e.g. to cancel a signal_set so that
  /// io_context::run() can return). Optional.
  std::function<void()> on_stopped = nullptr;
};

/// Where a fleet is listening, as written to ef45-sim's --ready-file.
struct FleetEndpoints {
  std::uint16_t control_port = 0;
  std::vector<std::uint16_t> reader_ports;  ///< index i = reader i
  std::vector<std::string> reader_addresses;
};

/// A fleet of emulated readers served from one io_context: one HTTP/1.1 listener per reader
/// plus the control API (`/sim/...`, see control.hpp). Every reader, connection, fault and the
/// generation tick run on that io_context, which must be run by exactly one thread (the readers
/// are not thread-safe). Usable in-process (tests) or from ef45-sim's main.
///
/// Lifetime: the io_context and the Fleet must outlive io_context::run(); call Stop() and let
/// run() return before destroying the Fleet.
class Fleet {
 public:
  Fleet(boost::asio::io_context& io, FleetOptions options);
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  /// Binds every listener and starts serving and generating. Call once, before or while the
  /// io_context runs (not concurrently with it from another thread). Throws
  /// boost::system::system_error when a listener cannot be bound (port in use), and
  /// std::invalid_argument for bad options (reader count, port or address range).
  void Start();
  /// Closes listeners and connections, stops timers; io_context::run() then returns (once the
  /// caller's own work is done). Thread-safe: from another thread it is posted to the
  /// io_context. Idempotent. POST /sim/shutdown calls it after answering.
  void Stop();

  /// Ports actually bound (valid after Start(); safe to read from any thread after Start()).
  std::uint16_t ReaderPort(int index) const;
  std::uint16_t ControlPort() const;
  FleetEndpoints Endpoints() const;
  int size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The ready-file document:
/// {"control_port":C,"readers":[{"index":0,"address":"127.0.0.1","port":P},...]}.
std::string EndpointsJson(const FleetEndpoints& endpoints);

}  // namespace ef45sim
