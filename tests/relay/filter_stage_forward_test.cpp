// Tests of the FORWARD verdict (filter.h): forwarded bytes leave unchanged and in order,
// from the input buffer (small reads) or the pipe (teed reads), mixed with transformed
// chunks, with a held-back tail, at EOF, with a slow sink, a FORWARD that also wrote
// output (a breach), the tee's pause ended by a forward; the host feature a filter tests
// first; and buffered_pump forwarding over real TCP.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <span>
#include <memory>
#include <string>

#include "../plugin/filter_harness.hpp"
#include "../plugin/filter_test_util.hpp"
#include "arus/filter.h"
#include "arus/relay/buffered_pump.hpp"
#include "arus/relay/filter_stage.hpp"
#include "buffered_pump_tcp.hpp"

namespace arus {
namespace {

using testing::CompiledFilter;
using testing::Harness;
using testing::kB2C;
using testing::kC2B;
using testing::StderrCapture;

// open() refuses a host without ARUS_HOST_FORWARD, so every Harness that opens proves
// the host offers it. filter_args picks a behaviour:
//   fwd       forwards all of `in`
//   fwdhold3  forwards all but the last 3 bytes, which it holds back until EOF
//   mixx      runs of 'x' become 'X' (CONTINUE, copied), everything else is forwarded
//   trailer   forwards; at EOF copies the rest and appends "END" (CONTINUE)
//   fwdout    forwards all of `in` and writes one byte too (a breach)
const std::string kForwardFilterSource = std::string(R"C(
#include <string.h>
#include "arus/filter.h"
static const char* names[] = {"fwd", "fwdhold3", "mixx", "trailer", "fwdout"};
)C") + testing::kTestFilterModes + R"C(
static int t_open(void* rs, const struct arus_conn_info* info, void** cs) {
  if (!arus_host_has(info, ARUS_HOST_FORWARD)) return -1;
  *cs = rs;
  return 0;
}
static void t_close(void* cs) { (void)cs; }
static int t_transform(void* cs, int direction, const uint8_t* in, size_t in_len,
                       uint8_t* out, size_t out_cap, size_t* in_used, size_t* out_len,
                       uint32_t flags) {
  size_t n = 0;
  int eof = (flags & ARUS_FILTER_EOF) != 0;
  const uint8_t* x;
  (void)direction;
  switch (mode_of(cs)) {
    case 0:
      *in_used = in_len;
      return ARUS_FILTER_FORWARD;
    case 1:
      *in_used = eof ? in_len : (in_len > 3 ? in_len - 3 : 0);
      return ARUS_FILTER_FORWARD;
    case 2:
      while (n < in_len && n < out_cap && in[n] == 'x') out[n++] = 'X';
      if (n > 0) {
        *in_used = *out_len = n;
        return ARUS_FILTER_CONTINUE;
      }
      x = memchr(in, 'x', in_len);
      *in_used = x != NULL ? (size_t)(x - in) : in_len;
      return ARUS_FILTER_FORWARD;
    case 3:
      if (!eof) {
        *in_used = in_len;
        return ARUS_FILTER_FORWARD;
      }
      if (in_len + 3 > out_cap) return ARUS_FILTER_CONTINUE; /* not in these tests */
      memcpy(out, in, in_len);
      memcpy(out + in_len, "END", 3);
      *in_used = in_len;
      *out_len = in_len + 3;
      return ARUS_FILTER_CONTINUE;
    default:
      *in_used = in_len;
      if (out_cap > 0) {
        out[0] = '!';
        *out_len = 1;
      }
      return ARUS_FILTER_FORWARD;
  }
}
static const struct arus_filter_api api = {
  ARUS_FILTER_ABI_VERSION, sizeof(struct arus_filter_api), "fwdfilter",
  t_create, t_destroy, t_open, t_close, t_transform};
ARUS_FILTER_EXPORT const struct arus_filter_api* arus_filter_entry(void) { return &api; }
)C";

// Bytes that differ from one position to the next (a-p), with an 'x' every `x_every`.
std::string pattern(size_t size, size_t x_every = 0) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    bytes[i] = x_every != 0 && i % x_every == x_every - 1 ? 'x' : static_cast<char>('a' + i % 16);
  }
  return bytes;
}

