// Text from a file made safe for a message: a key or tensor name may hold a NUL (which cuts a C
// string, and so the reason after it, short) or escape sequences (which a terminal would run).
#pragma once

#include <string>
#include <string_view>

namespace moevk::gguf {

// `text` in single quotes. Valid UTF-8 stays as it is; control bytes (below 0x20, 0x7f, and the
// C1 controls U+0080..U+009F), bytes that are not valid UTF-8, the quote and the backslash become
// \xNN, so the result is printable and says unambiguously which bytes the file held.
std::string quote(std::string_view text);

// A number read from a file as a message shows it: nine significant digits (%.9g), enough to
// tell one f32 from another.
std::string number_text(double value);

}  // namespace moevk::gguf
