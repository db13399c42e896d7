#include "hyperion/http/http_date.hpp"

#include <array>
#include <cstdint>
#include <cstdio>

namespace hyperion::http {
namespace {

constexpr std::array<std::string_view, 7> kDayNames = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> kLongDayNames = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                           "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 12> kMonthNames = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Howard Hinnant's days_from_civil: proleptic Gregorian date to days since 1970-01-01.
std::int64_t daysFromCivil(std::int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<std::int64_t>(day_of_era) - 719468;
}

bool isLeapYear(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int daysInMonth(int year, int month) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && isLeapYear(year) ? 29 : kDays[static_cast<std::size_t>(month - 1)];
}

// A small cursor over the text: each method consumes exactly what it expects or fails.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}
  bool done() const { return text_.empty(); }

  bool literal(std::string_view expected) {
    if (text_.substr(0, expected.size()) != expected) return false;
    text_.remove_prefix(expected.size());
    return true;
  }

  // Exactly `count` digits.
  bool digits(std::size_t count, int& out) {
    if (text_.size() < count) return false;
    int value = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const char c = text_[i];
      if (c < '0' || c > '9') return false;
      value = value * 10 + (c - '0');
    }
    text_.remove_prefix(count);
    out = value;
    return true;
  }

  // asctime pads a one-digit day with a space: " 6".
  bool spaceOrDigitThenDigit(int& out) {
    if (text_.size() >= 2 && text_[0] == ' ') {
      text_.remove_prefix(1);
      return digits(1, out);
    }
    return digits(2, out);
  }

  template <std::size_t N>
  bool oneOf(const std::array<std::string_view, N>& names, int& index) {
    for (std::size_t i = 0; i < N; ++i) {
      if (literal(names[i])) {
        index = static_cast<int>(i);
        return true;
      }
    }
    return false;
  }

  bool timeOfDay(int& hour, int& minute, int& second) {
    return digits(2, hour) && literal(":") && digits(2, minute) && literal(":") && digits(2, second);
  }

 private:
  std::string_view text_;
};

struct Fields {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
};

bool parseImfFixdate(std::string_view text, Fields& f) {
  Scanner s(text);
  int weekday = 0;
  return s.oneOf(kDayNames, weekday) && s.literal(", ") && s.digits(2, f.day) && s.literal(" ") &&
         s.oneOf(kMonthNames, f.month) && s.literal(" ") && s.digits(4, f.year) && s.literal(" ") &&
         s.timeOfDay(f.hour, f.minute, f.second) && s.literal(" GMT") && s.done();
}

bool parseRfc850(std::string_view text, Fields& f) {
  Scanner s(text);
  int weekday = 0;
  int two_digit_year = 0;
  if (!(s.oneOf(kLongDayNames, weekday) && s.literal(", ") && s.digits(2, f.day) && s.literal("-") &&
        s.oneOf(kMonthNames, f.month) && s.literal("-") && s.digits(2, two_digit_year) && s.literal(" ") &&
        s.timeOfDay(f.hour, f.minute, f.second) && s.literal(" GMT") && s.done()))
    return false;
  // RFC 9110: a two-digit year more than 50 years in the future means the past century.
  // Pinned to a 1970-2069 window, which is what that rule gives until 2020+50.
  f.year = two_digit_year < 70 ? 2000 + two_digit_year : 1900 + two_digit_year;
  return true;
}

bool parseAsctime(std::string_view text, Fields& f) {
  Scanner s(text);
  int weekday = 0;
  return s.oneOf(kDayNames, weekday) && s.literal(" ") && s.oneOf(kMonthNames, f.month) && s.literal(" ") &&
         s.spaceOrDigitThenDigit(f.day) && s.literal(" ") && s.timeOfDay(f.hour, f.minute, f.second) &&
         s.literal(" ") && s.digits(4, f.year) && s.done();
}

}  // namespace

std::string formatHttpDate(std::time_t seconds) {
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char buffer[32];
  const auto& day = kDayNames[static_cast<std::size_t>(tm.tm_wday)];
  const auto& month = kMonthNames[static_cast<std::size_t>(tm.tm_mon)];
  const int length = std::snprintf(buffer, sizeof buffer, "%.3s, %02d %.3s %04d %02d:%02d:%02d GMT", day.data(),
                                   tm.tm_mday, month.data(), tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return std::string(buffer, length > 0 ? static_cast<std::size_t>(length) : 0);
}

std::string_view currentHttpDate() {
  thread_local std::time_t cached_second = -1;
  thread_local std::string formatted;
  const std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    formatted = formatHttpDate(now);
    cached_second = now;
  }
  return formatted;
}

std::optional<std::time_t> parseHttpDate(std::string_view text) {
  Fields f;
  if (!parseImfFixdate(text, f) && !parseRfc850(text, f) && !parseAsctime(text, f)) return std::nullopt;
  f.month += 1;  // oneOf gave a 0-based index
  // 60 allows a leap second; it simply rolls into the next minute.
  if (f.day < 1 || f.day > daysInMonth(f.year, f.month) || f.hour > 23 || f.minute > 59 || f.second > 60)
    return std::nullopt;
  const std::int64_t days = daysFromCivil(f.year, static_cast<unsigned>(f.month), static_cast<unsigned>(f.day));
  return static_cast<std::time_t>(days * 86400 + f.hour * 3600 + f.minute * 60 + f.second);
}

}  // namespace hyperion::http
