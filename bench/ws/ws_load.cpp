// A WebSocket load client in C++ (one thread, epoll), so the client is not
// what limits the numbers bench/ws/run.sh reports. Modes:
//
//   ws_load echo   HOST PORT PATH CONNS SECONDS SIZE
//       each connection sends a SIZE-byte text message and waits for its
//       echo before the next (ping-pong); prints msgs/s and p50/p99 (us).
//   ws_load idle   HOST PORT PATH CONNS HOLD_SECONDS
//       opens CONNS connections, holds them idle, then pings every one and
//       counts the pongs; prints "open N pongs M" (RSS is read by the script).
//   ws_load fanout HOST PORT PATH CONNS
//       CONNS subscribers (the app's /chat: "joined" first), then one more
//       connection publishes a timestamp; prints p50/p99/max delivery (ms)
//       and how many of CONNS received it.
//
// Build: g++ -O2 -std=c++20 -o ws_load ws_load.cpp
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using Clock = std::chrono::steady_clock;

namespace {

struct Conn {
  int fd = -1;
  bool open = false;  // the 101 was read
  std::string in;
  Clock::time_point sent_at;
  std::size_t received = 0;
};

std::string masked(std::uint8_t opcode, const std::string& payload) {
  std::string f;
  f.push_back(static_cast<char>(0x80 | opcode));
  const std::size_t n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<char>(0x80 | n));
  } else if (n < 65536) {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xFF));
  } else {
    f.push_back(static_cast<char>(0x80 | 127));
    for (int s = 56; s >= 0; s -= 8) f.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> s) & 0xFF));
  }
  const char mask[4] = {0x12, 0x34, 0x56, 0x78};
  f.append(mask, 4);
  for (std::size_t i = 0; i < n; ++i) f.push_back(static_cast<char>(payload[i] ^ mask[i & 3]));
  return f;
}

// One complete server frame off the front of `in`: opcode and payload.
bool takeFrame(std::string& in, int& opcode, std::string& payload) {
  if (in.size() < 2) return false;
  const auto b1 = static_cast<unsigned char>(in[1]);
  std::uint64_t len = b1 & 0x7F;
  std::size_t off = 2;
  if (len == 126) {
    if (in.size() < 4) return false;
    len = (static_cast<unsigned char>(in[2]) << 8) | static_cast<unsigned char>(in[3]);
    off = 4;
  } else if (len == 127) {
    if (in.size() < 10) return false;
    len = 0;
    for (int k = 0; k < 8; ++k) len = (len << 8) | static_cast<unsigned char>(in[2 + k]);
    off = 10;
  }
  if (in.size() < off + len) return false;
  opcode = static_cast<unsigned char>(in[0]) & 0x0F;
  payload.assign(in, off, len);
  in.erase(0, off + len);
  return true;
}

int connectTo(const char* host, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, host, &a.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("connect");
    std::exit(1);
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

void sendAll(int fd, const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      std::perror("send");
      std::exit(1);
    }
    off += static_cast<std::size_t>(n);
  }
}

// Reads into c.in; false at EOF or error.
bool readSome(Conn& c) {
  char buf[65536];
  ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
  if (n <= 0) return false;
  c.in.append(buf, static_cast<std::size_t>(n));
  if (!c.open) {
    auto end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) return true;
    if (c.in.compare(0, 12, "HTTP/1.1 101") != 0) {
      std::fprintf(stderr, "handshake refused: %s\n", c.in.substr(0, end).c_str());
      std::exit(1);
    }
    c.in.erase(0, end + 4);
    c.open = true;
  }
  return true;
}

