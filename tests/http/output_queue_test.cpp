// OutputQueue: order, partial sends across segments, and bodies kept by reference.
#include "arus/http/output_queue.hpp"

#include <gtest/gtest.h>

#include <string>

namespace arus {
namespace {

// "Sends" up to `limit` bytes as sendmsg would, returning them.
std::string send_some(OutputQueue& queue, size_t limit) {
  iovec iov[4];
  size_t count = queue.peek(iov, 4);
  std::string sent;
  for (size_t i = 0; i < count && sent.size() < limit; ++i) {
    size_t n = std::min(iov[i].iov_len, limit - sent.size());
    sent.append(static_cast<const char*>(iov[i].iov_base), n);
  }
  queue.consume(sent.size());
  return sent;
}

TEST(OutputQueue, LargeBodiesAreReferencedNotCopied) {
  auto body = std::make_shared<const std::string>(OutputQueue::kShareAtLeast, 'b');
  OutputQueue a, b;
  a.append("head-a|");
  a.append_shared(body);
  b.append("head-b|");
  b.append_shared(body);
  EXPECT_EQ(body.use_count(), 3);
  EXPECT_EQ(a.pending(), 7 + body->size());
  std::string sent = send_some(a, 1000);
  sent += send_some(a, body->size());
  EXPECT_EQ(sent, "head-a|" + *body);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(body.use_count(), 2) << "sent: the reference is dropped";
}

TEST(OutputQueue, SmallBodiesAreCopied) {
  auto body = std::make_shared<const std::string>("small");
  OutputQueue q;
  q.append_shared(body);
  EXPECT_EQ(body.use_count(), 1);
  EXPECT_EQ(send_some(q, 100), "small");
}

TEST(OutputQueue, PartialSendsKeepTheOrder) {
  auto body = std::make_shared<const std::string>(OutputQueue::kShareAtLeast + 3, 'x');
  OutputQueue q;
  q.append("one ");
  q.append("two ");  // joins the copied segment before it
  q.append_shared(body);
  q.append("three");
  std::string sent;
  while (!q.empty()) sent += send_some(q, 5);
  EXPECT_EQ(sent, "one two " + *body + "three");
  EXPECT_EQ(q.pending(), 0u);
}

}  // namespace
}  // namespace arus
