// libFuzzer target for parse_proxy_header: no input may crash or read out of bounds; a
// complete header's length lies within the input and the limits; every prefix of a
// complete header needs more bytes (never a different answer); and a header built from
// what was parsed parses back to the same addresses. Single-threaded.
// Build and run: `make fuzz FUZZ_TARGET=proxy_header`.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "arus/net/proxy_header.hpp"

namespace {

using arus::ProxyParseResult;
using arus::ProxyParseStatus;

void require(bool condition) {
  if (!condition) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> input(data, size);
  ProxyParseResult whole = arus::parse_proxy_header(input);
  if (whole.status != ProxyParseStatus::kComplete) {
    if (whole.status == ProxyParseStatus::kNeedMore) {
      require(size < arus::kProxyHeaderMaxBytes);
    }
    return 0;
  }
  require(whole.length > 0 && whole.length <= size);
  require(whole.length <= (whole.version == arus::ProxyVersion::kV1 ? arus::kProxyV1MaxBytes
                                                                    : arus::kProxyV2MaxBytes));
  // The header alone parses the same; each of its prefixes asks for more.
  ProxyParseResult alone = arus::parse_proxy_header(input.first(whole.length));
  require(alone.status == ProxyParseStatus::kComplete && alone.length == whole.length);
  for (size_t n = 0; n < whole.length; n += 1 + n / 8) {
    require(arus::parse_proxy_header(input.first(n)).status == ProxyParseStatus::kNeedMore);
  }
  require(whole.local == whole.source.empty());
  if (!whole.local) {
    for (arus::ProxyVersion version : {arus::ProxyVersion::kV1, arus::ProxyVersion::kV2}) {
      arus::ProxyHeaderBytes built =
          arus::build_proxy_header(version, whole.source, whole.destination);
      ProxyParseResult again = arus::parse_proxy_header(built.bytes());
      require(again.status == ProxyParseStatus::kComplete && again.length == built.size);
      require(again.source == whole.source && again.destination == whole.destination);
    }
  }
  return 0;
}
