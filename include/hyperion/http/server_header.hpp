#pragma once
// What every response says in its Server header unless the app set one.
// One place, so the h1 framing, static answers, prebuilt routes (and h2
// later) cannot drift apart.
#include <string_view>

namespace hyperion::http {

inline constexpr std::string_view kServerName = "hyperion";

}  // namespace hyperion::http