std::string upper_x(std::string bytes) {
  for (char& c : bytes) {
    if (c == 'x') c = 'X';
  }
  return bytes;
}

class FilterStageForwardTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    filter_ = new CompiledFilter("fwdfilter.so", kForwardFilterSource);
  }
  static void TearDownTestSuite() {
    delete filter_;
    filter_ = nullptr;
  }
  void SetUp() override { ASSERT_EQ(filter_->error(), ""); }
  const std::shared_ptr<const FilterPlugin>& filter() { return filter_->plugin(); }

  // Feeds `input` in pieces of `piece` bytes (each a read of its own), draining as it goes.
  void feed_pieces(Harness& h, int direction, const std::string& input, size_t piece, bool tee) {
    for (size_t off = 0; off < input.size(); off += piece) {
      ASSERT_EQ(h.feed(direction, input.substr(off, piece), kDrain, tee).status, StageStatus::kOk)
          << off;
    }
  }

  static constexpr bool kDrain = true;
  static constexpr bool kTee = true;

  FilterBuffers buffers_;  // the relay's sizes: reads under 16 KiB are not teed
  static CompiledFilter* filter_;
};
CompiledFilter* FilterStageForwardTest::filter_ = nullptr;

TEST(HostFeatures, AnOlderHostsShorterInfoOffersNothing) {
  arus_conn_info info{};
  info.host_features = ARUS_HOST_FORWARD;
  info.struct_size = sizeof info;
  EXPECT_TRUE(arus_host_has(&info, ARUS_HOST_FORWARD));
  info.struct_size = offsetof(arus_conn_info, host_features);  // as version 1's first hosts
  EXPECT_FALSE(arus_host_has(&info, ARUS_HOST_FORWARD));
  EXPECT_FALSE(arus_host_has(nullptr, ARUS_HOST_FORWARD));
}

TEST_F(FilterStageForwardTest, SmallReadsAreSentFromTheInputBuffer) {
  Harness h(filter(), "fwd", &buffers_);
  ASSERT_TRUE(h.ok());
  const std::string input = pattern(50 * 1000);
  feed_pieces(h, kC2B, input, 1000, kTee);
  EXPECT_EQ(h.finish(kC2B).status, StageStatus::kOk);
  EXPECT_TRUE(h.sent(kC2B) == input) << "bytes lost, changed or out of order";
  EXPECT_EQ(h.sent_spliced(kC2B), 0u);  // no read was large enough to tee
  EXPECT_TRUE(h.stage(kC2B).finished());
  EXPECT_EQ(buffers_.input.outstanding(), 0u);
  EXPECT_EQ(buffers_.output.outstanding(), 0u);
}

TEST_F(FilterStageForwardTest, LargeReadsAreSplicedFromThePipe) {
  Harness h(filter(), "fwd", &buffers_);
  ASSERT_TRUE(h.ok());
  const std::string input = pattern(1 << 20);
  EXPECT_EQ(h.feed(kB2C, input, kDrain, kTee).status, StageStatus::kOk);
  EXPECT_EQ(h.finish(kB2C).status, StageStatus::kOk);
  EXPECT_TRUE(h.sent(kB2C) == input) << "bytes lost, changed or out of order";
  // Every read after the first (which nothing said would pay) went through the pipe.
  EXPECT_EQ(h.sent_spliced(kB2C), input.size() - FilterBuffers::kInputBytes);
  EXPECT_EQ(h.dropped(kB2C), 0u);
  EXPECT_EQ(h.stage(kB2C).pipe_bytes(), 0u);
  EXPECT_EQ(buffers_.input.outstanding(), 0u);
  EXPECT_EQ(buffers_.output.outstanding(), 0u);
}

