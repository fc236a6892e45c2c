// Tests of FilterStage's books for unchanged output sent from the direction's pipe (tee):
// partial consumption, hold-back then release, output longer or shorter, a changed piece
// among unchanged ones, hand-back with piped input, the adaptive stop; and of
// buffered_pump doing it over real TCP with real pipes.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "../plugin/filter_harness.hpp"
#include "../plugin/filter_test_util.hpp"
#include "buffered_pump_tcp.hpp"
#include "arus/relay/buffered_pump.hpp"
#include "arus/relay/filter_stage.hpp"

namespace arus {
namespace {

using testing::CompiledFilter;
using testing::Harness;
using testing::kB2C;
using testing::kC2B;
using testing::StderrCapture;

// filter_args picks a behaviour:
//   pass       copies what fits; CLOSE on a 'q'
//   half       consumes and copies half of the input (at least a byte)
//   hold3      copies all but the last 3 bytes, which it holds back until EOF
//   swapx      copies, turning every 'x' into 'X' (same length, changed bytes)
//   dropz      copies all but the 'z' bytes (shorter output)
//   dup        every byte twice (longer output); consumes only what fits
//   handback4  waits for 4 bytes, copies them and hands the direction back
const std::string kTeeFilterSource = std::string(R"C(
#include <stdlib.h>
#include <string.h>
#include "arus/filter.h"
static const char* names[] = {"pass", "half", "hold3", "swapx", "dropz", "dup", "handback4"};
)C") + testing::kTestFilterModes + R"C(
static int t_open(void* rs, const struct arus_conn_info* info, void** cs) {
  (void)info;
  *cs = rs;
  return 0;
}
static void t_close(void* cs) { (void)cs; }
static size_t min(size_t a, size_t b) { return a < b ? a : b; }
static int t_transform(void* cs, int direction, const uint8_t* in, size_t in_len,
                       uint8_t* out, size_t out_cap, size_t* in_used, size_t* out_len,
                       uint32_t flags) {
  size_t i, n, w = 0;
  int eof = (flags & ARUS_FILTER_EOF) != 0;
  (void)direction;
  switch (mode_of(cs)) {
    case 0:
      if (memchr(in, 'q', in_len) != NULL) return ARUS_FILTER_CLOSE;
      n = min(in_len, out_cap);
      break;
    case 1:
      n = min(in_len > 1 ? in_len / 2 : in_len, out_cap);
      break;
    case 2:
      n = eof ? in_len : (in_len > 3 ? in_len - 3 : 0);
      n = min(n, out_cap);
      break;
    case 3:
      n = min(in_len, out_cap);
      for (i = 0; i < n; ++i) out[i] = in[i] == 'x' ? 'X' : in[i];
      *in_used = *out_len = n;
      return ARUS_FILTER_CONTINUE;
    case 4:
      n = min(in_len, out_cap);
      for (i = 0; i < n; ++i) {
        if (in[i] != 'z') out[w++] = in[i];
      }
      *in_used = n;
      *out_len = w;
      return ARUS_FILTER_CONTINUE;
    case 5:
      n = min(in_len, out_cap / 2);
      for (i = 0; i < n; ++i) out[2 * i] = out[2 * i + 1] = in[i];
      *in_used = n;
      *out_len = 2 * n;
      return ARUS_FILTER_CONTINUE;
    default:
      if (in_len < 4 && !eof) return ARUS_FILTER_CONTINUE;
      n = min(in_len, 4);
      memcpy(out, in, n);
      *in_used = *out_len = n;
      return ARUS_FILTER_HAND_BACK;
  }
  memcpy(out, in, n);
  *in_used = n;
  *out_len = n;
  return ARUS_FILTER_CONTINUE;
}
static const struct arus_filter_api api = {
  ARUS_FILTER_ABI_VERSION, sizeof(struct arus_filter_api), "teefilter",
  t_create, t_destroy, t_open, t_close, t_transform};
ARUS_FILTER_EXPORT const struct arus_filter_api* arus_filter_entry(void) { return &api; }
)C";

std::string pattern(size_t size) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>('a' + i % 16);  // a-p: no q, x, z
  return bytes;
}

class FilterStageTeeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { filter_ = new CompiledFilter("teefilter.so", kTeeFilterSource); }
  static void TearDownTestSuite() {
    delete filter_;
    filter_ = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(filter_->error(), "");
    buffers_.tee_min_read = 0;  // tee every read the books allow, however small
  }
  const std::shared_ptr<const FilterPlugin>& filter() { return filter_->plugin(); }

