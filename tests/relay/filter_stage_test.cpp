// Tests of FilterStage's buffer contract (growing output, EOF, breaches, backpressure,
// buffers) with misbehaving filters compiled here as C, and of BufferPool.
#include "arus/relay/filter_stage.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "../plugin/filter_harness.hpp"
#include "../plugin/filter_test_util.hpp"
#include "arus/relay/buffer_pool.hpp"
#include "arus/relay/buffered_pump.hpp"

namespace arus {
namespace {

using testing::CompiledFilter;
using testing::Harness;
using testing::kB2C;
using testing::kC2B;
using testing::StderrCapture;

// filter_args picks a behaviour:
//   grow10    every input byte becomes 10 copies; consumes only what fits
//   burst     consumes everything at once, keeps 10x output of its own, fills `out`
//   trailer   passes bytes through and writes "<END>" at EOF
//   overclaim writes out_cap bytes and reports out_cap + 100
//   overuse   reports consuming in_len + 1 bytes
//   stuck     never consumes, never writes
//   close_x   passes bytes, CLOSE on an 'x'; error_x: ERROR on an 'x'
//   verdict9  returns 9
const std::string kTestFilterSource = std::string(R"C(
#include <stdlib.h>
#include <string.h>
#include "arus/filter.h"
enum mode { GROW10, BURST, TRAILER, OVERCLAIM, OVERUSE, STUCK, CLOSE_X, ERROR_X, VERDICT9 };
static const char* names[] = {"grow10", "burst", "trailer", "overclaim", "overuse", "stuck",
                              "close_x", "error_x", "verdict9"};
)C") + testing::kTestFilterModes + R"C(
struct conn { int mode; unsigned char* pending; size_t pending_len, pending_off; int trailer_done[2]; };
static int t_open(void* rs, const struct arus_conn_info* info, void** cs) {
  struct conn* c = calloc(1, sizeof *c);
  (void)info;
  if (c == NULL) return -1;
  c->mode = mode_of(rs);
  *cs = c;
  return 0;
}
static void t_close(void* cs) {
  struct conn* c = cs;
  free(c->pending);
  free(c);
}
static size_t copy(const uint8_t* in, size_t in_len, uint8_t* out, size_t out_cap) {
  size_t n = in_len < out_cap ? in_len : out_cap;
  memcpy(out, in, n);
  return n;
}
static int t_transform(void* cs, int direction, const uint8_t* in, size_t in_len,
                       uint8_t* out, size_t out_cap, size_t* in_used, size_t* out_len,
                       uint32_t flags) {
  struct conn* c = cs;
  size_t i, n;
  (void)direction;
  switch (c->mode) {
    case GROW10:
      n = in_len < out_cap / 10 ? in_len : out_cap / 10;
      for (i = 0; i < n; ++i) memset(out + 10 * i, in[i], 10);
      *in_used = n;
      *out_len = 10 * n;
      return ARUS_FILTER_CONTINUE;
    case BURST:
      if (c->pending_off == c->pending_len && in_len > 0) {
        free(c->pending);
        c->pending = malloc(10 * in_len);
        if (c->pending == NULL) return ARUS_FILTER_ERROR;
        for (i = 0; i < in_len; ++i) memset(c->pending + 10 * i, in[i], 10);
        c->pending_len = 10 * in_len;
        c->pending_off = 0;
        *in_used = in_len;
      }
      n = copy(c->pending + c->pending_off, c->pending_len - c->pending_off, out, out_cap);
      c->pending_off += n;
      *out_len = n;
      return ARUS_FILTER_CONTINUE;
    case TRAILER:
      n = copy(in, in_len, out, out_cap);
      *in_used = n;
      *out_len = n;
      if ((flags & ARUS_FILTER_EOF) && n == in_len && !c->trailer_done[direction] &&
          out_cap - n >= 6) {
        memcpy(out + n, "<END>", 5);
        *out_len = n + 5;
        c->trailer_done[direction] = 1;
      }
      return ARUS_FILTER_CONTINUE;
    case OVERCLAIM:
      memset(out, '!', out_cap);
      *in_used = in_len;
      *out_len = out_cap + 100;
      return ARUS_FILTER_CONTINUE;
    case OVERUSE:
      *in_used = in_len + 1;
      return ARUS_FILTER_CONTINUE;
    case STUCK:
      return ARUS_FILTER_CONTINUE;
    case CLOSE_X:
    case ERROR_X:
      if (memchr(in, 'x', in_len) != NULL) {
        return c->mode == CLOSE_X ? ARUS_FILTER_CLOSE : ARUS_FILTER_ERROR;
      }
      n = copy(in, in_len, out, out_cap);
      *in_used = n;
      *out_len = n;
      return ARUS_FILTER_CONTINUE;
    default:
      return 9;
  }
}
static const struct arus_filter_api api = {
  ARUS_FILTER_ABI_VERSION, sizeof(struct arus_filter_api), "testfilter",
  t_create, t_destroy, t_open, t_close, t_transform};
ARUS_FILTER_EXPORT const struct arus_filter_api* arus_filter_entry(void) { return &api; }
)C";

class FilterStageTest : public ::testing::Test {
 protected:
  // Compiled and loaded once for the file.
  static void SetUpTestSuite() { filter_ = new CompiledFilter("testfilter.so", kTestFilterSource); }
  static void TearDownTestSuite() {
    delete filter_;
    filter_ = nullptr;
  }
  void SetUp() override { ASSERT_EQ(filter_->error(), ""); }
  const std::shared_ptr<const FilterPlugin>& test_filter() { return filter_->plugin(); }

