// Tests for PROXY protocol v1/v2 parsing and building: every field, every way a header
// can be refused, and headers arriving a byte at a time.
#include "arus/net/proxy_header.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace arus {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes bytes_of(std::string_view text) { return Bytes(text.begin(), text.end()); }

ProxyParseResult parse(const Bytes& bytes) { return parse_proxy_header(bytes); }
ProxyParseResult parse(std::string_view text) { return parse(bytes_of(text)); }

SocketAddress address(const char* ip, uint16_t port) {
  sockaddr_in6 v6{};
  sockaddr_in v4{};
  if (inet_pton(AF_INET, ip, &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    return SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&v4), sizeof v4);
  }
  EXPECT_EQ(inet_pton(AF_INET6, ip, &v6.sin6_addr), 1) << ip;
  v6.sin6_family = AF_INET6;
  v6.sin6_port = htons(port);
  return SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&v6), sizeof v6);
}

const Bytes kSignature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

// A v2 header: signature, version/command byte, family byte, then `block`.
Bytes v2(uint8_t version_command, uint8_t family, const Bytes& block) {
  Bytes out = kSignature;
  out.push_back(version_command);
  out.push_back(family);
  out.push_back(static_cast<uint8_t>(block.size() >> 8));
  out.push_back(static_cast<uint8_t>(block.size() & 0xFF));
  out.insert(out.end(), block.begin(), block.end());
  return out;
}

const Bytes kIpv4Block = {192, 0, 2, 1, 198, 51, 100, 7, 0x30, 0x39, 0x01, 0xBB};  // 12345, 443

std::string text_of(const ProxyHeaderBytes& header) {
  return std::string(reinterpret_cast<const char*>(header.data), header.size);
}

Bytes bytes_of(const ProxyHeaderBytes& header) {
  return Bytes(header.data, header.data + header.size);
}

void expect_malformed(const ProxyParseResult& result, std::string_view reason_part) {
  EXPECT_EQ(result.status, ProxyParseStatus::kMalformed);
  EXPECT_NE(std::string_view(result.reason).find(reason_part), std::string_view::npos)
      << result.reason;
}

// ---- v1 ----

TEST(ProxyHeaderV1, ParsesTcp4WithEveryField) {
  ProxyParseResult r = parse("PROXY TCP4 192.0.2.1 198.51.100.7 12345 443\r\nGET /");
  ASSERT_EQ(r.status, ProxyParseStatus::kComplete) << r.reason;
  EXPECT_EQ(r.version, ProxyVersion::kV1);
  EXPECT_EQ(r.length, 45u);  // the stream's own bytes after the CRLF are not part of it
  EXPECT_FALSE(r.local);
  EXPECT_EQ(r.source, address("192.0.2.1", 12345));
  EXPECT_EQ(r.destination, address("198.51.100.7", 443));
}

TEST(ProxyHeaderV1, ParsesTcp6IncludingMappedAddresses) {
  ProxyParseResult r = parse("PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 65535 0\r\n");
  ASSERT_EQ(r.status, ProxyParseStatus::kComplete) << r.reason;
  EXPECT_EQ(r.source, address("2001:db8::1", 65535));
  EXPECT_EQ(r.destination, address("::ffff:10.0.0.1", 0));
  EXPECT_EQ(r.source.to_string(), "[2001:db8::1]:65535");
}

TEST(ProxyHeaderV1, UnknownIsLocalWithOrWithoutTheRestOfTheLine) {
  for (const char* text : {"PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff:f...f:ffff 1 2 3\r\n"}) {
    ProxyParseResult r = parse(text);
    ASSERT_EQ(r.status, ProxyParseStatus::kComplete) << text;
    EXPECT_TRUE(r.local);
    EXPECT_EQ(r.length, std::string_view(text).size());
    EXPECT_TRUE(r.source.empty());
  }
}

TEST(ProxyHeaderV1, AcceptsTheLongestLegalLine) {
  // 107 bytes exactly, CRLF included.
  std::string line =
      "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
      "65535 65535\r\n";
  ASSERT_EQ(line.size(), 104u);
  line = "PROXY UNKNOWN " + std::string(107 - 16, 'x') + "\r\n";
  ASSERT_EQ(line.size(), 107u);
  EXPECT_EQ(parse(line).status, ProxyParseStatus::kComplete);
}

