// The rack.upgrade WebSocket API (Iodine's and Agoo's convention, so their
// apps run unchanged): the app sets env['rack.upgrade'] to a handler; the
// loop answers the 101 and owns the socket; the handler's on_open,
// on_message, on_drained, on_shutdown and on_close run here, on the pool's
// threads, one connection's events in order and never two at once (see
// websocket/channel.hpp). Hyperion::WebSocket::Client is what they get.
#include <algorithm>

// Before any Ruby header: ruby.h's macros break fmt's templates.
#include "hyperion/log/logger.hpp"
#include "hyperion/websocket/channel.hpp"
#include "hyperion/websocket/frame.hpp"
#include "hyperion/websocket/handshake.hpp"
#include "hyperion/websocket/publisher.hpp"
#include "runtime.hpp"

#include <ruby/encoding.h>
#include <ruby/thread.h>

namespace hyperion::rb {
namespace {

// Events one job runs before the connection goes to the back of the queue,
// so a chatty connection cannot keep a thread from everyone else.
constexpr int kEventsPerTurn = 64;

struct Client {
  std::shared_ptr<server::Exchange> exchange;
  VALUE handler = Qnil;
  VALUE env = Qnil;
  bool closed = false;  // on_close has run
};

void markClient(void* p) {
  auto* c = static_cast<Client*>(p);
  rb_gc_mark(c->handler);
  rb_gc_mark(c->env);
}
void freeClient(void* p) { delete static_cast<Client*>(p); }
std::size_t sizeClient(const void*) { return sizeof(Client); }

const rb_data_type_t kClientType = {"Hyperion::WebSocket::Client", {markClient, freeClient, sizeClient}, nullptr,
                                    nullptr, RUBY_TYPED_FREE_IMMEDIATELY};
VALUE g_client_class = Qnil;
ID id_on_open, id_on_message, id_on_drained, id_on_shutdown, id_on_close;

Client& clientOf(VALUE self) { return *static_cast<Client*>(rb_check_typeddata(self, &kClientType)); }

bool clientOpen(const Client& c) {
  return !c.closed && c.exchange && c.exchange->webSocket()->open() && !c.exchange->clientGone();
}

// Text for UTF-8 (and 7-bit ASCII-compatible) Strings, binary for binary
// ones; other encodings are converted to UTF-8 first, as a text frame must be.
VALUE messageString(VALUE data, bool& binary) {
  StringValue(data);
  const int index = rb_enc_get_index(data);
  binary = index == rb_ascii8bit_encindex();
  if (binary) return data;
  if (index != rb_utf8_encindex() && rb_enc_str_coderange(data) != ENC_CODERANGE_7BIT)
    data = rb_str_conv_enc(data, rb_enc_from_index(index), rb_utf8_encoding());
  if (rb_enc_str_coderange(data) == ENC_CODERANGE_BROKEN)
    rb_raise(rb_eArgError, "message is not valid UTF-8 (use String#b to send it as binary)");
  return data;
}

// client.write(data) -> true, or false when the client is past
// --ws-backpressure-bytes (on_drained follows once it caught up) or closed.
VALUE clientWrite(VALUE self, VALUE data) {
  Client& c = clientOf(self);
  bool binary = false;
  data = messageString(data, binary);
  if (!clientOpen(c)) return Qfalse;
  const auto& limits = processRuntime().settings->websocket;
  // Past the hard cap nothing more is queued (the loop closes the
  // connection 1008 when it sees the backlog): memory stays bounded even
  // while the loop has not caught up with this thread's writes.
  if (c.exchange->unsentBytes() > limits.max_pending_bytes) {
    // Dropping the message and going on would lose it silently: the
    // connection ends instead (1008), as when the loop sees the backlog.
    cxxGuard([&] { c.exchange->wsOverflow(); });
    return Qfalse;
  }
  const bool over = c.exchange->unsentBytes() + static_cast<std::size_t>(RSTRING_LEN(data)) > limits.backpressure_bytes;
  if (over) c.exchange->webSocket()->wantDrain();
  cxxGuard([&] { c.exchange->wsSend(std::string(RSTRING_PTR(data), RSTRING_LEN(data)), binary); });
  RB_GC_GUARD(data);
  return over ? Qfalse : Qtrue;
}

// client.close(code = 1000, reason = '')
VALUE clientClose(int argc, VALUE* argv, VALUE self) {
  VALUE code_value = Qnil, reason = Qnil;
  rb_scan_args(argc, argv, "02", &code_value, &reason);
  Client& c = clientOf(self);
  const int code = NIL_P(code_value) ? websocket::close_code::kNormal : NUM2INT(code_value);
  if (code < 0 || code > 0xFFFF || !websocket::validCloseCode(static_cast<std::uint16_t>(code)))
    rb_raise(rb_eArgError, "%d is not a close code an endpoint may send", code);
  if (!NIL_P(reason)) StringValue(reason);
  if (!clientOpen(c)) return Qnil;
  cxxGuard([&] {
    c.exchange->wsClose(static_cast<std::uint16_t>(code),
                        NIL_P(reason) ? std::string() : std::string(RSTRING_PTR(reason), RSTRING_LEN(reason)));
  });
  return Qnil;
}

VALUE clientOpenP(VALUE self) { return clientOpen(clientOf(self)) ? Qtrue : Qfalse; }
VALUE clientPending(VALUE self) {
  Client& c = clientOf(self);
  return SIZET2NUM(c.exchange ? c.exchange->unsentBytes() : 0);
}
VALUE clientEnv(VALUE self) { return clientOf(self).env; }
VALUE clientHandler(VALUE self) { return clientOf(self).handler; }

VALUE channelName(VALUE channel) {
  if (SYMBOL_P(channel)) channel = rb_sym2str(channel);
  StringValue(channel);
  return channel;
}

VALUE changeSubscription(VALUE self, VALUE channel, bool subscribe) {
  Client& c = clientOf(self);
  channel = channelName(channel);
  if (!clientOpen(c)) return Qfalse;
  cxxGuard([&] { c.exchange->wsSubscribe(toStdString(channel), subscribe); });
  return Qtrue;
}
VALUE clientSubscribe(VALUE self, VALUE channel) { return changeSubscription(self, channel, true); }
VALUE clientUnsubscribe(VALUE self, VALUE channel) { return changeSubscription(self, channel, false); }

struct PublishCall {
  websocket::Publisher* publisher;
  std::string_view channel, payload;
  bool binary;
  bool ok;
};

// Hyperion.publish(channel, message) -> true when handed on. The frame is
// made and written to every subscriber in C++; no Ruby runs per subscriber.
VALUE hyperionPublish(VALUE, VALUE channel, VALUE message) {
  channel = channelName(channel);
  bool binary = false;
  message = messageString(message, binary);
  websocket::Publisher* publisher = processRuntime().publisher;
  if (!publisher) return Qfalse;  // not in a serving worker (the master, a boot script)
  // The Strings stay reachable (locals, guarded below) and unchanged while
  // the GVL is released: only this thread has them.
  PublishCall call{publisher,
                   {RSTRING_PTR(channel), static_cast<std::size_t>(RSTRING_LEN(channel))},
                   {RSTRING_PTR(message), static_cast<std::size_t>(RSTRING_LEN(message))},
                   binary,
                   false};
  rb_thread_call_without_gvl(
      [](void* p) noexcept -> void* {
        auto* c = static_cast<PublishCall*>(p);
        try {
          c->ok = c->publisher->publish(c->channel, c->payload, c->binary);
        } catch (const std::exception& e) {
          spdlog::error("Hyperion.publish failed: {}", e.what());
        }
        return nullptr;
      },
      &call, RUBY_UBF_IO, nullptr);
  RB_GC_GUARD(channel);
  RB_GC_GUARD(message);
  return call.ok ? Qtrue : Qfalse;
}

VALUE clientKey(const server::Exchange& exchange) { return ULL2NUM(exchange.connectionId()); }

void callHandler(const Client& c, ID method, VALUE self, int argc, VALUE data) {
  if (!rb_respond_to(c.handler, method)) return;
  if (argc == 1) rb_funcall(c.handler, method, 1, self);
  else rb_funcall(c.handler, method, 2, self, data);
}

const char* eventName(websocket::Event::Kind kind) {
  switch (kind) {
    case websocket::Event::Kind::Open: return "on_open";
    case websocket::Event::Kind::Message: return "on_message";
    case websocket::Event::Kind::Drained: return "on_drained";
    case websocket::Event::Kind::Shutdown: return "on_shutdown";
    case websocket::Event::Kind::Close: return "on_close";
  }
  return "?";
}

}  // namespace

bool webSocketRequested(const ThreadState& ts) {
  return ts.exchange->webSocketOffered() && !NIL_P(ts.env) && !NIL_P(rb_hash_lookup(ts.env, ts.rt->keys.rack_upgrade));
}

void acceptWebSocket(ThreadState& ts) {
  RubyRuntime& rt = *ts.rt;
  VALUE handler = rb_hash_lookup(ts.env, rt.keys.rack_upgrade);
  VALUE chosen = rb_hash_lookup(ts.env, rt.keys.rack_upgrade_protocol);
  if (!NIL_P(chosen)) chosen = rb_obj_as_string(chosen);
  VALUE client = rb_data_typed_object_wrap(g_client_class, nullptr, &kClientType);
  cxxGuard([&] {
    auto* c = new Client();
    c->exchange = ts.exchange;
    c->handler = handler;
    c->env = ts.env;
    DATA_PTR(client) = c;
  });
  rb_hash_aset(rt.websocket_clients, clientKey(*ts.exchange), client);
  // No Ruby from here: plain C++ objects live in this block.
  cxxGuard([&] {
    std::string protocol;
    if (!NIL_P(chosen)) {
      protocol = toStdString(chosen);
      const auto offered = websocket::offeredProtocols(ts.exchange->request());
      if (std::find(offered.begin(), offered.end(), protocol) == offered.end()) {
        // RFC 6455 section 4.2.2: only one the client offered may be named.
        spdlog::warn("websocket {}: rack.upgrade.protocol {:?} was not offered by the client; none is named",
                     ts.exchange->request().target, protocol);
        protocol.clear();
      }
    }
    ts.exchange->upgradeToWebSocket(std::make_shared<websocket::Channel>(), std::move(protocol));
  });
  RB_GC_GUARD(handler);
  RB_GC_GUARD(client);
}

int runWebSocketEvents(ThreadState& ts) {
  server::Exchange& ex = *ts.exchange;
  websocket::Channel& channel = *ex.webSocket();
  VALUE client = rb_hash_lookup(ts.rt->websocket_clients, clientKey(ex));
  int jump = 0;
  int handled = 0;
  websocket::Event event;
  bool resume = false;
  while (jump == 0 && handled < kEventsPerTurn && channel.next(event, resume)) {
    ++handled;
    if (resume) ex.bodyConsumed(1);  // the loop may read this client again
    if (NIL_P(client)) continue;     // on_close already ran
    Client& c = clientOf(client);
    auto call = [&] {
      switch (event.kind) {
        case websocket::Event::Kind::Open:
          callHandler(c, id_on_open, client, 1, Qnil);
          break;
        case websocket::Event::Kind::Message: {
          VALUE data = event.binary ? rb_str_new(event.data.data(), static_cast<long>(event.data.size()))
                                    : rb_utf8_str_new(event.data.data(), static_cast<long>(event.data.size()));
          callHandler(c, id_on_message, client, 2, data);
          break;
        }
        case websocket::Event::Kind::Drained:
          callHandler(c, id_on_drained, client, 1, Qnil);
          break;
        case websocket::Event::Kind::Shutdown:
          callHandler(c, id_on_shutdown, client, 1, Qnil);
          break;
        case websocket::Event::Kind::Close:
          c.closed = true;
          callHandler(c, id_on_close, client, 1, Qnil);
          break;
      }
    };
    const int state = protect(call);
    if (state != 0) {
      VALUE error = takeError();
      if (!isException(error)) {
        spdlog::warn("Ruby thread hyperion-rb-{} was killed in a WebSocket {}", ts.index, eventName(event.kind));
        jump = state;
      } else {
        spdlog::error("websocket {} {} raised: {}", ex.request().target, eventName(event.kind),
                      describeException(error));
        // The handler's state is unknown now: end the connection (1011).
        if (event.kind != websocket::Event::Kind::Close && clientOpen(c))
          ex.wsClose(websocket::close_code::kInternalError, "internal error");
      }
    }
    if (event.kind == websocket::Event::Kind::Shutdown && clientOpen(c))
      ex.wsClose(websocket::close_code::kGoingAway, "server shutting down");
    if (event.kind == websocket::Event::Kind::Close) {
      VALUE key = clientKey(ex);
      auto forget = [&] { rb_hash_delete(ts.rt->websocket_clients, key); };
      if (protect(forget) != 0) takeError();
      client = Qnil;
    }
  }
  ts.rt->queue->jobDone();
  // Still scheduled (events left, or a turn cut short): back in the queue,
  // behind whatever else waits; a later next() unschedules it when empty.
  if (handled == kEventsPerTurn || jump != 0) ts.rt->queue->push(ts.exchange);
  return jump;
}

void defineWebSocket(VALUE hyperion) {
  VALUE module = rb_define_module_under(hyperion, "WebSocket");
  g_client_class = rb_define_class_under(module, "Client", rb_cObject);
  rb_gc_register_mark_object(g_client_class);
  rb_undef_alloc_func(g_client_class);
  rb_define_method(g_client_class, "write", clientWrite, 1);
  rb_define_method(g_client_class, "close", clientClose, -1);
  rb_define_method(g_client_class, "open?", clientOpenP, 0);
  rb_define_method(g_client_class, "pending", clientPending, 0);
  rb_define_method(g_client_class, "env", clientEnv, 0);
  rb_define_method(g_client_class, "handler", clientHandler, 0);
  rb_define_method(g_client_class, "subscribe", clientSubscribe, 1);
  rb_define_method(g_client_class, "unsubscribe", clientUnsubscribe, 1);
  rb_define_module_function(hyperion, "publish", hyperionPublish, 2);
  id_on_open = rb_intern("on_open");
  id_on_message = rb_intern("on_message");
  id_on_drained = rb_intern("on_drained");
  id_on_shutdown = rb_intern("on_shutdown");
  id_on_close = rb_intern("on_close");
  processRuntime().websocket_clients = rb_hash_new();
}

}  // namespace hyperion::rb
