#include "engine/common/parse.h"

namespace pmklc {

namespace {

Status Bad(std::string_view what, std::string_view s, std::string_view allowed) {
  return Status::InvalidArgument(std::string(what) + ": '" + std::string(s) + "' is not " + std::string(allowed));
}

// Parses the leading digits of s into *v; returns how many were read (0 on
// overflow or none).
size_t Digits(std::string_view s, uint64_t* v) {
  uint64_t n = 0;
  size_t i = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    const uint64_t d = static_cast<uint64_t>(s[i] - '0');
    if (n > (UINT64_MAX - d) / 10) return 0;
    n = n * 10 + d;
  }
  *v = n;
  return i;
}

std::string Range(uint64_t min, uint64_t max, bool size) {
  auto f = [&](uint64_t v) { return size ? FormatSize(v) : std::to_string(v); };
  if (max == UINT64_MAX) return "at least " + f(min);
  return f(min) + ".." + f(max);
}

}  // namespace

Result<uint64_t> ParseUint(std::string_view s, std::string_view what, uint64_t min, uint64_t max) {
  uint64_t v = 0;
  const size_t n = Digits(s, &v);
  if (s.empty() || n != s.size()) return Bad(what, s, "a whole number (" + Range(min, max, false) + ")");
  if (v < min || v > max) return Bad(what, s, "within " + Range(min, max, false));
  return v;
}

Result<uint64_t> ParseSize(std::string_view s, std::string_view what, uint64_t min, uint64_t max) {
  const std::string allowed = "a size: digits with an optional K, M, G or T suffix (" + Range(min, max, true) + ")";
  uint64_t v = 0;
  const size_t n = Digits(s, &v);
  if (n == 0 || s.size() > n + 1) return Bad(what, s, allowed);
  int shift = 0;
  if (s.size() == n + 1) {
    switch (s[n]) {
      case 'k': case 'K': shift = 10; break;
      case 'm': case 'M': shift = 20; break;
      case 'g': case 'G': shift = 30; break;
      case 't': case 'T': shift = 40; break;
      default: return Bad(what, s, allowed);
    }
  }
  if (shift && v > (UINT64_MAX >> shift)) return Bad(what, s, allowed);
  v <<= shift;
  if (v < min || v > max) return Bad(what, s, "within " + Range(min, max, true));
  return v;
}

std::string FormatSize(uint64_t b) {
  static const char kSuf[] = {'T', 'G', 'M', 'K'};
  for (int i = 0; i < 4; ++i) {
    const int shift = 40 - 10 * i;
    const uint64_t unit = uint64_t{1} << shift;
    if (b >= unit && b % unit == 0) return std::to_string(b >> shift) + kSuf[i];
  }
  return std::to_string(b);
}

}  // namespace pmklc
