#pragma once
// Private to src/rb: the only headers that include ruby.h. The boundary
// rules (docs/ARCHITECTURE.md, "The Ruby boundary"):
//  - Ruby is entered only through protect(), which catches every non-local
//    exit (exceptions, throw, Thread#kill) at one boundary.
//  - A Ruby call can longjmp, so no C++ object with a destructor may be alive
//    in a frame between protect() and the Ruby call (heap state lives in
//    ThreadState, which Ruby's GC marks).
//  - The other way round, a C++ exception must never unwind through Ruby's C
//    frames: every function Ruby calls (methods, block and foreach
//    callbacks, protect()'s own trampoline) runs its C++ work inside
//    cxxGuard(), which turns the exception into a Ruby one after the C++
//    frame is gone. Functions run without the GVL are noexcept.
#include <ruby.h>
#include <ruby/encoding.h>
#include <ruby/thread.h>

#include <cstdio>
#include <new>
#include <stdexcept>
#include <string>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace hyperion::rb {

// Runs fn in a frame that Ruby called. A C++ exception from fn is caught
// here and raised as NoMemoryError (bad_alloc) or RuntimeError once the try
// block, and every C++ object inside it, is gone. fn may call Ruby; Ruby's
// longjmp may leave through the try block as long as fn holds no C++ object
// with a destructor at that point (the rule above).
template <typename Fn>
void cxxGuard(Fn&& fn) {
  int failure = 0;  // 1: out of memory, 2: anything else
  char message[200] = "";
  try {
    fn();
  } catch (const std::bad_alloc&) {
    failure = 1;
  } catch (const std::exception& e) {
    failure = 2;
    snprintf(message, sizeof message, "%s", e.what());
  } catch (...) {
    failure = 2;
  }
  if (failure == 1) rb_memerror();
  if (failure == 2) rb_raise(rb_eRuntimeError, "hyperion internal error: %s", message);
}

// Runs fn() under rb_protect. Returns the jump state (0 = no error).
template <typename Fn>
int protect(Fn& fn) {
  int state = 0;
  rb_protect(
      [](VALUE arg) -> VALUE {
        cxxGuard(*reinterpret_cast<Fn*>(arg));
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
