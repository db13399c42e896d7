// The floor under a fan-out on this machine: what one core spends just
// sending one small frame to each of N loopback TCP connections, with no
// server around it, and when the receiving process sees each one.
//
//   send_floor N [SEND_CPU RECV_CPU]
//
// A sending process (pinned to SEND_CPU, 0 by default: where the bench pins
// the server) accepts N connections and then calls send() once per socket
// with the 8 bytes of a WebSocket text frame, back to back; a receiving
// process (RECV_CPU, 1: where the bench pins ws_load) holds the other ends in
// one epoll set, as ws_load's fanout does, and records when each arrived.
// Prints the receiver's p50/p99/max and the sender's loop time, in the same
// units as `ws_load fanout`, so `bench/ws/run.sh fanout floor` puts the two
// side by side. On loopback each send() also runs the receiver's TCP input
// on the sending core, which a NIC would not.
//
// Build: g++ -O2 -std=c++20 -o send_floor send_floor.cpp
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

using Clock = std::chrono::steady_clock;

namespace {

void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  ::sched_setaffinity(0, sizeof set, &set);
}

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// The receiving side: connect N sockets, say ready, wait for the start
// time, then read until every socket has had its frame.
int receive(int count, sockaddr_in address, int ready_fd, int start_fd) {
  const int ep = ::epoll_create1(0);
  for (int i = 0; i < count; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) die("connect");
    epoll_event event{EPOLLIN, {.u64 = static_cast<std::uint64_t>(fd)}};
    ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &event);
  }
  const char ok = 1;
  if (::write(ready_fd, &ok, 1) != 1) die("write ready");
  Clock::time_point t0;
  if (::read(start_fd, &t0, sizeof t0) != sizeof t0) die("read start");
  std::vector<double> ms;
  ms.reserve(static_cast<std::size_t>(count));
  epoll_event events[256];
  char buffer[64];
  while (static_cast<int>(ms.size()) < count) {
    const int n = ::epoll_wait(ep, events, 256, 5000);
    if (n <= 0) break;
    for (int k = 0; k < n; ++k)
      if (::read(static_cast<int>(events[k].data.u64), buffer, sizeof buffer) > 0)
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  const std::size_t got = ms.size();
  std::printf("floor delivered %zu of %d p50_ms %.1f p99_ms %.1f max_ms %.1f", got, count, percentile(ms, 0.5),
              percentile(ms, 0.99), ms.empty() ? 0.0 : ms.back());
  std::fflush(stdout);
  return got == static_cast<std::size_t>(count) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: send_floor N [SEND_CPU RECV_CPU]\n");
    return 2;
  }
  const int count = std::atoi(argv[1]);
  const int send_cpu = argc > 2 ? std::atoi(argv[2]) : 0;
  const int recv_cpu = argc > 3 ? std::atoi(argv[3]) : 1;
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(listener, 4096) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    die("listen");
  int ready[2], start[2];
  if (::pipe(ready) != 0 || ::pipe(start) != 0) die("pipe");
  const pid_t child = ::fork();
  if (child < 0) die("fork");
  if (child == 0) {
    pin(recv_cpu);
    ::close(listener);
    std::_Exit(receive(count, address, ready[1], start[0]));
  }
  pin(send_cpu);
  std::vector<int> sockets;
  sockets.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    const int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) die("accept");
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // as the server's sockets
    sockets.push_back(fd);
  }
  char ok = 0;
  if (::read(ready[0], &ok, 1) != 1) die("read ready");
  ::usleep(200 * 1000);  // the receiver is asleep in epoll_wait, as ws_load is when a publish lands
  const char frame[8] = {static_cast<char>(0x81), 6, 'f', 'a', 'n', 'o', 'u', 't'};
  const auto t0 = Clock::now();
  if (::write(start[1], &t0, sizeof t0) != sizeof t0) die("write start");
  for (const int fd : sockets) ::send(fd, frame, sizeof frame, MSG_NOSIGNAL | MSG_DONTWAIT);
  const double loop_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  int status = 0;
  ::waitpid(child, &status, 0);
  std::printf(" send_loop_ms %.1f\n", loop_ms);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