  static constexpr bool kDrain = true;
  static constexpr bool kTee = true;

  FilterBuffers buffers_;
  static CompiledFilter* filter_;
};
CompiledFilter* FilterStageTeeTest::filter_ = nullptr;

TEST_F(FilterStageTeeTest, PassThroughGoesFromThePipeOnly) {
  Harness h(filter(), "pass", &buffers_);
  ASSERT_TRUE(h.ok());
  std::string input = pattern(300 * 1024);
  EXPECT_EQ(h.feed(kC2B, input, kDrain, kTee).status, StageStatus::kOk);
  EXPECT_EQ(h.finish(kC2B).status, StageStatus::kOk);
  EXPECT_TRUE(h.sent(kC2B) == input);
  EXPECT_EQ(h.sent_spliced(kC2B), input.size());
  EXPECT_EQ(h.sent_copied(kC2B), 0u);
  EXPECT_EQ(h.dropped(kC2B), 0u);
  EXPECT_TRUE(h.stage(kC2B).finished());
  EXPECT_EQ(h.stage(kC2B).pipe_bytes(), 0u);
  EXPECT_EQ(buffers_.input.outstanding(), 0u);
  EXPECT_EQ(buffers_.output.outstanding(), 0u);
}

TEST_F(FilterStageTeeTest, PartialConsumptionStillSplicesWhatWasConsumed) {
  Harness h(filter(), "half", &buffers_);
  ASSERT_TRUE(h.ok());
  std::string input = pattern(5000);
  EXPECT_EQ(h.feed(kB2C, input, kDrain, kTee).status, StageStatus::kOk);
  EXPECT_EQ(h.finish(kB2C).status, StageStatus::kOk);
  EXPECT_TRUE(h.sent(kB2C) == input);
  EXPECT_EQ(h.sent_spliced(kB2C), input.size());
  EXPECT_EQ(h.sent_copied(kB2C), 0u);
}

// Held-back bytes stay in the pipe; a plain read behind them is sent from the buffer.
TEST_F(FilterStageTeeTest, HoldBackThenReleaseAcrossPipedAndPlainReads) {
  Harness h(filter(), "hold3", &buffers_);
  ASSERT_TRUE(h.ok());
  FilterStage& s = h.stage(kC2B);
  EXPECT_EQ(h.feed(kC2B, "abcdef", kDrain, kTee).status, StageStatus::kOk);
  EXPECT_EQ(h.sent(kC2B), "abc");
  EXPECT_EQ(h.pipe(kC2B), "def");  // held back, still in the pipe
  EXPECT_EQ(s.pipe_bytes(), 3u);
  EXPECT_EQ(h.feed(kC2B, "gh").status, StageStatus::kOk);  // a plain read
  EXPECT_EQ(h.sent(kC2B), "abcde");
  // "f" is piped, "gh" behind it is not: a teed read would put its bytes after "f".
  EXPECT_FALSE(s.tee_next_read());
  EXPECT_EQ(h.finish(kC2B).status, StageStatus::kOk);
  EXPECT_EQ(h.sent(kC2B), "abcdefgh");
  EXPECT_EQ(h.sent_spliced(kC2B), 6u);
  EXPECT_EQ(h.sent_copied(kC2B), 2u);
  EXPECT_TRUE(h.pipe(kC2B).empty());
}

