// Hyperion.on_request_start { |env| } / on_request_end { |env, status,
// duration, error| }: what APM agents (New Relic,
// AppSignal, OpenTelemetry, Datadog) attach to without patching the server.
// The blocks live in two Arrays the runtime marks; the Ruby thread checks
// their length (no Ruby call) before every request, so a server without
// hooks pays nothing. Each block's error is caught and logged with where the
// block was defined (Hyperion.__fire_request_hooks, ext_ruby/lib/hyperion.rb);
// the request and the other hooks go on.
#include "ruby_api.hpp"
#include "runtime.hpp"

namespace hyperion::rb {
namespace {

VALUE addHook(VALUE* list) {
  rb_need_block();
  VALUE block = rb_block_proc();
  rb_ary_push(*list, block);
  return block;
}

VALUE onRequestStart(VALUE) { return addHook(&processRuntime().request_start_hooks); }
VALUE onRequestEnd(VALUE) { return addHook(&processRuntime().request_end_hooks); }

void fire(const char* name, VALUE hooks, VALUE args) {
  rb_funcall(hyperionModule(), rb_intern("__fire_request_hooks"), 3, ID2SYM(rb_intern(name)), hooks, args);
}

}  // namespace

void defineRequestHooks(VALUE hyperion) {
  RubyRuntime& rt = processRuntime();
  rt.request_start_hooks = rb_ary_new();  // marked from here on (runtime.cpp)
  rt.request_end_hooks = rb_ary_new();
  rb_define_singleton_method(hyperion, "on_request_start", RUBY_METHOD_FUNC(onRequestStart), 0);
  rb_define_singleton_method(hyperion, "on_request_end", RUBY_METHOD_FUNC(onRequestEnd), 0);
}

bool hasRequestStartHooks(const RubyRuntime& rt) { return RARRAY_LEN(rt.request_start_hooks) > 0; }
bool hasRequestEndHooks(const RubyRuntime& rt) { return RARRAY_LEN(rt.request_end_hooks) > 0; }

void fireRequestStart(ThreadState& ts) {
  VALUE args = rb_ary_new_from_args(1, ts.env);  // on the stack (and so marked) while the hooks run
  fire("on_request_start", ts.rt->request_start_hooks, args);
}

void fireRequestEnd(ThreadState& ts, bool failed) {
  // The status the client gets (500 when the app raised), app.call's time in
  // seconds, and the exception or nil.
  // 0 when app.call never began (a start hook stopped the request).
  const std::chrono::duration<double> took =
      ts.app_started == std::chrono::steady_clock::time_point{} ? std::chrono::steady_clock::duration::zero()
                                                                 : std::chrono::steady_clock::now() - ts.app_started;
  VALUE status = INT2FIX(failed ? 500 : ts.status);
  VALUE error = failed ? ts.error : Qnil;
  VALUE args = rb_ary_new_from_args(4, ts.env, status, DBL2NUM(took.count()), error);
  fire("on_request_end", ts.rt->request_end_hooks, args);
}

}  // namespace hyperion::rb
