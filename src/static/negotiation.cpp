#include "hyperion/static/negotiation.hpp"

#include <optional>

#include "hyperion/http1/request.hpp"

namespace hyperion::static_files {
namespace {

bool isWhitespace(char c) { return c == ' ' || c == '\t'; }

std::string_view trimWhitespace(std::string_view text) {
  while (!text.empty() && isWhitespace(text.front())) text.remove_prefix(1);
  while (!text.empty() && isWhitespace(text.back())) text.remove_suffix(1);
  return text;
}

// The opaque-tag of an entity-tag, quotes included, and whether it was weak.
struct ParsedTag {
  std::string_view opaque;
  bool weak = false;
};

// Reads one entity-tag from the front of `text` and consumes it. Commas are
// legal inside the quotes, so the list cannot simply be split on ','.
std::optional<ParsedTag> takeEntityTag(std::string_view& text) {
  ParsedTag tag;
  if (text.substr(0, 2) == "W/") {
    tag.weak = true;
    text.remove_prefix(2);
  }
  if (text.empty() || text.front() != '"') return std::nullopt;
  const auto close = text.find('"', 1);
  if (close == std::string_view::npos) return std::nullopt;
  tag.opaque = text.substr(0, close + 1);
  text.remove_prefix(close + 1);
  return tag;
}

std::string_view opaqueOf(std::string_view etag) {
  if (etag.substr(0, 2) == "W/") etag.remove_prefix(2);
  return etag;
}

// "0", "0.5", "1.000" as thousandths; nullopt for anything else.
std::optional<int> parseQuality(std::string_view text) {
  if (text.empty() || (text[0] != '0' && text[0] != '1')) return std::nullopt;
  int value = (text[0] - '0') * 1000;
  if (text.size() == 1) return value;
  if (text[1] != '.' || text.size() > 5) return std::nullopt;
  int scale = 100;
  for (char c : text.substr(2)) {
    if (c < '0' || c > '9') return std::nullopt;
    value += (c - '0') * scale;
    scale /= 10;
  }
  if (value > 1000) return std::nullopt;
  return value;
}

}  // namespace

bool etagListMatchesWeakly(std::string_view list, std::string_view etag) {
  list = trimWhitespace(list);
  if (list == "*") return true;
  const std::string_view wanted = opaqueOf(etag);
  while (true) {
    while (!list.empty() && (isWhitespace(list.front()) || list.front() == ',')) list.remove_prefix(1);
    if (list.empty()) return false;
    const auto tag = takeEntityTag(list);
    if (!tag) return false;
    if (tag->opaque == wanted) return true;
  }
}

bool etagMatchesStrongly(std::string_view candidate, std::string_view etag) {
  candidate = trimWhitespace(candidate);
  if (candidate.substr(0, 2) == "W/" || etag.substr(0, 2) == "W/") return false;
  return candidate.size() >= 2 && candidate.front() == '"' && candidate == etag;
}

int acceptedQuality(std::string_view accept_encoding, std::string_view coding) {
  std::optional<int> exact;
  std::optional<int> wildcard;
  std::string_view rest = accept_encoding;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    std::string_view element = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);

    const auto semicolon = element.find(';');
    std::string_view name = trimWhitespace(element.substr(0, semicolon));
    if (name.empty()) continue;
    int quality = 1000;
    if (semicolon != std::string_view::npos) {
      // Only a q parameter is defined; a malformed one disqualifies the entry
      // rather than guessing what the client meant.
      std::string_view parameter = trimWhitespace(element.substr(semicolon + 1));
      const auto equals = parameter.find('=');
      if (equals == std::string_view::npos ||
          !http1::equalsIgnoreCase(trimWhitespace(parameter.substr(0, equals)), "q"))
        continue;
      const auto parsed = parseQuality(trimWhitespace(parameter.substr(equals + 1)));
      if (!parsed) continue;
      quality = *parsed;
    }
    if (http1::equalsIgnoreCase(name, coding) || (coding == "gzip" && http1::equalsIgnoreCase(name, "x-gzip"))) {
      // The highest mention wins if a coding is listed twice.
      if (!exact || quality > *exact) exact = quality;
    } else if (name == "*") {
      wildcard = quality;
    }
  }
  if (exact) return *exact;
  return wildcard.value_or(0);
}

}  // namespace hyperion::static_files
