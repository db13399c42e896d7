// HTTP/2 as a session: nghttp2 turns the connection's plaintext into
// streams and our replies into frames; everything runs on the loop thread.
#include "hyperion/http2/session.hpp"

#include <fcntl.h>
#include <nghttp2/nghttp2.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>
#include <vector>

#include "hyperion/config/settings.hpp"
#include "hyperion/http/http_date.hpp"
#include "hyperion/http/server_header.hpp"
#include "hyperion/http1/h2c_upgrade.hpp"
#include "hyperion/log/logger.hpp"
#include "hyperion/server/body_stream.hpp"
#include "hyperion/server/connection.hpp"
#include "hyperion/server/exchange.hpp"
#include "hyperion/server/loop_mailbox.hpp"
#include "hyperion/static/route_table.hpp"
#include "hyperion/static/static_directory.hpp"
#include "hyperion/static/static_response.hpp"

namespace hyperion::http2 {

using server::Connection;
using server::Exchange;
using server::LoopMessage;

namespace {

// Frames are gathered into buffers of about this size before they are
// queued on the connection, and nghttp2 is not asked for more while this
// much is still waiting for the socket (a slow reader costs bounded memory).
constexpr std::size_t kBatchBytes = 64 * 1024;
constexpr std::size_t kOutputHighWater = 256 * 1024;

Http2Session& self(void* user_data) { return *static_cast<Http2Session*>(user_data); }

std::string_view view(const std::uint8_t* data, std::size_t length) {
  return {reinterpret_cast<const char*>(data), length};
}

// Header fields HTTP/2 forbids (RFC 9113 section 8.2.2): an HTTP/1 app may
// set them; they are dropped, not sent.
bool connectionSpecific(std::string_view lower_name) {
  return lower_name == "connection" || lower_name == "keep-alive" || lower_name == "proxy-connection" ||
         lower_name == "transfer-encoding" || lower_name == "upgrade";
}

// Header fields as nghttp2 takes them. Names must be lowercase on the wire:
// the app's are lowered into one buffer the entries point into (nghttp2
// copies them on submit), and the HTTP/1-only ones are left out.
class FieldList {
 public:
  // Literals and views that outlive the submit call.
  void add(std::string_view lower_name, std::string_view value) { pending_.push_back({lower_name, value, npos}); }
  // The app's fields, lowercased; `skip` (lowercase) is left out too.
  void addAll(const http::HeaderList& headers, std::string_view skip) {
    for (const auto& [name, value] : headers) {
      const std::size_t start = names_.size();
      for (char c : name) names_ += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
      const std::string_view lower(names_.data() + start, name.size());
      if (connectionSpecific(lower) || lower == skip || (!lower.empty() && lower.front() == ':')) {
        names_.resize(start);
        continue;
      }
      pending_.push_back({{}, value, start});
      pending_.back().name = {nullptr, name.size()};
    }
  }
  bool has(std::string_view lower_name) const {
    for (const auto& f : pending_)
      if (nameOf(f) == lower_name) return true;
    return false;
  }
  const std::vector<nghttp2_nv>& entries() {
    nv_.clear();
    for (const auto& f : pending_) {
      const std::string_view name = nameOf(f);
      nv_.push_back({reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
                     reinterpret_cast<std::uint8_t*>(const_cast<char*>(f.value.data())), name.size(), f.value.size(),
                     NGHTTP2_NV_FLAG_NONE});
    }
    return nv_;
  }

