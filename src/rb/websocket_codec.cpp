// Hyperion::WebSocket::Codec: the loop's C++ frame parser (RFC 6455
// framing, unmasking, fragments, UTF-8 and close-frame checks) for Ruby code
// that owns a hijacked socket (Hyperion::WebSocket::Connection,
// ext_ruby/lib/hyperion/websocket/connection.rb). Also the frame builder
// and the handshake's accept value.
#include "hyperion/websocket/frame.hpp"
#include "hyperion/websocket/frame_parser.hpp"
#include "hyperion/websocket/handshake.hpp"
#include "runtime.hpp"

#include <ruby/encoding.h>

#include <algorithm>
#include <cstring>

namespace hyperion::rb {
namespace {

struct Codec {
  std::unique_ptr<websocket::FrameParser> parser;
  std::vector<websocket::Message> out;  // kept here: no C++ local lives across a Ruby call
};

void freeCodec(void* p) { delete static_cast<Codec*>(p); }
std::size_t sizeCodec(const void*) { return sizeof(Codec); }
const rb_data_type_t kCodecType = {"Hyperion::WebSocket::Codec", {nullptr, freeCodec, sizeCodec}, nullptr, nullptr,
                                   RUBY_TYPED_FREE_IMMEDIATELY};
VALUE g_protocol_error = Qnil;

VALUE codecAlloc(VALUE klass) { return rb_data_typed_object_wrap(klass, nullptr, &kCodecType); }

Codec& codecOf(VALUE self) {
  auto* c = static_cast<Codec*>(rb_check_typeddata(self, &kCodecType));
  if (!c) rb_raise(rb_eRuntimeError, "codec not initialized");
  return *c;
}

// Codec.new(max_message_bytes)
VALUE codecInitialize(VALUE self, VALUE max_bytes) {
  const std::size_t limit = NUM2SIZET(max_bytes);
  if (DATA_PTR(self)) rb_raise(rb_eRuntimeError, "codec already initialized");
  cxxGuard([&] {
    auto* c = new Codec();
    c->parser = std::make_unique<websocket::FrameParser>(limit, std::nullopt);
    DATA_PTR(self) = c;
  });
  return self;
}

VALUE kindSymbol(websocket::Message::Kind kind) {
  switch (kind) {
    case websocket::Message::Kind::Text: return ID2SYM(rb_intern("text"));
    case websocket::Message::Kind::Binary: return ID2SYM(rb_intern("binary"));
    case websocket::Message::Kind::Ping: return ID2SYM(rb_intern("ping"));
    case websocket::Message::Kind::Pong: return ID2SYM(rb_intern("pong"));
    case websocket::Message::Kind::Close: return ID2SYM(rb_intern("close"));
  }
  return Qnil;
}

// codec.feed(bytes) -> [[kind, payload(, close_code)], ...]; raises
// Hyperion::WebSocket::ProtocolError (#code: the close code to send) at the
// first violation; the codec accepts nothing after that.
VALUE codecFeed(VALUE self, VALUE bytes) {
  StringValue(bytes);
  Codec& c = codecOf(self);
  bool ok = false;
  cxxGuard([&] {
    c.out.clear();
    ok = c.parser->feed(RSTRING_PTR(bytes), static_cast<std::size_t>(RSTRING_LEN(bytes)), c.out);
  });
  RB_GC_GUARD(bytes);
  VALUE result = rb_ary_new_capa(static_cast<long>(c.out.size()));
  for (const auto& m : c.out) {
    const long n = static_cast<long>(m.payload.size());
    VALUE payload = m.kind == websocket::Message::Kind::Binary ? rb_str_new(m.payload.data(), n)
                                                               : rb_utf8_str_new(m.payload.data(), n);
    VALUE entry = m.kind == websocket::Message::Kind::Close
                      ? rb_ary_new_from_args(3, kindSymbol(m.kind), INT2FIX(m.close_code), payload)
                      : rb_ary_new_from_args(2, kindSymbol(m.kind), payload);
    rb_ary_push(result, entry);
  }
  if (!ok) {
    const auto& failure = c.parser->failure();
    VALUE error = rb_exc_new(g_protocol_error, failure.reason.data(), static_cast<long>(failure.reason.size()));
    rb_iv_set(error, "@code", INT2FIX(failure.code));
    rb_iv_set(error, "@messages", result);  // what parsed before the violation
    rb_exc_raise(error);
  }
  return result;
}

// WebSocket.frame(opcode, payload) -> an unmasked frame (what a server sends).
VALUE buildFrameMethod(VALUE, VALUE opcode, VALUE payload) {
  StringValue(payload);
  const int op = NUM2INT(opcode);
  if (op < 0 || op > 15) rb_raise(rb_eArgError, "opcode %d", op);
  VALUE out = rb_str_buf_new(RSTRING_LEN(payload) + 10);
  cxxGuard([&] {
    std::string header;
    websocket::appendFrameHeader(header, static_cast<websocket::Opcode>(op),
                                 static_cast<std::uint64_t>(RSTRING_LEN(payload)));
    rb_str_cat(out, header.data(), static_cast<long>(header.size()));
  });
  rb_str_cat(out, RSTRING_PTR(payload), RSTRING_LEN(payload));
  RB_GC_GUARD(payload);
  return out;
}

VALUE acceptValueMethod(VALUE, VALUE key) {
  StringValue(key);
  char value[64];  // 28 base64 characters; no C++ object outlives the guard
  long length = 0;
  cxxGuard([&] {
    const std::string accept = websocket::acceptValue(toStdString(key));
    length = static_cast<long>(std::min(accept.size(), sizeof value));
    std::copy_n(accept.data(), length, value);
  });
  return rb_str_new(value, length);
}

}  // namespace

void defineWebSocketCodec(VALUE hyperion) {
  VALUE module = rb_define_module_under(hyperion, "WebSocket");
  g_protocol_error = rb_define_class_under(module, "ProtocolError", rb_eStandardError);
  rb_gc_register_mark_object(g_protocol_error);
  rb_define_attr(g_protocol_error, "code", 1, 0);
  rb_define_attr(g_protocol_error, "messages", 1, 0);
  VALUE codec = rb_define_class_under(module, "Codec", rb_cObject);
  rb_define_alloc_func(codec, codecAlloc);
  rb_define_method(codec, "initialize", codecInitialize, 1);
  rb_define_method(codec, "feed", codecFeed, 1);
  rb_define_module_function(module, "frame", buildFrameMethod, 2);
  rb_define_module_function(module, "accept_value", acceptValueMethod, 1);
}

}  // namespace hyperion::rb
