#pragma once
// systemd's readiness protocol (sd_notify(3)) without libsystemd: one
// datagram of "KEY=VALUE\n" lines to the Unix socket named by
// $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace). With no
// NOTIFY_SOCKET (not under systemd, or Type= is not notify) it does nothing.
//
// The master says READY=1 once every worker is ready, RELOADING=1 while a
// phased restart runs, STOPPING=1 when a stop begins, and STATUS= lines a
// `systemctl status` shows; WATCHDOG=1 when the unit sets WatchdogSec=.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "hyperion/net/unique_fd.hpp"

namespace hyperion::proc {

class SdNotify {
 public:
  // From the environment: NOTIFY_SOCKET, and WATCHDOG_USEC/WATCHDOG_PID.
  static SdNotify fromEnvironment();

  bool enabled() const { return fd_.valid(); }
  // Sends one message (lines joined by '\n'); false when it could not.
  bool send(std::string_view message) const;

  // How often to send WATCHDOG=1 (half the unit's WatchdogSec=), if asked.
  std::optional<std::chrono::milliseconds> watchdogInterval() const { return watchdog_; }

 private:
  net::UniqueFd fd_;
  std::string address_;  // sun_path bytes, a leading NUL for the abstract namespace
  std::optional<std::chrono::milliseconds> watchdog_;
};

}  // namespace hyperion::proc
