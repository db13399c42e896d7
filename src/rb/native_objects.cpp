// Objects the app can touch that reach back into the server: rack.hijack,
// the Rack 3 stream, and Hyperion.__log behind rack.errors.
#include "hyperion/log/logger.hpp"
#include "runtime.hpp"

namespace hyperion::rb {
namespace {

struct NativeRef {
  ThreadState* ts;  // nulled when the request is over
};

void freeRef(void* p) { delete static_cast<NativeRef*>(p); }
std::size_t sizeRef(const void*) { return sizeof(NativeRef); }

const rb_data_type_t kHijackType = {"Hyperion::Hijack", {nullptr, freeRef, sizeRef}, nullptr, nullptr,
                                    RUBY_TYPED_FREE_IMMEDIATELY};
const rb_data_type_t kStreamType = {"Hyperion::Stream", {nullptr, freeRef, sizeRef}, nullptr, nullptr,
                                    RUBY_TYPED_FREE_IMMEDIATELY};

VALUE g_hijack_class = Qnil;
VALUE g_stream_class = Qnil;

ThreadState& liveState(VALUE self, const rb_data_type_t* type, const char* what) {
  auto* ref = static_cast<NativeRef*>(rb_check_typeddata(self, type));
  if (!ref->ts) rb_raise(rb_eIOError, "%s used after its request finished", what);
  return *ref->ts;
}

void ubfInterruptExchange(void* arg) {
  auto* ts = static_cast<ThreadState*>(arg);
  if (ts->exchange) ts->exchange->interruptWaits();
}

struct HijackCall {
  ThreadState* ts;
  int fd;
};

VALUE hijackCall(VALUE self) {
  ThreadState& ts = liveState(self, &kHijackType, "rack.hijack");
  if (!NIL_P(ts.hijack_io)) return ts.hijack_io;
  HijackCall call{&ts, -1};
  rb_thread_call_without_gvl(
      [](void* p) -> void* {
        auto* c = static_cast<HijackCall*>(p);
        c->fd = c->ts->exchange->hijack(c->ts->hijack_leftover);
        return nullptr;
      },
      &call, ubfInterruptExchange, &ts);
  if (call.fd < 0) rb_raise(rb_eIOError, "the client connection is already closed");
  ts.hijacked = true;
  const char* class_name = ts.exchange->peer().unix_socket ? "UNIXSocket" : "TCPSocket";
  VALUE klass = rb_const_defined(rb_cObject, rb_intern(class_name)) ? rb_const_get(rb_cObject, rb_intern(class_name))
                                                                     : rb_cIO;
  VALUE io = rb_funcall(klass, rb_intern("for_fd"), 1, INT2NUM(call.fd));
  ts.hijack_io = io;
  rb_hash_aset(ts.env, ts.rt->keys.rack_hijack_io, io);
  if (!ts.hijack_leftover.empty()) {
    rb_hash_aset(ts.env, ts.rt->keys.hijack_buffered,
                 rb_str_new(ts.hijack_leftover.data(), static_cast<long>(ts.hijack_leftover.size())));
  }
  return io;
}

VALUE streamWriteMethod(int argc, VALUE* argv, VALUE self) {
  ThreadState& ts = liveState(self, &kStreamType, "the response stream");
  long total = 0;
  for (int i = 0; i < argc; ++i) {
    VALUE str = rb_obj_as_string(argv[i]);
    if (!streamWrite(ts, RSTRING_PTR(str), static_cast<std::size_t>(RSTRING_LEN(str))))
      rb_raise(rb_eIOError, "client disconnected");
    total += RSTRING_LEN(str);
  }
  return LONG2NUM(total);
}

VALUE streamAppend(VALUE self, VALUE data) {
  streamWriteMethod(1, &data, self);
  return self;
}

VALUE streamClosedP(VALUE self) {
  auto* ref = static_cast<NativeRef*>(rb_check_typeddata(self, &kStreamType));
  return (!ref->ts || ref->ts->exchange->clientGone()) ? Qtrue : Qfalse;
}

VALUE streamNoop(int, VALUE*, VALUE) { return Qnil; }
VALUE streamSelf(VALUE self) { return self; }

VALUE hyperionLog(VALUE, VALUE level, VALUE message) {
  VALUE text = rb_obj_as_string(message);
  VALUE level_name = rb_sym2str(rb_to_symbol(level));
  std::string_view name(RSTRING_PTR(level_name), static_cast<std::size_t>(RSTRING_LEN(level_name)));
  std::string_view body(RSTRING_PTR(text), static_cast<std::size_t>(RSTRING_LEN(text)));
  auto lvl = spdlog::level::from_str(std::string(name));
  if (lvl == spdlog::level::off && name != "off") lvl = spdlog::level::info;
  spdlog::log(lvl, "{}", body);
  return Qnil;
}

VALUE serverAddStatic(VALUE, VALUE method, VALUE path, VALUE status, VALUE pairs, VALUE body) {
  StringValue(method);
  StringValue(path);
  StringValue(body);
  Check_Type(pairs, T_ARRAY);
  const int code = NUM2INT(status);
  for (long i = 0; i < RARRAY_LEN(pairs); ++i) {
    VALUE pair = rb_check_array_type(RARRAY_AREF(pairs, i));
    if (NIL_P(pair) || RARRAY_LEN(pair) != 2) rb_raise(rb_eArgError, "headers must be name/value pairs");
    VALUE name = RARRAY_AREF(pair, 0);
    VALUE value = RARRAY_AREF(pair, 1);
    StringValue(name);
    StringValue(value);
    if (name != RARRAY_AREF(pair, 0) || value != RARRAY_AREF(pair, 1))
      rb_raise(rb_eArgError, "header names and values must be Strings");
    if (!http1::isValidHeaderName({RSTRING_PTR(name), static_cast<std::size_t>(RSTRING_LEN(name))}) ||
        !http1::isValidHeaderValue({RSTRING_PTR(value), static_cast<std::size_t>(RSTRING_LEN(value))}))
      rb_raise(rb_eArgError, "invalid header %" PRIsVALUE, rb_inspect(pair));
  }
  if (code < 100 || code > 999) rb_raise(rb_eArgError, "invalid status %d", code);
  if (RSTRING_LEN(path) == 0 || RSTRING_PTR(path)[0] != '/') rb_raise(rb_eArgError, "path must start with /");
  // Validated: from here on only C++ runs, so its temporaries are safe.
  std::vector<std::pair<std::string, std::string>> headers;
  for (long i = 0; i < RARRAY_LEN(pairs); ++i) {
    VALUE pair = RARRAY_AREF(pairs, i);
    headers.emplace_back(toStdString(RARRAY_AREF(pair, 0)), toStdString(RARRAY_AREF(pair, 1)));
  }
  processRuntime().routes.addStatic(toStdString(method), toStdString(path), code, headers, toStdString(body));
  return Qnil;
}

VALUE serverAddHandler(VALUE, VALUE method, VALUE path, VALUE handler_id) {
  StringValue(method);
  StringValue(path);
  const int id = NUM2INT(handler_id);
  if (RSTRING_LEN(path) == 0 || RSTRING_PTR(path)[0] != '/') rb_raise(rb_eArgError, "path must start with /");
  processRuntime().routes.addHandler(toStdString(method), toStdString(path), id);
  return Qnil;
}

VALUE newRef(VALUE klass, const rb_data_type_t* type, ThreadState& ts) {
  auto* ref = new NativeRef{&ts};
  return rb_data_typed_object_wrap(klass, ref, type);
}

}  // namespace

void defineNativeClasses(VALUE hyperion) {
  rb_define_singleton_method(hyperion, "__log", RUBY_METHOD_FUNC(hyperionLog), 2);
  VALUE server = rb_define_module_under(hyperion, "Server");
  rb_define_singleton_method(server, "__add_static", RUBY_METHOD_FUNC(serverAddStatic), 5);
  rb_define_singleton_method(server, "__add_handler", RUBY_METHOD_FUNC(serverAddHandler), 3);
  g_hijack_class = rb_define_class_under(hyperion, "Hijack", rb_cObject);
  rb_undef_alloc_func(g_hijack_class);
  rb_define_method(g_hijack_class, "call", RUBY_METHOD_FUNC(hijackCall), 0);
  g_stream_class = rb_define_class_under(hyperion, "Stream", rb_cObject);
  rb_undef_alloc_func(g_stream_class);
  rb_define_method(g_stream_class, "write", RUBY_METHOD_FUNC(streamWriteMethod), -1);
  rb_define_method(g_stream_class, "<<", RUBY_METHOD_FUNC(streamAppend), 1);
  rb_define_method(g_stream_class, "flush", RUBY_METHOD_FUNC(streamSelf), 0);
  rb_define_method(g_stream_class, "read", RUBY_METHOD_FUNC(streamNoop), -1);
  rb_define_method(g_stream_class, "close", RUBY_METHOD_FUNC(streamNoop), -1);
  rb_define_method(g_stream_class, "close_read", RUBY_METHOD_FUNC(streamNoop), -1);
  rb_define_method(g_stream_class, "close_write", RUBY_METHOD_FUNC(streamNoop), -1);
  rb_define_method(g_stream_class, "closed?", RUBY_METHOD_FUNC(streamClosedP), 0);
}

VALUE newHijackObject(ThreadState& ts) { return newRef(g_hijack_class, &kHijackType, ts); }
VALUE newStreamObject(ThreadState& ts) { return newRef(g_stream_class, &kStreamType, ts); }

void detachNativeObject(VALUE object) {
  auto* ref = static_cast<NativeRef*>(RTYPEDDATA_DATA(object));
  ref->ts = nullptr;
}

void waitWritableWithoutGvl(ThreadState& ts) {
  rb_thread_call_without_gvl(
      [](void* p) -> void* {
        static_cast<ThreadState*>(p)->exchange->waitWritable();
        return nullptr;
      },
      &ts, ubfInterruptExchange, &ts);
}

bool streamWrite(ThreadState& ts, const char* data, std::size_t length) {
  server::Exchange& ex = *ts.exchange;
  if (ex.clientGone()) return false;
  const http1::BodyFraming framing = ts.plan.framing;
  if (framing == http1::BodyFraming::None) return true;  // HEAD and friends: drop the bytes
  if (!ts.head_sent) {
    ts.out = std::move(ts.plan.head);
    ts.head_sent = true;
  }
  if (framing == http1::BodyFraming::Chunked) {
    http1::appendChunk(ts.out, {data, length});
  } else if (framing == http1::BodyFraming::ContentLength) {
    // Never write past the length we announced.
    const std::size_t room = ts.plan.content_length - std::min(ts.plan.content_length, ts.body_bytes);
    length = std::min(length, room);
    ts.out.append(data, length);
  } else {
    ts.out.append(data, length);
  }
  ts.body_bytes += length;
  // Each piece goes out at once: SSE and other streams must not sit in a buffer.
  ex.send(std::move(ts.out));
  ts.out = std::string();
  if (ex.backlogged()) waitWritableWithoutGvl(ts);
  return !ex.clientGone();
}

}  // namespace hyperion::rb
