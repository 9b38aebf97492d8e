// Test support for the peer mesh: one hub's Mesh on 127.0.0.1 with its own poller (MeshNode),
// and a raw peer socket that speaks cluster frames by hand (RawPeer): the authenticated HELLO,
// or anything else a hostile peer might send.
#pragma once

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "channel/peer_mesh.h"

namespace herald::channel::hub::testing {

inline std::span<const std::uint8_t> bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// One hub's mesh with a log of what its peers published to it.
struct MeshNode {
    HubOptions options;
    Poller poller;
    InterestTable interest{1};
    std::vector<std::pair<std::string, std::string>> received;  // (group, message)
    std::vector<std::string> lost;                              // groups a LOST named
    // The receive state that outlives a mesh (as the host's shared memory outlives its hub).
    std::unique_ptr<OriginSeq[]> origins{new OriginSeq[kMaxOrigins]{}};
    // With keep_incarnation, the hub's incarnation outlives a mesh too (ShmRegion's
    // hub_incarnation): a new mesh is the same hub restarted.
    bool keep_incarnation = false;
    std::atomic<std::uint64_t> incarnation{0};
    // With keep_windows, the first kWindowSlots entries' windows outlive a mesh too (ShmRegion's
    // window slots), in memory of the node's own.
    bool keep_windows = false;
    struct FreeAligned {
        void operator()(std::uint8_t* p) const { std::free(p); }
    };
    std::unique_ptr<std::uint8_t, FreeAligned> windows;
    std::unique_ptr<Mesh> mesh;