  static CompiledFilter* filter_;
};
CompiledFilter* FilterStageTest::filter_ = nullptr;

TEST_F(FilterStageTest, FilterMayGrowItsOutputTenfold) {
  Harness h(test_filter(), "grow10");
  ASSERT_TRUE(h.ok());
  std::string input;
  for (size_t i = 0; i < FilterBuffers::kInputBytes; ++i) input += static_cast<char>('a' + i % 7);
  EXPECT_EQ(h.feed(kC2B, input).status, StageStatus::kOk);
  EXPECT_EQ(h.finish(kC2B).status, StageStatus::kOk);
  ASSERT_EQ(h.sent(kC2B).size(), 10 * input.size());
  for (size_t i = 0; i < input.size(); ++i) {
    ASSERT_EQ(h.sent(kC2B).substr(10 * i, 10), std::string(10, input[i])) << i;
  }
  EXPECT_TRUE(h.stage(kC2B).finished());
}

TEST_F(FilterStageTest, FilterMayKeepOutputOfItsOwnAndFillOut) {
  FilterBuffers small(64, 64, 4);
  Harness h(test_filter(), "burst", &small);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.feed(kC2B, "abcdefghij").status, StageStatus::kOk);
  // 100 bytes from 10: the stage called again with no new input while out was full.
  std::string expected;
  for (char c : std::string("abcdefghij")) expected += std::string(10, c);
  EXPECT_EQ(h.sent(kC2B), expected);
}

TEST_F(FilterStageTest, EofLetsTheFilterWriteATrailer) {
  Harness h(test_filter(), "trailer");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.finish(kB2C).status, StageStatus::kOk);  // an empty stream gets one too
  EXPECT_EQ(h.sent(kB2C), "<END>");
  EXPECT_TRUE(h.stage(kB2C).finished());
  EXPECT_EQ(h.feed(kC2B, "data").status, StageStatus::kOk);
  EXPECT_EQ(h.finish(kC2B).status, StageStatus::kOk);
  EXPECT_EQ(h.sent(kC2B), "data<END>");
}

