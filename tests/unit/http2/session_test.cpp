// Http2Session against a fake loop and a real nghttp2 client session: what
// the client sends goes into the connection's input (a byte at a time where
// it matters), what the session queues goes back to the client, and the
// replies a Ruby thread would post are delivered as the loop delivers them.
#include "hyperion/http2/session.hpp"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <map>
#include <string>
#include <vector>

#include "../support/fake_host.hpp"

using namespace hyperion;
using hyperion::testing::FakeHost;
using hyperion::testing::head;
using server::Connection;
using server::Exchange;
using server::LoopMessage;

namespace {

// What the client saw, per stream.
struct Seen {
  std::map<std::string, std::string> headers;
  std::string body;
  bool ended = false;
  int trailer_blocks = 0;  // HEADERS frames after the response's first
  std::uint32_t reset = 0xffffffff;  // RST_STREAM error code, if any
};

class Client {
 public:
  Client() {
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(
        cb, [](nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name, std::size_t name_length,
               const std::uint8_t* value, std::size_t value_length, std::uint8_t, void* user) {
          auto& self = *static_cast<Client*>(user);
          self.streams[frame->hd.stream_id].headers[std::string(reinterpret_cast<const char*>(name), name_length)] =
              std::string(reinterpret_cast<const char*>(value), value_length);
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cb, [](nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* data, std::size_t length,
               void* user) {
          static_cast<Client*>(user)->streams[id].body.append(reinterpret_cast<const char*>(data), length);
          return 0;
        });
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, [](nghttp2_session*, const nghttp2_frame* frame,
                                                                void* user) {
      auto& self = *static_cast<Client*>(user);
      if (frame->hd.type == NGHTTP2_RST_STREAM) self.streams[frame->hd.stream_id].reset = frame->rst_stream.error_code;
      if (frame->hd.type == NGHTTP2_GOAWAY) {
        self.goaway_last_stream = frame->goaway.last_stream_id;
        self.goaway_error = frame->goaway.error_code;
      }
      if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_HEADERS)
        ++self.streams[frame->hd.stream_id].trailer_blocks;
      if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
          (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        self.streams[frame->hd.stream_id].ended = true;
      return 0;
    });
    nghttp2_session_client_new(&session, cb, this);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~Client() { nghttp2_session_del(session); }

  std::int32_t get(const std::string& path, std::vector<std::pair<std::string, std::string>> extra = {},
                   const std::string& method = "GET") {
    std::vector<std::pair<std::string, std::string>> fields = {
        {":method", method}, {":path", path}, {":scheme", "http"}, {":authority", "example.test"}};
    fields.insert(fields.end(), extra.begin(), extra.end());
    std::vector<nghttp2_nv> nv;
    for (auto& [n, v] : fields)
      nv.push_back({reinterpret_cast<std::uint8_t*>(n.data()), reinterpret_cast<std::uint8_t*>(v.data()), n.size(),
                    v.size(), NGHTTP2_NV_FLAG_NONE});
    return nghttp2_submit_request(session, nullptr, nv.data(), nv.size(), nullptr, nullptr);
  }

  std::string output() {
    std::string out;
    const std::uint8_t* data = nullptr;
    for (ssize_t n; (n = nghttp2_session_mem_send(session, &data)) > 0;)
      out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
    return out;
  }
  void input(const std::string& bytes) {
    ASSERT_EQ(nghttp2_session_mem_recv(session, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()),
              static_cast<ssize_t>(bytes.size()));
  }

  nghttp2_session* session = nullptr;
  std::map<std::int32_t, Seen> streams;
  std::int32_t goaway_last_stream = -1;
  std::uint32_t goaway_error = 0xffffffff;
};

class Http2SessionTest : public ::testing::Test {
 protected:
  Http2SessionTest() : conn(9, net::UniqueFd(), nullptr, server::PeerInfo{"10.9.8.7", 443, false}) {
    host.settings_.limits.max_header_bytes = 4096;
    conn.session = std::make_unique<http2::Http2Session>(host, conn);
  }

  // Client bytes into the session (in `piece`-sized reads), its answer back.
  void pump(std::size_t piece = 1 << 20) {
    for (int round = 0; round < 8; ++round) {
      const std::string bytes = client.output();
      for (std::size_t at = 0; at < bytes.size(); at += piece) {
        conn.input.append(bytes.substr(at, piece));
        conn.session->onInput(conn);
      }
      if (bytes.empty()) conn.session->onInput(conn);
      host.flush(conn);
      const std::string wire = std::move(host.wire);
      host.wire.clear();
      if (wire.empty() && bytes.empty()) return;
      client.input(wire);
    }
  }

