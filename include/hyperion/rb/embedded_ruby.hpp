#pragma once
// ext_ruby/lib compiled into the binary (see cmake/embed_ruby.cmake).
namespace hyperion::rb {

struct EmbeddedRubyFile {
  const char* path;  // relative to ext_ruby/lib, e.g. "hyperion/config.rb"
  const char* source;
};

// Terminated by {nullptr, nullptr}; sorted so hyperion.rb loads first.
extern const EmbeddedRubyFile kEmbeddedRubyFiles[];

}  // namespace hyperion::rb
