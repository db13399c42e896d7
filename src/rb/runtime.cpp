// The process's GC root: one TypedData object, registered with the VM at
// boot, whose mark function marks every VALUE the RubyRuntime holds. It marks
// with rb_gc_mark, which also pins: GC.compact (and GC.auto_compact) never
// moves an object C++ holds by address.
//
// Why not a registered Ruby Array holding them: an Array's elements are
// marked movable, so compaction would move them and leave the copies in C++
// pointing at the old slots; and every store would be a second step (assign,
// then push) with an allocation-free window to get wrong.
#include "runtime.hpp"

namespace hyperion::rb {
namespace {

RubyRuntime* g_runtime = nullptr;  // created at boot, lives as long as the process

static_assert(sizeof(EnvKeys) % sizeof(VALUE) == 0, "EnvKeys must hold VALUEs only");

void markRuntime(void* p) {
  const auto& rt = *static_cast<const RubyRuntime*>(p);
  rb_gc_mark(rt.app);
  rb_gc_mark(rt.rackup);
  rb_gc_mark(rt.env_template);
  rb_gc_mark(rt.empty_input);
  rb_gc_mark(rt.websocket_clients);
  rb_gc_mark(rt.request_start_hooks);
  rb_gc_mark(rt.request_end_hooks);
  const auto* keys = reinterpret_cast<const VALUE*>(&rt.keys);
  for (std::size_t i = 0; i < sizeof(EnvKeys) / sizeof(VALUE); ++i) rb_gc_mark(keys[i]);
  for (VALUE thread_object : rt.thread_objects) rb_gc_mark(thread_object);
}

std::size_t sizeRuntime(const void*) { return sizeof(RubyRuntime); }

// No free function: the runtime outlives the VM (ruby_cleanup runs
// finalizers while C++ still refers to it).
const rb_data_type_t kRuntimeType = {"Hyperion::Runtime", {markRuntime, nullptr, sizeRuntime}, nullptr, nullptr, 0};

}  // namespace

void createProcessRuntime() {
  g_runtime = new RubyRuntime();
  VALUE root = rb_data_typed_object_wrap(0, g_runtime, &kRuntimeType);  // hidden: no class
  rb_gc_register_mark_object(root);
}

RubyRuntime& processRuntime() { return *g_runtime; }

}  // namespace hyperion::rb