TEST_F(FilterStageTeeTest, PlainBytesBeforeAndAfterThePipedOnesInOneCall) {
  Harness h(filter(), "hold3", &buffers_);
  ASSERT_TRUE(h.ok());
  FilterStage& s = h.stage(kC2B);
  EXPECT_EQ(h.feed(kC2B, "ab").status, StageStatus::kOk);  // plain, held back
  EXPECT_TRUE(s.tee_next_read());  // nothing piped yet: a teed read may follow
  EXPECT_EQ(h.feed(kC2B, "c", kDrain, kTee).status, StageStatus::kOk);
  EXPECT_EQ(h.pipe(kC2B), "c");
  EXPECT_EQ(h.feed(kC2B, "d").status, StageStatus::kOk);  // plain, behind the piped "c"
  EXPECT_EQ(h.sent(kC2B), "a");
  // The EOF call consumes "bcd" at once: "b" and "d" from the buffer, "c" from the pipe.
  EXPECT_EQ(h.finish(kC2B).status, StageStatus::kOk);
  EXPECT_EQ(h.sent(kC2B), "abcd");
  EXPECT_EQ(h.sent_spliced(kC2B), 1u);
  EXPECT_EQ(h.sent_copied(kC2B), 3u);
  EXPECT_TRUE(s.finished());
}

TEST_F(FilterStageTeeTest, AChangedPieceAmongUnchangedOnes) {
  Harness h(filter(), "swapx", &buffers_);
  ASSERT_TRUE(h.ok());
  // Not drained between reads: the queue holds pipe, drop, bytes, pipe in that order.
  for (const char* chunk : {"aaaa", "bxbb", "cccc"}) {
    EXPECT_EQ(h.feed(kC2B, chunk, !kDrain, kTee).status, StageStatus::kOk);
  }
  EXPECT_EQ(h.stage(kC2B).next_output().kind, OutputPiece::Kind::kPipe);
  h.pump_out(kC2B);
  EXPECT_EQ(h.sent(kC2B), "aaaabXbbcccc");
  EXPECT_EQ(h.sent_spliced(kC2B), 8u);
  EXPECT_EQ(h.sent_copied(kC2B), 4u);
  EXPECT_EQ(h.dropped(kC2B), 4u);
  EXPECT_TRUE(h.pipe(kC2B).empty());
}

TEST_F(FilterStageTeeTest, LongerAndShorterOutputIsSentAndItsInputDropped) {
  Harness h(filter(), "dup", &buffers_);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.feed(kC2B, "abc", kDrain, kTee).status, StageStatus::kOk);
  EXPECT_EQ(h.sent(kC2B), "aabbcc");
  EXPECT_EQ(h.dropped(kC2B), 3u);
  EXPECT_EQ(h.sent_spliced(kC2B), 0u);

  Harness shrink(filter(), "dropz", &buffers_);
  ASSERT_TRUE(shrink.ok());
  EXPECT_EQ(shrink.feed(kB2C, "abzc", kDrain, kTee).status, StageStatus::kOk);
  EXPECT_EQ(shrink.feed(kB2C, "def", kDrain, kTee).status, StageStatus::kOk);
  EXPECT_EQ(shrink.sent(kB2C), "abcdef");
  EXPECT_EQ(shrink.dropped(kB2C), 4u);
  EXPECT_EQ(shrink.sent_spliced(kB2C), 3u);
  EXPECT_TRUE(shrink.pipe(kB2C).empty());
}

// Partial tees (a pipe short of slots) leave the rest of a read to the output buffer.
TEST_F(FilterStageTeeTest, AReadOnlyPartlyInThePipe) {
  Harness h(filter(), "pass", &buffers_);
  ASSERT_TRUE(h.ok());
  std::string input = pattern(10000);
  EXPECT_EQ(h.feed(kC2B, input, kDrain, kTee, /*tee_limit=*/700).status, StageStatus::kOk);
  EXPECT_TRUE(h.sent(kC2B) == input);
  EXPECT_EQ(h.sent_spliced(kC2B), 700u);
  EXPECT_EQ(h.sent_copied(kC2B), input.size() - 700);
}