    MeshNode(std::uint32_t id, std::vector<net::Endpoint> peers, std::string secret = "") {
        options.node_id = id;
        options.cluster = "test";
        options.cluster_enabled = true;
        options.cluster_listen = net::parse_endpoint("127.0.0.1:0").value();
        options.peers = std::move(peers);
        options.redial_min = core::kMillisecond;
        options.cluster_secret = std::move(secret);
        (void)poller.open();  // a failure shows in the first pump
    }
    // Fixes the port now (so peers can list it before start()): a free one below the kernel's
    // ephemeral range (32768 and up), so that no socket of a test running beside this one (a
    // connect, a bind to port 0) takes it between here and start(); where this process starts
    // its search depends on its pid, so that two such tests seldom probe the same ports.
    void pick_port() {
        static std::uint32_t next = static_cast<std::uint32_t>(getpid()) * 97u;
        for (int tries = 0; tries < 4000; ++tries) {
            const auto port = static_cast<std::uint16_t>(20000 + next++ % 12000);
            net::Endpoint at = net::parse_endpoint("127.0.0.1:" + std::to_string(port)).value();
            auto fd = net::listen_on(at, {});
            if (!fd) continue;
            close(*fd);
            options.cluster_listen = at;
            return;
        }
    }
    // Listens (fills in the port), then makes the mesh over it.
    bool start() {
        mesh = std::make_unique<Mesh>(
            options, poller, interest, [this](std::string_view g, std::span<const std::uint8_t> m) {
                received.emplace_back(std::string(g), std::string(m.begin(), m.end()));
            });
        if (keep_windows) mesh->set_mirrors(mirrors());
        mesh->set_origin_table(origins.get(), keep_incarnation ? &incarnation : nullptr);
        mesh->set_on_lost([this](std::string_view g) { lost.emplace_back(g); });
        return static_cast<bool>(mesh->listen());
    }
    // The window slots (made on first use, kept across meshes).
    std::vector<WindowMirror> mirrors() {
        const std::size_t cap = window_capacity(options);
        const std::size_t slot = window_slot_size(cap);
        if (!windows) {
            windows.reset(static_cast<std::uint8_t*>(std::aligned_alloc(64, slot * kWindowSlots)));
            for (std::uint32_t i = 0; i < kWindowSlots; ++i) {
                new (windows.get() + i * slot) WindowSlotHeader{};
            }
        }
        std::vector<WindowMirror> out;
        for (std::uint32_t i = 0; i < kWindowSlots; ++i) {
            std::uint8_t* at = windows.get() + i * slot;
            out.emplace_back(reinterpret_cast<WindowSlotHeader*>(at), at + sizeof(WindowSlotHeader),
                             cap);
        }
        return out;
    }
    void pump() {
        mesh->tick(core::now_ns());
        poller.flush_dirty();
        poller.wait(1);
        poller.end_batch();
    }
    bool up(std::uint32_t peer) const {
        auto it = mesh->peers().find(peer);
        return it != mesh->peers().end() && it->second.link != nullptr && it->second.link->hello;
    }
};

// Pumps every node until `done` or about `rounds` passes.
inline bool pump_until(std::vector<MeshNode*> nodes, const std::function<bool()>& done,
                       int rounds = 3000) {
    for (int i = 0; i < rounds && !done(); ++i) {
        for (MeshNode* n : nodes) n->pump();
    }
    return done();
}

// A peer on a raw, non-blocking socket to a node's cluster port.
class RawPeer {
  public:
    explicit RawPeer(const net::Endpoint& at) {
        fd_ = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd_, reinterpret_cast<const sockaddr*>(&at.addr), at.addr_len) != 0) {
            close(fd_);
            fd_ = -1;
            return;
        }
        fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
    }
    ~RawPeer() {
        if (fd_ >= 0) close(fd_);
    }
    RawPeer(const RawPeer&) = delete;
    RawPeer& operator=(const RawPeer&) = delete;

    int fd() const { return fd_; }
    // Sends what the socket takes now; the bytes sent (0 once the hub closed it).
    std::size_t send_some(std::string_view b) {
        const ssize_t n = ::send(fd_, b.data(), b.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno != EAGAIN) closed_ = true;
        return n > 0 ? static_cast<std::size_t>(n) : 0;
    }
    // Reads what has arrived; notes when the hub closed the connection.
    void drain() {
        char buf[65536];
        while (true) {
            const ssize_t n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) {
                in_.append(buf, static_cast<std::size_t>(n));
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) closed_ = true;
            return;
        }
    }
    bool closed() const { return closed_; }
    const std::string& in() const { return in_; }

    // HELLO as node `node` (incarnation `inc`, `flags`).
    void hello(std::uint32_t node, std::uint64_t inc, std::uint16_t flags = 0,
               std::string_view cluster = "test") {
        ours_ = HelloFacts{node, inc, flags, make_nonce()};
        std::string out;
        append_hello(out, node, cluster, flags, inc, ours_.nonce);
        send_some(out);
    }
    // Once the hub's HELLO and AUTH arrived (pump `n` meanwhile): answers with our AUTH keyed
    // with `secret`. False when they did not arrive.
    bool authenticate(MeshNode& n, std::string_view secret) {
        for (int i = 0; i < 2000 && !has_hello_and_auth() && !closed_; ++i) {
            n.pump();
            drain();
        }
        if (!has_hello_and_auth()) return false;
        std::string out;
        append_auth(out, hello_mac(secret, AuthRole::kDialer, ours_, theirs_, "test"));
        send_some(out);
        return true;
    }
    // Pumps `n` until the hub closes this connection (or about `rounds` passes).
    bool wait_closed(MeshNode& n, int rounds = 2000) {
        for (int i = 0; i < rounds && !closed_; ++i) {
            n.pump();
            drain();
        }
        return closed_;
    }

  private:
    bool has_hello_and_auth() {
        FrameWalker w(in_);
        bool hello = false;
        for (FrameCut c = w.next(); c.status == FrameStatus::kFrame; c = w.next()) {
            if (c.frame.type == FrameType::kHello) {
                const HelloBody h = read_hello(c.frame);
                theirs_ = HelloFacts{h.node, h.incarnation, h.flags, h.nonce};
                hello = true;
            }
            if (c.frame.type == FrameType::kAuth && hello) return true;
        }
        return false;
    }

    int fd_ = -1;
    bool closed_ = false;
    std::string in_;
    HelloFacts ours_;
    HelloFacts theirs_;
};

}  // namespace herald::channel::hub::testing
