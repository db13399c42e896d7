#pragma once
// The admin listener (--admin-bind): /-/live, /-/ready, /-/metrics and
// /-/quit on a socket of its own, never on the app's listeners. It runs in
// the process that knows the answers — the master, or the only process
// with -w 0 — on that process's own poll loop: a few non-blocking
// connections, each answered and closed, none able to hold the loop (a
// slow client is dropped after kClientTimeout). It never touches Ruby.
//
// Tokens: `token` (--admin-token) allows everything; `metrics_token`
// (--admin-metrics-token) only reading /-/metrics and /-/stats. With
// neither set, those are open and the control endpoints (/-/quit,
// /-/phased-restart) refused. /-/live and /-/ready never ask.
#include <poll.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "hyperion/config/settings.hpp"
#include "hyperion/http1/request_parser.hpp"
#include "hyperion/net/listener.hpp"
#include "hyperion/util/result.hpp"

namespace hyperion::admin {

// What the hosting process answers with.
class AdminHandler {
 public:
  virtual ~AdminHandler() = default;
  // Empty when ready; else why not ("booting", "draining"), for the 503.
  virtual std::string notReadyReason() const = 0;
  virtual std::string metricsText() = 0;  // Prometheus text format 0.0.4
  virtual void quit() = 0;            // a graceful stop, as SIGTERM
  // GET /-/stats: one JSON object (workers, the last phased restart).
  virtual std::string statsJson() = 0;
  // POST /-/phased-restart: starts one (as USR1) and returns its id, or why
  // it cannot start now.
  virtual Result<int> requestPhasedRestart() = 0;
};

class AdminServer {
 public:
  static constexpr std::chrono::seconds kClientTimeout{5};
  static constexpr std::size_t kMaxClients = 32;

  // Binds settings.admin.bind (tcp:// or unix://).
  static Result<std::unique_ptr<AdminServer>> open(const config::Settings::Admin& settings);
  std::string url() const { return listener_.url(); }

  // Appends the fds to poll (the listener, then each client); onPoll takes
  // the same entries back after poll() returned.
  void addPollFds(std::vector<pollfd>& fds) const;
  void onPoll(const pollfd* fds, std::size_t count, AdminHandler& handler);
  // The listener's fd, closed in a forked worker.
  void closeInChild();

  // A request (one whole HTTP/1 request) to its full response bytes; public
  // for the unit tests. `after` is set when the handler must act once the
  // response is out (quit).
  struct Reply {
    std::string bytes;
    bool quit = false;
  };
  Reply answer(const http1::Request& request, AdminHandler& handler, const std::string& peer);

 private:
  struct Client {
    net::UniqueFd fd;
    std::string peer;
    std::string input;
    std::string output;
    std::size_t written = 0;
    bool quit_after = false;
    std::unique_ptr<http1::RequestParser> parser;
    std::chrono::steady_clock::time_point deadline;
  };
  AdminServer(const config::Settings::Admin& settings, net::Listener listener);
  void acceptClients();
  // False when the client is done (answered, broken or timed out).
  bool serve(Client& client, short revents, AdminHandler& handler);
  bool authorized(const http1::Request& request, bool control) const;

  config::Settings::Admin settings_;
  config::Limits limits_;
  net::Listener listener_;
  std::vector<std::unique_ptr<Client>> clients_;
};

}  // namespace hyperion::admin
