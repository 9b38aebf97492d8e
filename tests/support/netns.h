// Hosts for multi-host tests: each in its own network namespace, joined through a bridge in a
// "switch" namespace by one veth pair per host. Taking a host's link down is then a real
// partition (its packets vanish: no FIN, no RST, no error until TCP gives up), not a closed
// socket on loopback.
//
//   ns <prefix>h0  eth0 198.18.0.10/24 ══veth══ s0 ┐
//   ns <prefix>h1  eth0 198.18.0.11/24 ══veth══ s1 ├── br0   (ns <prefix>sw)
//   ns <prefix>h2  eth0 198.18.0.12/24 ══veth══ s2 ┘
//
// 198.18.0.0/15 is the benchmarking range of RFC 2544; these namespaces have no route anywhere
// else, so nothing leaves the machine. Making namespaces needs root and iproute2 (`ip`); where
// that fails, ok() is false and error() says why (a test then says it falls back or skips).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace herald::test {

class NetnsHosts {
  public:
    // Creates `hosts` namespaces (at most 200) and the switch. Namespaces left behind by an
    // earlier test process that died are removed first.
    explicit NetnsHosts(int hosts);
    // Deletes the namespaces. Processes still inside keep running until they exit: stop them
    // first (declare the NetnsHosts before the processes, so it is destroyed after them).
    ~NetnsHosts();
    NetnsHosts(const NetnsHosts&) = delete;
    NetnsHosts& operator=(const NetnsHosts&) = delete;

    bool ok() const noexcept { return error_.empty(); }
    const std::string& error() const noexcept { return error_; }
    int size() const noexcept { return static_cast<int>(names_.size()); }

    // Host h's address on the shared segment, e.g. "198.18.0.10".
    std::string address(int h) const;
    // Host h's namespace name (for `ip netns exec NAME ...`).
    const std::string& name(int h) const { return names_.at(static_cast<std::size_t>(h)); }

    // Runs fn() with the calling thread inside host h's namespace and returns its result.
    // Sockets created meanwhile belong to that namespace for good, and processes forked
    // meanwhile (HeraldProcess, run_program) start in it; 127.0.0.1 there is the host's own
    // loopback.
    template <class Fn>
    auto in(int h, Fn&& fn) {
        const int saved = enter(h);
        struct Restore {
            const NetnsHosts* self;
            int fd;
            ~Restore() { self->leave(fd); }
        } restore{this, saved};
        return std::forward<Fn>(fn)();
    }

    // Takes host h's link down (its switch port), or brings it back. True when `ip` succeeded.
    bool cut(int h);
    bool heal(int h);

  private:
    int enter(int h) const;            // setns into host h; returns the descriptor of the old one
    void leave(int fd) const;          // back into the namespace `fd` names
    bool ip(const std::string& args);  // runs `ip <args>`; records the first failure

    std::string prefix_;              // "hrld<pid>-"
    std::vector<std::string> names_;  // host namespaces
    std::string switch_;              // the bridge's namespace
    std::string error_;
};

}  // namespace herald::test
