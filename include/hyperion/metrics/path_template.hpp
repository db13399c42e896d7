#pragma once
// Keeps the `path` label of request metrics to a bounded set: /users/123
// and /users/456 are one route, /users/:id. Segments of digits become :id,
// UUIDs :uuid (the seed's default rules); the query is dropped. No
// allocation: it runs on the event loop for every request.
#include <cstddef>
#include <string_view>

namespace hyperion::metrics {

// Writes the templated path of `target` into out (at most capacity bytes,
// truncated past that) and returns its length.
std::size_t templatePath(std::string_view target, char* out, std::size_t capacity);

}  // namespace hyperion::metrics
