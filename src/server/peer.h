// Noticing that an HTTP client went away while its request is being worked on, so inference can stop.
// cpp-httplib 0.11 hands handlers no socket, so the probe finds the connection's descriptor by its two
// endpoints (unique while the handler runs: the library closes the socket only after the handler returns)
// and then peeks at it: end-of-stream or a reset means the client left. A client that half-closes its
// sending side after the request (rare; no common HTTP client does) counts as gone.
#pragma once

#include <chrono>
#include <string>

namespace hark::server {

class PeerProbe {
 public:
  // An unattached probe never reports a departure.
  PeerProbe() = default;
  PeerProbe(int local_port, const std::string& remote_addr, int remote_port);

  // True once the peer has closed or reset the connection. Cheap enough to call between tokens: it looks at
  // the socket at most every 50 ms.
  bool gone();

 private:
  int fd_ = -1;
  bool gone_ = false;
  std::chrono::steady_clock::time_point last_check_{};
};

}  // namespace hark::server
