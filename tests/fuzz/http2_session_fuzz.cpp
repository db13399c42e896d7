// libFuzzer: bytes from a client into an HTTP/2 session (nghttp2 and our
// stream handling) over the unit tests' fake loop, after the client preface,
// in pieces whose sizes come from the input. Requests that reach "Ruby" are
// answered at once, alternately with a whole reply and a streamed one, so the
// reply path runs under the same inputs; then the session is torn down with
// streams still open.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "hyperion/http2/session.hpp"
#include "support/fake_host.hpp"

namespace {

void answer(hyperion::testing::FakeHost& host, hyperion::server::Connection& conn) {
  std::size_t n = 0;
  for (auto& exchange : host.dispatched) {
    if (n++ % 2 == 0) {
      exchange->finish(true, "hello", hyperion::testing::head(200, 5));
    } else {
      exchange->send("part", hyperion::testing::head(200));
      exchange->finish(true, {}, std::nullopt, hyperion::http::HeaderList{{"grpc-status", "0"}});
    }
  }
  host.dispatched.clear();
  hyperion::testing::deliverReplies(host, conn);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  hyperion::testing::FakeHost host;
  host.settings_.limits.max_header_bytes = 8 * 1024;
  host.settings_.limits.max_body_bytes = 256 * 1024;
  host.settings_.limits.body_memory_bytes = 16 * 1024;
  hyperion::server::Connection conn(1, hyperion::net::UniqueFd(), nullptr, hyperion::server::PeerInfo{"fuzz", 80, false});
  conn.session = std::make_unique<hyperion::http2::Http2Session>(host, conn);
  const std::size_t piece = 1 + data[0] % 128;
  conn.input.append(hyperion::http2::kClientPreface);
  conn.session->onInput(conn);
  for (std::size_t at = 1; at < size; at += piece) {
    conn.input.append(reinterpret_cast<const char*>(data + at), std::min(piece, size - at));
    conn.session->onInput(conn);
    answer(host, conn);
    host.flush(conn);
    host.wire.clear();
  }
  conn.peer_closed = true;
  conn.session->onInput(conn);
  conn.session->onClientGone();
  conn.session.reset();
  return 0;
}