  void deliver() {
    EXPECT_TRUE(hyperion::testing::deliverReplies(host, conn));
    pump();
  }

  FakeHost host;
  Connection conn;
  Client client;
};

TEST_F(Http2SessionTest, ARequestArrivingAByteAtATimeBecomesAnExchange) {
  const auto id = client.get("/items?page=2", {{"accept", "text/html"}, {"cookie", "a=1"}, {"cookie", "b=2"}});
  pump(1);
  ASSERT_EQ(host.dispatched.size(), 1u);
  const http1::Request& r = host.dispatched[0]->request();
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/items?page=2");
  EXPECT_EQ(r.protocol(), "HTTP/2");
  ASSERT_NE(r.header("host"), nullptr);
  EXPECT_EQ(*r.header("host"), "example.test");
  EXPECT_EQ(*r.header("accept"), "text/html");
  EXPECT_FALSE(host.dispatched[0]->hijackable());
  EXPECT_TRUE(conn.session->busy());

  host.dispatched[0]->finish(true, "hello", head(200, 5, {{"Content-Type", "text/plain"}, {"Connection", "close"}}));
  deliver();
  const Seen& seen = client.streams[id];
  EXPECT_EQ(seen.headers.at(":status"), "200");
  EXPECT_EQ(seen.headers.at("content-type"), "text/plain");
  EXPECT_EQ(seen.headers.at("content-length"), "5");
  EXPECT_EQ(seen.headers.at("server"), "hyperion");
  EXPECT_EQ(seen.headers.count("connection"), 0u);
  EXPECT_EQ(seen.body, "hello");
  EXPECT_TRUE(seen.ended);
  EXPECT_FALSE(conn.session->busy());
  EXPECT_EQ(host.dispatched[0]->unsentBytes(), 0u);
}

TEST_F(Http2SessionTest, StreamsAreAnsweredIndependentlyAndStreamedBodiesArriveWhole) {
  const auto first = client.get("/slow");
  const auto second = client.get("/fast");
  pump();
  ASSERT_EQ(host.dispatched.size(), 2u);
  auto slow = host.dispatched[0];
  auto fast = host.dispatched[1];
  slow->send("part one, ", head(200));
  deliver();
  fast->finish(true, "fast", head(201, 4));
  deliver();
  EXPECT_EQ(client.streams[second].headers.at(":status"), "201");
  EXPECT_TRUE(client.streams[second].ended);
  EXPECT_FALSE(client.streams[first].ended);
  EXPECT_EQ(client.streams[first].body, "part one, ");
  slow->send("part two");
  slow->finish(true);
  deliver();
  EXPECT_EQ(client.streams[first].body, "part one, part two");
  EXPECT_TRUE(client.streams[first].ended);
  EXPECT_EQ(client.streams[first].headers.count("content-length"), 0u);
  EXPECT_EQ(slow->unsentBytes(), 0u);
}

TEST_F(Http2SessionTest, TrailersEndTheStreamAfterTheData) {
  const auto id = client.get("/grpc");
  pump();
  ASSERT_EQ(host.dispatched.size(), 1u);
  auto exchange = host.dispatched[0];
  exchange->send("message", head(200, std::nullopt, {{"content-type", "application/grpc"}}));
  exchange->finish(true, {}, std::nullopt, http::HeaderList{{"Grpc-Status", "0"}, {"grpc-message", "ok"}});
  deliver();
  const Seen& seen = client.streams[id];
  EXPECT_EQ(seen.body, "message");
  EXPECT_EQ(seen.headers.at("grpc-status"), "0");  // lowercased on the wire
  EXPECT_EQ(seen.headers.at("grpc-message"), "ok");
  EXPECT_TRUE(seen.ended);
  EXPECT_EQ(seen.trailer_blocks, 1);
}

TEST_F(Http2SessionTest, StreamsOverTheWorkersBudgetAreRefused) {
  host.stream_limit = 1;
  const auto first = client.get("/one");
  const auto second = client.get("/two");
  pump();
  ASSERT_EQ(host.dispatched.size(), 1u);
  EXPECT_EQ(client.streams[second].reset, static_cast<std::uint32_t>(NGHTTP2_REFUSED_STREAM));
  EXPECT_EQ(host.open_streams, 1u);
  host.dispatched[0]->finish(true, "one", head(200, 3));
  deliver();
  EXPECT_EQ(client.streams[first].body, "one");
  EXPECT_EQ(host.open_streams, 0u);  // released when the stream closed
  const auto third = client.get("/three");
  pump();
  ASSERT_EQ(host.dispatched.size(), 2u);
  EXPECT_EQ(host.dispatched[1]->request().target, "/three");
  (void)third;
  conn.session.reset();
  EXPECT_EQ(host.open_streams, 0u);  // and when the session goes with streams open
}

TEST_F(Http2SessionTest, HeadAnswersCarryTheLengthButNoBody) {
  const auto id = client.get("/doc", {}, "HEAD");
  pump();
  ASSERT_EQ(host.dispatched.size(), 1u);
  host.dispatched[0]->finish(true, "", head(200, std::nullopt, {{"content-length", "1234"}}));
  deliver();
  EXPECT_EQ(client.streams[id].headers.at("content-length"), "1234");
  EXPECT_EQ(client.streams[id].body, "");
  EXPECT_TRUE(client.streams[id].ended);
}

TEST_F(Http2SessionTest, AClientResetTellsTheRubyThreadTheClientIsGone) {
  const auto id = client.get("/events");
  pump();
  ASSERT_EQ(host.dispatched.size(), 1u);
  auto exchange = host.dispatched[0];
  exchange->send("data: 1\n\n", head(200));
  deliver();
  nghttp2_submit_rst_stream(client.session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  pump();
  EXPECT_TRUE(exchange->clientGone());
  // Its last messages still find the stream, and then it is forgotten.
  exchange->finish(false);
  deliver();
  EXPECT_FALSE(conn.session->busy());
}

TEST_F(Http2SessionTest, AnOversizedHeaderListIsAnswered431WithoutRuby) {
  const auto id = client.get("/big", {{"x-big", std::string(5000, 'v')}});
  pump();
  EXPECT_TRUE(host.dispatched.empty());
  EXPECT_EQ(client.streams[id].headers.at(":status"), "431");
  EXPECT_EQ(client.streams[id].body, "Request Header Fields Too Large\n");
  // The connection goes on.
  const auto next = client.get("/ok");
  pump();
  ASSERT_EQ(host.dispatched.size(), 1u);
  EXPECT_EQ(host.dispatched[0]->request().target, "/ok");
  (void)next;
}

TEST_F(Http2SessionTest, PrebuiltRoutesAreAnsweredFromTheirNeutralParts) {
  host.route_table_.addStatic("GET", "/health", 200, {{"Content-Type", "text/plain"}, {"X-Route", "yes"}}, "OK\n");
  const auto id = client.get("/health");
  pump();
  EXPECT_TRUE(host.dispatched.empty());
  EXPECT_EQ(client.streams[id].headers.at(":status"), "200");
  EXPECT_EQ(client.streams[id].headers.at("x-route"), "yes");
  EXPECT_EQ(client.streams[id].headers.at("content-length"), "3");
  EXPECT_EQ(client.streams[id].body, "OK\n");
}

TEST_F(Http2SessionTest, DrainSendsGoawayAndTheInFlightStreamFinishes) {
  const auto id = client.get("/slow");
  pump();
  ASSERT_EQ(host.dispatched.size(), 1u);
  host.mailbox()->setDraining();
  conn.session->onDrain(conn);
  pump();
  EXPECT_EQ(client.goaway_last_stream, id);
  EXPECT_EQ(client.goaway_error, static_cast<std::uint32_t>(NGHTTP2_NO_ERROR));
  const int closes_before = host.closes;
  host.dispatched[0]->finish(true, "done", head(200, 4));
  deliver();
  EXPECT_EQ(client.streams[id].body, "done");
  EXPECT_GT(host.closes, closes_before);
}

TEST_F(Http2SessionTest, ABrokenFrameEndsTheConnectionWithGoaway) {
  pump();
  // DATA on stream 0 is a connection error (RFC 9113 section 6.1).
  const std::string bad("\x00\x00\x01\x00\x00\x00\x00\x00\x00x", 10);
  conn.input.append(bad);
  conn.session->onInput(conn);
  host.flush(conn);
  client.input(host.wire);
  EXPECT_EQ(client.goaway_error, static_cast<std::uint32_t>(NGHTTP2_PROTOCOL_ERROR));
  EXPECT_GT(host.closes, 0);
}

}  // namespace
