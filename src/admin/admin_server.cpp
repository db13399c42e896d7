#include "hyperion/admin/admin_server.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hyperion/http1/response.hpp"
#include "hyperion/log/logger.hpp"
#include "hyperion/net/peer_address.hpp"

namespace hyperion::admin {
namespace {

std::string response(int status, std::string_view content_type, std::string_view body) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(http1::reasonPhrase(status)) +
                    "\r\nContent-Type: " + std::string(content_type) + "\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\nCache-Control: no-store\r\nConnection: close\r\n";
  if (status == 401) out += "WWW-Authenticate: Bearer realm=\"hyperion\"\r\n";
  out += "\r\n";
  out.append(body);
  return out;
}

std::string text(int status, std::string_view body) { return response(status, "text/plain; charset=utf-8", body); }

// Compares without stopping at the first difference, so the time taken
// does not tell a guesser how much of a token was right.
bool sameSecret(std::string_view given, std::string_view expected) {
  if (given.size() != expected.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < given.size(); ++i) diff |= static_cast<unsigned char>(given[i] ^ expected[i]);
  return diff == 0;
}

// The token a client sent: `Authorization: Bearer T`, or ?token=T (Puma's
// control app takes it in the query; so do scrapers that cannot set headers).
std::string_view presentedToken(const http1::Request& request) {
  if (const std::string* auth = request.header("authorization")) {
    std::string_view value(*auth);
    if (value.size() > 7 && http1::equalsIgnoreCase(value.substr(0, 7), "Bearer ")) return value.substr(7);
  }
  std::string_view query = request.query();
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (pair.rfind("token=", 0) == 0) return pair.substr(6);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<AdminServer>> AdminServer::open(const config::Settings::Admin& settings) {
  auto address = net::parseBindUri(settings.bind);
  if (!address) return Error{"--admin-bind " + settings.bind + ": " + address.error()};
  if (address->tls) return Error{"--admin-bind " + settings.bind + ": TLS is not offered on the admin listener; "
                                 "bind it to loopback or a unix socket, or put a proxy in front"};
  auto bound = net::bindListeners({settings.bind}, 1);
  if (!bound) return Error{"--admin-bind: " + bound.error()};
  return std::unique_ptr<AdminServer>(new AdminServer(settings, std::move(bound.value().front())));
}

AdminServer::AdminServer(const config::Settings::Admin& settings, net::Listener listener)
    : settings_(settings), listener_(std::move(listener)) {
  limits_.max_header_bytes = 8 * 1024;
  limits_.max_uri_bytes = 2 * 1024;
  limits_.max_body_bytes = 4 * 1024;
  limits_.body_memory_bytes = 4 * 1024;
}

void AdminServer::closeInChild() {
  listener_.fd.reset();
  clients_.clear();
}

void AdminServer::addPollFds(std::vector<pollfd>& fds) const {
  fds.push_back({listener_.fd.get(), static_cast<short>(clients_.size() < kMaxClients ? POLLIN : 0), 0});
  for (const auto& client : clients_)
    fds.push_back({client->fd.get(), static_cast<short>(client->output.empty() ? POLLIN : POLLOUT), 0});
}

void AdminServer::onPoll(const pollfd* fds, std::size_t count, AdminHandler& handler) {
  if (count == 0) return;
  const auto now = std::chrono::steady_clock::now();
  // Entries 1.. are the clients as they were when the fds were added.
  std::vector<std::unique_ptr<Client>> kept;
  for (std::size_t i = 0; i < clients_.size(); ++i) {
    Client& client = *clients_[i];
    const short revents = i + 1 < count ? fds[i + 1].revents : 0;
    bool keep = revents == 0 || serve(client, revents, handler);
    if (keep && now >= client.deadline) {
      spdlog::info("admin: dropped {}: no complete request or read of the answer in {} s", client.peer,
                   kClientTimeout.count());
      keep = false;
    }
    if (keep) kept.push_back(std::move(clients_[i]));
    else if (client.quit_after && client.written == client.output.size()) handler.quit();
  }
  clients_ = std::move(kept);
  if (fds[0].revents & POLLIN) acceptClients();
}

void AdminServer::acceptClients() {
  while (clients_.size() < kMaxClients) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    int fd = ::accept4(listener_.fd.get(), reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or an error the next poll shows again
    auto client = std::make_unique<Client>();
    client->fd.reset(fd);
    client->peer = listener_.address.kind == net::BindAddress::Kind::Unix ? std::string("a unix socket client")
                                                                           : net::peerAddress(addr);
    client->parser = std::make_unique<http1::RequestParser>(limits_, "/tmp");
    client->deadline = std::chrono::steady_clock::now() + kClientTimeout;
    clients_.push_back(std::move(client));
  }
}

bool AdminServer::serve(Client& client, short revents, AdminHandler& handler) {
  if (client.output.empty()) {
    char buffer[4096];
    for (;;) {
      const ssize_t n = ::recv(client.fd.get(), buffer, sizeof buffer, 0);
      if (n == 0) return false;  // closed before a whole request
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return false;
      }
      client.input.append(buffer, static_cast<std::size_t>(n));
    }
    const auto outcome = client.parser->feed(client.input.data(), client.input.size());
    client.input.erase(0, outcome.consumed);
    if (outcome.status == http1::RequestParser::Status::NeedMore) return (revents & (POLLHUP | POLLERR)) == 0;
    if (outcome.status == http1::RequestParser::Status::Failed) {
      const auto& error = client.parser->error();
      spdlog::info("admin: rejected a request: {} -> {}", error.reason, error.status);
      client.output = text(error.status, std::string(http1::reasonPhrase(error.status)) + "\n");
    } else {
      Reply reply = answer(client.parser->takeRequest(), handler, client.peer);
      client.output = std::move(reply.bytes);
      client.quit_after = reply.quit;
    }
  }
  while (client.written < client.output.size()) {
    const ssize_t n = ::send(client.fd.get(), client.output.data() + client.written, client.output.size() - client.written,
                             MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      client.quit_after = false;  // the caller never learnt it was accepted
      return false;
    }
    client.written += static_cast<std::size_t>(n);
  }
  ::shutdown(client.fd.get(), SHUT_WR);
  return false;
}

bool AdminServer::authorized(const http1::Request& request, bool control) const {
  const std::string_view given = presentedToken(request);
  if (!settings_.token.empty() && sameSecret(given, settings_.token)) return true;
  if (control) return false;
  if (!settings_.metrics_token.empty()) return sameSecret(given, settings_.metrics_token);
  return settings_.token.empty();  // no token at all: reading is open
}

AdminServer::Reply AdminServer::answer(const http1::Request& request, AdminHandler& handler, const std::string& peer) {
  const std::string_view path = request.path();
  const bool get = request.method == "GET";
  auto only = [&](std::string_view allowed) {
    return Reply{text(405, "use " + std::string(allowed) + "\n"), false};
  };
  if (path == "/-/live") {
    if (!get) return only("GET");
    return {text(200, "live\n"), false};
  }
  if (path == "/-/ready") {
    if (!get) return only("GET");
    const std::string why = handler.notReadyReason();
    return {why.empty() ? text(200, "ready\n") : text(503, "not ready: " + why + "\n"), false};
  }
  if (path == "/-/metrics") {
    if (!get) return only("GET");
    if (!authorized(request, false)) {
      spdlog::warn("admin: refused /-/metrics from {}: {}", peer,
                   presentedToken(request).empty() ? "no token" : "wrong token");
      return {text(401, "a valid admin token is required (Authorization: Bearer TOKEN)\n"), false};
    }
    return {response(200, "text/plain; version=0.0.4; charset=utf-8", handler.metricsText()), false};
  }
  if (path == "/-/stats") {
    if (!get) return only("GET");
    if (!authorized(request, false)) {
      spdlog::warn("admin: refused /-/stats from {}: {}", peer,
                   presentedToken(request).empty() ? "no token" : "wrong token");
      return {text(401, "a valid admin token is required (Authorization: Bearer TOKEN)\n"), false};
    }
    return {response(200, "application/json", handler.statsJson()), false};
  }
  if (path == "/-/quit" || path == "/-/stop" || path == "/-/phased-restart") {
    if (request.method != "POST") return only("POST");
    if (settings_.token.empty()) {
      spdlog::warn("admin: refused {} from {}: no --admin-token is set, so control is off", path, peer);
      return {text(403, "control endpoints are off: start hyperion with --admin-token\n"), false};
    }
    if (!authorized(request, true)) {
      spdlog::warn("admin: refused {} from {}: {}", path, peer,
                   presentedToken(request).empty() ? "no token" : "wrong token");
      return {text(401, "the admin token is required (Authorization: Bearer TOKEN)\n"), false};
    }
    if (path == "/-/phased-restart") {
      auto started = handler.requestPhasedRestart();
      if (!started) {
        spdlog::info("admin: {} from {} refused: {}", path, peer, started.error());
        return {text(409, started.error() + "\n"), false};
      }
      spdlog::info("admin: {} from {}: phased restart {} started", path, peer, started.value());
      return {response(202, "application/json", "{\"restart\":" + std::to_string(started.value()) + "}\n"), false};
    }
    spdlog::info("admin: {} from {}: graceful stop", path, peer);
    return {text(202, "stopping\n"), true};
  }
  return {text(404, "unknown admin path; try /-/live, /-/ready, /-/metrics, /-/stats, POST /-/phased-restart, "
                    "POST /-/quit\n"),
          false};
}

}  // namespace hyperion::admin
