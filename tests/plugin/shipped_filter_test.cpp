// Tests of the shipped filter, c_plugins/filter.c (upper, block=WORD, sniff=N and its
// argument errors), run through FilterStage as the relay runs it; and its FORWARD verdict
// where it only inspects, with the copying fallback on an older host.
#include <gtest/gtest.h>

#include <cctype>
#include <cstddef>
#include <string>
#include <thread>
#include <vector>

#include "filter_harness.hpp"
#include "filter_test_util.hpp"

namespace arus {
namespace {

using testing::Harness;
using testing::kB2C;
using testing::kC2B;
using testing::source_root;
using testing::StderrCapture;

class ShippedFilterTest : public ::testing::Test {
 protected:
  // The real c_plugins/filter.so, as `make` builds it; loaded once for the file.
  static void SetUpTestSuite() {
    auto loaded = load_filter((source_root() / "c_plugins").string(), "filter.so");
    if (loaded.ok()) {
      plugin_ = new std::shared_ptr<const FilterPlugin>(*loaded);
    } else {
      error_ = new std::string(loaded.error().message + " (build it first: make build-plugin)");
    }
  }
  static void TearDownTestSuite() {
    delete plugin_;
    delete error_;
    plugin_ = nullptr;
    error_ = nullptr;
  }
  void SetUp() override { ASSERT_EQ(error_, nullptr) << *error_; }
  const std::shared_ptr<const FilterPlugin>& shipped() { return *plugin_; }

  static std::shared_ptr<const FilterPlugin>* plugin_;
  static std::string* error_;
};
std::shared_ptr<const FilterPlugin>* ShippedFilterTest::plugin_ = nullptr;
std::string* ShippedFilterTest::error_ = nullptr;

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

TEST_F(ShippedFilterTest, UpperBothDirections) {
  Harness h(shipped(), "upper");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.feed(kC2B, "Hello, World! 123 zz\xe9").status, StageStatus::kOk);
  EXPECT_EQ(h.feed(kB2C, "get /index.html").status, StageStatus::kOk);
  EXPECT_EQ(h.sent(kC2B), "HELLO, WORLD! 123 ZZ\xe9");
  EXPECT_EQ(h.sent(kB2C), "GET /INDEX.HTML");
  EXPECT_EQ(h.finish(kC2B).status, StageStatus::kOk);
  EXPECT_TRUE(h.stage(kC2B).finished());
  EXPECT_FALSE(h.stage(kB2C).finished());
}

TEST_F(ShippedFilterTest, UpperStreamsThroughSmallBuffers) {
  FilterBuffers small(64, 100, 4);
  Harness h(shipped(), "upper", &small);
  ASSERT_TRUE(h.ok());
  std::string text;
  for (int i = 0; i < 5000; ++i) text += static_cast<char>('a' + i % 26);
  EXPECT_EQ(h.feed(kC2B, text).status, StageStatus::kOk);
  EXPECT_EQ(h.fed(kC2B), text.size());
  EXPECT_EQ(h.sent(kC2B), upper(text));
  // Nothing pending: an idle connection holds no buffer.
  EXPECT_EQ(small.input.outstanding(), 0u);
  EXPECT_EQ(small.output.outstanding(), 0u);
}

TEST_F(ShippedFilterTest, BlockWordSplitAcrossTwoReads) {
  StderrCapture quiet;  // the close is logged; keep the test output clean
  Harness h(shipped(), "block=SECRET");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.feed(kC2B, "abcSEC").status, StageStatus::kOk);
  EXPECT_EQ(h.sent(kC2B), "abc");  // "SEC" held back: it may be the start of SECRET
  EXPECT_EQ(h.buffers().input.outstanding(), 1u);  // only what is held back is held
  EXPECT_EQ(h.buffers().output.outstanding(), 0u);
  StageResult r = h.feed(kC2B, "RETxyz");
  EXPECT_EQ(r.status, StageStatus::kClose);
  EXPECT_STREQ(r.reason, "filter asked to close the connection");
  EXPECT_EQ(h.sent(kC2B), "abc");
  EXPECT_TRUE(h.stage(kC2B).next_output().kind == OutputPiece::Kind::kNone);
  EXPECT_EQ(h.stage(kC2B).process().status, StageStatus::kClose);  // final
}

