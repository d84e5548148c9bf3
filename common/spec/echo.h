// How messages show text that came from a user: control characters escaped so that
// a terminal shows them instead of obeying them, and long text cut to a few dozen
// characters with its length, so that no message grows with its input.
#ifndef ACTGRID_COMMON_SPEC_ECHO_H_
#define ACTGRID_COMMON_SPEC_ECHO_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace actgrid::spec {

// The most bytes of a value that a message repeats.
inline constexpr size_t kMaxEchoBytes = 100;

// `text` with every control character escaped: C0 bytes and DEL as \xNN ("\x1b"),
// the C1 controls U+0080..U+009F as \uNNNN ("\u009b"), and bytes that are not
// UTF-8 as \xNN. Everything else, printable UTF-8 included, is kept as it is.
std::string EscapeControls(absl::string_view text);

// `text` escaped, and when longer than `max_bytes` cut at a character boundary and
// followed by its size: `abc... (102400 bytes)`.
std::string Shown(absl::string_view text, size_t max_bytes = kMaxEchoBytes);

// Shown(text) in double quotes, the size (when cut) after the closing quote:
// `"abc"`, `"abc..." (102400 bytes)`.
std::string Quoted(absl::string_view text, size_t max_bytes = kMaxEchoBytes);

}  // namespace actgrid::spec

#endif  // ACTGRID_COMMON_SPEC_ECHO_H_
