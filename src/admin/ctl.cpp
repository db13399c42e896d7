#include "hyperion/admin/ctl.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "hyperion/config/cli.hpp"
#include "hyperion/net/listener.hpp"
#include "hyperion/net/unique_fd.hpp"
#include "hyperion/util/result.hpp"

namespace hyperion::admin {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string command;
  std::string admin;  // tcp://HOST:PORT or unix:///PATH
  std::string token;
  bool wait = false;
  std::chrono::milliseconds timeout{120'000};
};

struct HttpReply {
  int status = 0;
  std::string body;
};

// Connects to the admin listener; an error says why (refused: not running).
Result<net::UniqueFd> connectTo(const std::string& uri) {
  auto address = net::parseBindUri(uri);
  if (!address) return Error{address.error()};
  if (address->kind == net::BindAddress::Kind::Unix) {
    net::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (address->path.size() >= sizeof addr.sun_path) return Error{"socket path too long: " + address->path};
    std::memcpy(addr.sun_path, address->path.c_str(), address->path.size() + 1);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      return Error{address->path + ": " + std::strerror(errno)};
    return fd;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address->port);
  if (int rc = ::getaddrinfo(address->host.c_str(), port.c_str(), &hints, &found); rc != 0)
    return Error{address->host + ": " + ::gai_strerror(rc)};
  std::string last = "no address";
  for (addrinfo* ai = found; ai; ai = ai->ai_next) {
    net::UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
    if (fd && ::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0) {
      ::freeaddrinfo(found);
      return fd;
    }
    last = std::strerror(errno);
  }
  ::freeaddrinfo(found);
  return Error{address->host + ":" + port + ": " + last};
}

// One request, Connection: close, the whole answer read (10 s at most).
Result<HttpReply> request(const Options& options, const std::string& method, const std::string& path) {
  auto connected = connectTo(options.admin);
  if (!connected) return Error{"cannot reach the admin listener at " + options.admin + ": " + connected.error()};
  const int fd = connected->get();
  std::string out = method + " " + path + " HTTP/1.1\r\nHost: hyperion\r\nConnection: close\r\nContent-Length: 0\r\n";
  if (!options.token.empty()) out += "Authorization: Bearer " + options.token + "\r\n";
  out += "\r\n";
  if (::send(fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size()))
    return Error{std::string("cannot send to the admin listener: ") + std::strerror(errno)};
  std::string in;
  char buffer[16384];
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd pfd{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&pfd, 1, static_cast<int>(left)) <= 0) return Error{"the admin listener did not answer"};
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0) return Error{std::string("reading the answer: ") + std::strerror(errno)};
    if (n == 0) break;
    in.append(buffer, static_cast<std::size_t>(n));
  }
  HttpReply reply;
  if (in.rfind("HTTP/1.", 0) != 0 || in.size() < 12) return Error{"not an HTTP answer from " + options.admin};
  reply.status = std::atoi(in.c_str() + 9);
  const auto body = in.find("\r\n\r\n");
  if (body != std::string::npos) reply.body = in.substr(body + 4);
  return reply;
}

// The value of "key":"..." or "key":N in the flat JSON /-/stats returns
// (the phased_restart object's fields are unique names).
std::string jsonField(const std::string& json, const std::string& key) {
  const std::string quoted = "\"" + key + "\":";
  auto at = json.find(quoted);
  if (at == std::string::npos) return {};
  at += quoted.size();
  if (at < json.size() && json[at] == '"') {
    std::string value;
    for (std::size_t i = at + 1; i < json.size() && json[i] != '"'; ++i) {
      if (json[i] == '\\' && i + 1 < json.size()) ++i;
      value += json[i];
    }
    return value;
  }
  const auto end = json.find_first_of(",}", at);
  return json.substr(at, end - at);
}

// A non-2xx answer, as the message ctl exits with.
int failed(const HttpReply& reply, const std::string& what) {
  std::string body = reply.body;
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  std::fprintf(stderr, "hyperion ctl: %s: %d %s\n", what.c_str(), reply.status, body.c_str());
  return 1;
}

int fail(const std::string& message) {
  std::fprintf(stderr, "hyperion ctl: %s\n", message.c_str());
  return 1;
}

