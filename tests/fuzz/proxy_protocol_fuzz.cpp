// libFuzzer: the first bytes of a connection on a ?proxy_protocol bind into
// the PROXY header parser. The first input byte picks v1 or v2. Checks what
// the loop relies on: a parsed header is never longer than the input, every
// address it reports is a valid IP address, and the answer for the input cut
// anywhere short of the header's end is "need more" (bytes arriving in
// pieces never change the outcome).
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "hyperion/net/proxy_protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hyperion::net;
  if (size < 1 || size > 8192) return 0;
  const int version = (data[0] & 1) ? 2 : 1;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const ProxyParse whole = parseProxyHeader(input, version);
  if (whole.state == ProxyParse::State::Invalid && whole.error.empty()) std::abort();
  if (whole.state != ProxyParse::State::Done) return 0;
  const ProxyHeader& header = whole.header;
  if (header.length == 0 || header.length > input.size()) std::abort();
  if (header.source) {
    unsigned char bytes[16];
    if (::inet_pton(AF_INET, header.source->c_str(), bytes) != 1 &&
        ::inet_pton(AF_INET6, header.source->c_str(), bytes) != 1)
      std::abort();
  }
  if (header.source_port < 0 || header.source_port > 65535) std::abort();
  // The same header with anything after it parses the same way.
  const std::string longer = std::string(input.substr(0, header.length)) + "GET / HTTP/1.1\r\n";
  const ProxyParse again = parseProxyHeader(longer, version);
  if (again.state != ProxyParse::State::Done || again.header.length != header.length ||
      again.header.source != header.source)
    std::abort();
  for (std::size_t cut = 0; cut < header.length; ++cut)
    if (parseProxyHeader(input.substr(0, cut), version).state != ProxyParse::State::NeedMore) std::abort();
  return 0;
}
