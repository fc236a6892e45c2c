// What a splice-path test drives: one direction (source, sink, flow) with a pipe pool,
// and the peers' ends of both sockets. The derived fixture connects the sockets.
#pragma once

#include <gtest/gtest.h>

#include "arus/core/unique_fd.hpp"
#include "arus/relay/flow.hpp"
#include "arus/relay/pipe_pool.hpp"

namespace arus::test {

class SpliceFixture : public ::testing::Test {
 protected:
  SpliceFixture() : pipes_(4, 64 * 1024) {}

  PipePool pipes_;
  Endpoint source_;  // the proxy's end of the client socket
  Endpoint sink_;    // the proxy's end of the backend socket
  Flow flow_;
  UniqueFd client_peer_;
  UniqueFd backend_peer_;
};

}  // namespace arus::test
