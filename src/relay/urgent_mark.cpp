// Crossing a TCP urgent mark, which splice(2) cannot.
#include "arus/relay/urgent_mark.hpp"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace arus {
namespace {

// The pipe is empty (the caller's precondition), so one byte always fits.
bool put_in_pipe(Flow& flow, PipePool& pipes, uint8_t byte) noexcept {
  if (!flow.pipe.valid()) flow.pipe = pipes.acquire();
  if (!flow.pipe.valid()) return false;
  ssize_t n;
  do {
    n = ::write(flow.pipe.write_end.get(), &byte, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1) return false;
  flow.pipe_bytes += 1;
  return true;
}

}  // namespace

bool at_urgent_mark(int fd) noexcept {
  int at_mark = 0;
  return ::ioctl(fd, SIOCATMARK, &at_mark) == 0 && at_mark != 0;
}

UrgentStep cross_urgent_mark(Endpoint& source, Endpoint& sink, Flow& flow, PipePool& pipes,
                             PumpResult& result) noexcept {
  uint8_t byte;
  ssize_t n;
  do {
    n = ::recv(source.fd.get(), &byte, 1, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN) return UrgentStep::kWaiting;
  if (n < 0) {
    result.status = PumpStatus::kSourceError;
    result.error = errno;
    return UrgentStep::kFailed;
  }
  source.urgent = false;  // a later urgent byte raises EPOLLPRI again
  if (n == 0) {  // cannot happen at a mark (its byte comes first); an EOF all the same
    flow.source_eof = true;
    return UrgentStep::kCrossed;
  }
  flow.bytes += 1;
  if (sink.writable) {
    ssize_t sent = ::send(sink.fd.get(), &byte, 1, MSG_OOB | MSG_NOSIGNAL);
    if (sent == 1) {
      result.moved += 1;
      return UrgentStep::kCrossed;
    }
    if (sent < 0 && errno != EAGAIN && errno != EINTR) {
      result.status = PumpStatus::kSinkError;
      result.error = errno;
      return UrgentStep::kFailed;
    }
  }
  // The sink is full: the byte goes in line, after which the urgency is lost, not the byte.
  if (!put_in_pipe(flow, pipes, byte)) {
    result.status = PumpStatus::kNoPipe;
    result.error = errno;
    return UrgentStep::kFailed;
  }
  return UrgentStep::kCrossed;
}

}  // namespace arus
