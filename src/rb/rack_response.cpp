// One request through the Rack app: call it, turn its answer into bytes for
// the loop, close the body. Ruby is entered only inside protect(); the C++
// planning between those calls never runs with a Ruby frame above it.
#include <sys/stat.h>

#include <optional>

#include "hyperion/log/logger.hpp"
#include "hyperion/server/exchange.hpp"
#include "runtime.hpp"

namespace hyperion::rb {
namespace {

ID id(const char* name) { return rb_intern(name); }

// Rack 2 joins repeated headers with "\n"; Rack 3 uses an Array. Either way
// each value becomes its own header line.
void addHeaderValues(http::HeaderList& into, VALUE name, VALUE value) {
  const char* n = RSTRING_PTR(name);
  const long n_len = RSTRING_LEN(name);
  if (!http1::isValidHeaderName({n, static_cast<std::size_t>(n_len)}))
    rb_raise(rb_eArgError, "invalid response header name %" PRIsVALUE, rb_inspect(name));
  if (n_len > 5 && strncasecmp(n, "rack.", 5) == 0) return;  // Rack-internal, never sent
  const char* v = RSTRING_PTR(value);
  const long v_len = RSTRING_LEN(value);
  long start = 0;
  for (long i = 0; i <= v_len; ++i) {
    if (i == v_len || v[i] == '\n') {
      std::string_view piece(v + start, static_cast<std::size_t>(i - start));
      if (!http1::isValidHeaderValue(piece))
        rb_raise(rb_eArgError, "invalid value for response header %" PRIsVALUE, rb_inspect(name));
      cxxGuard([&] { into.add({n, static_cast<std::size_t>(n_len)}, piece); });
      start = i + 1;
    }
  }
}

bool isRackHijackHeader(VALUE name) {
  return RSTRING_LEN(name) == 11 && strncasecmp(RSTRING_PTR(name), "rack.hijack", 11) == 0;
}

int collectHeader(VALUE name, VALUE value, VALUE arg) {
  auto& ts = *reinterpret_cast<ThreadState*>(arg);
  name = rb_obj_as_string(name);
  if (isRackHijackHeader(name)) {
    // Partial hijack (Rack 2.2 and 3): the head is written, then this gets
    // the socket. Not over TLS (the socket speaks ciphertext; env said
    // rack.hijack? false): the header is dropped and the body served.
    if (ts.exchange->hijackable()) ts.response_hijack = value;
    return ST_CONTINUE;
  }
  if (RB_TYPE_P(value, T_ARRAY)) {
    for (long i = 0; i < RARRAY_LEN(value); ++i) {
      VALUE item = rb_obj_as_string(RARRAY_AREF(value, i));
      addHeaderValues(ts.headers, name, item);
    }
  } else {
    addHeaderValues(ts.headers, name, rb_obj_as_string(value));
  }
  return ST_CONTINUE;
}

int collectTrailer(VALUE name, VALUE value, VALUE arg) {
  auto& ts = *reinterpret_cast<ThreadState*>(arg);
  name = rb_obj_as_string(name);
  if (RB_TYPE_P(value, T_ARRAY)) {
    for (long i = 0; i < RARRAY_LEN(value); ++i) addHeaderValues(ts.trailers, name, rb_obj_as_string(RARRAY_AREF(value, i)));
  } else {
    addHeaderValues(ts.trailers, name, rb_obj_as_string(value));
  }
  return ST_CONTINUE;
}

VALUE collectHeaderPair(RB_BLOCK_CALL_FUNC_ARGLIST(pair, arg)) {
  VALUE ary = rb_check_array_type(pair);
  if (NIL_P(ary) || RARRAY_LEN(ary) != 2) rb_raise(rb_eTypeError, "response headers must be name/value pairs");
  collectHeader(RARRAY_AREF(ary, 0), RARRAY_AREF(ary, 1), arg);
  return Qnil;
}

// Hyperion::Server.handle routes get a light Request instead of an env.
VALUE buildLightRequest(ThreadState& ts) {
  const http1::Request& r = ts.exchange->request();
  VALUE headers = rb_hash_new();
  for (const http1::Header& h : r.headers) {
    VALUE name = rb_str_new(h.name.data(), static_cast<long>(h.name.size()));
    rb_funcall(name, id("downcase!"), 0);
    rb_hash_aset(headers, name, rb_str_new(h.value.data(), static_cast<long>(h.value.size())));
  }
  std::string_view path = r.path();
  std::string_view query = r.query();
  VALUE body = r.body.inFile() ? rb_funcall(rb_funcall(buildRackInput(ts), id("read"), 0), id("b"), 0)
                               : rb_str_new(r.body.memory.data(), static_cast<long>(r.body.memory.size()));
  VALUE klass = rb_const_get(rb_const_get(hyperionModule(), id("Server")), id("Request"));
  RB_GC_GUARD(headers);
  RB_GC_GUARD(body);
  VALUE args = rb_hash_new();
  rb_hash_aset(args, ID2SYM(id("method")), rb_str_new(r.method.data(), static_cast<long>(r.method.size())));
  rb_hash_aset(args, ID2SYM(id("path")), rb_str_new(path.data(), static_cast<long>(path.size())));
  rb_hash_aset(args, ID2SYM(id("query")), rb_str_new(query.data(), static_cast<long>(query.size())));
  rb_hash_aset(args, ID2SYM(id("headers")), headers);
  rb_hash_aset(args, ID2SYM(id("body")), body);
  return rb_class_new_instance_kw(1, &args, klass, RB_PASS_KEYWORDS);
}

void callApp(ThreadState& ts) {
  VALUE response;
  if (int handler = ts.exchange->routeHandler(); handler >= 0) {
    VALUE handlers = rb_funcall(rb_const_get(hyperionModule(), id("Server")), id("handlers"), 0);
    response = rb_funcall(rb_ary_entry(handlers, handler), id("call"), 1, buildLightRequest(ts));
  } else {
    buildEnv(ts);
    if (hasRequestStartHooks(*ts.rt)) fireRequestStart(ts);
    if (hasRequestEndHooks(*ts.rt)) ts.app_started = std::chrono::steady_clock::now();
    response = rb_funcall(ts.rt->app, id("call"), 1, ts.env);
  }
  ts.response = response;
  if (ts.hijacked) return;
  VALUE ary = rb_check_array_type(response);
  if (NIL_P(ary) || RARRAY_LEN(ary) != 3)
    rb_raise(rb_eTypeError, "app returned %" PRIsVALUE " instead of [status, headers, body]", rb_inspect(response));
  ts.response = ary;
  ts.body = RARRAY_AREF(ary, 2);
  // Rack 2 allows any status whose to_i is a valid code ("201" too).
  VALUE status = RARRAY_AREF(ary, 0);
  ts.status = FIXNUM_P(status) ? FIX2INT(status) : NUM2INT(rb_to_int(rb_funcall(status, id("to_i"), 0)));
  if (ts.status < 100 || ts.status > 999) rb_raise(rb_eArgError, "invalid response status %d", ts.status);
  ts.headers_value = RARRAY_AREF(ary, 1);
  if (RB_TYPE_P(ts.headers_value, T_HASH)) {
    rb_hash_foreach(ts.headers_value, collectHeader, reinterpret_cast<VALUE>(&ts));
  } else if (rb_respond_to(ts.headers_value, id("each"))) {
    rb_block_call(ts.headers_value, id("each"), 0, nullptr, collectHeaderPair, reinterpret_cast<VALUE>(&ts));
  } else {
    rb_raise(rb_eTypeError, "response headers must be a Hash");
  }
  // Classify the body: an Array (or to_ary) is sent whole with a length;
  // `each` streams; Rack 3 `call(stream)` gets a stream. A body whose to_ary
  // returns nil (Rails' response body does: Rack 2 allows it) is not an
  // Array: it is iterated like any other.
  if (RB_TYPE_P(ts.body, T_ARRAY)) {
    ts.body_kind = BodyKind::Array;
    ts.array_body = ts.body;
  } else if (rb_respond_to(ts.body, id("to_ary")) &&
             !NIL_P(ts.array_body = rb_check_array_type(rb_funcall(ts.body, id("to_ary"), 0)))) {
    ts.body_kind = BodyKind::Array;
  } else if (rb_respond_to(ts.body, id("each"))) {
    ts.body_kind = BodyKind::Each;
    // A whole-file body (Rack::Files, send_file) may go out natively; the
    // C++ side checks the status and size before trusting it.
    if (ts.status == 200 && rb_respond_to(ts.body, id("to_path"))) {
      VALUE path = rb_funcall(ts.body, id("to_path"), 0);
      if (RB_TYPE_P(path, T_STRING)) ts.file_path = path;
    }
  } else if (rb_respond_to(ts.body, id("call"))) {
    ts.body_kind = BodyKind::Call;
  } else {
    rb_raise(rb_eTypeError, "response body must respond to each or call");
  }
  if (ts.body_kind == BodyKind::Array) {
    for (long i = 0; i < RARRAY_LEN(ts.array_body); ++i) {
      VALUE part = RARRAY_AREF(ts.array_body, i);
      if (!RB_TYPE_P(part, T_STRING)) rb_raise(rb_eTypeError, "body parts must be Strings");
    }
  }
}

std::size_t arrayBodyLength(VALUE ary) {
  std::size_t total = 0;
  for (long i = 0; i < RARRAY_LEN(ary); ++i) total += static_cast<std::size_t>(RSTRING_LEN(RARRAY_AREF(ary, i)));
  return total;
}

void appendArrayBody(ThreadState& ts) {
  for (long i = 0; i < RARRAY_LEN(ts.array_body); ++i) {
    VALUE part = RARRAY_AREF(ts.array_body, i);
    ts.out.append(RSTRING_PTR(part), static_cast<std::size_t>(RSTRING_LEN(part)));
  }
}

VALUE onBodyChunk(RB_BLOCK_CALL_FUNC_ARGLIST(chunk, arg)) {
  auto& ts = *reinterpret_cast<ThreadState*>(arg);
  VALUE str = rb_obj_as_string(chunk);
  if (!streamWrite(ts, RSTRING_PTR(str), static_cast<std::size_t>(RSTRING_LEN(str)))) {
    // The client went away: stop iterating (a `break` out of each).
    rb_iter_break();
  }
  return Qnil;
}

void iterateBody(ThreadState& ts) {
  rb_block_call(ts.body, id("each"), 0, nullptr, onBodyChunk, reinterpret_cast<VALUE>(&ts));
}

void callStreamingBody(ThreadState& ts) {
  ts.stream_object = newStreamObject(ts);
  rb_funcall(ts.body, id("call"), 1, ts.stream_object);
}

// Response trailers: a body that responds to `trailers` is asked once it has
// been iterated (gRPC's grpc-status is decided while the body runs).
void collectTrailers(ThreadState& ts) {
  VALUE trailers = rb_funcall(ts.body, id("trailers"), 0);
  if (NIL_P(trailers)) return;
  if (!RB_TYPE_P(trailers, T_HASH)) rb_raise(rb_eTypeError, "body.trailers must return a Hash");
  rb_hash_foreach(trailers, collectTrailer, reinterpret_cast<VALUE>(&ts));
}

void closeBody(ThreadState& ts) {
  if (!NIL_P(ts.body) && rb_respond_to(ts.body, id("close"))) rb_funcall(ts.body, id("close"), 0);
}

void closeInput(ThreadState& ts) {
  if (!NIL_P(ts.input)) rb_funcall(ts.input, id("close"), 0);
}

bool hasDeliveryCallbacks(const ThreadState& ts) {
  return (!NIL_P(ts.response_finished) && RARRAY_LEN(ts.response_finished) > 0) ||
         (!NIL_P(ts.after_reply) && RARRAY_LEN(ts.after_reply) > 0);
}

// rack.after_reply (Puma's: callables taking no arguments, in order) and
// rack.response_finished (Rack 3: env, status, headers, error; in reverse
// order of registration). Both run after the last byte is written.
void runDeliveryCallbacks(ThreadState& ts) {
  if (!NIL_P(ts.after_reply)) {
    for (long i = 0; i < RARRAY_LEN(ts.after_reply); ++i) rb_funcall(RARRAY_AREF(ts.after_reply, i), id("call"), 0);
  }
  if (!NIL_P(ts.response_finished)) {
    VALUE status = INT2NUM(ts.status);
    for (long i = RARRAY_LEN(ts.response_finished) - 1; i >= 0; --i) {
      VALUE args[4] = {ts.env, status, ts.headers_value, ts.error};
      rb_funcallv(RARRAY_AREF(ts.response_finished, i), id("call"), 4, args);
    }
  }
}

// Logs an app error; re-raising kills/throws is left to the caller. Keeps
// the text for a development 500 page.
void logAppError(ThreadState& ts, const char* phase) {
  const http1::Request& r = ts.exchange->request();
  ts.error_text = describeException(ts.error);
  spdlog::error("app error {} {} {}: {}", phase, r.method, r.target, ts.error_text);
}

// Runs one protected step; on failure records the error. Returns the jump
// state only for non-exceptions (kill/throw), which must be re-raised.
template <typename Fn>
int step(ThreadState& ts, const char* phase, Fn fn, bool& failed) {
  auto call = [&] { fn(ts); };
  int state = protect(call);
  if (state == 0) return 0;
  VALUE error = takeError();
  failed = true;
  if (!isException(error)) {
    const http1::Request& r = ts.exchange->request();
    spdlog::warn("Ruby thread hyperion-rb-{} was killed {} {} {}", ts.index, phase, r.method, r.target);
    return state;
  }
  ts.error = error;
  logAppError(ts, phase);
  return 0;
}

// The server's own 500 (the app raised, or its thread was killed). In
// development it names the exception, as Puma's does; never in production,
// where messages can carry secrets. No Ruby calls: the text was made by
// describeException already.
void sendErrorResponse(ThreadState& ts, int status, std::string_view detail = {}) {
  const http1::Request& r = ts.exchange->request();
  std::string body = std::string(http1::reasonPhrase(status)) + "\n";
  // "Class: message" only: the backtrace (indented lines) stays in the log.
  if (ts.rt->show_exceptions && !detail.empty())
    body.append("\n").append(detail.substr(0, detail.find("\n    "))).append("\n");
  if (r.isHead()) body.clear();
  ts.body_bytes = body.size();
  http::ResponseHead head;
  head.status = status;
  head.headers.add("Content-Type", "text/plain; charset=utf-8");
  head.body_length = body.size();
  head.close = true;
  ts.exchange->send(std::move(body), std::move(head));
  ts.head_sent = true;
  ts.status = status;
}

// Is the to_path file the whole body? Only then may the loop send it itself:
// a 206 or a body that transforms the file must be iterated.
std::optional<std::uint64_t> wholeFileSize(ThreadState& ts) {
  if (NIL_P(ts.file_path)) return std::nullopt;
  std::string path(RSTRING_PTR(ts.file_path), static_cast<std::size_t>(RSTRING_LEN(ts.file_path)));
  struct stat st{};
  if (path.find('\0') != std::string::npos || ::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return std::nullopt;
  const auto size = static_cast<std::uint64_t>(st.st_size);
  for (const auto& h : ts.headers) {
    if (http1::equalsIgnoreCase(h.name, "content-length") && h.value != std::to_string(size)) return std::nullopt;
    if (http1::equalsIgnoreCase(h.name, "content-range") || http1::equalsIgnoreCase(h.name, "content-encoding") ||
        http1::equalsIgnoreCase(h.name, "transfer-encoding"))
      return std::nullopt;
  }
  return size;
}

}  // namespace

void ThreadState::resetRequest() {
  hijack_open = false;  // hijack_object itself is kept for the next request
  if (!NIL_P(stream_object)) detachNativeObject(stream_object);
  if (input_streamed) detachNativeObject(input);
  input_streamed = false;
  exchange.reset();
  env = response = headers_value = body = array_body = Qnil;
  stream_object = input = hijack_io = error = file_path = response_hijack = Qnil;
  status = 200;
  app_started = {};
  headers.clear();
  headers.reserve(512);
  trailers.clear();  // one allocation for a typical head (it leaves with the response)
  head = http::ResponseHead{};
  body_wanted = true;
  out.clear();
  body_bytes = 0;
  head_sent = hijacked = broken = false;
  hijack_leftover.clear();
  error_text.clear();
}

namespace {

// The per-thread callback Arrays start the next request empty. An app that
// froze one gets a fresh Array next time instead.
void emptyCallbackArrays(ThreadState& ts) {
  for (VALUE* array : {&ts.response_finished, &ts.after_reply}) {
    if (NIL_P(*array)) continue;
    if (OBJ_FROZEN(*array)) *array = Qnil;
    else if (RARRAY_LEN(*array) > 0) rb_ary_clear(*array);
  }
}

void waitThenRunDeliveryCallbacks(ThreadState& ts) {
  waitDeliveredWithoutGvl(ts);
  runDeliveryCallbacks(ts);
}

// Partial hijack: the head went out; now the app's lambda gets the socket.
void callResponseHijack(ThreadState& ts) {
  VALUE io = takeClientSocket(ts);
  rb_funcall(ts.response_hijack, id("call"), 1, io);
}

void closeHijackedSocket(ThreadState& ts) {
  if (!NIL_P(ts.hijack_io)) rb_io_close(ts.hijack_io);
}

// A Ruby thread that is killed (Thread#kill, Thread.exit) inside the app
// cannot finish the response: answer 500 if nothing went out yet, otherwise
// the connection is closed so the client sees a truncated response.
void answerInterrupted(ThreadState& ts) {
  if (!ts.head_sent) sendErrorResponse(ts, 500);
  else ts.broken = true;
}

}  // namespace

int handleExchange(ThreadState& ts) {
  server::Exchange& ex = *ts.exchange;
  const http1::Request& request = ex.request();
  bool failed = false;
  bool bytes_ride_on_finish = false;
  bool ignored = false;
  int jump = step(ts, "in call", callApp, failed);
  // on_request_end: app.call returned or raised (not when its thread was
  // killed); before the body is written, as hyperion-rb's hooks run.
  if (jump == 0 && !NIL_P(ts.env) && hasRequestEndHooks(*ts.rt)) {
    auto fire_end = [failed](ThreadState& t) { fireRequestEnd(t, failed); };
    jump = step(ts, "in on_request_end", fire_end, ignored);
  }

  if (!ts.hijacked && jump == 0 && !failed && webSocketRequested(ts)) {
    // env['rack.upgrade'] on a valid handshake: the 101 is the loop's,
    // whatever status the app returned; this request ends here.
    jump = step(ts, "accepting the WebSocket upgrade", acceptWebSocket, failed);
    if (jump == 0 && !failed) {
      step(ts, "in body.close", closeBody, ignored);
      step(ts, "closing rack.input", closeInput, ignored);
      ts.hijack_open = false;
      ts.rt->queue->jobDone();
      return 0;
    }
  }

  if (ts.hijacked) {
    // Full hijack: the socket is the app's now; nothing more is written.
  } else if (jump != 0) {
    answerInterrupted(ts);
  } else if (failed) {
    sendErrorResponse(ts, 500, ts.error_text);
  } else if (!NIL_P(ts.response_hijack)) {
    http::ResponseHead head;
    head.status = ts.status;
    head.headers = std::move(ts.headers);
    head.raw = true;
    ex.send({}, std::move(head));
    ts.head_sent = true;
    bool hijack_failed = false;
    jump = step(ts, "in the rack.hijack response lambda", callResponseHijack, hijack_failed);
    // The app failed with the socket in hand: nobody will close it but us.
    if (hijack_failed && ts.hijacked) step(ts, "closing the hijacked socket", closeHijackedSocket, ignored);
    if (!ts.hijacked) ts.broken = true;  // the socket could not be handed over
  } else {
    // The head stays protocol-neutral; the connection's session frames it
    // (and decides keep-alive) on the loop thread.
    ts.head.status = ts.status;
    ts.body_wanted = http::responseHasBody(ts.status, request.isHead());
    if (ts.body_kind == BodyKind::Array) ts.head.body_length = arrayBodyLength(ts.array_body);
    if (ts.body_kind == BodyKind::Each) {
      if (auto size = wholeFileSize(ts)) {  // reads ts.headers: before they move
        ts.body_kind = BodyKind::File;
        ts.head.body_length = *size;
      }
    }
    ts.head.headers = std::move(ts.headers);

    if (ts.body_kind == BodyKind::Array) {
      if (ts.body_wanted) {
        appendArrayBody(ts);  // no Ruby calls: plain byte copies
        ts.body_bytes = ts.out.size();
      }
      ts.head_sent = true;
      // A plain Array has no close to wait for: head and bytes go with
      // finish() below (one loop wake-up). Anything else (a BodyProxy, say)
      // may do real work in close, so its bytes leave first.
      bytes_ride_on_finish = RB_TYPE_P(ts.body, T_ARRAY);
      if (!bytes_ride_on_finish) ex.send(std::move(ts.out), std::move(ts.head));
    } else if (ts.body_kind == BodyKind::File) {
      // The loop serves the file (page cache or sendfile); this thread is free
      // at once, however slowly the client reads.
      const std::uint64_t size = *ts.head.body_length;
      ex.send({}, std::move(ts.head));
      ts.head_sent = true;
      if (ts.body_wanted) {
        ex.sendFile(toStdString(ts.file_path), size);
        ts.body_bytes = size;
      }
    } else if (!ts.body_wanted) {
      ex.send({}, std::move(ts.head));
      ts.head_sent = true;
    } else {
      if (ts.body_kind == BodyKind::Call) {
        // A streaming body talks to the client as it goes: headers first.
        ex.send({}, std::move(ts.head));
        ts.head_sent = true;
      }
      bool body_failed = false;
      jump = step(ts, "in body", ts.body_kind == BodyKind::Each ? iterateBody : callStreamingBody, body_failed);
      if (jump != 0) {
        answerInterrupted(ts);
      } else if (body_failed && !ts.head_sent) {
        sendErrorResponse(ts, 500, ts.error_text);
      } else if (!ts.head_sent) {
        ex.send({}, std::move(ts.head));  // an empty each: headers only
        ts.head_sent = true;
      }
      if (body_failed) ts.broken = true;
    }
  }

  if (jump == 0 && ts.head_sent && ts.body_wanted && !ts.broken && !ts.hijacked && NIL_P(ts.response_hijack) &&
      !NIL_P(ts.body) && rb_respond_to(ts.body, id("trailers"))) {
    bool trailers_failed = false;
    jump = step(ts, "in body.trailers", collectTrailers, trailers_failed);
    if (trailers_failed) ts.broken = true;  // the client must not take the response for complete
  }
  int close_jump = step(ts, "in body.close", closeBody, ignored);
  if (jump == 0) jump = close_jump;
  step(ts, "closing rack.input", closeInput, ignored);
  // Full hijack: no head was sent, so the session keeps nothing open.
  const bool complete = !ts.broken && !ex.clientGone();
  ts.hijack_open = false;  // from here on (response_finished callbacks too) rack.hijack raises
  const bool deliver = jump == 0 && hasDeliveryCallbacks(ts);
  // This thread is free for the next request from here (the loop, woken by
  // the Finish message, may start accepting again).
  ts.rt->queue->jobDone();
  std::optional<http::HeaderList> trailers;
  if (!ts.trailers.empty()) trailers = std::move(ts.trailers);
  if (bytes_ride_on_finish) ex.finish(complete, std::move(ts.out), std::move(ts.head), std::move(trailers));
  else ex.finish(complete, {}, std::nullopt, std::move(trailers));
  if (deliver) jump = step(ts, "in rack.after_reply / rack.response_finished", waitThenRunDeliveryCallbacks, ignored);
  int clear_jump = step(ts, "resetting callbacks", emptyCallbackArrays, ignored);
  return jump != 0 ? jump : clear_jump;
}

}  // namespace hyperion::rb
