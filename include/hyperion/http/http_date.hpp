#pragma once
// HTTP-date (RFC 9110 section 5.6.7): the Date header of every protocol,
// Last-Modified and If-Modified-Since. One formatter for all of them,
// independent of the C locale and of the TZ variable, unlike strftime/mktime.
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace hyperion::http {

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
std::string formatHttpDate(std::time_t seconds);

// Now, for the Date header: formatted once per second per thread.
std::string_view currentHttpDate();

// Accepts all three formats a recipient must accept: IMF-fixdate, the obsolete
// RFC 850 form ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37 1994").
// nullopt for anything else, so callers can ignore a bad date as RFC 9110 asks.
std::optional<std::time_t> parseHttpDate(std::string_view text);

}  // namespace hyperion::http
