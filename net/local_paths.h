// Which of this host's addresses lead to a socket on the same host, where the kernel copies a
// zero-copy send anyway: Documentation/networking/msg_zerocopy.rst ("Loopback") says every
// zerocopy packet looped to a local socket gets a deferred copy, so that a receiver that does not
// read cannot pin the sender's pages. That is loopback, and veth (whose other end is a local
// namespace). herald's --zerocopy-threshold auto keeps such connections off SEND_ZC.
#pragma once

#include <sys/socket.h>

#include <string>
#include <vector>

namespace herald::net {

class LocalPaths {
  public:
    // Reads the interfaces' addresses (getifaddrs(3)) and drivers (SIOCETHTOOL
    // ETHTOOL_GDRVINFO): the addresses of loopback (IFF_LOOPBACK) and veth interfaces copy.
    // Interfaces that appear later are not seen.
    void load();
    // Whether a connection whose local address is `local` (as getsockname gives it) runs over
    // loopback (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104 included) or one of the copying interfaces.
    bool copies(const sockaddr_storage& local) const noexcept;
    // copies() of socket `fd`'s local address (false when getsockname fails).
    bool socket_copies(int fd) const noexcept;
    // The copying interfaces' names, comma-separated (for the start-up line).
    const std::string& names() const noexcept { return names_; }

  private:
    std::vector<sockaddr_storage> copying_;
    std::string names_;
};

}  // namespace herald::net