TEST_F(FilterStageTest, ClaimingMoreOutputThanRoomBreaksOnlyThatConnection) {
  FilterBuffers small(64, 128, 4);
  Harness h(test_filter(), "overclaim", &small);
  ASSERT_TRUE(h.ok());
  StderrCapture log;
  StageResult r = h.feed(kC2B, "hello");
  std::string text = log.text();
  EXPECT_EQ(r.status, StageStatus::kBroken);
  EXPECT_STREQ(r.reason, "reported more output than out_cap");
  EXPECT_TRUE(h.stage(kC2B).next_output().kind == OutputPiece::Kind::kNone);
  EXPECT_TRUE(h.stage(kC2B).closed());
  EXPECT_FALSE(h.stage(kC2B).wants_input());
  EXPECT_EQ(small.output.outstanding(), 0u);
  EXPECT_NE(text.find("error filter broke its contract filter="), std::string::npos) << text;
  EXPECT_NE(text.find("direction=client_to_backend reason=\"reported more output than out_cap\""
                      " reported=228 allowed=128"),
            std::string::npos)
      << text;
}

TEST_F(FilterStageTest, ClaimingMoreInputThanGivenBreaks) {
  Harness h(test_filter(), "overuse");
  ASSERT_TRUE(h.ok());
  StderrCapture log;
  StageResult r = h.feed(kB2C, "abc");
  EXPECT_EQ(r.status, StageStatus::kBroken);
  EXPECT_STREQ(r.reason, "reported consuming more input than in_len");
}

TEST_F(FilterStageTest, NoProgressWithAFullInputBufferBreaks) {
  FilterBuffers small(64, 128, 4);
  Harness h(test_filter(), "stuck", &small);
  ASSERT_TRUE(h.ok());
  // Holding back part of the input is fine while more can come ...
  EXPECT_EQ(h.feed(kC2B, std::string(40, 'a')).status, StageStatus::kOk);
  EXPECT_TRUE(h.stage(kC2B).wants_input());
  // ... but not once the buffer is full and nothing is waiting to drain.
  StderrCapture log;
  StageResult r = h.feed(kC2B, std::string(24, 'a'));
  EXPECT_EQ(r.status, StageStatus::kBroken);
  EXPECT_STREQ(r.reason, "made no progress with a full input buffer");
}

TEST_F(FilterStageTest, NoProgressAtEofBreaks) {
  Harness h(test_filter(), "stuck");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.feed(kC2B, "tail").status, StageStatus::kOk);
  StderrCapture log;
  StageResult r = h.finish(kC2B);
  EXPECT_EQ(r.status, StageStatus::kBroken);
  EXPECT_STREQ(r.reason, "made no progress at end of stream");
}

TEST_F(FilterStageTest, CloseErrorAndUnknownVerdicts) {
  StderrCapture log;
  {
    Harness h(test_filter(), "close_x");
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(h.feed(kC2B, "abc").status, StageStatus::kOk);
    StageResult r = h.feed(kC2B, "defx");
    EXPECT_EQ(r.status, StageStatus::kClose);
    EXPECT_EQ(h.sent(kC2B), "abc");
  }
  {
    Harness h(test_filter(), "error_x");
    ASSERT_TRUE(h.ok());
    StageResult r = h.feed(kB2C, "x");
    EXPECT_EQ(r.status, StageStatus::kClose);
    EXPECT_STREQ(r.reason, "filter returned an error");
  }
  {
    Harness h(test_filter(), "verdict9");
    ASSERT_TRUE(h.ok());
    StageResult r = h.feed(kB2C, "x");
    EXPECT_EQ(r.status, StageStatus::kBroken);
    EXPECT_STREQ(r.reason, "returned an unknown verdict");
  }
  std::string text = log.text();
  EXPECT_NE(text.find("warn filter closed the connection"), std::string::npos) << text;
}