 private:
  static constexpr std::size_t npos = std::string::npos;
  struct Field {
    std::string_view name;  // for added literals; only the size for lowered ones
    std::string_view value;
    std::size_t offset;  // into names_ (npos: `name` is the view)
  };
  std::string_view nameOf(const Field& f) const {
    return f.offset == npos ? f.name : std::string_view(names_.data() + f.offset, f.name.size());
  }
  std::string names_;  // grows while fields are added: views into it are made at the end
  std::vector<Field> pending_;
  std::vector<nghttp2_nv> nv_;
};

std::size_t queuedOutput(const Connection& conn) {
  std::size_t total = 0;
  for (const auto& chunk : conn.output) total += static_cast<std::size_t>(chunk.length());
  return total - std::min(total, conn.output_offset);
}

}  // namespace

struct Http2Session::Stream {
  http1::Request request;
  std::size_t header_bytes = 0;
  std::shared_ptr<Exchange> exchange;  // while a Ruby thread answers it
  int rejected = 0;                    // a status we answered ourselves: the rest of the request is ignored
  // The response.
  int status = 0;
  bool head_submitted = false;
  bool has_body = false;
  std::string out;  // body bytes not yet framed
  std::size_t out_offset = 0;
  std::string_view native_body;                // a prebuilt or preloaded body, kept alive by `keeper`
  std::shared_ptr<const void> keeper;
  net::UniqueFd file;  // a to_path body, read in pieces as the window allows
  std::uint64_t file_offset = 0;
  std::uint64_t file_left = 0;
  bool ended = false;     // no more bytes will come (Finish, or a native answer)
  bool complete = true;   // Finish said everything promised was produced
  std::optional<http::HeaderList> trailers;  // sent after the body, ending the stream
  bool deferred = false;  // the data source waits for bytes
  bool closed = false;    // nghttp2 closed the stream
  bool finish_seen = false;
  bool headers_done = false;  // the request's header block has ended
  bool request_ended = false;  // the client's END_STREAM arrived
  // A body handed to the app as it arrives (gRPC): the window reopens only
  // for what the app took. `abandoned`: the response ended first, so what
  // still comes is dropped (and its window reopened at once).
  std::shared_ptr<server::BodyStream> body_stream;
  std::uint64_t body_streamed = 0;
  std::uint64_t body_unconsumed = 0;
  bool body_abandoned = false;
  std::uint64_t body_sent = 0;
  server::Clock::time_point started{};
  server::Clock::time_point last_input{};     // the request's last DATA
  server::Clock::time_point last_progress{};  // the response's last DATA (or its head)
  bool pendingOutput() const { return out_offset < out.size() || !native_body.empty() || file_left > 0; }
};

// --- the C callbacks: straight to the session -------------------------------

namespace {

int beginHeadersCallback(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  return self(user_data).onBeginHeaders(frame->hd.stream_id);
}

int headerCallback(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name, std::size_t name_length,
                   const std::uint8_t* value, std::size_t value_length, std::uint8_t, void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  if (frame->headers.cat == NGHTTP2_HCAT_HEADERS)  // a header block after the body: the request's trailers
    return self(user_data).onTrailer(frame->hd.stream_id, view(name, name_length), view(value, value_length));
  return self(user_data).onHeader(frame->hd.stream_id, view(name, name_length), view(value, value_length));
}

int frameRecvCallback(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  if (frame->hd.type == NGHTTP2_HEADERS)
    self(user_data).onHeadersEnd(frame->hd.stream_id, (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0);
  if (frame->hd.type == NGHTTP2_DATA && frame->hd.length == 0 && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0)
    self(user_data).onEmptyData();
  const bool request_frame = frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA;
  if (request_frame && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0)
    return self(user_data).onRequestEnd(frame->hd.stream_id);
  return 0;
}

int dataChunkCallback(nghttp2_session*, std::uint8_t, std::int32_t stream_id, const std::uint8_t* data,
                      std::size_t length, void* user_data) {
  return self(user_data).onData(stream_id, data, length);
}

int streamCloseCallback(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code, void* user_data) {
  return self(user_data).onStreamClose(stream_id, error_code);
}

// What we end ourselves is logged once: a GOAWAY with an error at info (a
// flood nghttp2 cut off, a broken frame), a stream reset at debug.
int frameSendCallback(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR) {
    self(user_data).logEnd("connection ended with GOAWAY", frame->goaway.error_code, frame->goaway.last_stream_id);
  } else if (frame->hd.type == NGHTTP2_RST_STREAM && frame->rst_stream.error_code != NGHTTP2_NO_ERROR) {
    spdlog::debug("HTTP/2 stream {} reset: {}", frame->hd.stream_id,
                  nghttp2_http2_strerror(frame->rst_stream.error_code));
  }
  return 0;
}

ssize_t readCallback(nghttp2_session*, std::int32_t stream_id, std::uint8_t* buffer, std::size_t length,
                     std::uint32_t* flags, nghttp2_data_source*, void* user_data) {
  return self(user_data).readBody(stream_id, buffer, length, flags);
}

}  // namespace

// --- lifetime ---------------------------------------------------------------

Http2Session::Http2Session(server::SessionHost& host, Connection& conn) : host_(host), conn_(conn) {
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, beginHeadersCallback);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, headerCallback);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, frameRecvCallback);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, dataChunkCallback);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, streamCloseCallback);
  nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, frameSendCallback);
  // The window is ours to reopen (nghttp2_session_consume_*): as a body is
  // buffered, or, for a streamed body, as the app reads it.
  nghttp2_option* option = nullptr;
  nghttp2_option_new(&option);
  nghttp2_option_set_no_auto_window_update(option, 1);
  nghttp2_session_server_new2(&session_, callbacks, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);
  const auto& h2 = host_.settings().http2;
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, h2.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, h2.initial_window_size},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, h2.max_frame_size},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<std::uint32_t>(headerListLimit())},
  };
  // Sent with the first flush (the loop calls onInput right after
  // installing the session).
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
}

