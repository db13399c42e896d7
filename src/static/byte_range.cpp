#include "hyperion/static/byte_range.hpp"

#include <limits>
#include <optional>

#include "hyperion/http1/request.hpp"

namespace hyperion::static_files {
namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

std::string_view trimWhitespace(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// 1*DIGIT. A value past 2^64-1 saturates: it is past any file's end anyway,
// so "first-pos too big" still ends up unsatisfiable and "last-pos too big" clamps.
std::optional<std::uint64_t> parseDigits(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    value = value > (kMax - digit) / 10 ? kMax : value * 10 + digit;
  }
  return value;
}

}  // namespace

RangeDecision decideRange(std::string_view header, std::uint64_t size) {
  const RangeDecision whole{RangeKind::Whole, {}};
  header = trimWhitespace(header);
  if (header.empty()) return whole;

  const auto equals = header.find('=');
  if (equals == std::string_view::npos) return whole;
  // The range unit is case-insensitive (RFC 9110 section 14.1).
  if (!http1::equalsIgnoreCase(trimWhitespace(header.substr(0, equals)), "bytes")) return whole;

  // The set is a list; empty elements ("0-1,") must be tolerated, several real ones are not served.
  std::string_view spec;
  std::string_view rest = header.substr(equals + 1);
  while (true) {
    const auto comma = rest.find(',');
    const std::string_view element = trimWhitespace(rest.substr(0, comma));
    if (!element.empty()) {
      if (!spec.empty()) return whole;
      spec = element;
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (spec.empty()) return whole;

  const auto dash = spec.find('-');
  if (dash == std::string_view::npos) return whole;
  const std::string_view first_text = spec.substr(0, dash);
  const std::string_view last_text = spec.substr(dash + 1);

  if (first_text.empty()) {
    // suffix-range: the last N bytes.
    const auto suffix = parseDigits(last_text);
    if (!suffix) return whole;
    if (*suffix == 0 || size == 0) return {RangeKind::Unsatisfiable, {}};
    const std::uint64_t length = *suffix < size ? *suffix : size;
    return {RangeKind::Partial, {size - length, size - 1}};
  }

  const auto first = parseDigits(first_text);
  if (!first) return whole;
  std::uint64_t last = kMax;
  if (!last_text.empty()) {
    const auto parsed = parseDigits(last_text);
    if (!parsed) return whole;
    last = *parsed;
    // last < first makes the range-spec invalid, not unsatisfiable.
    if (last < *first) return whole;
  }
  if (*first >= size) return {RangeKind::Unsatisfiable, {}};
  if (last > size - 1) last = size - 1;
  return {RangeKind::Partial, {*first, last}};
}

}  // namespace hyperion::static_files
