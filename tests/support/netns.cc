#include "tests/support/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "tests/support/herald_process.h"

namespace herald::test {
namespace {

constexpr const char* kNetnsDir = "/run/netns";
constexpr const char* kNamePrefix = "hrld";

std::string find_ip() {
    for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
        if (access(p, X_OK) == 0) return p;
    }
    return {};
}

std::vector<std::string> split(const std::string& s) {
    std::istringstream in(s);
    std::vector<std::string> out;
    for (std::string w; in >> w;) out.push_back(w);
    return out;
}

// Namespaces named hrld<pid>-... whose test process is gone.
void remove_stale(const std::string& ip) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(kNetnsDir, ec)) {
        const std::string name = entry.path().filename();
        if (!name.starts_with(kNamePrefix)) continue;
        const long pid = std::strtol(name.c_str() + 4, nullptr, 10);
        if (pid <= 0 || (kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)) {
            run_program({ip, "netns", "del", name});
        }
    }
}

}  // namespace

NetnsHosts::NetnsHosts(int hosts) {
    if (geteuid() != 0) {
        error_ = "network namespaces need root";
        return;
    }
    if (hosts < 1 || hosts > 200) {
        error_ = "between 1 and 200 hosts";
        return;
    }
    const std::string ipbin = find_ip();
    if (ipbin.empty()) {
        error_ = "iproute2's `ip` is not installed";
        return;
    }
    remove_stale(ipbin);
    prefix_ = std::string(kNamePrefix) + std::to_string(getpid()) + "-";
    switch_ = prefix_ + "sw";
    if (!ip("netns add " + switch_) || !ip("-n " + switch_ + " link set lo up") ||
        !ip("-n " + switch_ + " link add br0 type bridge") ||
        !ip("-n " + switch_ + " link set br0 up")) {
        return;
    }
    for (int h = 0; h < hosts; ++h) {
        const std::string ns = prefix_ + "h" + std::to_string(h);
        const std::string port = "s" + std::to_string(h);
        names_.push_back(ns);
        if (!ip("netns add " + ns) || !ip("-n " + ns + " link set lo up") ||
            !ip("link add eth0 netns " + ns + " type veth peer name " + port + " netns " +
                switch_) ||
            !ip("-n " + switch_ + " link set " + port + " master br0 up") ||
            !ip("-n " + ns + " addr add " + address(h) + "/24 dev eth0") ||
            !ip("-n " + ns + " link set eth0 up")) {
            return;
        }
    }
}

NetnsHosts::~NetnsHosts() {
    const std::string ipbin = find_ip();
    if (ipbin.empty()) return;
    for (const std::string& ns : names_) run_program({ipbin, "netns", "del", ns});
    if (!switch_.empty()) run_program({ipbin, "netns", "del", switch_});
}

std::string NetnsHosts::address(int h) const { return "198.18.0." + std::to_string(10 + h); }

bool NetnsHosts::cut(int h) {
    return ip("-n " + switch_ + " link set s" + std::to_string(h) + " down");
}

bool NetnsHosts::heal(int h) {
    return ip("-n " + switch_ + " link set s" + std::to_string(h) + " up");
}

bool NetnsHosts::ip(const std::string& args) {
    std::vector<std::string> argv = split(args);
    argv.insert(argv.begin(), find_ip());
    const RunResult r = run_program(argv);
    if (r.status == 0) return true;
    if (error_.empty()) error_ = "`ip " + args + "` failed: " + r.err;
    return false;
}

int NetnsHosts::enter(int h) const {
    const int saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    const std::string path = std::string(kNetnsDir) + "/" + name(h);
    const int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (saved < 0 || target < 0 || setns(target, CLONE_NEWNET) != 0) {
        if (target >= 0) close(target);
        if (saved >= 0) close(saved);
        throw std::runtime_error("cannot enter network namespace " + name(h));
    }
    close(target);
    return saved;
}

void NetnsHosts::leave(int fd) const {
    if (setns(fd, CLONE_NEWNET) != 0) std::abort();  // a thread left in the wrong namespace
    close(fd);
}

}  // namespace herald::test
