#pragma once
// The request header lists a static response depends on: entity-tag lists
// (If-None-Match, If-Range) and Accept-Encoding.
#include <string_view>

namespace hyperion::static_files {

// If-None-Match: true when the list is "*" or holds a tag equal to `etag`
// under weak comparison (RFC 9110 section 8.8.3.2: W/ is ignored on both sides).
// A malformed list matches nothing, so the client simply gets the full answer.
bool etagListMatchesWeakly(std::string_view list, std::string_view etag);

// If-Range with an entity-tag: strong comparison, a weak tag never matches.
bool etagMatchesStrongly(std::string_view candidate, std::string_view etag);

// The q-value (0..1000) Accept-Encoding gives `coding`: its own entry, else
// "*", else 0. "x-gzip" counts as "gzip". An empty header accepts nothing but
// identity, which is all we need to know about it.
int acceptedQuality(std::string_view accept_encoding, std::string_view coding);

}  // namespace hyperion::static_files