TEST_F(FilterStageTest, BackpressureStopsReadingWhileOutputIsPending) {
  FilterBuffers small(64, 256, 4);  // high water: 128 bytes of output
  Harness h(test_filter(), "grow10", &small);
  ASSERT_TRUE(h.ok());
  FilterStage& s = h.stage(kC2B);
  EXPECT_TRUE(s.wants_input());
  h.feed(kC2B, std::string(64, 'q'), /*drain=*/false);
  EXPECT_FALSE(s.wants_input());
  // Output is bounded by its buffer however much the filter could still produce.
  EXPECT_EQ(s.next_output().length, 250u);
  EXPECT_EQ(s.process().status, StageStatus::kOk);
  EXPECT_EQ(s.next_output().length, 250u);
  // Draining below the high-water mark lets the reader go on.
  s.consume_output(200);
  EXPECT_EQ(s.process().status, StageStatus::kOk);
  EXPECT_LE(s.pending_bytes(), 256u);
  h.pump_out(kC2B);
  EXPECT_TRUE(s.wants_input());
  EXPECT_EQ(s.pending_bytes(), 0u);
}

// A source that broke off (its socket reset) did not end its stream: the filter gets no
// EOF call, so it writes no trailer, and the sink gets no FIN (the connection passes the
// reset on). What the filter made of the bytes before is still delivered.
TEST_F(FilterStageTest, BufferedPumpAfterASourceResetWritesNoTrailerAndNoFin) {
  Harness h(test_filter(), "trailer");
  ASSERT_TRUE(h.ok());
  int source_pair[2];
  int sink_pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, source_pair), 0);
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sink_pair), 0);
  UniqueFd source_peer(source_pair[1]);
  UniqueFd sink_peer(sink_pair[1]);
  Endpoint source;
  Endpoint sink;
  source.fd = UniqueFd(source_pair[0]);
  sink.fd = UniqueFd(sink_pair[0]);
  source.readable = sink.writable = true;
  Flow flow;
  PipePool pipes(4, 0);

  ASSERT_EQ(::write(source_peer.get(), "last words", 10), 10);
  buffered_pump(source, sink, flow, h.stage(kC2B), pipes, 1 << 20);
  // What Connection does when the other direction found this source's socket failed;
  // the socket then reads as ended.
  flow.source_reset = true;
  ASSERT_EQ(::shutdown(source_peer.get(), SHUT_WR), 0);
  source.readable = true;
  PumpResult result = buffered_pump(source, sink, flow, h.stage(kC2B), pipes, 1 << 20);

  EXPECT_EQ(result.status, PumpStatus::kBlocked);
  EXPECT_TRUE(flow.done());
  char received[64];
  EXPECT_EQ(::read(sink_peer.get(), received, sizeof received), 10);
  EXPECT_EQ(std::string(received, 10), "last words") << "no <END> trailer after a reset";
  EXPECT_EQ(::read(sink_peer.get(), received, sizeof received), -1) << "and no FIN";
  EXPECT_EQ(errno, EAGAIN);
}

TEST(BufferPool, RecyclesUpToItsCap) {
  BufferPool pool(128, 1);
  {
    PooledBuffer a = pool.acquire();
    PooledBuffer b = pool.acquire();
    ASSERT_TRUE(a);
    ASSERT_TRUE(b);
    EXPECT_EQ(pool.outstanding(), 2u);
    a.data()[127] = 1;  // the whole block is usable (ASan checks the bound)
    PooledBuffer moved = std::move(b);
    EXPECT_FALSE(b);
    EXPECT_EQ(pool.outstanding(), 2u);
  }
  EXPECT_EQ(pool.outstanding(), 0u);
  EXPECT_EQ(pool.cached(), 1u);  // the second block was freed, not kept
  PooledBuffer c = pool.acquire();
  EXPECT_EQ(pool.cached(), 0u);
  c.reset();
  EXPECT_FALSE(c);
  EXPECT_EQ(pool.cached(), 1u);
}

}  // namespace
}  // namespace arus