Http2Session::~Http2Session() {
  // A Ruby thread still answering a stream (or waiting for its last bytes
  // to leave) finds its client gone.
  for (auto& [id, s] : streams_) {
    if (s->exchange) s->exchange->onClientGone();
    host_.releaseStream();
  }
  nghttp2_session_del(session_);
}

void Http2Session::logEnd(std::string_view what, std::uint32_t error_code, std::int32_t last_stream) {
  spdlog::info("HTTP/2 {} to {}: {} (last stream {})", what, conn_.peer.remote_addr, nghttp2_http2_strerror(error_code),
               last_stream);
}

std::size_t Http2Session::headerListLimit() const {
  const auto& settings = host_.settings();
  return settings.http2.max_header_list_size != 0 ? settings.http2.max_header_list_size
                                                  : settings.limits.max_header_bytes;
}

Http2Session::Stream* Http2Session::stream(std::int32_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

// --- input ------------------------------------------------------------------

void Http2Session::acceptUpgrade(http1::Request request, const std::string& settings) {
  const int rc = nghttp2_session_upgrade2(session_, reinterpret_cast<const std::uint8_t*>(settings.data()),
                                          settings.size(), request.isHead() ? 1 : 0, nullptr);
  if (rc != 0) {
    spdlog::info("HTTP/2 upgrade from {} refused: {}", conn_.peer.remote_addr, nghttp2_strerror(rc));
    nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
    going_away_ = true;
    return;
  }
  constexpr std::int32_t kUpgradeStream = 1;
  if (!host_.admitStream()) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, kUpgradeStream, NGHTTP2_REFUSED_STREAM);
    return;
  }
  auto created = std::make_unique<Stream>();
  created->started = created->last_input = host_.now();
  created->headers_done = created->request_ended = true;
  http1::stripUpgradeFields(request);
  request.version_major = 2;
  request.version_minor = 0;
  created->request = std::move(request);
  Stream& s = *created;
  streams_[kUpgradeStream] = std::move(created);
  dispatch(kUpgradeStream, s);
}

void Http2Session::onInput(Connection& conn) {
  if (failed_) {  // the connection is over; whatever else arrives is dropped
    conn.input.clear();
    conn.input_offset = 0;
    return;
  }
  if (conn.pendingInput() > 0) {
    const auto* data = reinterpret_cast<const std::uint8_t*>(conn.input.data() + conn.input_offset);
    const ssize_t used = nghttp2_session_mem_recv(session_, data, conn.pendingInput());
    if (used < 0) {
      // A connection error (bad preface, a flood nghttp2 refuses, a broken
      // frame): nghttp2 has queued a GOAWAY where one is due.
      spdlog::info("HTTP/2 connection from {} ended: {}", conn.peer.remote_addr,
                   nghttp2_strerror(static_cast<int>(used)));
      conn.input.clear();
      conn.input_offset = 0;
      going_away_ = true;
      failed_ = true;
      flushFrames();
      conn.close_after_flush = true;
      host_.closeWhenDone(conn);
      return;
    }
    conn.input_offset += static_cast<std::size_t>(used);
    if (conn.input_offset == conn.input.size()) {
      conn.input.clear();
      conn.input_offset = 0;
    }
  }
  flushFrames();
  if (conn.peer_closed) closeIfDone();
}

int Http2Session::onBeginHeaders(std::int32_t id) {
  auto created = std::make_unique<Stream>();
  created->request.version_major = 2;
  created->request.version_minor = 0;
  created->started = created->last_input = host_.now();
  if (going_away_ || host_.draining()) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
    return 0;
  }
  if (!host_.admitStream()) {
    // The worker's budget of open streams (--h2-max-total-streams) is
    // spent: the client may retry this stream elsewhere or later.
    spdlog::debug("HTTP/2 stream {} from {} refused: the worker has {} streams open", id, conn_.peer.remote_addr,
                  host_.settings().http2.max_total_streams);
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
    return 0;
  }
  streams_[id] = std::move(created);
  if (id == std::numeric_limits<std::int32_t>::max()) {
    // The client's stream ids are spent (RFC 9113 section 5.1.1): this one
    // is served, then the connection winds down so the client opens a new
    // one instead of finding out from a refused stream.
    spdlog::debug("HTTP/2 connection from {}: stream ids exhausted, GOAWAY after stream {}", conn_.peer.remote_addr, id);
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR, nullptr, 0);
    going_away_ = true;
  }
  return 0;
}

