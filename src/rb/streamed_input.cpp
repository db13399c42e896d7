// rack.input for a request body that streams in while the app runs (HTTP/2
// gRPC calls; see server/body_stream.hpp). It reads like an IO that is not
// seekable: read, readpartial, gets, each, eof?; no rewind (Rack 3 does not
// require it, and middleware that would rewind checks respond_to?). Each
// wait for bytes releases the GVL; each read tells the loop how much the app
// took, so the client may send that much more.
#include "native_ref.hpp"

#include <ruby/encoding.h>
#include <ruby/io.h>
#include <ruby/thread.h>

namespace hyperion::rb {
namespace {

using server::BodyStream;

constexpr std::size_t kChunk = 64 * 1024;

const rb_data_type_t kStreamedInputType = {"Hyperion::StreamedInput", {nullptr, freeNativeRef, sizeNativeRef},
                                           nullptr, nullptr, RUBY_TYPED_FREE_IMMEDIATELY};
VALUE g_streamed_input_class = Qnil;

// Detached (ThreadState::resetRequest) before the exchange is let go, so a
// live one always has the exchange and its body stream.
ThreadState& liveInput(VALUE self) { return liveNativeState(self, &kStreamedInputType, "rack.input"); }

struct TakeCall {
  BodyStream* stream;
  std::string* out;
  std::size_t max;
  std::size_t fresh;
  BodyStream::Status status;
};

// Up to `max` bytes (at least one unless the body is over) onto
// ts.input_chunk, waiting without the GVL. Ruby raises a pending interrupt
// (Thread#raise, a timeout) when it takes the GVL back; nothing on this
// frame needs unwinding (the buffer belongs to the thread's state).
BodyStream::Status takeChunk(ThreadState& ts, std::size_t max) {
  ts.input_chunk.clear();
  TakeCall call{ts.exchange->bodyStream().get(), &ts.input_chunk, max, 0, BodyStream::Status::End};
  do {
    rb_thread_call_without_gvl(
        [](void* p) noexcept -> void* {
          auto* c = static_cast<TakeCall*>(p);
          c->status = c->stream->take(*c->out, c->max, c->fresh);
          return nullptr;
        },
        &call, [](void* p) noexcept { static_cast<BodyStream*>(p)->interrupt(); }, call.stream);
  } while (call.status == BodyStream::Status::Interrupted);
  if (call.fresh > 0) cxxGuard([&] { ts.exchange->bodyConsumed(call.fresh); });
  if (call.status == BodyStream::Status::Failed)
    rb_raise(rb_eIOError, "the client reset the request before its body ended");
  return call.status;
}

VALUE binaryBuffer(VALUE buffer) {
  if (NIL_P(buffer)) return rb_str_buf_new(0);
  StringValue(buffer);
  rb_str_modify(buffer);
  rb_str_set_len(buffer, 0);
  rb_enc_associate(buffer, rb_ascii8bit_encoding());
  return buffer;
}

// read([length [, buffer]]) as IO#read: without a length, everything to the
// end ("" at the end); with one, that many bytes or fewer at the end (nil
// at the end).
VALUE inputRead(int argc, VALUE* argv, VALUE self) {
  VALUE length_value = Qnil, buffer = Qnil;
  rb_scan_args(argc, argv, "02", &length_value, &buffer);
  ThreadState& ts = liveInput(self);
  const bool bounded = !NIL_P(length_value);
  const long length = bounded ? NUM2LONG(length_value) : 0;
  if (length < 0) rb_raise(rb_eArgError, "negative length %ld given", length);
  VALUE result = binaryBuffer(buffer);
  if (bounded && length == 0) return result;
  long got = 0;
  while (!bounded || got < length) {
    const std::size_t want = bounded ? static_cast<std::size_t>(length - got) : kChunk;
    if (takeChunk(ts, want) == BodyStream::Status::End) break;
    rb_str_cat(result, ts.input_chunk.data(), static_cast<long>(ts.input_chunk.size()));
    got += static_cast<long>(ts.input_chunk.size());
  }
  if (bounded && got == 0) return Qnil;
  return result;
}

// readpartial(length [, buffer]): what is there (waiting for at least one
// byte); EOFError at the end.
VALUE inputReadpartial(int argc, VALUE* argv, VALUE self) {
  VALUE length_value = Qnil, buffer = Qnil;
  rb_scan_args(argc, argv, "11", &length_value, &buffer);
  ThreadState& ts = liveInput(self);
  const long length = NUM2LONG(length_value);
  if (length < 0) rb_raise(rb_eArgError, "negative length %ld given", length);
  VALUE result = binaryBuffer(buffer);
  if (length == 0) return result;
  if (takeChunk(ts, static_cast<std::size_t>(length)) == BodyStream::Status::End) rb_eof_error();
  rb_str_cat(result, ts.input_chunk.data(), static_cast<long>(ts.input_chunk.size()));
  return result;
}

// gets: the next line with its "\n" (the last may have none), nil at the end.
VALUE inputGets(VALUE self) {
  ThreadState& ts = liveInput(self);
  VALUE line = Qnil;
  while (takeChunk(ts, kChunk) == BodyStream::Status::Data) {
    const std::string& chunk = ts.input_chunk;
    const std::size_t newline = chunk.find('\n');
    const std::size_t used = newline == std::string::npos ? chunk.size() : newline + 1;
    if (used < chunk.size()) {
      cxxGuard([&] { ts.exchange->bodyStream()->unread(std::string_view(chunk).substr(used)); });
    }
    if (NIL_P(line)) line = rb_str_buf_new(static_cast<long>(used));
    rb_str_cat(line, chunk.data(), static_cast<long>(used));
    if (newline != std::string::npos) break;
  }
  return line;
}

VALUE inputEach(VALUE self) {
  RETURN_ENUMERATOR(self, 0, nullptr);
  for (VALUE line = inputGets(self); !NIL_P(line); line = inputGets(self)) rb_yield(line);
  return self;
}

VALUE inputEof(VALUE self) {
  ThreadState& ts = liveInput(self);
  return takeChunk(ts, 0) == BodyStream::Status::End ? Qtrue : Qfalse;
}

VALUE inputClose(VALUE) { return Qnil; }  // the server ends the body; Rack::Lint forbids the app to close it
VALUE inputFalse(VALUE) { return Qfalse; }
VALUE inputSelf(VALUE self) { return self; }
VALUE inputEncoding(VALUE) { return rb_enc_from_encoding(rb_ascii8bit_encoding()); }

}  // namespace

void defineStreamedInput(VALUE hyperion) {
  VALUE input = g_streamed_input_class = rb_define_class_under(hyperion, "StreamedInput", rb_cObject);
  rb_undef_alloc_func(input);
  rb_define_method(input, "read", RUBY_METHOD_FUNC(inputRead), -1);
  rb_define_method(input, "readpartial", RUBY_METHOD_FUNC(inputReadpartial), -1);
  rb_define_method(input, "gets", RUBY_METHOD_FUNC(inputGets), 0);
  rb_define_method(input, "each", RUBY_METHOD_FUNC(inputEach), 0);
  rb_define_method(input, "each_line", RUBY_METHOD_FUNC(inputEach), 0);
  rb_define_method(input, "eof?", RUBY_METHOD_FUNC(inputEof), 0);
  rb_define_method(input, "eof", RUBY_METHOD_FUNC(inputEof), 0);
  rb_define_method(input, "close", RUBY_METHOD_FUNC(inputClose), 0);
  rb_define_method(input, "closed?", RUBY_METHOD_FUNC(inputFalse), 0);
  rb_define_method(input, "binmode", RUBY_METHOD_FUNC(inputSelf), 0);
  rb_define_method(input, "external_encoding", RUBY_METHOD_FUNC(inputEncoding), 0);
}

VALUE newStreamedInput(ThreadState& ts) { return newNativeRef(g_streamed_input_class, &kStreamedInputType, ts); }

}  // namespace hyperion::rb
