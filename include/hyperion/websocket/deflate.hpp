#pragma once
// permessage-deflate (RFC 7692) over zlib's raw DEFLATE: one Inflater for
// what the client sends and one Deflater for what we send, per connection.
// The negotiated parameters decide whether the LZ77 window carries over
// from one message to the next ("context takeover") and how large it is.
#include <zlib.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace hyperion::websocket {

// What the handshake agreed on (handshake.hpp negotiates it).
struct DeflateParams {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  int server_max_window_bits = 15;  // the window we compress with
  int client_max_window_bits = 15;  // the window the client compresses with
};

class Inflater {
 public:
  explicit Inflater(const DeflateParams& params);
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  enum class Status { Ok, TooBig, Corrupt };
  // Inflates one frame's payload of a compressed message, appending to
  // `out`; `last` marks the message's final frame (the 00 00 ff ff tail the
  // sender stripped is put back then). Stops with TooBig as soon as `out`
  // would exceed `limit`: a small frame that inflates to gigabytes costs
  // no more than `limit` bytes of memory.
  Status inflate(std::string_view in, bool last, std::string& out, std::size_t limit);

 private:
  Status run(const unsigned char* in, std::size_t n, std::string& out, std::size_t limit);
  z_stream zs_{};
  bool reset_each_message_;
};

class Deflater {
 public:
  explicit Deflater(const DeflateParams& params);
  ~Deflater();
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  // The compressed payload of one whole message (the 00 00 ff ff tail of
  // the sync flush removed, as RFC 7692 section 7.2.1 says).
  std::string deflate(std::string_view message);

 private:
  z_stream zs_{};
  bool reset_each_message_;
};

}  // namespace hyperion::websocket