int Http2Session::onHeader(std::int32_t id, std::string_view name, std::string_view value) {
  Stream* s = stream(id);
  if (!s || s->rejected) return 0;
  // RFC 9113 section 6.5.2's accounting: name + value + 32 per field.
  s->header_bytes += name.size() + value.size() + 32;
  if (s->header_bytes > headerListLimit()) {
    reject(id, *s, 431, "request header list over the limit");
    return 0;
  }
  http1::Request& r = s->request;
  if (!name.empty() && name.front() == ':') {
    // nghttp2 has checked the pseudo-headers (known, once each, before the rest).
    if (name == ":method") r.method.assign(value);
    else if (name == ":path") r.target.assign(value);
    else if (name == ":authority") r.headers.push_back({"host", std::string(value)});
    return 0;
  }
  if (name == "host") {  // :authority wins when both are present (RFC 9113 section 8.3.1)
    for (const auto& h : r.headers)
      if (h.name == "host") return 0;
  }
  r.headers.push_back({std::string(name), std::string(value)});
  return 0;
}

// DATA frames that carry nothing and do not end the stream cost us a
// callback each and the client nothing: past this many on one connection it
// is a flood nghttp2 does not count itself (CVE-2019-9518's empty frames).
void Http2Session::onEmptyData() {
  constexpr int kMaxEmptyDataFrames = 1000;
  if (++empty_data_frames_ == kMaxEmptyDataFrames + 1) {
    spdlog::info("HTTP/2 connection from {}: {} empty DATA frames, closing", conn_.peer.remote_addr,
                 kMaxEmptyDataFrames + 1);
    nghttp2_session_terminate_session(session_, NGHTTP2_ENHANCE_YOUR_CALM);
    going_away_ = true;
  }
}

int Http2Session::onTrailer(std::int32_t id, std::string_view name, std::string_view value) {
  Stream* s = stream(id);
  if (!s || s->rejected) return 0;
  s->header_bytes += name.size() + value.size() + 32;  // the same budget as the headers
  if (s->header_bytes > headerListLimit()) {
    reject(id, *s, 431, "request header list (with trailers) over the limit");
    return 0;
  }
  s->request.trailers.push_back({std::string(name), std::string(value)});
  return 0;
}

void Http2Session::onHeadersEnd(std::int32_t id, bool ends_stream) {
  Stream* s = stream(id);
  if (!s || s->headers_done) return;
  s->headers_done = true;
  if (s->rejected) {
    answerRejection(id, *s);  // found while the headers arrived
    return;
  }
  // A declared length over the limit is answered before the body comes, as
  // on HTTP/1.1 (nghttp2 has checked it is a number).
  if (const std::string* length = s->request.header("content-length")) {
    std::uint64_t declared = 0;
    const auto [end, ec] = std::from_chars(length->data(), length->data() + length->size(), declared);
    if (ec == std::errc() && declared > host_.settings().limits.max_body_bytes) {
      reject(id, *s, 413, "declared request body over the limit");
      return;
    }
  }
  // A gRPC call may be bidirectional: the client can wait for each reply
  // before it sends its next message, so the app runs now and reads the
  // body as it arrives. Other bodies are buffered first.
  const std::string* type = s->request.header("content-type");
  if (!ends_stream && type && type->compare(0, 16, "application/grpc") == 0) {
    s->body_stream = std::make_shared<server::BodyStream>();
    dispatch(id, *s);
    if (!s->exchange) s->body_stream.reset();  // answered natively after all
  }
}

void Http2Session::consumed(std::int32_t id, std::size_t n) {
  if (n > 0) nghttp2_session_consume_stream(session_, id, n);
}

