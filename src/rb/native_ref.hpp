#pragma once
// A Ruby object that reaches back into the request its thread serves (the
// Rack 3 stream, a streamed rack.input). Its data points at the thread's
// state and is nulled when the request is over (detachNativeObject), so a
// call kept for later raises instead of acting on the thread's next request.
// Each class keeps its own rb_data_type_t (the type check tells them apart)
// built from the two functions here.
#include "runtime.hpp"

namespace hyperion::rb {

struct NativeRef {
  ThreadState* ts;  // nulled when the request is over
};

void freeNativeRef(void* p);
std::size_t sizeNativeRef(const void*);
// A new `klass` object of `type` referring to `ts`.
VALUE newNativeRef(VALUE klass, const rb_data_type_t* type, ThreadState& ts);
// The state behind `self`; raises IOError ("<what> used after its request
// finished") once it is detached.
ThreadState& liveNativeState(VALUE self, const rb_data_type_t* type, const char* what);

}  // namespace hyperion::rb