TEST(ProxyHeaderV1, AnyPrefixNeedsMore) {
  const std::string line = "PROXY TCP4 192.0.2.1 198.51.100.7 12345 443\r\n";
  for (size_t n = 1; n < line.size(); ++n) {
    ProxyParseResult r = parse(line.substr(0, n));
    EXPECT_EQ(r.status, ProxyParseStatus::kNeedMore) << n << ": " << r.reason;
  }
}

TEST(ProxyHeaderV1, RefusesALineWithoutCrlfWithin107Bytes) {
  std::string line = "PROXY UNKNOWN " + std::string(93, 'x');
  ASSERT_EQ(line.size(), 107u);
  EXPECT_EQ(parse(line.substr(0, 106)).status, ProxyParseStatus::kNeedMore);
  expect_malformed(parse(line), "107");
  expect_malformed(parse(line + "\r\n"), "107");
}

TEST(ProxyHeaderV1, RefusesOutOfRangeAndMalformedFields) {
  const char* cases[][2] = {
      {"PROXY TCP4 192.0.2.1 198.51.100.7 65536 443\r\n", "source port"},
      {"PROXY TCP4 192.0.2.1 198.51.100.7 1 99999\r\n", "destination port"},
      {"PROXY TCP4 192.0.2.1 198.51.100.7 0123 443\r\n", "source port"},
      {"PROXY TCP4 192.0.2.1 198.51.100.7 -1 443\r\n", "source port"},
      {"PROXY TCP4 192.0.2.1 198.51.100.7 1 4x3\r\n", "destination port"},
      {"PROXY TCP4 256.0.2.1 198.51.100.7 1 2\r\n", "source address"},
      {"PROXY TCP4 192.0.2.1 198.51.100 1 2\r\n", "destination address"},
      {"PROXY TCP4 ::1 ::1 1 2\r\n", "source address"},  // family mismatch
      {"PROXY TCP6 192.0.2.1 ::1 1 2\r\n", "source address"},
      {"PROXY TCP6 ::1 ::g 1 2\r\n", "destination address"},
      {"PROXY TCP5 192.0.2.1 198.51.100.7 1 2\r\n", "unknown protocol"},
      {"PROXY tcp4 192.0.2.1 198.51.100.7 1 2\r\n", "unknown protocol"},
      {"PROXY \r\n", "unknown protocol"},
      {"PROXY TCP4 192.0.2.1 198.51.100.7 1\r\n", "missing field"},
      {"PROXY TCP4 192.0.2.1 198.51.100.7 1 2 3\r\n", "extra field"},
      {"PROXY TCP4 192.0.2.1 198.51.100.7 1 2 \r\n", "extra field"},
      {"PROXY TCP4 192.0.2.1  198.51.100.7 1 2\r\n", "empty field"},
      {"PROXY TCP4 192.0.2.1 198.51.100.7 1 2\n", "without CR"},
      {"PROXY TCP4 192.0.2.1\r198.51.100.7 1 2\r\n", "stray CR"},
      {"PROXY TCP4 192.0.2.1\t198.51.100.7 1 2\r\n", "control byte"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c[0]);
    expect_malformed(parse(c[0]), c[1]);
  }
}

TEST(ProxyHeaderV1, RefusesANulByteEarly) {
  Bytes bytes = bytes_of("PROXY TCP4 1");
  bytes.push_back(0);
  expect_malformed(parse(bytes), "control byte");
}

// ---- detection ----

TEST(ProxyHeaderDetect, RefusesGarbageFromItsFirstByte) {
  expect_malformed(parse("GET / HTTP/1.1\r\n"), "not a PROXY header");
  expect_malformed(parse("G"), "not a PROXY header");
  expect_malformed(parse("PROXZ"), "not a PROXY header");
  expect_malformed(parse("proxy TCP4"), "not a PROXY header");
  EXPECT_EQ(parse(Bytes{}).status, ProxyParseStatus::kNeedMore);
  EXPECT_EQ(parse("PROX").status, ProxyParseStatus::kNeedMore);
  EXPECT_EQ(parse("PROXY ").status, ProxyParseStatus::kNeedMore);
}