int Http2Session::onData(std::int32_t id, const std::uint8_t* data, std::size_t length) {
  // The connection's window reopens at once; a stream's as its bytes are
  // taken (below), so one stream's slow reader cannot stall the others.
  nghttp2_session_consume_connection(session_, length);
  Stream* s = stream(id);
  if (s) s->last_input = host_.now();
  if (!s || s->rejected) {
    if (s) consumed(id, length);  // read and dropped: the client is not stalled
    return 0;
  }
  const auto& limits = host_.settings().limits;
  if (s->body_stream) {
    if (s->body_abandoned) {
      consumed(id, length);
      return 0;
    }
    s->body_streamed += length;
    if (s->body_streamed > limits.max_body_bytes) {
      reject(id, *s, 413, "request body over the limit");
      s->body_stream->fail();
      return 0;
    }
    s->body_unconsumed += length;
    s->body_stream->push(view(data, length));
    return 0;
  }
  consumed(id, length);
  http1::RequestBody& body = s->request.body;
  if (body.size + length > limits.max_body_bytes) {
    reject(id, *s, 413, "request body over the limit");
    return 0;
  }
  if (!body.append(reinterpret_cast<const char*>(data), length, limits.body_memory_bytes, host_.settings().tmp_dir)) {
    spdlog::error("{}: cannot buffer an HTTP/2 request body in {}: {}", conn_.peer.remote_addr,
                  host_.settings().tmp_dir, std::strerror(errno));
    reject(id, *s, 500, "request body could not be buffered");
  }
  return 0;
}

int Http2Session::onRequestEnd(std::int32_t id) {
  Stream* s = stream(id);
  if (!s) return 0;
  s->request_ended = true;
  if (s->body_stream) s->body_stream->end();
  if (s->rejected || s->exchange || s->head_submitted) return 0;
  s->request.body.rewind();
  dispatch(id, *s);
  return 0;
}

void Http2Session::dispatch(std::int32_t id, Stream& s) {
  int handler_id = -1;
  if (answerNatively(id, s, handler_id)) return;
  auto exchange = std::make_shared<Exchange>(conn_.id, std::move(s.request), conn_.peer, host_.mailbox());
  exchange->setRouteHandler(handler_id);
  if (s.body_stream) exchange->setBodyStream(s.body_stream);
  s.exchange = exchange;
  by_exchange_[exchange.get()] = id;
  host_.dispatch(std::move(exchange));
}

// Prebuilt routes and preloaded files, from the same protocol-neutral parts
// the HTTP/1 session renders.
bool Http2Session::answerNatively(std::int32_t id, Stream& s, int& handler_id) {
  const http1::Request& r = s.request;
  if (const static_files::Route* route = host_.routes().find(r.method, r.path())) {
    if (!route->is_static) {
      handler_id = route->handler_id;
      return false;
    }
    // The route table replaces routes by publishing new snapshots; the body
    // is copied (prebuilt bodies are small) so no snapshot must be pinned.
    s.out.assign(route->body);
    s.ended = true;
    submitHead(id, s, route->status, route->headers, route->body.size(),
               http::responseHasBody(route->status, r.isHead()) && !route->body.empty());
    return true;
  }
  if (host_.staticDirectories().empty() || (r.method != "GET" && r.method != "HEAD")) return false;
  for (const auto& dir : host_.staticDirectories()) {
    auto found = dir.find(r.path());
    if (found.kind == static_files::StaticDirectory::LookupKind::Rejected) {
      reject(id, s, 400, "path traversal attempt");
      return true;
    }
    if (found.kind != static_files::StaticDirectory::LookupKind::Found) continue;
    static_files::StaticRequest static_request;
    static_request.method = r.method;
    const auto header = [&r](std::string_view name) {
      const std::string* value = r.header(name);
      return value ? std::string_view(*value) : std::string_view{};
    };
    static_request.if_none_match = header("if-none-match");
    static_request.if_modified_since = header("if-modified-since");
    static_request.range = header("range");
    static_request.accept_encoding = header("accept-encoding");
    static_request.if_range = header("if-range");
    const static_files::StaticReply reply = static_files::buildStaticReply(found.file, static_request);
    http::HeaderList headers;
    reply.forEachHeader([&headers](std::string_view name, std::string_view value) { headers.add(name, value); });
    s.status = reply.status;
    s.native_body = reply.body;
    s.keeper = reply.keeper;
    s.ended = true;
    submitHead(id, s, reply.status, headers, reply.content_length, !reply.body.empty());
    return true;
  }
  return false;
}

void Http2Session::reject(std::int32_t id, Stream& s, int status, std::string_view why) {
  spdlog::info("rejected HTTP/2 request from {} (stream {}): {} -> {}", conn_.peer.remote_addr, id, why, status);
  s.rejected = status;
  if (s.head_submitted || s.exchange) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
    return;
  }
  if (s.headers_done) answerRejection(id, s);
}

