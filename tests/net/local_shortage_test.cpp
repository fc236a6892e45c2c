// local_shortage: the errno values that are this host's shortage, not a peer's fault.
#include "arus/net/local_shortage.hpp"

#include <gtest/gtest.h>

namespace arus {
namespace {

TEST(LocalShortageTest, NamesDescriptorAndMemoryShortages) {
  for (int error : {EMFILE, ENFILE}) {
    EXPECT_TRUE(is_out_of_descriptors(error)) << error;
    EXPECT_TRUE(is_local_shortage(error)) << error;
  }
  for (int error : {ENOBUFS, ENOMEM}) {
    EXPECT_FALSE(is_out_of_descriptors(error)) << error;
    EXPECT_TRUE(is_local_shortage(error)) << error;
  }
  for (int error : {0, ECONNREFUSED, ECONNRESET, ETIMEDOUT, EHOSTUNREACH}) {
    EXPECT_FALSE(is_local_shortage(error)) << error;
  }
}

}  // namespace
}  // namespace arus
