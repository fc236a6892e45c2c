// The FIN hand-off both pumps share.
#include "arus/relay/pump.hpp"

#include <sys/socket.h>

namespace arus {

void pass_on_eof(Endpoint& sink, Flow& flow) noexcept {
  if (flow.sink_shut) return;
  // ENOTCONN: the sink already went away; its own events will end the connection.
  if (!flow.fin_by_close && !flow.source_reset) ::shutdown(sink.fd.get(), SHUT_WR);
  flow.sink_shut = true;
}

}  // namespace arus
