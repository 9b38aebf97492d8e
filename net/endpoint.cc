#include "net/endpoint.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

namespace herald::net {

std::uint16_t Endpoint::port() const noexcept {
    if (addr.ss_family == AF_INET6) {
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
    }
    return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
}

std::string Endpoint::to_string() const {
    char host[INET6_ADDRSTRLEN] = {};
    char out[INET6_ADDRSTRLEN + 8];
    if (addr.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_addr, host,
                  sizeof host);
        std::snprintf(out, sizeof out, "[%s]:%u", host, port());
    } else {
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&addr)->sin_addr, host,
                  sizeof host);
        std::snprintf(out, sizeof out, "%s:%u", host, port());
    }
    return out;
}

core::Result<Endpoint> parse_endpoint(std::string_view text) {
    const auto bad = [&](const char* why) {
        return core::Error{"bad address '" + std::string(text) + "': " + why +
                           " (expected HOST:PORT, e.g. 127.0.0.1:1234 or [::1]:1234)"};
    };
    std::string_view host;
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return bad("unterminated [IPv6] address");
        }
        host = text.substr(1, close - 1);
        port_text = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) return bad("no port");
        host = text.substr(0, colon);
        port_text = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) return bad("IPv6 addresses need [brackets]");
    }
    unsigned port = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
        port > 65535) {
        return bad("port must be a number from 0 to 65535");
    }
    if (host.empty()) return bad("empty host (use 0.0.0.0 for every interface)");

    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string host_z(host);
    const std::string port_z = std::to_string(port);
    const int rc = getaddrinfo(host_z.c_str(), port_z.c_str(), &hints, &found);
    if (rc != 0 || found == nullptr) {
        return core::Error{"cannot resolve host '" + host_z + "': " + gai_strerror(rc)};
    }
    Endpoint ep;
    std::memcpy(&ep.addr, found->ai_addr, found->ai_addrlen);
    ep.addr_len = found->ai_addrlen;
    freeaddrinfo(found);
    return ep;
}

core::Result<int> listen_on(Endpoint& bound, const ListenOptions& options) {
    const int fd = socket(bound.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) return core::Error{std::string("cannot create a socket: ") + std::strerror(errno)};
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (options.reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    const std::string where = bound.to_string();
    if (bind(fd, reinterpret_cast<const sockaddr*>(&bound.addr), bound.addr_len) != 0) {
        const int err = errno;
        close(fd);
        switch (err) {
            case EADDRINUSE:
                return core::Error{"cannot listen on " + where +
                                   ": address already in use (another process holds the port: "
                                   "stop it or choose another --listen)"};
            case EACCES:
                return core::Error{"cannot listen on " + where +
                                   ": permission denied (ports below 1024 need root or "
                                   "CAP_NET_BIND_SERVICE: choose a higher port)"};
            case EADDRNOTAVAIL:
                return core::Error{"cannot listen on " + where +
                                   ": no interface has this address (use 127.0.0.1 or 0.0.0.0)"};
            default:
                return core::Error{"cannot listen on " + where + ": " + std::strerror(err)};
        }
    }
    if (listen(fd, options.backlog) != 0) {
        const int err = errno;
        close(fd);
        return core::Error{"cannot listen on " + where + ": " + std::strerror(err)};
    }
    bound.addr_len = sizeof bound.addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&bound.addr), &bound.addr_len);
    return fd;
}

}  // namespace herald::net
