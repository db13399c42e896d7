#pragma once
// Content-Type by file extension for the static file core.
//
// The static/ subsystem owns serving files without Ruby: reading and caching
// them (cached_file, page_cache, static_directory), deciding what to answer
// (byte_range, negotiation, static_response) and mapping URL paths to files
// (request_path). It never includes ruby.h, never touches sockets, and is used
// from one event loop thread at a time.
#include <string_view>

namespace hyperion::static_files {

// Case-insensitive on the extension of the last path segment. Text types carry
// "; charset=utf-8" so browsers never have to sniff; anything unknown is
// "application/octet-stream", which browsers download rather than render.
std::string_view mimeTypeFor(std::string_view path);

}  // namespace hyperion::static_files