// The answer to a rejected request, while the client may still be sending
// it: what else it sends is read and dropped (its window keeps opening, so
// it is not stalled, and nothing is kept).
void Http2Session::answerRejection(std::int32_t id, Stream& s) {
  switch (s.rejected) {
    case 431: s.out = "Request Header Fields Too Large\n"; break;
    case 413: s.out = "Content Too Large\n"; break;
    case 500: s.out = "Internal Server Error\n"; break;
    case 408: s.out = "Request Timeout\n"; break;
    default: s.out = "Bad Request\n"; break;
  }
  s.ended = true;
  const http::HeaderList headers = {{"content-type", "text/plain; charset=utf-8"}};
  submitHead(id, s, s.rejected, headers, s.out.size(), true);
}

// --- replies ----------------------------------------------------------------

void Http2Session::submitHead(std::int32_t id, Stream& s, int status, const http::HeaderList& headers,
                              std::optional<std::uint64_t> body_length, bool has_body) {
  s.head_submitted = true;
  s.last_progress = host_.now();
  s.status = status;
  s.has_body = has_body;
  char status_text[4];
  std::to_chars(status_text, status_text + 3, status);
  FieldList fields;
  fields.add(":status", {status_text, 3});
  // The real size wins over the app's content-length, as on HTTP/1.1.
  fields.addAll(headers, body_length ? "content-length" : "");
  char length_text[24];
  if (body_length && !fields.has("content-length") && status != 304 && status != 204) {
    fields.add("content-length",
               {length_text, static_cast<std::size_t>(std::to_chars(length_text, length_text + 24, *body_length).ptr -
                                                      length_text)});
  }
  if (!fields.has("date")) fields.add("date", http::currentHttpDate());
  if (!fields.has("server")) fields.add("server", http::kServerName);
  nghttp2_data_provider provider{};
  provider.read_callback = readCallback;
  const auto& nv = fields.entries();
  const int rc = nghttp2_submit_response(session_, id, nv.data(), nv.size(), has_body ? &provider : nullptr);
  if (rc != 0) spdlog::warn("HTTP/2 response on stream {} not submitted: {}", id, nghttp2_strerror(rc));
}

void Http2Session::onMessage(Connection& conn, LoopMessage& message) {
  auto found = by_exchange_.find(message.exchange.get());
  if (found == by_exchange_.end()) return;
  const std::int32_t id = found->second;
  Stream& s = *stream(id);
  Exchange& exchange = *message.exchange;
  if (message.kind == LoopMessage::Kind::BodyConsumed) {
    if (s.body_abandoned || s.closed) return;
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(message.size, s.body_unconsumed));
    s.body_unconsumed -= n;
    consumed(id, n);
    flushFrames();
    return;
  }
  if (message.head && !s.head_submitted) {
    // (A partial hijack cannot be asked for on h2: rack.hijack? is false and
    // the response header is ignored, so `raw` is never set here.)
    if (s.closed) {  // reset by the client while the app worked: nothing to send
      s.head_submitted = true;
      s.status = message.head->status;
    } else {
      const bool body = http::responseHasBody(message.head->status, exchange.request().isHead());
      submitHead(id, s, message.head->status, message.head->headers, message.head->body_length, body);
    }
  }
  if (!message.bytes.empty()) {
    if (s.closed || !s.has_body) {
      exchange.onBytesWritten(message.bytes.size());
    } else {
      if (s.out_offset == s.out.size()) {
        s.out = std::move(message.bytes);
        s.out_offset = 0;
      } else {
        s.out.append(message.bytes);
      }
    }
  }
  switch (message.kind) {
    case LoopMessage::Kind::SendFile:
      if (s.closed || !s.has_body) {
        exchange.onBytesWritten(message.size);
      } else {
        s.file.reset(::open(message.path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!s.file) {
          spdlog::error("cannot open {} for an HTTP/2 response: {}", message.path, std::strerror(errno));
          exchange.onBytesWritten(message.size);
          nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
        } else {
          s.file_offset = 0;
          s.file_left = message.size;
        }
      }
      break;
    case LoopMessage::Kind::Finish:
      s.ended = true;
      s.complete = message.complete;
      if (s.body_stream && !s.request_ended && !s.body_abandoned) {
        // The app answered without reading the whole body: the rest is
        // dropped as it comes, and the client is not left stalled.
        s.body_abandoned = true;
        consumed(id, static_cast<std::size_t>(s.body_unconsumed));
        s.body_unconsumed = 0;
      }
      if (message.trailers && !message.trailers->empty()) s.trailers = std::move(message.trailers);
      if (!s.head_submitted && !s.closed) {  // nothing at all: an answer must still go out
        http::HeaderList none;
        submitHead(id, s, 500, none, 0, false);
      }
      break;
    case LoopMessage::Kind::Hijack:
      exchange.completeHijack(-1, {});
      break;
    default:
      break;
  }
  resume(id, s);
  flushFrames();
  if (message.kind == LoopMessage::Kind::Finish) finished(id, s);
  (void)conn;
}

