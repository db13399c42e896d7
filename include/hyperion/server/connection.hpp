#pragma once
// One client connection as the event loop sees it: the socket part (fd,
// transport, buffers, arming, deadlines) plus the Session that speaks the
// protocol over it. Owned and touched only by the loop thread; a Ruby
// thread only ever holds an Exchange.
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "hyperion/net/transport.hpp"
#include "hyperion/net/unique_fd.hpp"
#include "hyperion/server/exchange.hpp"
#include "hyperion/server/session.hpp"

namespace hyperion::server {

// One piece of queued output: bytes we own, bytes someone else keeps alive
// (a page-cache entry, a prebuilt route), or a span of a file for sendfile(2).
struct OutputChunk {
  std::string storage;
  std::string_view view;               // when storage is empty
  std::shared_ptr<const void> keeper;  // keeps view's bytes alive
  net::UniqueFd file;
  std::uint64_t file_offset = 0;
  std::uint64_t file_left = 0;
  std::shared_ptr<Exchange> owner;  // told as its bytes leave (backpressure)

  bool isFile() const { return file.valid(); }
  std::string_view bytes() const { return storage.empty() ? view : std::string_view(storage); }
  std::uint64_t length() const { return isFile() ? file_left : bytes().size(); }
};

struct Connection {
  // `transport_` reads and writes `fd_` (a SocketTransport when null).
  Connection(std::uint64_t id_, net::UniqueFd fd_, std::unique_ptr<net::Transport> transport_, PeerInfo peer_)
      : id(id_), fd(std::move(fd_)),
        transport(transport_ ? std::move(transport_) : std::make_unique<net::SocketTransport>(fd.get())),
        peer(std::move(peer_)) {}

  std::uint64_t id;
  net::UniqueFd fd;
  std::unique_ptr<net::Transport> transport;  // the only path to the client's bytes
  PeerInfo peer;
  std::unique_ptr<Session> session;  // set by the loop right after accept
  // Whether ALPN or the first bytes have decided the protocol yet (an h2
  // session replaces the HTTP/1.1 one before it sees any input).
  bool protocol_settled = false;
  // 1 or 2 until the PROXY protocol header of a ?proxy_protocol bind has been
  // read (net/proxy_protocol.hpp); 0 otherwise.
  int proxy_version = 0;

  std::string input;             // read but not yet parsed: [input_offset, size)
  std::size_t input_offset = 0;
  std::deque<OutputChunk> output;
  std::size_t output_offset = 0;  // into output.front()

  bool read_paused = false;     // stopped reading: too much buffered while the session is busy
  bool peer_closed = false;     // read returned EOF
  bool broken = false;          // socket error: nothing more can be written
  bool close_after_flush = false;
  bool flush_pending = false;   // listed in HttpServer::to_flush_ for this mailbox batch
  // io_uring only: which requests are armed in the ring for this socket (each
  // holds a reference to it, so they are cancelled before the fd is closed).
  bool recv_armed = false;
  bool pollout_armed = false;
  bool recv_stopping = false;                   // a cancel is on its way
  std::shared_ptr<Exchange> hijack_waiting;     // hijack completes once the recv has stopped
  // After a rejection the client may still be sending its body. Closing with
  // unread bytes makes the kernel send RST, which can destroy our answer
  // before the client reads it; so we shut down writing, discard input for a
  // moment, and close after the client's FIN (nginx's lingering close).
  bool linger_on_close = false;
  bool lingering = false;
  Clock::time_point linger_until{};

  Clock::time_point last_read{};
  Clock::time_point last_write{};
  Clock::time_point idle_since{};

  std::size_t pendingInput() const { return input.size() - input_offset; }
};

}  // namespace hyperion::server
