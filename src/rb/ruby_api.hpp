#pragma once
// Private to src/rb: the only headers that include ruby.h. Rules for every
// function here that calls into Ruby:
//  - Ruby is entered only through protect(), which catches every non-local
//    exit (exceptions, throw, Thread#kill) at one boundary.
//  - A Ruby call can longjmp, so no C++ object with a destructor may be alive
//    in a frame between protect() and the Ruby call (heap state lives in
//    ThreadState, which Ruby's GC marks).
#include <ruby.h>
#include <ruby/encoding.h>
#include <ruby/thread.h>

#include <string>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace hyperion::rb {

// Runs fn() under rb_protect. Returns the jump state (0 = no error).
template <typename Fn>
int protect(Fn& fn) {
  int state = 0;
  rb_protect(
      [](VALUE arg) -> VALUE {
        (*reinterpret_cast<Fn*>(arg))();
        return Qnil;
      },
      reinterpret_cast<VALUE>(&fn), &state);
#if defined(__SANITIZE_ADDRESS__)
  // Ruby unwound with its own longjmp, which ASan does not intercept: the
  // skipped frames' redzones stay poisoned and would be reported when the
  // stack is reused. Clear them.
  if (state != 0) __asan_handle_no_return();
#endif
  return state;
}

// After protect() failed: the pending error, cleared. Qnil if none.
VALUE takeError();
// True for exceptions; false for throw/kill, which must be re-raised with
// rb_jump_tag(state) once no C++ frame needs unwinding.
bool isException(VALUE error);
// "Class: message\n    backtrace..." for the log (never raises).
std::string describeException(VALUE error);
// A Ruby String's bytes as a std::string.
inline std::string toStdString(VALUE str) { return std::string(RSTRING_PTR(str), RSTRING_LEN(str)); }

// Defined by ruby_host.cpp.
VALUE hyperionModule();

}  // namespace hyperion::rb