TEST_F(FilterStageForwardTest, ForwardedAndTransformedChunksKeepTheirOrder) {
  for (bool tee : {false, true}) {
    for (size_t piece : {size_t{700}, size_t{64 * 1024}}) {
      Harness h(filter(), "mixx", &buffers_);
      ASSERT_TRUE(h.ok());
      const std::string input = pattern(600 * 1000, 997);
      feed_pieces(h, kC2B, input, piece, tee);
      EXPECT_EQ(h.finish(kC2B).status, StageStatus::kOk);
      EXPECT_TRUE(h.sent(kC2B) == upper_x(input)) << "tee " << tee << " piece " << piece;
      EXPECT_EQ(h.sent_copied(kC2B) + h.sent_spliced(kC2B), input.size());
      if (tee && piece > buffers_.tee_min_read) {
        EXPECT_GT(h.sent_spliced(kC2B), 0u);
      }
    }
  }
}

TEST_F(FilterStageForwardTest, AHeldBackTailFollowsAtEof) {
  Harness h(filter(), "fwdhold3", &buffers_);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.feed(kC2B, "abcdef").status, StageStatus::kOk);
  EXPECT_EQ(h.sent(kC2B), "abc");
  EXPECT_EQ(h.feed(kC2B, "gh").status, StageStatus::kOk);
  EXPECT_EQ(h.sent(kC2B), "abcde");
  EXPECT_FALSE(h.stage(kC2B).finished());
  EXPECT_EQ(h.finish(kC2B).status, StageStatus::kOk);
  EXPECT_EQ(h.sent(kC2B), "abcdefgh");
  EXPECT_TRUE(h.stage(kC2B).finished());
  EXPECT_EQ(buffers_.input.outstanding(), 0u);
}

TEST_F(FilterStageForwardTest, ATrailerAfterForwardedBytesAtEof) {
  Harness h(filter(), "trailer", &buffers_);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.feed(kB2C, "hello ").status, StageStatus::kOk);
  EXPECT_EQ(h.feed(kB2C, "world").status, StageStatus::kOk);
  EXPECT_EQ(h.finish(kB2C).status, StageStatus::kOk);
  EXPECT_EQ(h.sent(kB2C), "hello worldEND");
  EXPECT_TRUE(h.stage(kB2C).finished());
}

// A sink that takes at most 200 bytes at a time, reads of 300: forwarded bytes wait in
// the input buffer while more is read behind them (and a tail is held back), and the
// buffer is compacted under them. Small blocks so that happens often.
TEST_F(FilterStageForwardTest, ForwardedBytesWaitForASlowSink) {
  FilterBuffers small(1024, 2048);
  Harness h(filter(), "fwdhold3", &small);
  ASSERT_TRUE(h.ok());
  FilterStage& s = h.stage(kC2B);
  const std::string input = pattern(100 * 1000);
  std::string sent;
  size_t off = 0;
  for (int guard = 0; !s.finished() && guard < 100000; ++guard) {
    if (off < input.size() && s.wants_input()) {
      std::span<uint8_t> room = s.writable_input();
      ASSERT_FALSE(room.empty());
      const size_t n = std::min({room.size(), size_t{300}, input.size() - off});
      std::copy_n(input.data() + off, n, room.data());
      s.commit_input(n);
      off += n;
      if (off == input.size()) s.commit_eof();
    }
    ASSERT_EQ(s.process().status, StageStatus::kOk);
    OutputPiece piece = s.next_output();
    if (piece.kind == OutputPiece::Kind::kNone) continue;
    ASSERT_EQ(piece.kind, OutputPiece::Kind::kBytes);  // no tee here: all from buffers
    const size_t taken = std::min<size_t>(piece.bytes.size(), 200);
    sent.append(reinterpret_cast<const char*>(piece.bytes.data()), taken);
    s.consume_output(taken);
    ASSERT_EQ(s.process().status, StageStatus::kOk);
  }
  EXPECT_TRUE(s.finished());
  EXPECT_EQ(sent.size(), input.size());
  EXPECT_TRUE(sent == input) << "bytes lost, changed or out of order";
  EXPECT_EQ(small.input.outstanding(), 0u);
  EXPECT_EQ(small.output.outstanding(), 0u);
}