TEST(ProxyHeaderDetect, RefusesAWrongV2Signature) {
  Bytes bytes = v2(0x21, 0x11, kIpv4Block);
  bytes[7] = 'q';
  expect_malformed(parse(bytes), "wrong signature");
  expect_malformed(parse(Bytes(bytes.begin(), bytes.begin() + 8)), "wrong signature");
  EXPECT_EQ(parse(Bytes(bytes.begin(), bytes.begin() + 7)).status, ProxyParseStatus::kNeedMore);
  expect_malformed(parse(bytes_of("\r\nGET")), "wrong signature");
}

// ---- v2 ----

TEST(ProxyHeaderV2, ParsesTcpOverIpv4) {
  Bytes bytes = v2(0x21, 0x11, kIpv4Block);
  bytes.push_back('x');  // a byte of the stream itself
  ProxyParseResult r = parse(bytes);
  ASSERT_EQ(r.status, ProxyParseStatus::kComplete) << r.reason;
  EXPECT_EQ(r.version, ProxyVersion::kV2);
  EXPECT_EQ(r.length, 28u);
  EXPECT_FALSE(r.local);
  EXPECT_EQ(r.source, address("192.0.2.1", 12345));
  EXPECT_EQ(r.destination, address("198.51.100.7", 443));
}

TEST(ProxyHeaderV2, ParsesTcpOverIpv6AndSkipsTlvs) {
  Bytes block(36, 0);
  block[15] = 1;                                        // ::1
  block[16] = 0x20, block[17] = 0x01;                   // 2001::
  block[32] = 0x00, block[33] = 0x50;                   // 80
  block[34] = 0x1F, block[35] = 0x90;                   // 8080
  const Bytes tlv = {0x04, 0x00, 0x03, 'a', 'b', 'c'};  // a NOOP TLV
  block.insert(block.end(), tlv.begin(), tlv.end());
  ProxyParseResult r = parse(v2(0x21, 0x21, block));
  ASSERT_EQ(r.status, ProxyParseStatus::kComplete) << r.reason;
  EXPECT_EQ(r.length, 16u + 42u);
  EXPECT_EQ(r.source, address("::1", 80));
  EXPECT_EQ(r.destination, address("2001::", 8080));
}

TEST(ProxyHeaderV2, LocalKeepsTheSocketsAddressWhateverTheFamily) {
  for (uint8_t family : {0x00, 0x11, 0x21, 0x31, 0x12}) {
    Bytes block = family == 0x00 ? Bytes{} : kIpv4Block;
    ProxyParseResult r = parse(v2(0x20, family, block));
    ASSERT_EQ(r.status, ProxyParseStatus::kComplete) << int(family) << r.reason;
    EXPECT_TRUE(r.local);
    EXPECT_EQ(r.length, 16u + block.size());
  }
}

TEST(ProxyHeaderV2, AnyPrefixNeedsMore) {
  Bytes bytes = v2(0x21, 0x11, kIpv4Block);
  for (size_t n = 1; n < bytes.size(); ++n) {
    ProxyParseResult r = parse(Bytes(bytes.begin(), bytes.begin() + n));
    EXPECT_EQ(r.status, ProxyParseStatus::kNeedMore) << n << ": " << r.reason;
  }
}

TEST(ProxyHeaderV2, RefusesALengthPastItsMaximumAtOnce) {
  Bytes bytes = v2(0x21, 0x11, Bytes(2048 - 16, 0));
  // 2048 bytes in all: the longest accepted (the address block, then ignored bytes).
  std::copy(kIpv4Block.begin(), kIpv4Block.end(), bytes.begin() + 16);
  EXPECT_EQ(parse(bytes).status, ProxyParseStatus::kComplete);
  bytes[15] += 1;  // one byte more: refused from the 16 fixed bytes alone
  expect_malformed(parse(Bytes(bytes.begin(), bytes.begin() + 16)), "2048");
  bytes[14] = 0xFF;
  bytes[15] = 0xFF;
  expect_malformed(parse(Bytes(bytes.begin(), bytes.begin() + 16)), "2048");
}

TEST(ProxyHeaderV2, RefusesUnknownVersionCommandAndFamily) {
  expect_malformed(parse(v2(0x11, 0x11, kIpv4Block)), "unknown version");
  expect_malformed(parse(v2(0x31, 0x11, kIpv4Block)), "unknown version");
  expect_malformed(parse(v2(0x22, 0x11, kIpv4Block)), "unknown command");
  expect_malformed(parse(v2(0x2F, 0x11, kIpv4Block)), "unknown command");
  for (uint8_t family : {0x00, 0x01, 0x10, 0x12, 0x22, 0x31, 0x32, 0x41, 0xFF}) {
    SCOPED_TRACE(int(family));
    expect_malformed(parse(v2(0x21, family, Bytes(216, 0))), "unsupported family");
  }
}