TEST_F(ShippedFilterTest, BlockWordSplitAcrossThreeReads) {
  Harness h(shipped(), "block=SECRET");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.feed(kC2B, "xxSE").status, StageStatus::kOk);
  EXPECT_EQ(h.sent(kC2B), "xx");
  EXPECT_EQ(h.feed(kC2B, "CR").status, StageStatus::kOk);
  EXPECT_EQ(h.sent(kC2B), "xx");
  StderrCapture log;
  EXPECT_EQ(h.feed(kC2B, "ETyy").status, StageStatus::kClose);
  EXPECT_EQ(h.sent(kC2B), "xx");
  std::string text = log.text();
  EXPECT_NE(text.find("msg=\"blocked: client sent the block word\""), std::string::npos) << text;
  EXPECT_NE(text.find("info filter closed the connection filter=" +
                      (source_root() / "c_plugins/filter.so").string()),
            std::string::npos)
      << text;
}

TEST_F(ShippedFilterTest, BlockReleasesAPartialMatchThatFails) {
  Harness h(shipped(), "block=SECRET");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.feed(kC2B, "abSEC").status, StageStatus::kOk);
  EXPECT_EQ(h.sent(kC2B), "ab");
  EXPECT_EQ(h.feed(kC2B, "OND SECRE").status, StageStatus::kOk);
  EXPECT_EQ(h.sent(kC2B), "abSECOND ");
  // At EOF the held "SECRE" can no longer become SECRET.
  EXPECT_EQ(h.finish(kC2B).status, StageStatus::kOk);
  EXPECT_EQ(h.sent(kC2B), "abSECOND SECRE");
  EXPECT_TRUE(h.stage(kC2B).finished());
}

TEST_F(ShippedFilterTest, BlockNeverSendsACompleteWordWhateverTheSplit) {
  StderrCapture quiet;  // the close is logged; keep the test output clean
  const std::string stream = "GET /a SECRET HTTP/1.1";
  for (size_t a = 1; a < stream.size(); ++a) {
    for (size_t b = a; b < stream.size(); ++b) {
      Harness h(shipped(), "block=SECRET");
      ASSERT_TRUE(h.ok());
      StageResult r1 = h.feed(kC2B, stream.substr(0, a));
      StageResult r2 = r1.closes() ? r1 : h.feed(kC2B, stream.substr(a, b - a));
      StageResult r3 = r2.closes() ? r2 : h.feed(kC2B, stream.substr(b));
      EXPECT_EQ(r3.status, StageStatus::kClose) << a << "," << b;
      // What went out before the close is a prefix of the bytes before the WORD (the
      // output of the call that found it is dropped), so not even "SECRE" leaked.
      EXPECT_EQ(std::string("GET /a ").rfind(h.sent(kC2B), 0), 0u)
          << a << "," << b << ": " << h.sent(kC2B);
    }
  }
}

TEST_F(ShippedFilterTest, BlockIsCaseSensitiveAndClientToBackendOnly) {
  Harness h(shipped(), "block=SECRET");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.feed(kC2B, "secret Secret").status, StageStatus::kOk);
  EXPECT_EQ(h.feed(kB2C, "the SECRET is out").status, StageStatus::kOk);
  EXPECT_EQ(h.sent(kC2B), "secret Secret");
  EXPECT_EQ(h.sent(kB2C), "the SECRET is out");
}

TEST_F(ShippedFilterTest, BlockWithUpperAlsoStopsWhatUpperWouldMake) {
  StderrCapture quiet;  // the close is logged; keep the test output clean
  Harness h(shipped(), "upper block=SECRET");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.feed(kC2B, "my sec").status, StageStatus::kOk);
  EXPECT_EQ(h.sent(kC2B), "MY ");
  EXPECT_EQ(h.feed(kC2B, "ret").status, StageStatus::kClose);
  EXPECT_EQ(h.sent(kC2B), "MY ");
}

