// Socket addresses as operators write them ("127.0.0.1:1234", "[::1]:80", "localhost:0") and
// the listening sockets made from them.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace herald::net {

struct Endpoint {
    sockaddr_storage addr{};
    socklen_t addr_len = 0;

    std::uint16_t port() const noexcept;
    // "127.0.0.1:1234" or "[::1]:1234".
    std::string to_string() const;
};

// Parses HOST:PORT. HOST is an IPv4 address, a bracketed IPv6 address or a name resolved with
// getaddrinfo (first result); PORT is 0..65535 (0: the kernel picks one).
core::Result<Endpoint> parse_endpoint(std::string_view text);

struct ListenOptions {
    bool reuse_port = false;  // SO_REUSEPORT: several processes share the port
    int backlog = 4096;
};

// A bound, listening TCP socket with TCP_NODELAY set (accepted sockets inherit it), or an error
// naming the cause and the fix. On success `bound` is updated with the actual port.
core::Result<int> listen_on(Endpoint& bound, const ListenOptions& options);

}  // namespace herald::net
