#include "hyperion/net/proxy_protocol.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>

namespace hyperion::net {
namespace {

using State = ProxyParse::State;

std::string v2Header(unsigned char command, unsigned char family, const std::string& payload) {
  std::string out("\r\n\r\n\0\r\nQUIT\n", 12);
  out += static_cast<char>(0x20 | command);
  out += static_cast<char>(family);
  out += static_cast<char>(payload.size() >> 8);
  out += static_cast<char>(payload.size() & 0xFF);
  return out + payload;
}

std::string v4Payload(const char* source, int source_port, const char* destination, int destination_port) {
  std::string out(12, '\0');
  ::inet_pton(AF_INET, source, out.data());
  ::inet_pton(AF_INET, destination, out.data() + 4);
  out[8] = static_cast<char>(source_port >> 8);
  out[9] = static_cast<char>(source_port & 0xFF);
  out[10] = static_cast<char>(destination_port >> 8);
  out[11] = static_cast<char>(destination_port & 0xFF);
  return out;
}

sockaddr_storage address(const char* text) {
  sockaddr_storage out{};
  if (std::string(text).find(':') == std::string::npos) {
    auto& in = reinterpret_cast<sockaddr_in&>(out);
    in.sin_family = AF_INET;
    ::inet_pton(AF_INET, text, &in.sin_addr);
  } else {
    auto& in6 = reinterpret_cast<sockaddr_in6&>(out);
    in6.sin6_family = AF_INET6;
    ::inet_pton(AF_INET6, text, &in6.sin6_addr);
  }
  return out;
}

TEST(ProxyProtocolV1, ReadsTheClientAndLeavesTheRequest) {
  const std::string header = "PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\n";
  const auto p = parseProxyHeader(header + "GET / HTTP/1.1\r\n\r\n", 1);
  ASSERT_EQ(p.state, State::Done) << p.error;
  EXPECT_EQ(p.header.length, header.size());
  EXPECT_EQ(p.header.source, "203.0.113.7");
  EXPECT_EQ(p.header.source_port, 56324);
}

TEST(ProxyProtocolV1, Ipv6AndUnknown) {
  auto p = parseProxyHeader("PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n", 1);
  ASSERT_EQ(p.state, State::Done) << p.error;
  EXPECT_EQ(p.header.source, "2001:db8::1");
  p = parseProxyHeader("PROXY UNKNOWN whatever follows\r\nGET", 1);
  ASSERT_EQ(p.state, State::Done);
  EXPECT_FALSE(p.header.source.has_value());  // keep the peer's address
  EXPECT_EQ(p.header.length, std::string("PROXY UNKNOWN whatever follows\r\n").size());
}

TEST(ProxyProtocolV1, EveryPrefixNeedsMore) {
  const std::string header = "PROXY TCP4 192.168.1.20 10.0.0.1 1234 80\r\n";
  for (std::size_t n = 0; n < header.size(); ++n)
    EXPECT_EQ(parseProxyHeader(header.substr(0, n), 1).state, State::NeedMore) << n;
  EXPECT_EQ(parseProxyHeader(header, 1).state, State::Done);
}

TEST(ProxyProtocolV1, MalformedHeadersSayWhy) {
  const auto invalid = [](const std::string& text, const std::string& says) {
    const auto p = parseProxyHeader(text, 1);
    EXPECT_EQ(p.state, State::Invalid) << text;
    EXPECT_NE(p.error.find(says), std::string::npos) << text << ": " << p.error;
  };
  invalid("GET / HTTP/1.1\r\n\r\n", "not a PROXY v1 header");
  invalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", "5 fields");
  invalid("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", "TCP4, TCP6 or UNKNOWN");
  invalid("PROXY TCP4 1.2.3.400 5.6.7.8 1 2\r\n", "bad address");
  invalid("PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n", "bad address");  // family and address disagree
  invalid("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", "bad port");
  invalid("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", "bad port");
  invalid("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", "5 fields");
  invalid("PROXY " + std::string(120, 'x'), "longer than 107");
  invalid(v2Header(1, 0x11, v4Payload("1.2.3.4", 1, "5.6.7.8", 2)), "not a PROXY v1 header");  // v2 on a v1 bind
}

TEST(ProxyProtocolV2, ReadsIpv4AndSkipsTlvs) {
  std::string payload = v4Payload("198.51.100.9", 40000, "10.0.0.1", 443);
  payload += std::string(
      "\x04\x00\x03"
      "abc",
      6);  // a TLV (NOOP): skipped with the rest
  const std::string header = v2Header(1, 0x11, payload);
  const auto p = parseProxyHeader(header + "GET", 2);
  ASSERT_EQ(p.state, State::Done) << p.error;
  EXPECT_EQ(p.header.length, header.size());
  EXPECT_EQ(p.header.source, "198.51.100.9");
  EXPECT_EQ(p.header.source_port, 40000);
  for (std::size_t n = 0; n < header.size(); ++n)
    EXPECT_EQ(parseProxyHeader(header.substr(0, n), 2).state, State::NeedMore) << n;
}

TEST(ProxyProtocolV2, Ipv6MappedLocalAndUnspec) {
  std::string payload(36, '\0');
  ::inet_pton(AF_INET6, "::ffff:192.0.2.5", payload.data());
  ::inet_pton(AF_INET6, "::1", payload.data() + 16);
  auto p = parseProxyHeader(v2Header(1, 0x21, payload), 2);
  ASSERT_EQ(p.state, State::Done) << p.error;
  EXPECT_EQ(p.header.source, "192.0.2.5");
  p = parseProxyHeader(v2Header(0, 0x11, v4Payload("1.2.3.4", 1, "5.6.7.8", 2)), 2);  // LOCAL
  ASSERT_EQ(p.state, State::Done);
  EXPECT_FALSE(p.header.source.has_value());
  p = parseProxyHeader(v2Header(1, 0x00, ""), 2);  // UNSPEC
  ASSERT_EQ(p.state, State::Done);
  EXPECT_FALSE(p.header.source.has_value());
}

TEST(ProxyProtocolV2, MalformedHeadersSayWhy) {
  const auto invalid = [](const std::string& text, const std::string& says) {
    const auto p = parseProxyHeader(text, 2);
    EXPECT_EQ(p.state, State::Invalid);
    EXPECT_NE(p.error.find(says), std::string::npos) << p.error;
  };
  invalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "not a PROXY v2 header");
  std::string wrong_version = v2Header(1, 0x11, v4Payload("1.2.3.4", 1, "5.6.7.8", 2));
  wrong_version[12] = 0x31;
  invalid(wrong_version, "version 3");
  invalid(v2Header(2, 0x11, v4Payload("1.2.3.4", 1, "5.6.7.8", 2)), "unknown command");
  invalid(v2Header(1, 0x12, v4Payload("1.2.3.4", 1, "5.6.7.8", 2)), "not for a stream");  // UDP
  invalid(v2Header(1, 0x11, std::string(8, '\0')), "truncated");
  invalid(v2Header(1, 0x51, std::string(12, '\0')), "unknown address family");
  std::string huge = v2Header(1, 0x11, "");
  huge[14] = 0x20;  // 8192 bytes announced
  invalid(huge, "longer than 4096");
}

TEST(ProxyPolicy, LoopbackIsTrustedByDefault) {
  ProxyPolicy policy;
  policy.version = 1;
  EXPECT_TRUE(policy.trusts(address("127.0.0.1")));
  EXPECT_TRUE(policy.trusts(address("127.9.9.9")));
  EXPECT_TRUE(policy.trusts(address("::1")));
  EXPECT_TRUE(policy.trusts(address("::ffff:127.0.0.1")));
  EXPECT_FALSE(policy.trusts(address("10.0.0.1")));
  EXPECT_FALSE(policy.trusts(address("2001:db8::1")));
  EXPECT_EQ(policy.describe(), "PROXY protocol v1 from loopback (127.0.0.0/8, ::1)");
}

TEST(ProxyPolicy, TrustedRanges) {
  ProxyPolicy policy;
  policy.version = 2;
  for (const char* text : {"10.0.0.0/8", "192.168.1.7", "fd00::/8", "172.16.0.0/12"})
    policy.trusted.push_back(parseAddressRange(text).value());
  EXPECT_TRUE(policy.trusts(address("10.200.3.4")));
  EXPECT_TRUE(policy.trusts(address("::ffff:10.1.1.1")));  // a v4 peer on a dual-stack socket
  EXPECT_TRUE(policy.trusts(address("192.168.1.7")));
  EXPECT_FALSE(policy.trusts(address("192.168.1.8")));
  EXPECT_TRUE(policy.trusts(address("fd12::1")));
  EXPECT_TRUE(policy.trusts(address("172.31.255.255")));
  EXPECT_FALSE(policy.trusts(address("172.32.0.0")));
  EXPECT_FALSE(policy.trusts(address("127.0.0.1")));  // given ranges replace loopback
  EXPECT_EQ(policy.describe(), "PROXY protocol v2 from 10.0.0.0/8, 192.168.1.7, fd00::/8, 172.16.0.0/12");
}

TEST(ProxyPolicy, BadRanges) {
  EXPECT_FALSE(parseAddressRange("10.0.0.0/33").ok());
  EXPECT_FALSE(parseAddressRange("10.0.0/8").ok());
  EXPECT_FALSE(parseAddressRange("fd00::/129").ok());
  EXPECT_FALSE(parseAddressRange("example.com").ok());
  EXPECT_FALSE(parseAddressRange("10.0.0.0/x").ok());
}

}  // namespace
}  // namespace hyperion::net
