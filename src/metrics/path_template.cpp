#include "hyperion/metrics/path_template.hpp"

#include <cstring>

namespace hyperion::metrics {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isHex(char c) { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool allDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!isDigit(c)) return false;
  return true;
}

// 8-4-4-4-12 hex digits.
bool isUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !isHex(s[i])) return false;
  }
  return true;
}

}  // namespace

std::size_t templatePath(std::string_view target, char* out, std::size_t capacity) {
  // The path alone: no query, no absolute-form scheme and authority.
  if (auto q = target.find_first_of("?#"); q != std::string_view::npos) target = target.substr(0, q);
  if (target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0) {
    const auto slash = target.find('/', target.find("//") + 2);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  std::size_t n = 0;
  auto put = [&](std::string_view piece) {
    const std::size_t take = piece.size() < capacity - n ? piece.size() : capacity - n;
    std::memcpy(out + n, piece.data(), take);
    n += take;
  };
  std::size_t pos = 0;
  while (pos < target.size() && n < capacity) {
    if (target[pos] == '/') {
      put("/");
      ++pos;
      continue;
    }
    const auto end = target.find('/', pos);
    const std::string_view segment = target.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    if (allDigits(segment)) put(":id");
    else if (isUuid(segment)) put(":uuid");
    else put(segment);
    pos += segment.size();
  }
  if (n == 0) put("/");  // "*" (OPTIONS) or an empty target
  return n;
}

}  // namespace hyperion::metrics