TEST_F(FilterStageTeeTest, HandBackSendsPipedAndPlainInputInOrder) {
  Harness h(filter(), "handback4", &buffers_);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.feed(kC2B, "abcdefgh", kDrain, kTee).status, StageStatus::kHandBack);
  EXPECT_EQ(h.sent(kC2B), "abcdefgh");
  EXPECT_EQ(h.sent_spliced(kC2B), 8u);
  EXPECT_TRUE(h.stage(kC2B).ready_for_splice());

  Harness mixed(filter(), "handback4", &buffers_);
  ASSERT_TRUE(mixed.ok());
  EXPECT_EQ(mixed.feed(kB2C, "ab", kDrain, kTee).status, StageStatus::kOk);
  EXPECT_EQ(mixed.feed(kB2C, "cdefgh").status, StageStatus::kHandBack);  // plain
  EXPECT_EQ(mixed.sent(kB2C), "abcdefgh");
  EXPECT_EQ(mixed.sent_spliced(kB2C), 2u);
  EXPECT_EQ(mixed.sent_copied(kB2C), 6u);
  EXPECT_TRUE(mixed.stage(kB2C).ready_for_splice());
}

TEST_F(FilterStageTeeTest, CloseForgetsWhatThePipeHeld) {
  StderrCapture quiet;
  Harness h(filter(), "pass", &buffers_);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.feed(kC2B, "abc", !kDrain, kTee).status, StageStatus::kOk);
  EXPECT_EQ(h.stage(kC2B).pipe_bytes(), 3u);
  EXPECT_EQ(h.feed(kC2B, "q", !kDrain, kTee).status, StageStatus::kClose);
  EXPECT_EQ(h.stage(kC2B).pipe_bytes(), 0u);
  EXPECT_EQ(h.stage(kC2B).next_output().kind, OutputPiece::Kind::kNone);
  EXPECT_FALSE(h.stage(kC2B).tee_next_read());
}

// More alternating pieces than the queue has slots: the filter waits for the sink.
TEST_F(FilterStageTeeTest, ManyAlternatingPiecesWaitForTheQueue) {
  Harness h(filter(), "swapx", &buffers_);
  ASSERT_TRUE(h.ok());
  std::string input;
  std::string expected;
  for (int i = 0; i < 40; ++i) {
    const char* chunk = i % 2 ? "x1" : "ab";
    input += chunk;
    expected += i % 2 ? "X1" : "ab";
    EXPECT_EQ(h.feed(kC2B, chunk, !kDrain, kTee).status, StageStatus::kOk);
  }
  h.pump_out(kC2B);
  EXPECT_EQ(h.sent(kC2B), expected);
  EXPECT_GT(h.sent_spliced(kC2B), 0u);
  EXPECT_GT(h.dropped(kC2B), 0u);
  EXPECT_TRUE(h.pipe(kC2B).empty());
}

TEST_F(FilterStageTeeTest, AFilterThatChangesItsBytesStopsTheTeeForAWhile) {
  Harness h(filter(), "swapx", &buffers_);
  ASSERT_TRUE(h.ok());
  FilterStage& s = h.stage(kC2B);
  for (unsigned i = 0; i < FilterStage::kTeeMaxChangedCalls; ++i) {
    EXPECT_TRUE(s.tee_next_read()) << i;
    EXPECT_EQ(h.feed(kC2B, "xxxx", kDrain, kTee).status, StageStatus::kOk);
  }
  EXPECT_FALSE(s.tee_next_read());
  const size_t dropped = h.dropped(kC2B);
  EXPECT_EQ(dropped, 4u * FilterStage::kTeeMaxChangedCalls);
  // Plain reads until kTeeRetryBytes went by, then the tee is tried again.
  std::string plain(FilterStage::kTeeRetryBytes, 'a');
  EXPECT_EQ(h.feed(kC2B, plain, kDrain, kTee).status, StageStatus::kOk);
  EXPECT_EQ(h.dropped(kC2B), dropped);
  EXPECT_EQ(h.sent_spliced(kC2B), 0u);
  EXPECT_TRUE(s.tee_next_read());
  EXPECT_EQ(h.feed(kC2B, "abc", kDrain, kTee).status, StageStatus::kOk);
  EXPECT_EQ(h.sent_spliced(kC2B), 3u);
}

