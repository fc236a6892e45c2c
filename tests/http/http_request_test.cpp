// HttpRequestParser: complete, incremental, pipelined, oversize and malformed heads.
#include "arus/http/http_request.hpp"

#include <gtest/gtest.h>

#include <string>

namespace arus {
namespace {

using namespace std::string_literals;

HttpParseResult parse_all(std::string_view text) {
  HttpRequestParser parser;
  return parser.parse(text);
}

int bad_status(std::string_view text) {
  HttpParseResult r = parse_all(text);
  EXPECT_EQ(r.status, HttpParseStatus::kBad) << text;
  return r.error_status;
}

TEST(HttpRequest, CompleteGet) {
  std::string text = "GET /metrics?x=1 HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n";
  HttpParseResult r = parse_all(text);
  ASSERT_EQ(r.status, HttpParseStatus::kComplete);
  EXPECT_EQ(r.consumed, text.size());
  EXPECT_EQ(r.request.method, "GET");
  EXPECT_EQ(r.request.target, "/metrics?x=1");
  EXPECT_EQ(r.request.path, "/metrics");
  EXPECT_EQ(r.request.version_minor, 1);
  EXPECT_TRUE(r.request.keep_alive);
  EXPECT_FALSE(r.request.has_body);
}

TEST(HttpRequest, ByteByByteGivesTheSameResult) {
  std::string text = "HEAD /stats HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  HttpRequestParser parser;
  for (size_t n = 0; n < text.size(); ++n) {
    HttpParseResult r = parser.parse(std::string_view(text).substr(0, n));
    ASSERT_EQ(r.status, HttpParseStatus::kIncomplete) << n;
  }
  HttpParseResult r = parser.parse(text);
  ASSERT_EQ(r.status, HttpParseStatus::kComplete);
  EXPECT_EQ(r.consumed, text.size());
  EXPECT_EQ(r.request.method, "HEAD");
  EXPECT_EQ(r.request.path, "/stats");
  EXPECT_FALSE(r.request.keep_alive);
  EXPECT_TRUE(parser.started());
}

TEST(HttpRequest, PipelinedRequestsComeOutOneAtATime) {
  std::string text =
      "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\nGET /c HT";
  HttpRequestParser parser;
  std::string_view rest = text;
  HttpParseResult first = parser.parse(rest);
  ASSERT_EQ(first.status, HttpParseStatus::kComplete);
  EXPECT_EQ(first.request.path, "/a");
  rest.remove_prefix(first.consumed);
  parser.reset();
  HttpParseResult second = parser.parse(rest);
  ASSERT_EQ(second.status, HttpParseStatus::kComplete);
  EXPECT_EQ(second.request.path, "/b");
  rest.remove_prefix(second.consumed);
  parser.reset();
  EXPECT_EQ(parser.parse(rest).status, HttpParseStatus::kIncomplete);
  EXPECT_EQ(rest, "GET /c HT");
}

TEST(HttpRequest, BareLfAndLeadingEmptyLinesAreAccepted) {
  std::string text = "\r\n\nGET /healthz HTTP/1.1\nHost: h\n\n";
  HttpParseResult r = parse_all(text);
  ASSERT_EQ(r.status, HttpParseStatus::kComplete);
  EXPECT_EQ(r.consumed, text.size());
  EXPECT_EQ(r.request.path, "/healthz");
  HttpRequestParser parser;
  EXPECT_EQ(parser.parse("\r\n\r\n").status, HttpParseStatus::kIncomplete);
  EXPECT_FALSE(parser.started());
}

TEST(HttpRequest, Http10ClosesUnlessKeepAliveAsked) {
  HttpParseResult plain = parse_all("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(plain.status, HttpParseStatus::kComplete);
  EXPECT_EQ(plain.request.version_minor, 0);
  EXPECT_FALSE(plain.request.keep_alive);
  HttpParseResult asked = parse_all("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
  ASSERT_EQ(asked.status, HttpParseStatus::kComplete);
  EXPECT_TRUE(asked.request.keep_alive);
}

TEST(HttpRequest, ConnectionOptionsAreAListOfTokens) {
  HttpParseResult r = parse_all("GET / HTTP/1.1\r\nHost: h\r\nConnection: TE,  CLOSE \r\n\r\n");
  ASSERT_EQ(r.status, HttpParseStatus::kComplete);
  EXPECT_FALSE(r.request.keep_alive);
}

TEST(HttpRequest, AbsoluteFormTargetIsReducedToItsPath) {
  HttpParseResult r = parse_all("GET http://example:9090/metrics HTTP/1.1\r\nHost: e\r\n\r\n");
  ASSERT_EQ(r.status, HttpParseStatus::kComplete);
  EXPECT_EQ(r.request.path, "/metrics");
  HttpParseResult bare = parse_all("GET HTTPS://example HTTP/1.1\r\nHost: e\r\n\r\n");
  ASSERT_EQ(bare.status, HttpParseStatus::kComplete);
  EXPECT_EQ(bare.request.path, "/");
}

TEST(HttpRequest, ABodyMeansTheConnectionCloses) {
  HttpParseResult r = parse_all("POST /metrics HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n");
  ASSERT_EQ(r.status, HttpParseStatus::kComplete);
  EXPECT_TRUE(r.request.has_body);
  EXPECT_FALSE(r.request.keep_alive);
  HttpParseResult zero = parse_all("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(zero.status, HttpParseStatus::kComplete);
  EXPECT_FALSE(zero.request.has_body);
  HttpParseResult chunked =
      parse_all("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
  ASSERT_EQ(chunked.status, HttpParseStatus::kComplete);
  EXPECT_TRUE(chunked.request.has_body);
}

TEST(HttpRequest, MalformedRequestLines) {
  EXPECT_EQ(bad_status("GET\r\n\r\n"), 400);
  EXPECT_EQ(bad_status("GET /\r\n\r\n"), 400);                       // HTTP/0.9
  EXPECT_EQ(bad_status("GET  / HTTP/1.1\r\nHost: h\r\n\r\n"), 400);  // double space
  EXPECT_EQ(bad_status("GET / HTTP/1.1 \r\nHost: h\r\n\r\n"), 400);  // trailing space
  EXPECT_EQ(bad_status("G(T / HTTP/1.1\r\nHost: h\r\n\r\n"), 400);   // not a token
  EXPECT_EQ(bad_status("GET metrics HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(bad_status("GET / HTTP/1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(bad_status("GET / http/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(bad_status("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), 505);
  EXPECT_EQ(bad_status("GET /a\rb HTTP/1.1\r\nHost: h\r\n\r\n"), 400);  // bare CR
  EXPECT_EQ(bad_status(std::string(40, 'G') + " / HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
}

TEST(HttpRequest, BinaryJunkIsRefusedBeforeTheLineEnds) {
  HttpRequestParser parser;
  HttpParseResult r = parser.parse(std::string_view("\x16\x03\x01\x02\x00", 5));  // TLS
  EXPECT_EQ(r.status, HttpParseStatus::kBad);
  EXPECT_EQ(r.error_status, 400);
  EXPECT_EQ(parser.parse("anything").status, HttpParseStatus::kBad) << "bad is final";
}

TEST(HttpRequest, MalformedHeaders) {
  EXPECT_EQ(bad_status("GET / HTTP/1.1\r\n\r\n"), 400);  // HTTP/1.1 needs Host
  EXPECT_EQ(bad_status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
  EXPECT_EQ(bad_status("GET / HTTP/1.1\r\nHost : h\r\n\r\n"), 400);
  EXPECT_EQ(bad_status("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n"), 400);
  EXPECT_EQ(bad_status("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n folded\r\n\r\n"), 400);
  EXPECT_EQ(bad_status("GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n"s), 400);
  EXPECT_EQ(bad_status("GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n"), 400);
  EXPECT_EQ(bad_status("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n"), 400);
  EXPECT_EQ(bad_status("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
                       "Content-Length: 2\r\n\r\n"),
            400);
  EXPECT_EQ(bad_status("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n"),
            400);
}

TEST(HttpRequest, HeadOver8KiBIsRefused) {
  std::string head = "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(kMaxRequestHeadBytes, 'a');
  HttpRequestParser parser;
  HttpParseResult r = parser.parse(head);
  EXPECT_EQ(r.status, HttpParseStatus::kBad);
  EXPECT_EQ(r.error_status, 431);
  EXPECT_EQ(bad_status("GET /" + std::string(kMaxRequestHeadBytes, 'a')), 414);
}

TEST(HttpRequest, HeadOfExactly8KiBIsAccepted) {
  std::string start = "GET / HTTP/1.1\r\nHost: h\r\nX: ";
  std::string head = start + std::string(kMaxRequestHeadBytes - start.size() - 4, 'a') + "\r\n\r\n";
  ASSERT_EQ(head.size(), kMaxRequestHeadBytes);
  HttpParseResult r = parse_all(head + "GET /next");  // a pipelined rest may follow
  ASSERT_EQ(r.status, HttpParseStatus::kComplete);
  EXPECT_EQ(r.consumed, kMaxRequestHeadBytes);
  EXPECT_EQ(bad_status(head.substr(0, head.size() - 4) + "a\r\n\r\n"), 431);  // one more
}

}  // namespace
}  // namespace arus