int phasedRestart(const Options& options) {
  auto started = request(options, "POST", "/-/phased-restart");
  if (!started) return fail(started.error());
  if (started->status != 202) return failed(*started, "phased restart refused");
  const std::string id = jsonField(started->body, "restart");
  std::printf("phased restart %s started\n", id.c_str());
  if (!options.wait) return 0;
  const auto deadline = Clock::now() + options.timeout;
  while (Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto stats = request(options, "GET", "/-/stats");
    if (!stats) return fail("phased restart " + id + ": " + stats.error());
    if (stats->status != 200) return failed(*stats, "reading /-/stats");
    if (jsonField(stats->body, "id") != id) return fail("phased restart " + id + " was superseded by another");
    const std::string state = jsonField(stats->body, "state");
    if (state == "complete") {
      std::printf("phased restart %s complete: %s of %s worker(s) ready\n", id.c_str(),
                  jsonField(stats->body, "workers_ready").c_str(), jsonField(stats->body, "workers").c_str());
      return 0;
    }
    if (state == "failed") return fail("phased restart " + id + " failed: " + jsonField(stats->body, "reason"));
  }
  return fail("phased restart " + id + " not finished within " + std::to_string(options.timeout.count() / 1000) + " s");
}

int stop(const Options& options) {
  auto asked = request(options, "POST", "/-/stop");
  if (!asked) return fail(asked.error());
  if (asked->status != 202) return failed(*asked, "stop refused");
  std::printf("stopping\n");
  if (!options.wait) return 0;
  // The admin listener closes when the master exits, after the workers.
  const auto deadline = Clock::now() + options.timeout;
  while (Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!connectTo(options.admin)) {
      std::printf("stopped\n");
      return 0;
    }
  }
  return fail("the server has not exited within " + std::to_string(options.timeout.count() / 1000) + " s");
}

}  // namespace

std::string ctlUsage() {
  return R"(Usage: hyperion ctl COMMAND [options]

Commands (over the admin listener, see --admin-bind)
  phased-restart             replace the workers one at a time (as SIGUSR1)
  stop                       graceful stop (as SIGTERM)
  stats                      print GET /-/stats (JSON)
  ready                      exit 0 when GET /-/ready is 200, else 1
  hot-restart                not available yet: USR2 hot restart is not implemented

Options
  --admin URI                tcp://HOST:PORT or unix:///PATH (default: $HYPERION_ADMIN_URL,
                             else tcp://127.0.0.1:9293)
  --token T                  the admin token (default: $HYPERION_ADMIN_TOKEN)
  --wait                     phased-restart: until every new worker is ready (exit 1 with the
                             reason if it stopped); stop: until the server has exited
  --timeout T                how long --wait waits (default 120s)
)";
}

int runCtl(int argc, const char* const* argv) {
  Options options;
  if (const char* env = std::getenv("HYPERION_ADMIN_URL"); env && *env) options.admin = env;
  else options.admin = "tcp://127.0.0.1:9293";
  if (const char* env = std::getenv("HYPERION_ADMIN_TOKEN"); env && *env) options.token = env;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(ctlUsage().c_str(), stdout);
      return 0;
    } else if (arg == "--wait") {
      options.wait = true;
    } else if (arg == "--admin" || arg == "--token" || arg == "--timeout") {
      if (i + 1 >= argc) return fail(arg + " needs a value");
      const std::string v = argv[++i];
      if (arg == "--admin") options.admin = v;
      else if (arg == "--token") options.token = v;
      else {
        auto d = config::parseDuration(v);
        if (!d || d->count() <= 0) return fail("--timeout expects a duration such as 120s");
        options.timeout = *d;
      }
    } else if (!arg.empty() && arg[0] != '-' && options.command.empty()) {
      options.command = arg;
    } else {
      std::fprintf(stderr, "hyperion ctl: unknown argument %s\n\n%s", arg.c_str(), ctlUsage().c_str());
      return 2;
    }
  }
  if (options.command == "phased-restart") return phasedRestart(options);
  if (options.command == "stop") return stop(options);
  if (options.command == "stats" || options.command == "ready") {
    auto reply = request(options, "GET", options.command == "stats" ? "/-/stats" : "/-/ready");
    if (!reply) return fail(reply.error());
    if (options.command == "ready") {
      std::fputs(reply->body.c_str(), stdout);
      return reply->status == 200 ? 0 : 1;
    }
    if (reply->status != 200) return failed(*reply, "reading /-/stats");
    std::fputs(reply->body.c_str(), stdout);
    return 0;
  }
  if (options.command == "hot-restart")
    return fail("hot-restart: the USR2 hot restart is not implemented yet; use phased-restart (code is reloaded "
                "unless --preload)");
  std::fprintf(stderr, "hyperion ctl: %s\n\n%s",
               options.command.empty() ? "which command?" : ("unknown command " + options.command).c_str(),
               ctlUsage().c_str());
  return 2;
}

}  // namespace hyperion::admin