std::vector<Conn> openAll(const char* host, int port, const char* path, int count, int ep) {
  std::vector<Conn> conns(static_cast<std::size_t>(count));
  const std::string req = std::string("GET ") + path +
                          " HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  for (int i = 0; i < count; ++i) {
    conns[i].fd = connectTo(host, port);
    sendAll(conns[i].fd, req);
    epoll_event ev{EPOLLIN, {.u64 = static_cast<std::uint64_t>(i)}};
    ::epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
  }
  int open = 0;
  epoll_event events[256];
  while (open < count) {
    int n = ::epoll_wait(ep, events, 256, 10000);
    if (n <= 0) {
      std::fprintf(stderr, "only %d of %d handshakes answered\n", open, count);
      std::exit(1);
    }
    for (int k = 0; k < n; ++k) {
      Conn& c = conns[events[k].data.u64];
      const bool was = c.open;
      if (!readSome(c)) {
        std::fprintf(stderr, "connection closed during the handshake\n");
        std::exit(1);
      }
      if (!was && c.open) ++open;
    }
  }
  return conns;
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: ws_load echo|idle|fanout HOST PORT PATH CONNS [...]\n");
    return 2;
  }
  rlimit lim{65536, 65536};
  ::setrlimit(RLIMIT_NOFILE, &lim);
  const std::string mode = argv[1];
  const char* host = argv[2];
  const int port = std::atoi(argv[3]);
  const char* path = argv[4];
  const int count = std::atoi(argv[5]);
  const int ep = ::epoll_create1(0);
  std::vector<Conn> conns = openAll(host, port, path, count, ep);
  epoll_event events[256];
  int opcode = 0;
  std::string payload;

  if (mode == "echo") {
    const double seconds = argc > 6 ? std::atof(argv[6]) : 5;
    const std::string frame = masked(1, std::string(argc > 7 ? std::atoi(argv[7]) : 1024, 'm'));
    std::vector<double> latencies;
    latencies.reserve(1 << 22);
    const auto start = Clock::now();
    const auto stop = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    for (auto& c : conns) {
      c.sent_at = Clock::now();
      sendAll(c.fd, frame);
    }
    std::size_t done = 0;
    while (Clock::now() < stop) {
      int n = ::epoll_wait(ep, events, 256, 100);
      for (int k = 0; k < n; ++k) {
        Conn& c = conns[events[k].data.u64];
        if (!readSome(c)) {
          std::fprintf(stderr, "connection closed\n");
          return 1;
        }
        while (takeFrame(c.in, opcode, payload)) {
          if (opcode != 1) continue;
          const auto now = Clock::now();
          latencies.push_back(std::chrono::duration<double, std::micro>(now - c.sent_at).count());
          ++done;
          if (now < stop) {
            c.sent_at = now;
            sendAll(c.fd, frame);
          }
        }
      }
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("msgs/s %.0f p50_us %.0f p99_us %.0f\n", static_cast<double>(done) / elapsed,
                percentile(latencies, 0.50), percentile(latencies, 0.99));
    return 0;
  }

  if (mode == "idle") {
    const int hold = argc > 6 ? std::atoi(argv[6]) : 5;
    std::printf("open %d\n", count);
    std::fflush(stdout);
    ::sleep(static_cast<unsigned>(hold));
    for (auto& c : conns) sendAll(c.fd, masked(9, "still there?"));
    int pongs = 0;
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (pongs < count && Clock::now() < deadline) {
      int n = ::epoll_wait(ep, events, 256, 1000);
      for (int k = 0; k < n; ++k) {
        Conn& c = conns[events[k].data.u64];
        if (!readSome(c)) continue;
        while (takeFrame(c.in, opcode, payload))
          if (opcode == 10) ++pongs;
      }
    }
    std::printf("pongs %d\n", pongs);
    return pongs == count ? 0 : 1;
  }

  if (mode == "fanout") {
    // Every subscriber's "joined" first.
    int joined = 0;
    for (auto& c : conns) c.received = 0;
    while (joined < count) {
      for (auto& c : conns)
        if (c.received == 0 && takeFrame(c.in, opcode, payload)) {
          c.received = 1;
          ++joined;
        }
      if (joined == count) break;
      int n = ::epoll_wait(ep, events, 256, 10000);
      if (n <= 0) {
        std::fprintf(stderr, "only %d of %d joined\n", joined, count);
        return 1;
      }
      for (int k = 0; k < n; ++k) readSome(conns[events[k].data.u64]);
    }
    // Let the server finish what 10,000 handshakes left behind (Ruby GC after
    // the on_open calls, TIME_WAIT from an earlier run) before the clock starts:
    // the publish alone is measured. FANOUT_SETTLE_MS=0 measures it at once.
    const char* settle = std::getenv("FANOUT_SETTLE_MS");
    ::usleep(static_cast<useconds_t>((settle ? std::atoi(settle) : 1000)) * 1000);
    int pub_ep = ::epoll_create1(0);
    std::vector<Conn> publisher = openAll(host, port, path, 1, pub_ep);
    const auto t0 = Clock::now();
    sendAll(publisher[0].fd, masked(1, "pub:fanout"));
    std::vector<double> ms;
    ms.reserve(static_cast<std::size_t>(count));
    const auto deadline = t0 + std::chrono::seconds(30);
    for (auto& c : conns) c.received = 0;
    while (static_cast<int>(ms.size()) < count && Clock::now() < deadline) {
      int n = ::epoll_wait(ep, events, 256, 1000);
      for (int k = 0; k < n; ++k) {
        Conn& c = conns[events[k].data.u64];
        if (!readSome(c)) continue;
        while (takeFrame(c.in, opcode, payload)) {
          if (opcode == 1 && payload == "fanout" && !c.received) {
            c.received = 1;
            ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
          }
        }
      }
    }
    const std::size_t got = ms.size();
    std::printf("delivered %zu of %d p50_ms %.1f p99_ms %.1f max_ms %.1f\n", got, count, percentile(ms, 0.5),
                percentile(ms, 0.99), ms.empty() ? 0.0 : ms.back());
    return got == static_cast<std::size_t>(count) ? 0 : 1;
  }
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
