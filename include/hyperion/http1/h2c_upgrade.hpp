#pragma once
// `Upgrade: h2c` (RFC 7540 section 3.2): an HTTP/1.1 request that asks to
// go on as HTTP/2 on a plain connection, as an nginx or Envoy upstream set to
// h2c (or `curl --http2` on an http:// URL) sends it. The request itself is
// answered as HTTP/2 stream 1 after the 101.
#include <optional>
#include <string>
#include <string_view>

#include "hyperion/http1/request.hpp"

namespace hyperion::http1 {

// The decoded SETTINGS payload of the request's HTTP2-Settings header when
// the request asks for h2c and the upgrade can be taken; nullopt otherwise
// (the request is then answered as HTTP/1.1, which RFC 7540 allows).
std::optional<std::string> h2cUpgradeSettings(const Request& request);

// base64url (RFC 4648 section 5; '+' and '/' and padding are accepted too).
std::optional<std::string> decodeBase64Url(std::string_view text);

// The request as stream 1 sees it: the HTTP/1-only fields that asked for
// the upgrade are gone.
void stripUpgradeFields(Request& request);

}  // namespace hyperion::http1