void Http2Session::resume(std::int32_t id, Stream& s) {
  if (s.deferred && !s.closed) {
    s.deferred = false;
    nghttp2_session_resume_data(session_, id);
  }
}

// The data source of every response body: queued bytes, then a native body,
// then the file, as far as the window (`length`) allows.
long Http2Session::readBody(std::int32_t id, std::uint8_t* buffer, std::size_t length, std::uint32_t* flags) {
  Stream* s = stream(id);
  if (!s) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  std::size_t n = 0;
  if (s->out_offset < s->out.size()) {
    n = std::min(length, s->out.size() - s->out_offset);
    std::memcpy(buffer, s->out.data() + s->out_offset, n);
    s->out_offset += n;
    if (s->out_offset == s->out.size()) {
      s->out.clear();
      s->out_offset = 0;
    }
    if (s->exchange) s->exchange->onBytesWritten(n);
  } else if (!s->native_body.empty()) {
    n = std::min(length, s->native_body.size());
    std::memcpy(buffer, s->native_body.data(), n);
    s->native_body.remove_prefix(n);
  } else if (s->file_left > 0) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(length, s->file_left));
    ssize_t got;
    do {
      got = ::pread(s->file.get(), buffer, want, static_cast<off_t>(s->file_offset));
    } while (got < 0 && errno == EINTR);
    if (got <= 0) {
      spdlog::error("reading a file for HTTP/2 stream {}: {}", id, got == 0 ? "it got shorter" : std::strerror(errno));
      if (s->exchange) s->exchange->onBytesWritten(static_cast<std::size_t>(s->file_left));
      s->file_left = 0;
      s->file.reset();
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // resets the stream
    }
    n = static_cast<std::size_t>(got);
    s->file_offset += n;
    s->file_left -= n;
    if (s->file_left == 0) s->file.reset();
    if (s->exchange) s->exchange->onBytesWritten(n);
  }
  s->body_sent += n;
  if (n > 0) s->last_progress = host_.now();
  const bool drained = s->out_offset == s->out.size() && s->native_body.empty() && s->file_left == 0;
  if (drained && s->ended) {
    if (!s->complete) {
      // The app promised more than it produced: the client must not take
      // this for the whole body.
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
      return n > 0 ? static_cast<long>(n) : static_cast<long>(NGHTTP2_ERR_DEFERRED);
    }
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (s->trailers) {
      // A HEADERS frame after the data ends the stream instead (gRPC's
      // grpc-status travels there).
      FieldList fields;
      fields.addAll(*s->trailers, "");
      const auto& nv = fields.entries();
      if (nghttp2_submit_trailer(session_, id, nv.data(), nv.size()) == 0) *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      s->trailers.reset();
    }
    return static_cast<long>(n);
  }
  if (n == 0) {
    s->deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  return static_cast<long>(n);
}

void Http2Session::finished(std::int32_t id, Stream& s) {
  if (!s.exchange || s.finish_seen) return;
  s.finish_seen = true;
  by_exchange_.erase(s.exchange.get());
  if (s.closed) forget(id, s);
  closeIfDone();
}

int Http2Session::onStreamClose(std::int32_t id, std::uint32_t error_code) {
  Stream* s = stream(id);
  if (!s) return 0;
  s->closed = true;
  if (s->exchange && !s->finish_seen) {
    // A Ruby thread still answers it: the client reset it (or the response
    // cannot be finished); the app sees the client gone and body.close
    // runs. The stream stays listed until its Finish arrives.
    s->exchange->onClientGone();
    return 0;
  }
  if (s->exchange && error_code != NGHTTP2_NO_ERROR) s->exchange->onClientGone();  // bytes it waits on never leave
  forget(id, *s);
  return 0;
}

