// See text.h.
#include "client/cli/text.h"

#include <charconv>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace actgrid::cli {

std::string Exact(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

std::string JsonNumber(double v) { return std::isfinite(v) ? Exact(v) : "null"; }

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) out += absl::StrFormat("\\u%04x", c);
        else out += c;
    }
  }
  return out + "\"";
}

std::string JsonLabel(const std::string& label) {
  double v;
  if (absl::SimpleAtod(label, &v) && std::isfinite(v) && label.find_first_of("xX") == std::string::npos)
    return label.find_first_not_of("0123456789.-+eE") == std::string::npos ? label : JsonString(label);
  return JsonString(label);
}

std::string JsonObject(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out = "{";
  for (size_t i = 0; i < fields.size(); ++i)
    absl::StrAppend(&out, i ? ", " : "", JsonString(fields[i].first), ": ", fields[i].second);
  return out + "}";
}

std::string JsonArray(const std::vector<std::string>& items) { return "[" + absl::StrJoin(items, ", ") + "]"; }

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string CsvNumber(double v) { return std::isfinite(v) ? Exact(v) : ""; }

std::string CsvLine(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) absl::StrAppend(&out, i ? "," : "", CsvField(fields[i]));
  return out + "\n";
}

std::string Fixed(double v, int digits) { return std::isfinite(v) ? absl::StrFormat("%.*f", digits, v) : "-"; }

std::string Interval(double low, double high, int digits) {
  if (!std::isfinite(low) || !std::isfinite(high)) return "-";
  return absl::StrFormat("[%.*f, %.*f]", digits, low, digits, high);
}

std::string Short(double v) {
  if (!std::isfinite(v)) return "-";
  return absl::StrFormat("%.4g", v);
}

std::string PValue(double p) {
  if (!std::isfinite(p)) return "-";
  if (p < 1e-300) return "< 1e-300";
  return p >= 1e-4 ? absl::StrFormat("%.4f", p) : absl::StrFormat("%.2g", p);
}

}  // namespace actgrid::cli
