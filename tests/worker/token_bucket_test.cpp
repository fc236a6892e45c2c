// TokenBucket: burst, refill, and clocks that jump.
#include "arus/worker/token_bucket.hpp"

#include <gtest/gtest.h>

namespace arus {
namespace {

int take_all(TokenBucket& bucket, uint64_t rate, uint64_t now_ms) {
  int taken = 0;
  while (bucket.has_token(rate, now_ms)) {
    bucket.take();
    ++taken;
  }
  return taken;
}

TEST(TokenBucket, BurstIsTheRate) {
  TokenBucket bucket(5, 1000);
  EXPECT_EQ(take_all(bucket, 5, 1000), 5);
  EXPECT_FALSE(bucket.has_token(5, 1000));
}

TEST(TokenBucket, RefillsAtTheRate) {
  TokenBucket bucket(10, 0);
  EXPECT_EQ(take_all(bucket, 10, 0), 10);
  EXPECT_FALSE(bucket.has_token(10, 99));  // 0.99 token
  EXPECT_TRUE(bucket.has_token(10, 100));  // one token per 100 ms
  bucket.take();
  EXPECT_EQ(take_all(bucket, 10, 550), 4);  // 4.5 tokens: the half stays
  EXPECT_TRUE(bucket.has_token(10, 600));
  // Over a long run, exactly rate per second (no drift from rounding).
  TokenBucket slow(3, 0);
  take_all(slow, 3, 0);
  int taken = 0;
  for (uint64_t ms = 1; ms <= 10000; ++ms) taken += take_all(slow, 3, ms);
  EXPECT_EQ(taken, 30);
}

TEST(TokenBucket, NeverHoldsMoreThanABurst) {
  TokenBucket bucket(4, 0);
  EXPECT_EQ(take_all(bucket, 4, 60'000), 4);
}

TEST(TokenBucket, ClockGoingBackRefillsNothing) {
  TokenBucket bucket(10, 5000);
  take_all(bucket, 10, 5000);
  EXPECT_FALSE(bucket.has_token(10, 1000));  // back by 4 s: nothing added
  EXPECT_FALSE(bucket.has_token(10, 1099));  // time counts from the new reading
  EXPECT_TRUE(bucket.has_token(10, 1100));
}

TEST(TokenBucket, HugeJumpForwardRefillsOneBurstWithoutOverflow) {
  TokenBucket bucket(10'000'000, 0);
  take_all(bucket, 10'000'000, 0);
  EXPECT_TRUE(bucket.has_token(10'000'000, UINT64_MAX));
  EXPECT_EQ(bucket.millitokens(), 10'000'000'000u);
}

TEST(TokenBucket, LoweredRateCapsTheBucket) {
  TokenBucket bucket(100, 0);
  EXPECT_EQ(take_all(bucket, 2, 0), 2);  // a reload lowered the rate to 2
}

}  // namespace
}  // namespace arus
