#include "hyperion/net/listener.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

using namespace hyperion::net;
using Kind = BindAddress::Kind;

namespace {

int boundPort(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return -1;
  return ntohs(addr.sin_port);
}

bool fdIsOpen(int fd) { return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

std::string socketPath(const char* name) {
  return ::testing::TempDir() + "hyperion_unit_" + std::to_string(::getpid()) + "_" + name + ".sock";
}

bool canConnectTcp(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

TEST(ParseBindUri, TcpHostPort) {
  auto r = parseBindUri("tcp://127.0.0.1:3000");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->kind, Kind::Tcp);
  EXPECT_EQ(r->host, "127.0.0.1");
  EXPECT_EQ(r->port, 3000);
}

TEST(ParseBindUri, TcpHostName) {
  auto r = parseBindUri("tcp://localhost:80");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->host, "localhost");
  EXPECT_EQ(r->port, 80);
}

TEST(ParseBindUri, Ipv6Bracketed) {
  auto r = parseBindUri("tcp://[::1]:8080");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->kind, Kind::Tcp);
  EXPECT_EQ(r->host, "::1");
  EXPECT_EQ(r->port, 8080);
  auto bare = parseBindUri("[::1]:8081");
  ASSERT_TRUE(bare.ok()) << bare.error();
  EXPECT_EQ(bare->host, "::1");
  EXPECT_EQ(bare->port, 8081);
}

TEST(ParseBindUri, NoSchemeAndEmptyHost) {
  auto r = parseBindUri("0.0.0.0:9292");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->host, "0.0.0.0");
  EXPECT_EQ(r->port, 9292);
  auto empty = parseBindUri("tcp://:9293");
  ASSERT_TRUE(empty.ok()) << empty.error();
  EXPECT_EQ(empty->host, "0.0.0.0");
  EXPECT_EQ(empty->port, 9293);
}

TEST(ParseBindUri, PortZeroIsEphemeral) {
  auto r = parseBindUri("tcp://127.0.0.1:0");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->port, 0);
}

TEST(ParseBindUri, PumaStyleQueryIgnored) {
  auto r = parseBindUri("tcp://127.0.0.1:3000?backlog=64");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->port, 3000);
}

TEST(ParseBindUri, Unix) {
  auto r = parseBindUri("unix:///tmp/hyperion.sock");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->kind, Kind::Unix);
  EXPECT_EQ(r->path, "/tmp/hyperion.sock");
  EXPECT_FALSE(parseBindUri("unix://").ok());
}

TEST(ParseBindUri, BadPort) {
  EXPECT_FALSE(parseBindUri("tcp://127.0.0.1:abc").ok());
  EXPECT_FALSE(parseBindUri("tcp://127.0.0.1:65536").ok());
  EXPECT_FALSE(parseBindUri("tcp://127.0.0.1:-1").ok());
  EXPECT_FALSE(parseBindUri("tcp://127.0.0.1:80x").ok());
  EXPECT_FALSE(parseBindUri("tcp://127.0.0.1:").ok());
  EXPECT_FALSE(parseBindUri("tcp://127.0.0.1").ok());
  EXPECT_FALSE(parseBindUri("tcp://[::1]").ok());
  EXPECT_FALSE(parseBindUri("tcp://[::1:80").ok());
  auto r = parseBindUri("tcp://127.0.0.1:99999");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("bad port"), std::string::npos) << r.error();
}

TEST(ParseBindUri, BadScheme) {
  auto r = parseBindUri("udp://0.0.0.0:53");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("udp://0.0.0.0:53"), std::string::npos) << r.error();
}

TEST(ParseBindUri, SslTakesPumasQuery) {
  auto r = parseBindUri("ssl://0.0.0.0:9443?cert=/etc/c.pem&key=/etc/k%2Bk.pem&verify_mode=force_peer&ca=/etc/ca.pem"
                        "&ssl_cipher_filter=ECDHE-RSA-AES128-GCM-SHA256");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(r->tls);
  EXPECT_EQ(r->port, 9443);
  EXPECT_EQ(r->host, "0.0.0.0");
  EXPECT_EQ(r->tls_options.cert, "/etc/c.pem");
  EXPECT_EQ(r->tls_options.key, "/etc/k+k.pem");  // percent-decoded
  EXPECT_EQ(r->tls_options.ca, "/etc/ca.pem");
  EXPECT_EQ(r->tls_options.verify, TlsOptions::Verify::ForcePeer);
  EXPECT_EQ(r->tls_options.ciphers, "ECDHE-RSA-AES128-GCM-SHA256");
  auto https = parseBindUri("https://[::1]:8443?key=k.pem&cert=c.pem&verify_mode=peer");
  ASSERT_TRUE(https.ok()) << https.error();
  EXPECT_TRUE(https->tls);
  EXPECT_EQ(https->host, "::1");
  EXPECT_EQ(https->tls_options.verify, TlsOptions::Verify::Peer);
  EXPECT_FALSE(parseBindUri("tcp://127.0.0.1:80?cert=c.pem")->tls);
}