TEST_F(FilterStageForwardTest, ForwardWithOutputBreaksTheContract) {
  Harness h(filter(), "fwdout", &buffers_);
  ASSERT_TRUE(h.ok());
  StderrCapture capture;
  StageResult r = h.feed(kC2B, "abc");
  std::string log = capture.text();
  EXPECT_EQ(r.status, StageStatus::kBroken);
  EXPECT_TRUE(h.stage(kC2B).closed());
  EXPECT_EQ(h.sent(kC2B), "");
  EXPECT_NE(log.find("filter broke its contract"), std::string::npos) << log;
  EXPECT_NE(log.find("returned FORWARD with output (out_len must be 0)"), std::string::npos)
      << log;
  EXPECT_NE(log.find("reported=1 allowed=0"), std::string::npos) << log;
  EXPECT_EQ(buffers_.input.outstanding(), 0u);
}

// Four changed calls in a row pause the tee; a forward says the bytes pass through
// again, so the next large read is teed at once.
TEST_F(FilterStageForwardTest, AForwardEndsTheTeesPause) {
  buffers_.tee_min_read = 0;  // tee every read the books allow, however small
  Harness h(filter(), "mixx", &buffers_);
  ASSERT_TRUE(h.ok());
  FilterStage& s = h.stage(kC2B);
  for (unsigned i = 0; i < FilterStage::kTeeMaxChangedCalls; ++i) {
    EXPECT_EQ(h.feed(kC2B, "xxxx", kDrain, kTee).status, StageStatus::kOk);
  }
  EXPECT_FALSE(s.tee_next_read());
  EXPECT_EQ(h.feed(kC2B, "abcd", kDrain, kTee).status, StageStatus::kOk);  // a plain read
  EXPECT_TRUE(s.tee_next_read());
  EXPECT_EQ(h.feed(kC2B, "efgh", kDrain, kTee).status, StageStatus::kOk);
  EXPECT_EQ(h.sent_spliced(kC2B), 4u);
  EXPECT_EQ(h.sent(kC2B), "XXXXXXXXXXXXXXXXabcdefgh");
}

// buffered_pump over real TCP (buffered_pump_tcp.hpp), the backend reading slowly.
class BufferedPumpForwardTcpTest : public FilterStageForwardTest, public test::BufferedPumpTcp {};

TEST_F(BufferedPumpForwardTcpTest, LargeReadsArriveWholeAndThePipesGoBack) {
  connect();
  Harness h(filter(), "fwd", &buffers_);
  ASSERT_TRUE(h.ok());
  PipePool pipes(8, 0);
  const std::string input = pattern(4 << 20);
  std::string received = relay(h.stage(kC2B), pipes, input);
  EXPECT_EQ(received.size(), input.size());
  EXPECT_TRUE(received == input) << "bytes lost or out of order";
  EXPECT_TRUE(flow_.done());
  EXPECT_FALSE(flow_.pipe.valid()) << "an empty pipe goes back to the pool";
  EXPECT_EQ(pipes.pooled(), pipes.created()) << "every pipe made went back";
}

TEST_F(BufferedPumpForwardTcpTest, SmallSendsAndTransformedRunsArriveExact) {
  connect();
  Harness h(filter(), "mixx", &buffers_);
  ASSERT_TRUE(h.ok());
  PipePool pipes(8, 4096);  // one page each: tees come up short, reads split
  const std::string input = pattern(1 << 20, 4099);
  std::string received = relay(h.stage(kC2B), pipes, input, /*send_chunk=*/1500);
  EXPECT_EQ(received.size(), input.size());
  EXPECT_TRUE(received == upper_x(input)) << "bytes lost, unchanged or out of order";
  EXPECT_TRUE(flow_.done());
  EXPECT_FALSE(flow_.pipe.valid());
}

}  // namespace
}  // namespace arus