// The stream is over on both sides: one access-log line, and it goes.
void Http2Session::forget(std::int32_t id, Stream& s) {
  if (s.status > 0) {
    const http1::Request& r = s.exchange ? s.exchange->request() : s.request;
    const auto started = s.exchange ? s.exchange->startedAt() : s.started;
    const double ms = std::chrono::duration<double, std::milli>(host_.now() - started).count();
    host_.recordRequest({conn_.peer.remote_addr, r.method, r.target, r.protocol(), s.status,
                    static_cast<std::size_t>(s.body_sent), ms});
  }
  if (s.exchange) {
    const std::size_t unsent = s.out.size() - s.out_offset + static_cast<std::size_t>(s.file_left);
    if (unsent > 0) s.exchange->onBytesWritten(unsent);  // never to be written: the accounting balances
  }
  streams_.erase(id);
  host_.releaseStream();
}

// --- output and the connection's life ---------------------------------------

void Http2Session::flushFrames() {
  if (flushing_) return;
  flushing_ = true;
  std::string batch;
  bool queued = false;
  std::size_t waiting = queuedOutput(conn_);
  while (waiting + batch.size() < kOutputHighWater) {
    const std::uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      spdlog::warn("HTTP/2 connection from {}: {}", conn_.peer.remote_addr, nghttp2_strerror(static_cast<int>(n)));
      host_.closeNow(conn_);
      flushing_ = false;
      return;
    }
    if (n == 0) break;
    batch.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
    if (batch.size() >= kBatchBytes) {
      waiting += batch.size();
      host_.queueOutput(conn_, std::move(batch), nullptr);
      batch = std::string();
      queued = true;
    }
  }
  if (!batch.empty()) {
    host_.queueOutput(conn_, std::move(batch), nullptr);
    queued = true;
  }
  flushing_ = false;
  if (queued) host_.flush(conn_);
}

void Http2Session::onWritable(Connection&) {
  flushFrames();
  closeIfDone();
}

void Http2Session::closeIfDone() {
  if (!conn_.output.empty()) return;
  const bool idle = by_exchange_.empty();
  const bool over = nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0;
  if (idle && (over || conn_.peer_closed || ((going_away_ || host_.draining()) && streams_.empty()))) {
    host_.closeWhenDone(conn_);
  }
}

// Per stream: a buffered request body that stalls gets a 408 (as on
// HTTP/1.1; a streamed gRPC body is paced by the app and the client, so it
// has none); a response the client opens no window for is reset after
// --write-timeout, so a zero-window reader holds neither a Ruby thread nor
// the bytes for ever. Then the connection's own idle deadline.
void Http2Session::onTimeout(Connection& conn) {
  const auto& limits = host_.settings().limits;
  const auto now = host_.now();
  for (auto& [id, s] : streams_) {
    if (s->rejected || s->closed) continue;
    if (!s->headers_done && now - s->started > limits.header_timeout) {
      spdlog::info("HTTP/2 connection from {}: stream {}'s header block not finished in {} ms, closing",
                   conn.peer.remote_addr, id, limits.header_timeout.count());
      nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
      going_away_ = true;
      break;
    }
    if (!s->request_ended && !s->body_stream && !s->exchange && !s->head_submitted &&
        now - s->last_input > limits.body_timeout) {
      reject(id, *s, 408, "request body stalled");
    } else if (s->head_submitted && s->has_body && s->pendingOutput() && now - s->last_progress > limits.write_timeout) {
      spdlog::info("HTTP/2 stream {} from {} reset: the client opened no window for {} ms", id, conn.peer.remote_addr,
                   limits.write_timeout.count());
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    }
  }
  flushFrames();
  if (!streams_.empty()) return;
  const auto idle = host_.now() - std::max(conn.idle_since, conn.last_read);
  if (idle > host_.settings().limits.keepalive_timeout) {
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                          NGHTTP2_NO_ERROR, nullptr, 0);
    going_away_ = true;
    flushFrames();
    conn.close_after_flush = true;
    host_.closeWhenDone(conn);
  }
}

void Http2Session::onDrain(Connection& conn) {
  // GOAWAY names the last stream we will answer; those in flight finish.
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                        NGHTTP2_NO_ERROR, nullptr, 0);
  going_away_ = true;
  flushFrames();
  if (by_exchange_.empty()) {
    conn.close_after_flush = true;
    host_.closeWhenDone(conn);
  }
}

void Http2Session::onClientGone() {
  for (auto& [exchange, id] : by_exchange_) {
    if (Stream* s = stream(id); s && s->exchange) s->exchange->onClientGone();
  }
}

}  // namespace hyperion::http2
