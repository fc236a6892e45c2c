// Tests for ReplyMatcher: replies in pieces, longer than expected, cut short, HTTP
// status lines split anywhere.
#include <gtest/gtest.h>

#include "arus/health/reply_matcher.hpp"

namespace arus {
namespace {

using Outcome = ReplyMatcher::Outcome;

ReplyMatcher matcher_for(HealthCheckKind kind) {
  HealthCheckConfig check;
  check.kind = kind;
  return ReplyMatcher::for_check(check);
}

// Feeds `reply` in pieces of `piece` bytes; the outcome after the last piece.
Outcome feed_in_pieces(ReplyMatcher& m, std::string_view reply, size_t piece) {
  Outcome last = Outcome::kNeedMore;
  for (size_t at = 0; at < reply.size(); at += piece) last = m.feed(reply.substr(at, piece));
  return last;
}

TEST(ReplyMatcher, PrefixInOnePieceAndByteByByte) {
  for (size_t piece : {1, 2, 3, 100}) {
    ReplyMatcher m = ReplyMatcher::starts_with("+PONG");
    EXPECT_EQ(feed_in_pieces(m, "+PONG", piece), Outcome::kPass) << piece;
  }
}

TEST(ReplyMatcher, PrefixWaitsForMore) {
  ReplyMatcher m = ReplyMatcher::starts_with("+PONG");
  EXPECT_EQ(m.feed("+PO"), Outcome::kNeedMore);
  EXPECT_EQ(m.feed("NG"), Outcome::kPass);
  EXPECT_EQ(m.feed("anything"), Outcome::kPass);  // decided: stays
}

TEST(ReplyMatcher, ALongerReplyPasses) {
  ReplyMatcher m = ReplyMatcher::starts_with("S");
  EXPECT_EQ(m.feed("SOME MORE BYTES\r\n"), Outcome::kPass);
  ReplyMatcher redis = matcher_for(HealthCheckKind::kRedis);
  EXPECT_EQ(feed_in_pieces(redis, "+PONG\r\n", 4), Outcome::kPass);
}

TEST(ReplyMatcher, AMismatchFailsAtOnce) {
  ReplyMatcher m = ReplyMatcher::starts_with("+PONG");
  EXPECT_EQ(m.feed("+P"), Outcome::kNeedMore);
  EXPECT_EQ(m.feed("ONK"), Outcome::kFail);
  EXPECT_EQ(m.failure(), "unexpected reply");
  ReplyMatcher loading = matcher_for(HealthCheckKind::kRedis);
  EXPECT_EQ(loading.feed("-LOADING Redis is loading the dataset in memory\r\n"), Outcome::kFail);
}

TEST(ReplyMatcher, BinaryBytesCompare) {
  ReplyMatcher m = ReplyMatcher::starts_with(std::string("\x00N", 2));
  EXPECT_EQ(m.feed(std::string_view("\x00", 1)), Outcome::kNeedMore);
  EXPECT_EQ(m.feed("N"), Outcome::kPass);
}

TEST(ReplyMatcher, EofBeforeTheReplyFails) {
  ReplyMatcher none = ReplyMatcher::starts_with("+PONG");
  EXPECT_EQ(none.on_eof(), Outcome::kFail);
  EXPECT_EQ(none.failure(), "closed before replying");
  ReplyMatcher cut = ReplyMatcher::starts_with("+PONG");
  cut.feed("+PO");
  EXPECT_EQ(cut.on_eof(), Outcome::kFail);
  EXPECT_EQ(cut.failure(), "reply cut short");
  ReplyMatcher done = ReplyMatcher::starts_with("+PONG");
  done.feed("+PONG");
  EXPECT_EQ(done.on_eof(), Outcome::kPass);
}

TEST(ReplyMatcher, ConnectNeedsNoReply) {
  ReplyMatcher m = matcher_for(HealthCheckKind::kConnect);
  EXPECT_FALSE(m.needs_reply());
  EXPECT_TRUE(ReplyMatcher::starts_with("x").needs_reply());
}

TEST(ReplyMatcher, HttpStatusSplitAnywhere) {
  const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  const std::string redirect = "HTTP/1.0 302 Found\r\n\r\n";
  const std::string unavailable = "HTTP/1.1 503 Service Unavailable\r\n\r\n";
  for (size_t piece = 1; piece <= 16; ++piece) {
    ReplyMatcher a = ReplyMatcher::http_status();
    EXPECT_EQ(feed_in_pieces(a, ok, piece), Outcome::kPass) << piece;
    ReplyMatcher b = ReplyMatcher::http_status();
    EXPECT_EQ(feed_in_pieces(b, redirect, piece), Outcome::kPass) << piece;
    ReplyMatcher c = ReplyMatcher::http_status();
    EXPECT_EQ(feed_in_pieces(c, unavailable, piece), Outcome::kFail) << piece;
    EXPECT_EQ(c.failure(), "http status 503");
  }
}

TEST(ReplyMatcher, HttpDecidesOnTheStatusDigits) {
  ReplyMatcher m = ReplyMatcher::http_status();
  EXPECT_EQ(m.feed("HTTP/1.1 20"), Outcome::kNeedMore);
  EXPECT_EQ(m.feed("4"), Outcome::kPass);
  ReplyMatcher e = ReplyMatcher::http_status();
  EXPECT_EQ(e.feed("HTTP/1.1 404 Not Found\r\n"), Outcome::kFail);
  EXPECT_EQ(e.failure(), "http status 404");
}

TEST(ReplyMatcher, HttpRefusesWhatIsNoStatusLine) {
  ReplyMatcher junk = ReplyMatcher::http_status();
  EXPECT_EQ(junk.feed("+PONG\r\n"), Outcome::kFail);
  EXPECT_EQ(junk.failure(), "not an http reply");
  ReplyMatcher letters = ReplyMatcher::http_status();
  EXPECT_EQ(letters.feed("HTTP/1.1 2x0 OK\r\n"), Outcome::kFail);
  EXPECT_EQ(letters.failure(), "bad http status line");
  ReplyMatcher endless = ReplyMatcher::http_status();
  EXPECT_EQ(endless.feed("HTTP/" + std::string(1000, '1')), Outcome::kFail);
  EXPECT_EQ(endless.failure(), "bad http status line");
  ReplyMatcher cut = ReplyMatcher::http_status();
  cut.feed("HTTP/1.1 ");
  EXPECT_EQ(cut.on_eof(), Outcome::kFail);
}

}  // namespace
}  // namespace arus
