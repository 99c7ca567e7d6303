// Python's str.strip() with no argument, which Jinja's trim filter and the templates' .strip()
// call: it removes the code points str.isspace() accepts, Unicode spaces included, from both ends
// of UTF-8 text.
#pragma once

#include <string_view>

namespace moevk::text {

bool is_python_space(char32_t c);
std::string_view python_strip(std::string_view s);

}  // namespace moevk::text