TEST_F(ShippedFilterTest, SniffHandsBackAfterNBytes) {
  Harness h(shipped(), "upper sniff=4");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.feed(kC2B, "ab").status, StageStatus::kOk);
  EXPECT_FALSE(h.stage(kC2B).handed_back());
  StageResult r = h.feed(kC2B, "cdefgh", /*drain=*/false);
  EXPECT_EQ(r.status, StageStatus::kHandBack);
  EXPECT_TRUE(h.stage(kC2B).handed_back());
  EXPECT_FALSE(h.stage(kC2B).ready_for_splice());  // "CD" and raw "efgh" still pending
  EXPECT_EQ(h.stage(kC2B).pending_bytes(), 6u);
  h.pump_out(kC2B);
  EXPECT_EQ(h.sent(kC2B), "ABCDefgh");  // the rest of the read went out unfiltered
  EXPECT_TRUE(h.stage(kC2B).ready_for_splice());
  EXPECT_EQ(h.buffers().input.outstanding(), 0u);
  EXPECT_EQ(h.buffers().output.outstanding(), 0u);

  // The other direction is still filtered, and hands back on its own count.
  EXPECT_EQ(h.feed(kB2C, "abc").status, StageStatus::kOk);
  EXPECT_EQ(h.sent(kB2C), "ABC");

  StderrCapture log;
  h.close_session();
  std::string text = log.text();
  EXPECT_NE(text.find("info filter filter=" + (source_root() / "c_plugins/filter.so").string() +
                      " route=web client=127.0.0.1:5555 conn=42"
                      " msg=\"sniff client_to_backend=4 backend_to_client=3\""),
            std::string::npos)
      << text;
}

TEST_F(ShippedFilterTest, SniffStillBlocksAWordStartingInsideTheWindow) {
  StderrCapture quiet;  // the close is logged; keep the test output clean
  {
    Harness h(shipped(), "sniff=4 block=SECRET");
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(h.feed(kC2B, "abSECRETxyz").status, StageStatus::kClose);
    EXPECT_EQ(h.sent(kC2B), "");
  }
  {
    Harness h(shipped(), "sniff=4 block=SECRET");
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(h.feed(kC2B, "abcdSECRET").status, StageStatus::kHandBack);
    EXPECT_EQ(h.sent(kC2B), "abcdSECRET");  // after the window the direction is untouched
  }
}

TEST_F(ShippedFilterTest, SniffZeroHandsBackAtOnce) {
  StderrCapture quiet;  // the close is logged; keep the test output clean
  Harness h(shipped(), "sniff=0");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.feed(kB2C, "raw bytes").status, StageStatus::kHandBack);
  EXPECT_EQ(h.sent(kB2C), "raw bytes");
}

// What one transform() call of a fresh connection returns, called as a host whose
// arus_conn_info is `struct_size` bytes long would call it (an older host's is shorter
// and has no host_features). `out` gets what the filter wrote.
int transform_once(const arus_filter_api& api, const char* args, uint32_t struct_size,
                   int direction, const std::string& in, std::string* out, size_t* in_used) {
  void* route_state = nullptr;
  char error[128] = "";
  EXPECT_EQ(api.create(args, &route_state, error, sizeof error), 0) << error;
  arus_conn_info info{};
  info.struct_size = struct_size;
  info.route = info.client = info.backend = "";
  info.log = [](const arus_conn_info*, int, const char*) {};  // sniff logs at close
  info.host_features = ARUS_HOST_FORWARD;  // beyond struct_size for an older host
  void* conn_state = nullptr;
  EXPECT_EQ(api.open(route_state, &info, &conn_state), 0);
  uint8_t buffer[64];
  size_t out_len = 0;
  *in_used = 0;
  int verdict = api.transform(conn_state, direction,
                              reinterpret_cast<const uint8_t*>(in.data()), in.size(), buffer,
                              sizeof buffer, in_used, &out_len, 0);
  out->assign(reinterpret_cast<const char*>(buffer), out_len);
  api.close(conn_state);
  api.destroy(route_state);
  return verdict;
}