TEST(ParseBindUri, SslErrorsSayWhatIsWrong) {
  auto expectError = [](const std::string& uri, const std::string& says) {
    auto r = parseBindUri(uri);
    ASSERT_FALSE(r.ok()) << uri;
    EXPECT_NE(r.error().find(says), std::string::npos) << r.error();
  };
  expectError("ssl://127.0.0.1:443", "needs cert=PATH and key=PATH");
  expectError("ssl://127.0.0.1:443?cert=c.pem", "needs cert=PATH and key=PATH");
  expectError("ssl://127.0.0.1:443?cert=c.pem&key=k.pem&verify_mode=always", "verify_mode must be none, peer or force_peer");
  expectError("ssl://127.0.0.1:443?cert=c.pem&key=k.pem&keystore=x", "unknown parameter keystore");
  expectError("ssl://127.0.0.1:443?cert=c%2.pem&key=k.pem", "bad %-escape");
}

TEST(BindListeners, SslWithAMissingCertificateNamesIt) {
  auto r = bindListeners({"ssl://127.0.0.1:0?cert=/nonexistent/c.pem&key=/nonexistent/k.pem"}, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("/nonexistent/c.pem"), std::string::npos) << r.error();
}

TEST(BindListeners, SlotsShareOneEphemeralPort) {
  auto result = bindListeners({"tcp://127.0.0.1:0"}, 2);
  ASSERT_TRUE(result.ok()) << result.error();
  auto& listeners = result.value();
  ASSERT_EQ(listeners.size(), 2u);
  EXPECT_TRUE(listeners[0].fd.valid());
  EXPECT_TRUE(listeners[1].fd.valid());
  EXPECT_NE(listeners[0].fd.get(), listeners[1].fd.get());
  EXPECT_EQ(listeners[0].slot, 0);
  EXPECT_EQ(listeners[1].slot, 1);
  const int port = listeners[0].address.port;
  EXPECT_GT(port, 0);
  EXPECT_EQ(listeners[1].address.port, port);
  EXPECT_EQ(boundPort(listeners[0].fd.get()), port);
  EXPECT_EQ(boundPort(listeners[1].fd.get()), port);
  EXPECT_EQ(listeners[0].address.host, "127.0.0.1");
  EXPECT_EQ(listeners[0].url(), "http://127.0.0.1:" + std::to_string(port));
  EXPECT_TRUE(canConnectTcp(port));
}

TEST(BindListeners, SingleSlotIsShared) {
  auto result = bindListeners({"tcp://127.0.0.1:0"}, 1);
  ASSERT_TRUE(result.ok()) << result.error();
  ASSERT_EQ(result->size(), 1u);
  EXPECT_EQ(result.value()[0].slot, -1);
  EXPECT_GT(result.value()[0].address.port, 0);
  auto zero = bindListeners({"tcp://127.0.0.1:0"}, 0);  // at least once
  ASSERT_TRUE(zero.ok()) << zero.error();
  EXPECT_EQ(zero->size(), 1u);
}

TEST(BindListeners, BadUriIsError) {
  auto result = bindListeners({"tcp://127.0.0.1:0", "ftp://x:1"}, 1);
  EXPECT_FALSE(result.ok());
}

TEST(BindListeners, PortInUseIsError) {
  auto first = bindListeners({"tcp://127.0.0.1:0"}, 1);
  ASSERT_TRUE(first.ok()) << first.error();
  const int port = first.value()[0].address.port;
  auto second = bindListeners({"tcp://127.0.0.1:" + std::to_string(port)}, 1);
  EXPECT_FALSE(second.ok());
}

TEST(BindListeners, UnixSocketIsSharedAndStaleFileReplaced) {
  const std::string path = socketPath("stale");
  ::unlink(path.c_str());
  {
    auto first = bindListeners({"unix://" + path}, 3);
    ASSERT_TRUE(first.ok()) << first.error();
    ASSERT_EQ(first->size(), 1u);  // never per slot
    EXPECT_EQ(first.value()[0].slot, -1);
    EXPECT_EQ(first.value()[0].address.kind, Kind::Unix);
    EXPECT_EQ(first.value()[0].url(), "unix://" + path);
  }  // closed: the socket file stays behind, as after a crash
  struct stat st{};
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  ASSERT_TRUE(S_ISSOCK(st.st_mode));
  auto second = bindListeners({"unix://" + path}, 1);
  EXPECT_TRUE(second.ok()) << second.error();
  ::unlink(path.c_str());
}

TEST(BindListeners, LiveUnixSocketIsError) {
  const std::string path = socketPath("live");
  ::unlink(path.c_str());
  auto first = bindListeners({"unix://" + path}, 1);
  ASSERT_TRUE(first.ok()) << first.error();
  auto second = bindListeners({"unix://" + path}, 1);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().find(path), std::string::npos) << second.error();
  ::unlink(path.c_str());
}

