#include "common/systemd.hpp"

#include <systemd/sd-daemon.h>

namespace gw::systemd {

bool NotifyReady() { return sd_notify(0, "READY=1") > 0; }
bool NotifyStopping() { return sd_notify(0, "STOPPING=1") > 0; }
bool NotifyReloading() { return sd_notify(0, "RELOADING=1") > 0; }
bool NotifyStatus(const std::string& status) {
  return sd_notify(0, ("STATUS=" + status).c_str()) > 0;
}
bool NotifyWatchdog() { return sd_notify(0, "WATCHDOG=1") > 0; }

std::optional<std::chrono::microseconds> WatchdogInterval() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec);
}

}  // namespace gw::systemd