TEST_F(FilterStageTeeTest, SmallReadsAreNotTeed) {
  FilterBuffers defaults;
  Harness h(filter(), "pass", &defaults);
  ASSERT_TRUE(h.ok());
  EXPECT_FALSE(h.stage(kC2B).tee_next_read());  // no read yet: nothing says it pays
  EXPECT_EQ(h.feed(kC2B, "small", kDrain, kTee).status, StageStatus::kOk);
  EXPECT_FALSE(h.stage(kC2B).tee_next_read());
  EXPECT_EQ(h.feed(kC2B, pattern(defaults.tee_min_read), kDrain, kTee).status, StageStatus::kOk);
  EXPECT_TRUE(h.stage(kC2B).tee_next_read());
  EXPECT_EQ(h.sent_spliced(kC2B), 0u);
}

// buffered_pump over real TCP (buffered_pump_tcp.hpp).
class BufferedPumpTeeTcpTest : public FilterStageTeeTest, public test::BufferedPumpTcp {
 protected:
  void connect_all() { connect(); }
};

TEST_F(BufferedPumpTeeTcpTest, PassThroughStreamArrivesWholeAndThePipeGoesBack) {
  connect_all();
  Harness h(filter(), "pass", &buffers_);
  ASSERT_TRUE(h.ok());
  PipePool pipes(8, 0);
  std::string input = pattern(4 << 20);
  std::string received = relay(h.stage(kC2B), pipes, input);
  EXPECT_EQ(received.size(), input.size());
  EXPECT_TRUE(received == input) << "bytes lost or out of order";
  EXPECT_TRUE(flow_.done());
  EXPECT_FALSE(flow_.pipe.valid()) << "an empty pipe goes back to the pool";
  EXPECT_GT(pipes.created(), 0u) << "the tee path was not taken";
  EXPECT_EQ(pipes.pooled(), pipes.created()) << "every pipe made went back";
}

TEST_F(BufferedPumpTeeTcpTest, OneSlotPipesAndAChangedMiddleArriveExact) {
  connect_all();
  Harness h(filter(), "swapx", &buffers_);
  ASSERT_TRUE(h.ok());
  PipePool pipes(8, 4096);  // one page each: tees come up short, reads split
  std::string input = pattern(1 << 20);
  std::string expected = input;
  for (size_t i = 500000; i < 500100; ++i) input[i] = expected[i] = 'x';
  for (size_t i = 500000; i < 500100; ++i) expected[i] = 'X';
  std::string received = relay(h.stage(kC2B), pipes, input);
  EXPECT_EQ(received.size(), expected.size());
  EXPECT_TRUE(received == expected) << "bytes lost, unchanged or out of order";
  EXPECT_TRUE(flow_.done());
  EXPECT_FALSE(flow_.pipe.valid());
}

// splice stops at a TCP urgent mark; the teed reads fall back to read(), which takes the
// urgent byte in line (SO_OOBINLINE), as the filter path always did.
TEST_F(BufferedPumpTeeTcpTest, UrgentByteAmidTeedReadsArrivesInLine) {
  connect_all();
  Harness h(filter(), "pass", &buffers_);
  ASSERT_TRUE(h.ok());
  PipePool pipes(8, 0);
  const std::string before = pattern(200000);
  size_t sent = 0;
  while (sent < before.size()) {  // the socket buffer may take less than all at once
    ssize_t n = ::send(client_.get(), before.data() + sent, before.size() - sent, MSG_NOSIGNAL);
    ASSERT_GT(n, 0);
    sent += static_cast<size_t>(n);
  }
  ASSERT_EQ(::send(client_.get(), "!", 1, MSG_OOB), 1);
  const std::string after = "after the mark";
  std::string received = relay(h.stage(kC2B), pipes, after);
  EXPECT_EQ(received.size(), before.size() + 1 + after.size());
  EXPECT_TRUE(received == before + "!" + after) << "bytes lost or out of order at the mark";
  EXPECT_GT(pipes.created(), 0u) << "the tee path was not taken";
}

}  // namespace
}  // namespace arus
