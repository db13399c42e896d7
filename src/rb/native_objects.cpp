// Objects the app can touch that reach back into the server: rack.hijack,
// the Rack 3 stream, the shared empty rack.input, and Hyperion.__log behind
// rack.errors.
#include <unistd.h>

#include "hyperion/log/logger.hpp"
#include "native_ref.hpp"

namespace hyperion::rb {
namespace {

// rack.hijack is one object per Ruby thread, reused for every request that
// thread serves (no allocation per request). Its data is the ThreadState
// itself, which lives as long as the process (RubyRuntime::keep) and is not
// owned by it: no free function.
std::size_t sizeHijack(const void*) { return 0; }
const rb_data_type_t kHijackType = {"Hyperion::Hijack", {nullptr, nullptr, sizeHijack}, nullptr, nullptr, 0};
const rb_data_type_t kStreamType = {"Hyperion::Stream", {nullptr, freeNativeRef, sizeNativeRef}, nullptr, nullptr,
                                    RUBY_TYPED_FREE_IMMEDIATELY};

VALUE g_hijack_class = Qnil;
VALUE g_stream_class = Qnil;
VALUE g_empty_input_class = Qnil;

void ubfInterruptExchange(void* arg) noexcept {
  auto* ts = static_cast<ThreadState*>(arg);
  if (ts->exchange) ts->exchange->interruptWaits();
}

struct HijackCall {
  ThreadState* ts;
  int fd;
};

// The object is shared by all of its thread's requests, so it must refuse
// to act for any request but the one in progress: after the response is
// finished (hijack_open is cleared before Exchange::finish, so also inside
// rack.response_finished callbacks and between requests), and from any other
// Ruby thread (a background thread holding an old env would otherwise take
// whatever connection this thread serves now). Full hijack is done by the
// request's own thread in practice (Faye, ActionCable).
VALUE hijackCall(VALUE self) {
  ThreadState& ts = *static_cast<ThreadState*>(rb_check_typeddata(self, &kHijackType));
  if (!ts.hijack_open || !ts.exchange)
    rb_raise(rb_eIOError, "rack.hijack called after its request finished");
  if (rb_thread_current() != ts.thread)
    rb_raise(rb_eIOError, "rack.hijack must be called by the thread serving its request");
  return takeClientSocket(ts);
}

VALUE streamWriteMethod(int argc, VALUE* argv, VALUE self) {
  ThreadState& ts = liveNativeState(self, &kStreamType, "the response stream");
  long total = 0;
  for (int i = 0; i < argc; ++i) {
    VALUE str = rb_obj_as_string(argv[i]);
    if (!streamWrite(ts, RSTRING_PTR(str), static_cast<std::size_t>(RSTRING_LEN(str))))
      rb_raise(rb_eIOError, "client disconnected");
    total += RSTRING_LEN(str);
    RB_GC_GUARD(str);
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

// ---- the shared empty rack.input ----
//
// A request without a body (every GET) gets this one frozen, stateless
// object as rack.input instead of a new StringIO. It answers like
// StringIO.new("".b) at its end: read -> new "" (binary), read(n > 0) -> nil,
// read(n, buf) -> buf cleared and nil, gets -> nil, each yields nothing,
// rewind -> 0. Having no state, close is a no-op and it never reports closed
// (Rack::Lint forbids apps to close rack.input anyway). Any empty body gets
// it (none, Content-Length: 0, an empty chunked one); body bytes keep their
// own StringIO or temp-file IO.

// read([length [, buffer]]) as IO#read/StringIO#read at end of input.
VALUE emptyInputRead(int argc, VALUE* argv, VALUE) {
  VALUE length = Qnil;
  VALUE buffer = Qnil;
  rb_scan_args(argc, argv, "02", &length, &buffer);
  long n = -1;  // -1: read to the end
  if (!NIL_P(length)) {
    n = NUM2LONG(length);
    if (n < 0) rb_raise(rb_eArgError, "negative length %ld given", n);
  }
  if (!NIL_P(buffer)) {
    StringValue(buffer);
    rb_str_resize(buffer, 0);  // raises FrozenError for a frozen buffer, as StringIO does
  }
  if (n > 0) return Qnil;  // EOF with a length: nil
  // No length (or 0): an empty binary String, the caller's buffer if given.
  if (NIL_P(buffer)) return rb_str_new(nullptr, 0);
  rb_enc_associate(buffer, rb_ascii8bit_encoding());
  return buffer;
}

VALUE emptyInputNil(int, VALUE*, VALUE) { return Qnil; }  // arity -1 (gets(sep, limit))
VALUE emptyInputNil0(VALUE) { return Qnil; }            // arity 0: Ruby calls it with self only
VALUE emptyInputZero(VALUE) { return INT2FIX(0); }
VALUE emptyInputTrue(VALUE) { return Qtrue; }
VALUE emptyInputFalse(VALUE) { return Qfalse; }
VALUE emptyInputSelf(VALUE self) { return self; }
VALUE emptyInputEmptyArray(int, VALUE*, VALUE) { return rb_ary_new(); }
VALUE emptyInputString(VALUE) { return rb_str_new(nullptr, 0); }
VALUE emptyInputEncoding(VALUE) { return rb_enc_from_encoding(rb_ascii8bit_encoding()); }

VALUE emptyInputEach(int argc, VALUE* argv, VALUE self) {
  RETURN_ENUMERATOR(self, argc, argv);  // without a block, like StringIO
  return self;                          // nothing to yield
}

VALUE emptyInputReadpartial(int, VALUE*, VALUE) {
  rb_raise(rb_eEOFError, "end of file reached");
  return Qnil;
}

VALUE hyperionLog(VALUE, VALUE level, VALUE message) {
  VALUE text = rb_obj_as_string(message);
  VALUE level_name = rb_sym2str(rb_to_symbol(level));
  std::string_view name(RSTRING_PTR(level_name), static_cast<std::size_t>(RSTRING_LEN(level_name)));
  std::string_view body(RSTRING_PTR(text), static_cast<std::size_t>(RSTRING_LEN(text)));
  cxxGuard([&] {
    auto lvl = spdlog::level::from_str(std::string(name));
    if (lvl == spdlog::level::off && name != "off") lvl = spdlog::level::info;
    spdlog::log(lvl, "{}", body);
  });
  RB_GC_GUARD(text);
  RB_GC_GUARD(level_name);
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
  cxxGuard([&] {
    std::vector<std::pair<std::string, std::string>> headers;
    for (long i = 0; i < RARRAY_LEN(pairs); ++i) {
      VALUE pair = RARRAY_AREF(pairs, i);
      headers.emplace_back(toStdString(RARRAY_AREF(pair, 0)), toStdString(RARRAY_AREF(pair, 1)));
    }
    processRuntime().routes.addStatic(toStdString(method), toStdString(path), code, headers, toStdString(body));
  });
  return Qnil;
}

VALUE serverAddHandler(VALUE, VALUE method, VALUE path, VALUE handler_id) {
  StringValue(method);
  StringValue(path);
  const int id = NUM2INT(handler_id);
  if (RSTRING_LEN(path) == 0 || RSTRING_PTR(path)[0] != '/') rb_raise(rb_eArgError, "path must start with /");
  cxxGuard([&] { processRuntime().routes.addHandler(toStdString(method), toStdString(path), id); });
  return Qnil;
}

}  // namespace

void freeNativeRef(void* p) { delete static_cast<NativeRef*>(p); }
std::size_t sizeNativeRef(const void*) { return sizeof(NativeRef); }

VALUE newNativeRef(VALUE klass, const rb_data_type_t* type, ThreadState& ts) {
  // Allocate the wrapper first: if that raises, nothing C++ owns is lost.
  VALUE object = rb_data_typed_object_wrap(klass, nullptr, type);
  NativeRef* ref = nullptr;
  cxxGuard([&] { ref = new NativeRef{&ts}; });
  RTYPEDDATA_DATA(object) = ref;
  return object;
}

ThreadState& liveNativeState(VALUE self, const rb_data_type_t* type, const char* what) {
  auto* ref = static_cast<NativeRef*>(rb_check_typeddata(self, type));
  if (!ref->ts) rb_raise(rb_eIOError, "%s used after its request finished", what);
  return *ref->ts;
}

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

  VALUE input = g_empty_input_class = rb_define_class_under(hyperion, "EmptyInput", rb_cObject);
  rb_define_method(input, "read", RUBY_METHOD_FUNC(emptyInputRead), -1);
  rb_define_method(input, "gets", RUBY_METHOD_FUNC(emptyInputNil), -1);
  rb_define_method(input, "getc", RUBY_METHOD_FUNC(emptyInputNil0), 0);
  rb_define_method(input, "getbyte", RUBY_METHOD_FUNC(emptyInputNil0), 0);
  rb_define_method(input, "each", RUBY_METHOD_FUNC(emptyInputEach), -1);
  rb_define_method(input, "each_line", RUBY_METHOD_FUNC(emptyInputEach), -1);
  rb_define_method(input, "readlines", RUBY_METHOD_FUNC(emptyInputEmptyArray), -1);
  rb_define_method(input, "readpartial", RUBY_METHOD_FUNC(emptyInputReadpartial), -1);
  rb_define_method(input, "rewind", RUBY_METHOD_FUNC(emptyInputZero), 0);
  rb_define_method(input, "pos", RUBY_METHOD_FUNC(emptyInputZero), 0);
  rb_define_method(input, "tell", RUBY_METHOD_FUNC(emptyInputZero), 0);
  rb_define_method(input, "size", RUBY_METHOD_FUNC(emptyInputZero), 0);
  rb_define_method(input, "length", RUBY_METHOD_FUNC(emptyInputZero), 0);
  rb_define_method(input, "eof?", RUBY_METHOD_FUNC(emptyInputTrue), 0);
  rb_define_method(input, "eof", RUBY_METHOD_FUNC(emptyInputTrue), 0);
  rb_define_method(input, "sync", RUBY_METHOD_FUNC(emptyInputTrue), 0);
  rb_define_method(input, "closed?", RUBY_METHOD_FUNC(emptyInputFalse), 0);
  rb_define_method(input, "close", RUBY_METHOD_FUNC(emptyInputNil0), 0);
  rb_define_method(input, "binmode", RUBY_METHOD_FUNC(emptyInputSelf), 0);
  rb_define_method(input, "external_encoding", RUBY_METHOD_FUNC(emptyInputEncoding), 0);
  rb_define_method(input, "string", RUBY_METHOD_FUNC(emptyInputString), 0);
}

VALUE newHijackObject(ThreadState& ts) { return rb_data_typed_object_wrap(g_hijack_class, &ts, &kHijackType); }

VALUE sharedEmptyInput() {
  static VALUE instance = Qnil;  // one per process, even if asked twice
  if (NIL_P(instance)) {
    instance = rb_obj_freeze(rb_class_new_instance(0, nullptr, g_empty_input_class));
    rb_gc_register_mark_object(instance);
    rb_undef_alloc_func(g_empty_input_class);  // apps cannot make others
  }
  return instance;
}
VALUE newStreamObject(ThreadState& ts) { return newNativeRef(g_stream_class, &kStreamType, ts); }

void detachNativeObject(VALUE object) {
  auto* ref = static_cast<NativeRef*>(RTYPEDDATA_DATA(object));
  if (ref) ref->ts = nullptr;
}

void waitWritableWithoutGvl(ThreadState& ts) {
  rb_thread_call_without_gvl(
      [](void* p) noexcept -> void* {
        static_cast<ThreadState*>(p)->exchange->waitWritable();
        return nullptr;
      },
      &ts, ubfInterruptExchange, &ts);
}

void waitDeliveredWithoutGvl(ThreadState& ts) {
  rb_thread_call_without_gvl(
      [](void* p) noexcept -> void* {
        static_cast<ThreadState*>(p)->exchange->waitDelivered();
        return nullptr;
      },
      &ts, ubfInterruptExchange, &ts);
}

VALUE adoptFd(ThreadState& ts, VALUE klass, int fd, const char* mode) {
  static ID id_adopt_fd = rb_intern("adopt_fd");
  if (NIL_P(ts.fd_holder)) ts.fd_holder = rb_ary_new_capa(1);
  rb_ary_clear(ts.fd_holder);
  struct Args {
    VALUE klass, mode, holder;
    int fd;
  } args{klass, mode ? rb_str_new_cstr(mode) : Qnil, ts.fd_holder, fd};
  int state = 0;
  rb_protect(
      [](VALUE p) -> VALUE {
        auto* a = reinterpret_cast<Args*>(p);
        VALUE boot = rb_const_get(hyperionModule(), rb_intern("Boot"));
        return rb_funcall(boot, id_adopt_fd, 4, a->klass, INT2NUM(a->fd), a->mode, a->holder);
      },
      reinterpret_cast<VALUE>(&args), &state);
  VALUE io = RARRAY_LEN(ts.fd_holder) > 0 ? RARRAY_AREF(ts.fd_holder, 0) : Qnil;
  rb_ary_clear(ts.fd_holder);
  if (state != 0) {
    // Interrupted or failed: whoever owns the descriptor closes it, once.
    if (NIL_P(io)) {
      ::close(fd);
    } else {
      int ignored = 0;
      rb_protect([](VALUE v) -> VALUE { return rb_io_close(v); }, io, &ignored);
      if (ignored) rb_set_errinfo(Qnil);
    }
    rb_jump_tag(state);
  }
  RB_GC_GUARD(args.mode);
  return io;
}

VALUE takeClientSocket(ThreadState& ts) {
  if (!NIL_P(ts.hijack_io)) return ts.hijack_io;
  HijackCall call{&ts, -1};
  rb_thread_call_without_gvl(
      [](void* p) noexcept -> void* {
        auto* c = static_cast<HijackCall*>(p);
        c->fd = c->ts->exchange->hijack(c->ts->hijack_leftover);
        return nullptr;
      },
      &call, ubfInterruptExchange, &ts);
  // The loop gave the socket up: from here this thread owns call.fd, so it
  // is marked hijacked before anything can raise.
  if (call.fd >= 0) ts.hijacked = true;
  if (call.fd < 0) rb_raise(rb_eIOError, "the client connection is already closed");
  // Over TLS the fd is the app's end of a socketpair (the loop bridges it).
  const auto& peer = ts.exchange->peer();
  const char* class_name = peer.unix_socket || peer.secure ? "UNIXSocket" : "TCPSocket";
  VALUE klass = rb_const_defined(rb_cObject, rb_intern(class_name)) ? rb_const_get(rb_cObject, rb_intern(class_name))
                                                                     : rb_cIO;
  ts.hijack_io = adoptFd(ts, klass, call.fd, nullptr);
  rb_hash_aset(ts.env, ts.rt->keys.rack_hijack_io, ts.hijack_io);
  if (!ts.hijack_leftover.empty()) {
    rb_hash_aset(ts.env, ts.rt->keys.hijack_buffered,
                 rb_str_new(ts.hijack_leftover.data(), static_cast<long>(ts.hijack_leftover.size())));
  }
  return ts.hijack_io;
}

bool streamWrite(ThreadState& ts, const char* data, std::size_t length) {
  server::Exchange& ex = *ts.exchange;
  if (ex.clientGone()) return false;
  if (!ts.body_wanted) return true;  // HEAD and friends: drop the bytes
  cxxGuard([&] {
    std::optional<http::ResponseHead> head;
    if (!ts.head_sent) {  // the first piece carries the head: one message
      head = std::move(ts.head);
      ts.head_sent = true;
    }
    ts.body_bytes += length;
    std::string piece;
    piece.reserve(length + server::Exchange::kFramingRoom);
    piece.append(data, length);
    // Each piece goes out at once: SSE and other streams must not sit in a buffer.
    ex.send(std::move(piece), std::move(head));
  });
  if (ex.backlogged()) waitWritableWithoutGvl(ts);
  return !ex.clientGone();
}

}  // namespace hyperion::rb
