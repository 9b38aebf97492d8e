#include "net/local_paths.h"

#include <ifaddrs.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>

namespace herald::net {
namespace {

// Whether interface `name` is a veth (its driver name, as `ethtool -i` shows it).
bool is_veth(int fd, const char* name) {
    ethtool_drvinfo info{};
    info.cmd = ETHTOOL_GDRVINFO;
    ifreq req{};
    std::strncpy(req.ifr_name, name, IFNAMSIZ - 1);
    req.ifr_data = reinterpret_cast<char*>(&info);
    return ioctl(fd, SIOCETHTOOL, &req) == 0 && std::strcmp(info.driver, "veth") == 0;
}

bool loopback_address(const sockaddr_storage& a) {
    if (a.ss_family == AF_INET) {
        const auto& v4 = reinterpret_cast<const sockaddr_in&>(a);
        return (ntohl(v4.sin_addr.s_addr) >> 24) == 127;
    }
    if (a.ss_family != AF_INET6) return false;
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(a).sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
}

bool same_address(const sockaddr_storage& a, const sockaddr_storage& b) {
    if (a.ss_family != b.ss_family) return false;
    if (a.ss_family == AF_INET) {
        return reinterpret_cast<const sockaddr_in&>(a).sin_addr.s_addr ==
               reinterpret_cast<const sockaddr_in&>(b).sin_addr.s_addr;
    }
    return std::memcmp(&reinterpret_cast<const sockaddr_in6&>(a).sin6_addr,
                       &reinterpret_cast<const sockaddr_in6&>(b).sin6_addr, 16) == 0;
}

}  // namespace

void LocalPaths::load() {
    copying_.clear();
    names_.clear();
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return;
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
        if (i->ifa_addr == nullptr) continue;
        const int family = i->ifa_addr->sa_family;
        if (family != AF_INET && family != AF_INET6) continue;
        if ((i->ifa_flags & IFF_LOOPBACK) == 0 && (fd < 0 || !is_veth(fd, i->ifa_name))) continue;
        sockaddr_storage a{};
        std::memcpy(&a, i->ifa_addr,
                    family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
        copying_.push_back(a);
        if (("," + names_ + ",").find("," + std::string(i->ifa_name) + ",") == std::string::npos) {
            names_ += (names_.empty() ? "" : ",") + std::string(i->ifa_name);
        }
    }
    if (fd >= 0) close(fd);
    freeifaddrs(list);
}

bool LocalPaths::copies(const sockaddr_storage& local) const noexcept {
    if (loopback_address(local)) return true;
    for (const sockaddr_storage& a : copying_) {
        if (same_address(a, local)) return true;
    }
    return false;
}

bool LocalPaths::socket_copies(int fd) const noexcept {
    sockaddr_storage local{};
    socklen_t len = sizeof local;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) return false;
    return copies(local);
}

}  // namespace herald::net