TEST(ListenersForSlot, KeepsOwnSlotAndSharedClosesRest) {
  const std::string path = socketPath("slots");
  ::unlink(path.c_str());
  auto result = bindListeners({"tcp://127.0.0.1:0", "unix://" + path}, 2);
  ASSERT_TRUE(result.ok()) << result.error();
  auto& all = result.value();
  ASSERT_EQ(all.size(), 3u);
  const int slot0_fd = all[0].fd.get();
  const int slot1_fd = all[1].fd.get();
  const int shared_fd = all[2].fd.get();
  ASSERT_EQ(all[0].slot, 0);
  ASSERT_EQ(all[1].slot, 1);
  ASSERT_EQ(all[2].slot, -1);

  auto mine = listenersForSlot(all, 1);
  EXPECT_TRUE(all.empty());
  ASSERT_EQ(mine.size(), 2u);
  EXPECT_EQ(mine[0].slot, 1);
  EXPECT_EQ(mine[0].fd.get(), slot1_fd);
  EXPECT_EQ(mine[0].address.kind, Kind::Tcp);
  EXPECT_EQ(mine[1].slot, -1);
  EXPECT_EQ(mine[1].fd.get(), shared_fd);
  EXPECT_EQ(mine[1].address.kind, Kind::Unix);
  EXPECT_FALSE(fdIsOpen(slot0_fd));
  EXPECT_TRUE(fdIsOpen(slot1_fd));
  EXPECT_TRUE(fdIsOpen(shared_fd));
  ::unlink(path.c_str());
}

TEST(ListenerUrl, TlsIsHttps) {
  Listener listener;
  listener.address.host = "127.0.0.1";
  listener.address.port = 8443;
  listener.address.tls = true;
  EXPECT_EQ(listener.url(), "https://127.0.0.1:8443");
}

TEST(ListenerUrl, Ipv6IsBracketed) {
  Listener l;
  l.address.kind = Kind::Tcp;
  l.address.host = "::1";
  l.address.port = 8080;
  EXPECT_EQ(l.url(), "http://[::1]:8080");
}

TEST(ParseBindUri, ProxyProtocolQuery) {
  auto r = parseBindUri("tcp://0.0.0.0:9292?proxy_protocol=v2&proxy_trusted=10.0.0.0%2F8,127.0.0.1&backlog=64");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->proxy.version, 2);
  ASSERT_EQ(r->proxy.trusted.size(), 2u);
  EXPECT_EQ(r->proxy.trusted[0].text(), "10.0.0.0/8");
  EXPECT_EQ(parseBindUri("tcp://127.0.0.1:1?proxy_protocol=v1")->proxy.version, 1);
  EXPECT_EQ(parseBindUri("tcp://127.0.0.1:1")->proxy.version, 0);
  const auto says = [](const std::string& uri, const std::string& text) {
    auto bad = parseBindUri(uri);
    ASSERT_FALSE(bad.ok()) << uri;
    EXPECT_NE(bad.error().find(text), std::string::npos) << bad.error();
  };
  says("tcp://127.0.0.1:1?proxy_protocol=v3", "v1 or v2");
  says("tcp://127.0.0.1:1?proxy_protocol=v1&proxy_trusted=10.0.0.0/99", "proxy_trusted");
  says("tcp://127.0.0.1:1?proxy_trusted=10.0.0.0/8", "needs proxy_protocol");
  says("ssl://127.0.0.1:1?cert=c&key=k&proxy_protocol=v1", "not offered on ssl://");
}

TEST(ParseBindUri, UnixModeAndUmask) {
  auto r = parseBindUri("unix:///run/app.sock?mode=0660&backlog=1024");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->path, "/run/app.sock");  // the query is not part of the path
  EXPECT_EQ(r->unix_mode, 0660u);
  EXPECT_FALSE(r->unix_umask.has_value());
  EXPECT_EQ(parseBindUri("unix:///run/app.sock?umask=0117")->unix_umask, 0117u);
  EXPECT_FALSE(parseBindUri("unix:///run/app.sock")->unix_mode.has_value());
  for (const char* bad : {"unix:///a.sock?mode=rw", "unix:///a.sock?mode=0999", "unix:///a.sock?umask=",
                          "unix:///a.sock?mode=01777"}) {
    auto result = parseBindUri(bad);
    ASSERT_FALSE(result.ok()) << bad;
    EXPECT_NE(result.error().find("octal permission bits"), std::string::npos) << result.error();
  }
}

TEST(BindListeners, UnixSocketModeAndUmaskSetThePermissions) {
  const std::string path = socketPath("mode");
  ::unlink(path.c_str());
  struct stat st{};
  {
    auto listeners = bindListeners({"unix://" + path + "?mode=0660"}, 1);
    ASSERT_TRUE(listeners.ok()) << listeners.error();
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0660u);
    EXPECT_EQ(listeners.value()[0].url(), "unix://" + path);
  }
  ::unlink(path.c_str());
  const mode_t before = ::umask(022);
  {
    auto listeners = bindListeners({"unix://" + path + "?umask=0177"}, 1);
    ASSERT_TRUE(listeners.ok()) << listeners.error();
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
  EXPECT_EQ(::umask(before), 022u) << "the process umask is put back";
  ::unlink(path.c_str());
}