// Where it only inspects, the filter forwards on a host that offers FORWARD and copies
// on an older one; upper always copies.
TEST_F(ShippedFilterTest, ForwardsWhereItOnlyInspectsAndTheHostOffersIt) {
  const arus_filter_api& api = shipped()->api();
  const uint32_t now = sizeof(arus_conn_info);
  const uint32_t older = offsetof(arus_conn_info, host_features);
  std::string out;
  size_t used = 0;
  for (const char* args : {"", "block=SECRET", "sniff=100"}) {
    for (int direction : {kC2B, kB2C}) {
      EXPECT_EQ(transform_once(api, args, now, direction, "hello SEC", &out, &used),
                ARUS_FILTER_FORWARD)
          << args << " " << direction;
      EXPECT_EQ(out, "");
      const bool holds = args == std::string("block=SECRET") && direction == kC2B;
      EXPECT_EQ(used, holds ? 6u : 9u) << args << " " << direction;
      EXPECT_EQ(transform_once(api, args, older, direction, "hello SEC", &out, &used),
                ARUS_FILTER_CONTINUE)
          << args << " " << direction;
      EXPECT_EQ(out, holds ? "hello " : "hello SEC") << args << " " << direction;
    }
  }
  EXPECT_EQ(transform_once(api, "upper block=SECRET", now, kB2C, "hello", &out, &used),
            ARUS_FILTER_CONTINUE);
  EXPECT_EQ(out, "HELLO");
}

TEST_F(ShippedFilterTest, RejectsUnknownArgs) {
  struct Case {
    const char* args;
    const char* message;
  } cases[] = {
      {"upper shout", "unknown argument 'shout' (expected upper, block=WORD or sniff=N)"},
      {"sniff=ten", "sniff=N: N must be a non-negative integer ('sniff=ten')"},
      {"block=", "block=WORD: WORD is empty ('block=')"},
      {"block=a block=b", "block given twice ('block=b')"},
  };
  for (const Case& c : cases) {
    auto instance = FilterInstance::create(shipped(), c.args);
    ASSERT_FALSE(instance.ok()) << c.args;
    EXPECT_EQ(instance.error().message,
              shipped()->display_path() + ": filter_args \"" + c.args + "\": " + c.message);
  }
  EXPECT_TRUE(FilterInstance::create(shipped(), "  upper  block=x sniff=10 ").ok());
  EXPECT_TRUE(FilterInstance::create(shipped(), "").ok());
}

// Connections of one route run on several workers at once and share its route state;
// the last one to end drops the route, so destroy() runs on that worker's thread.
TEST_F(ShippedFilterTest, ConnectionsOnSeveralWorkersShareARoute) {
  auto instance = FilterInstance::create(shipped(), "upper block=SECRET");
  ASSERT_TRUE(instance.ok()) << instance.error().message;
  FilterInstancePtr route = std::move(*instance);
  std::string text;
  for (int i = 0; i < 50000; ++i) text += static_cast<char>('a' + i % 26);
  std::string sent[2];
  std::vector<std::thread> workers;
  for (int w = 0; w < 2; ++w) {
    workers.emplace_back([route, &text, &sent, w] {
      Harness h(route);
      EXPECT_EQ(h.feed(w, text).status, StageStatus::kOk);
      EXPECT_EQ(h.finish(w).status, StageStatus::kOk);
      sent[w] = h.sent(w);
    });
  }
  route.reset();
  for (std::thread& worker : workers) worker.join();
  EXPECT_EQ(sent[0], upper(text));
  EXPECT_EQ(sent[1], upper(text));
}

}  // namespace
}  // namespace arus
