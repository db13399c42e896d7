// The loop reaches a client's bytes only through its net::Transport: a fake
// one that hands out one byte per read, cannot send files and counts its
// shutdowns is put under a real HttpServer (both backends), and real sockets
// talk to it. This is the seam a TLS transport plugs into; a "short read
// means drained" shortcut or a direct sendfile/shutdown would break these.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "hyperion/net/listener.hpp"
#include "hyperion/net/transport.hpp"
#include "hyperion/net/unique_fd.hpp"
#include "hyperion/server/http_server.hpp"
#include "test_support.hpp"

namespace hyperion::server {
namespace {

struct TransportCounters {
  std::atomic<int> made{0};
  std::atomic<int> reads{0};
  std::atomic<int> ingests{0};
  std::atomic<int> shutdowns{0};
};

// A stream that returns at most one byte per read, so an edge-triggered loop
// that stops at the first short read would never see the rest of a request.
class TrickleTransport final : public net::Transport {
 public:
  TrickleTransport(int fd, TransportCounters& counters) : socket_(fd), counters_(counters) { ++counters_.made; }
  ssize_t read(char* buffer, std::size_t length) override {
    ++counters_.reads;
    return socket_.read(buffer, length < 1 ? length : 1);
  }
  ssize_t ingest(const char* data, std::size_t length, std::string& out) override {
    ++counters_.ingests;
    return socket_.ingest(data, length, out);
  }
  ssize_t writev(const iovec* iov, int count) override { return socket_.writev(iov, count); }
  bool canSendFile() const override { return false; }
  ssize_t sendFile(int, off_t*, std::size_t) override {
    ADD_FAILURE() << "sendFile on a transport that cannot send files";
    errno = EOPNOTSUPP;
    return -1;
  }
  void shutdownWrite() override {
    ++counters_.shutdowns;
    socket_.shutdownWrite();
  }
  bool shortReadMeansDrained() const override { return false; }

 private:
  net::SocketTransport socket_;
  TransportCounters& counters_;
};

net::UniqueFd connectTo(int port) {
  net::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return net::UniqueFd();
  timeval timeout{10, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return fd;
}

void sendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    ASSERT_GT(n, 0);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Reads until `wanted` bytes arrived, EOF or the receive timeout.
std::string readBytes(int fd, std::size_t wanted) {
  std::string got;
  char buffer[65536];
  while (got.size() < wanted) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    got.append(buffer, static_cast<std::size_t>(n));
  }
  return got;
}

std::size_t count(const std::string& text, std::string_view what) {
  std::size_t found = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++found;
  return found;
}

// A real HttpServer on an ephemeral loopback port, with the fake transport
// under every connection; the test thread plays the Ruby thread.
class TransportSeam : public ::testing::TestWithParam<config::IoUringMode> {
 protected:
  void SetUp() override {
    settings_.io_uring = GetParam();
    auto bound = net::bindListeners({"tcp://127.0.0.1:0"}, 1);
    ASSERT_TRUE(bound.ok()) << bound.error();
    port_ = bound.value().front().address.port;
    routes_.addStatic("GET", "/hello", 200, {{"content-type", "text/plain"}}, "hello\n");
    try {
      server_ = std::make_unique<HttpServer>(settings_, std::move(bound.value()), queue_, routes_,
                                             std::vector<static_files::StaticDirectory>{}, *stats_);
    } catch (const std::exception& error) {
      GTEST_SKIP() << error.what();  // io_uring forced on where the kernel refuses it
    }
    server_->setTransportFactory(
        [this](int fd) { return std::make_unique<TrickleTransport>(fd, counters_); });
    loop_ = std::thread([this] { server_->run(); });
  }
  void TearDown() override {
    if (!server_) return;
    server_->beginShutdown();
    queue_.close();
    loop_.join();
  }

