// See text.h.
#include "client/cli/text.h"

#include <charconv>
#include <cmath>
#include <string_view>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/spec/echo.h"
#include "client/grid/grid_file.h"

namespace actgrid::cli {

std::string Exact(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

std::string JsonNumber(double v) { return std::isfinite(v) ? Exact(v) : "null"; }

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += absl::StrFormat("\\u%04x", c);
        } else if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
                   static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
          out += absl::StrFormat("\\u%04x", static_cast<unsigned char>(s[++i]));  // a C1 control in UTF-8
        } else {
          out += static_cast<char>(c);
        }
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

namespace {

// A decimal number as the renderers and labels write it: -1, -0.5, 1e-05, .5.
bool IsDecimalNumber(const std::string& s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t digits = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) ++digits;
  if (i < s.size() && s[i] == '.')
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) ++digits;
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exponent = 0;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) ++exponent;
    if (exponent == 0) return false;
  }
  return i == s.size();
}

// What a spreadsheet would take for a formula (OWASP's list of leading characters).
bool LooksLikeFormula(const std::string& s) {
  return !s.empty() && std::string_view("=+-@\t\r").find(s[0]) != std::string_view::npos && !IsDecimalNumber(s);
}

}  // namespace

std::string CsvField(const std::string& s) {
  const bool formula = LooksLikeFormula(s);
  if (!formula && s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = formula ? "\"'" : "\"";
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

std::string TerminalText(const std::string& s) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(s, '\n')) lines.push_back(spec::EscapeControls(line));
  return absl::StrJoin(lines, "\n");
}

std::string ErrorText(const std::string& message) {
  std::vector<std::string> lines;
  size_t more = 0;
  for (absl::string_view line : absl::StrSplit(message, '\n')) {
    if (lines.size() <= grid::kMaxErrorsListed) {
      lines.push_back(spec::Shown(line, grid::kMaxErrorLineBytes));
    } else {
      ++more;
    }
  }
  if (more > 0) lines.push_back(absl::StrCat("... and ", more, " more lines"));
  return absl::StrJoin(lines, "\n");
}

std::string PValue(double p) {
  if (!std::isfinite(p)) return "-";
  if (p < 1e-300) return "< 1e-300";
  return p >= 1e-4 ? absl::StrFormat("%.4f", p) : absl::StrFormat("%.2g", p);
}

std::string ReuseText(const v1::SubmitGridResponse& response) {
  if (response.reused() == 0 && response.earlier_size() == 0) return "";
  std::string text = absl::StrCat("reused ", response.reused());
  for (const v1::EngineResults& e : response.earlier())
    absl::StrAppend(&text, "; ", e.trials(), e.trials() == 1 ? " earlier result was" : " earlier results were",
                    " measured by engine version ", e.engine_version(), " and ", e.trials() == 1 ? "is" : "are",
                    " measured again");
  return text;
}

}  // namespace actgrid::cli
