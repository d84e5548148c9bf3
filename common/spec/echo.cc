// Escaping and cutting of echoed text (see echo.h).
#include "common/spec/echo.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace actgrid::spec {
namespace {

// The length of the well-formed UTF-8 sequence at text[i], or 0 when there is none.
size_t Utf8Length(absl::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // the range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // no overlong forms
    if (lead == 0xED) high = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;  // nothing past U+10FFFF
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (size_t k = 2; k < length; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return length;
}

// Appends the escaped form of the character at text[i] to `out`; returns how many
// bytes of `text` it took.
size_t AppendEscaped(absl::string_view text, size_t i, std::string* out) {
  const unsigned char c = static_cast<unsigned char>(text[i]);
  if (c < 0x20 || c == 0x7F) {
    absl::StrAppendFormat(out, "\\x%02x", c);
    return 1;
  }
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
    return 1;
  }
  const size_t length = Utf8Length(text, i);
  if (length == 0) {
    absl::StrAppendFormat(out, "\\x%02x", c);
    return 1;
  }
  if (length == 2 && c == 0xC2 && static_cast<unsigned char>(text[i + 1]) <= 0x9F) {
    absl::StrAppendFormat(out, "\\u%04x", static_cast<unsigned char>(text[i + 1]));  // C1 control
    return 2;
  }
  out->append(text.data() + i, length);
  return length;
}

// The escaped text, at most `max_bytes` of it; *cut tells whether some was left out.
std::string EscapePrefix(absl::string_view text, size_t max_bytes, bool* cut) {
  std::string out;
  size_t i = 0;
  std::string piece;
  while (i < text.size()) {
    piece.clear();
    const size_t taken = AppendEscaped(text, i, &piece);
    if (out.size() + piece.size() > max_bytes) break;
    out += piece;
    i += taken;
  }
  *cut = i < text.size();
  return out;
}

}  // namespace

std::string EscapeControls(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) i += AppendEscaped(text, i, &out);
  return out;
}

std::string Shown(absl::string_view text, size_t max_bytes) {
  bool cut = false;
  std::string out = EscapePrefix(text, max_bytes, &cut);
  if (cut) absl::StrAppend(&out, "... (", text.size(), " bytes)");
  return out;
}

std::string Quoted(absl::string_view text, size_t max_bytes) {
  bool cut = false;
  std::string out = "\"" + EscapePrefix(text, max_bytes, &cut);
  if (cut) absl::StrAppend(&out, "...\" (", text.size(), " bytes)");
  if (!cut) out += '"';
  return out;
}

}  // namespace actgrid::spec