  config::Settings settings_;
  DispatchQueue queue_;
  static_files::RouteTable routes_;
  std::unique_ptr<metrics::WorkerStats> stats_ = std::make_unique<metrics::WorkerStats>();
  std::unique_ptr<HttpServer> server_;
  std::thread loop_;
  TransportCounters counters_;
  int port_ = 0;
};

TEST_P(TransportSeam, PipelinedRequestsArriveWhateverTheReadSize) {
  auto client = connectTo(port_);
  ASSERT_TRUE(client.valid());
  sendAll(client.get(), "GET /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  const std::string response = readBytes(client.get(), 2 * 80);
  EXPECT_EQ(2u, count(response, "HTTP/1.1 200 OK\r\n")) << response;
  EXPECT_EQ(2u, count(response, "\r\n\r\nhello\n")) << response;
  EXPECT_EQ(1, counters_.made.load());
  // epoll pulls through read() one byte at a time; io_uring hands its
  // receives to ingest(). Either way every byte went through the transport.
  if (server_->ioDescription().rfind("epoll", 0) == 0) EXPECT_GT(counters_.reads.load(), 60);
  else EXPECT_GT(counters_.ingests.load(), 0);
}

TEST_P(TransportSeam, FilesAreReadAndWrittenWhenTheTransportCannotSendThem) {
  // Larger than the page cache takes, so the loop would use sendfile(2).
  char path[] = "/tmp/hyperion-transport-XXXXXX";
  const int file_fd = ::mkstemp(path);
  ASSERT_GE(file_fd, 0);
  std::string body;
  for (std::size_t i = 0; body.size() < 3 * 1024 * 1024 + 5; ++i) body += std::to_string(i) + ',';
  ASSERT_EQ(static_cast<ssize_t>(body.size()), ::write(file_fd, body.data(), body.size()));
  ::close(file_fd);
  testing::ScopeExit unlink_file([&] { ::unlink(path); });

  auto client = connectTo(port_);
  ASSERT_TRUE(client.valid());
  sendAll(client.get(), "GET /file HTTP/1.1\r\nHost: t\r\n\r\n");

  DispatchQueue::Waiter waiter;
  std::shared_ptr<Exchange> job;
  ASSERT_EQ(DispatchQueue::PopStatus::Job, queue_.pop(waiter, job));
  EXPECT_EQ("/file", job->request().target);
  // A protocol-neutral head: the connection's HTTP/1 session frames it.
  hyperion::http::ResponseHead reply;
  reply.body_length = body.size();
  job->send({}, std::move(reply));
  job->sendFile(path, body.size());
  job->finish(true);
  job.reset();

  std::string response = readBytes(client.get(), 1);
  while (response.find("\r\n\r\n") == std::string::npos) {
    const std::string more = readBytes(client.get(), 1);
    if (more.empty()) break;
    response += more;
  }
  const std::size_t head_end = response.find("\r\n\r\n");
  ASSERT_NE(std::string::npos, head_end) << response;
  const std::string head = response.substr(0, head_end + 4);
  EXPECT_EQ(0u, head.rfind("HTTP/1.1 200 OK\r\n", 0)) << head;
  EXPECT_NE(std::string::npos, head.find("Content-Length: " + std::to_string(body.size()) + "\r\n")) << head;
  response += readBytes(client.get(), head.size() + body.size() - response.size());
  ASSERT_EQ(head.size() + body.size(), response.size());
  EXPECT_TRUE(response.compare(head.size(), std::string::npos, body) == 0) << "body differs";
  // Keep-alive still works after it.
  sendAll(client.get(), "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_NE(std::string::npos, readBytes(client.get(), 60).find("hello\n"));
}

TEST_P(TransportSeam, ARejectionShutsDownWritingThroughTheTransport) {
  auto client = connectTo(port_);
  ASSERT_TRUE(client.valid());
  sendAll(client.get(), "GET / HTTP/1.1\r\nHost: t\r\nno colon here\r\n\r\n");
  const std::string response = readBytes(client.get(), 1 << 16);  // until the lingering close's FIN
  EXPECT_EQ(0u, response.rfind("HTTP/1.1 400 ", 0)) << response;
  EXPECT_TRUE(testing::waitFor([&] { return counters_.shutdowns.load() == 1; }));
}

INSTANTIATE_TEST_SUITE_P(Loops, TransportSeam, ::testing::Values(config::IoUringMode::Off, config::IoUringMode::On),
                         [](const auto& param_info) { return param_info.param == config::IoUringMode::Off ? "Epoll" : "IoUring"; });

}  // namespace
}  // namespace hyperion::server
