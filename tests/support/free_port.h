// A free TCP port for a test's server, chosen so that nothing running beside the test takes it
// before the server binds it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace herald::test {

// A TCP port free on `host` (an IPv4 address) at the time of the call, below the kernel's
// ephemeral range (net.ipv4.ip_local_port_range starts at 32768): a port the kernel hands out
// for a bind to port 0 or a connect could be taken by a test running beside this one between
// this call and the server's bind; these never are. The search starts at an offset drawn from
// the pid, so two tests seldom probe the same ports. 0 when none of 12,000 is free.
inline std::uint16_t free_port(const char* host = "127.0.0.1") {
    static std::uint32_t next = static_cast<std::uint32_t>(getpid()) * 131u;
    for (int tries = 0; tries < 12000; ++tries) {
        const auto port = static_cast<std::uint16_t>(20000 + next++ % 12000);
        const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return 0;
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        inet_pton(AF_INET, host, &a.sin_addr);
        const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        close(fd);
        if (ok) return port;
    }
    return 0;
}

}  // namespace herald::test
