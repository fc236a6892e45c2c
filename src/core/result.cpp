// posix_error: converts errno into an Error once, at the OS edge.
#include "arus/core/result.hpp"

#include <cstring>

namespace arus {

Error posix_error(std::string what, int errnum) {
  char buf[128];
  // GNU strerror_r returns a pointer that may or may not be `buf`.
  const char* text = strerror_r(errnum, buf, sizeof buf);
  what += ": ";
  what += text;
  return Error{std::move(what)};
}

}  // namespace arus