TEST(ProxyHeaderV2, RefusesAnAddressBlockTooShortForItsFamily) {
  expect_malformed(parse(v2(0x21, 0x11, Bytes(11, 0))), "too short");
  expect_malformed(parse(v2(0x21, 0x21, Bytes(35, 0))), "too short");
  expect_malformed(parse(v2(0x21, 0x21, kIpv4Block)), "too short");
}

// ---- building ----

TEST(ProxyHeaderBuild, V1Ipv4AndIpv6) {
  EXPECT_EQ(text_of(build_proxy_header(ProxyVersion::kV1, address("192.0.2.1", 12345),
                                       address("198.51.100.7", 443))),
            "PROXY TCP4 192.0.2.1 198.51.100.7 12345 443\r\n");
  EXPECT_EQ(text_of(build_proxy_header(ProxyVersion::kV1, address("::1", 1),
                                       address("2001:db8::5", 65535))),
            "PROXY TCP6 ::1 2001:db8::5 1 65535\r\n");
}

TEST(ProxyHeaderBuild, V1MapsIpv4WhenFamiliesDiffer) {
  EXPECT_EQ(
      text_of(build_proxy_header(ProxyVersion::kV1, address("192.0.2.1", 5), address("::1", 6))),
      "PROXY TCP6 ::ffff:192.0.2.1 ::1 5 6\r\n");
}

TEST(ProxyHeaderBuild, V2Ipv4IsByteExact) {
  EXPECT_EQ(bytes_of(build_proxy_header(ProxyVersion::kV2, address("192.0.2.1", 12345),
                                        address("198.51.100.7", 443))),
            v2(0x21, 0x11, kIpv4Block));
}

TEST(ProxyHeaderBuild, V2MapsIpv4WhenFamiliesDiffer) {
  ProxyHeaderBytes header =
      build_proxy_header(ProxyVersion::kV2, address("::1", 7), address("10.1.2.3", 8));
  ProxyParseResult r = parse(bytes_of(header));
  ASSERT_EQ(r.status, ProxyParseStatus::kComplete);
  EXPECT_EQ(header.data[13], 0x21);
  EXPECT_EQ(r.source, address("::1", 7));
  EXPECT_EQ(r.destination, address("::ffff:10.1.2.3", 8));
}

TEST(ProxyHeaderBuild, RoundTripsThroughTheParser) {
  const SocketAddress pairs[][2] = {
      {address("127.0.0.1", 1), address("127.0.0.2", 65535)},
      {address("fe80::1:2:3:4", 40000), address("::", 80)},
      {address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535),
       address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535)},
  };
  for (ProxyVersion version : {ProxyVersion::kV1, ProxyVersion::kV2}) {
    for (const auto& pair : pairs) {
      ProxyHeaderBytes header = build_proxy_header(version, pair[0], pair[1]);
      ProxyParseResult r = parse(bytes_of(header));
      ASSERT_EQ(r.status, ProxyParseStatus::kComplete) << text_of(header);
      EXPECT_EQ(r.version, version);
      EXPECT_EQ(r.length, header.size);
      EXPECT_EQ(r.source, pair[0]);
      EXPECT_EQ(r.destination, pair[1]);
    }
  }
}

TEST(ProxyHeaderBuild, LocalHeaders) {
  EXPECT_EQ(text_of(build_proxy_local_header(ProxyVersion::kV1)), "PROXY UNKNOWN\r\n");
  EXPECT_EQ(bytes_of(build_proxy_local_header(ProxyVersion::kV2)), v2(0x20, 0x00, Bytes{}));
  for (ProxyVersion version : {ProxyVersion::kV1, ProxyVersion::kV2}) {
    ProxyParseResult r = parse(bytes_of(build_proxy_local_header(version)));
    ASSERT_EQ(r.status, ProxyParseStatus::kComplete);
    EXPECT_TRUE(r.local);
  }
  // No address to name: the LOCAL header rather than a made-up one.
  EXPECT_EQ(text_of(build_proxy_header(ProxyVersion::kV1, SocketAddress(), address("::1", 1))),
            "PROXY UNKNOWN\r\n");
}

}  // namespace
}  // namespace arus
