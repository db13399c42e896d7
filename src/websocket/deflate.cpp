#include "hyperion/websocket/deflate.hpp"

#include <stdexcept>

namespace hyperion::websocket {
namespace {
constexpr unsigned char kTail[4] = {0x00, 0x00, 0xff, 0xff};
}

Inflater::Inflater(const DeflateParams& params) : reset_each_message_(params.client_no_context_takeover) {
  // Always the largest window: it decodes a stream made with any smaller
  // one, and zlib refuses raw windows of 8 bits.
  if (inflateInit2(&zs_, -15) != Z_OK) throw std::runtime_error("inflateInit2 failed");
}

Inflater::~Inflater() { inflateEnd(&zs_); }

Inflater::Status Inflater::run(const unsigned char* in, std::size_t n, std::string& out, std::size_t limit) {
  zs_.next_in = const_cast<unsigned char*>(in);
  zs_.avail_in = static_cast<uInt>(n);
  unsigned char buffer[16 * 1024];
  for (;;) {
    zs_.next_out = buffer;
    zs_.avail_out = sizeof buffer;
    const int rc = ::inflate(&zs_, Z_SYNC_FLUSH);
    if (rc == Z_NEED_DICT || rc == Z_DATA_ERROR || rc == Z_MEM_ERROR || rc == Z_STREAM_ERROR) return Status::Corrupt;
    const std::size_t produced = sizeof buffer - zs_.avail_out;
    if (out.size() + produced > limit) return Status::TooBig;
    out.append(reinterpret_cast<char*>(buffer), produced);
    if (rc == Z_STREAM_END) {
      // A final DEFLATE block (BFINAL): legal; what follows starts afresh.
      inflateReset(&zs_);
      if (zs_.avail_in == 0) break;
      continue;
    }
    if (zs_.avail_out != 0) break;  // room left over: every input byte it could take is taken
  }
  return Status::Ok;
}

Inflater::Status Inflater::inflate(std::string_view in, bool last, std::string& out, std::size_t limit) {
  Status status = run(reinterpret_cast<const unsigned char*>(in.data()), in.size(), out, limit);
  if (status != Status::Ok || !last) return status;
  status = run(kTail, sizeof kTail, out, limit);
  if (reset_each_message_) inflateReset(&zs_);
  return status;
}

Deflater::Deflater(const DeflateParams& params) : reset_each_message_(params.server_no_context_takeover) {
  // zlib cannot make raw streams with an 8-bit window; the handshake never
  // agrees to server_max_window_bits=8 for that reason.
  const int bits = params.server_max_window_bits < 9 ? 9 : params.server_max_window_bits;
  if (deflateInit2(&zs_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2 failed");
}

Deflater::~Deflater() { deflateEnd(&zs_); }

std::string Deflater::deflate(std::string_view message) {
  std::string out;
  out.resize(deflateBound(&zs_, static_cast<uLong>(message.size())) + 16);
  zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(message.data()));
  zs_.avail_in = static_cast<uInt>(message.size());
  std::size_t used = 0;
  for (;;) {
    zs_.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    zs_.avail_out = static_cast<uInt>(out.size() - used);
    ::deflate(&zs_, Z_SYNC_FLUSH);
    used = out.size() - zs_.avail_out;
    if (zs_.avail_out != 0) break;
    out.resize(out.size() * 2);
  }
  out.resize(used);
  if (out.size() >= 4 && out.compare(out.size() - 4, 4, reinterpret_cast<const char*>(kTail), 4) == 0)
    out.resize(out.size() - 4);
  if (reset_each_message_) deflateReset(&zs_);
  return out;
}

}  // namespace hyperion::websocket
