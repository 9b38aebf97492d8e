// The hub's side of the cluster: a full mesh of TCP links to the other hosts' hubs.
//
// Who dials: every hub dials the addresses in --peers (its own skipped) until the HELLOs show
// the ids; a link survives only when the lower node id dialled it, so after simultaneous dials
// both ends keep the same one. A hub that learns a peer has the lower id stops dialling it and
// waits for its dial. A link is up once both HELLOs crossed; then each side sends its whole
// interest set, and PUBLISH frames that waited meanwhile.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "channel/hub_internal.h"
#include "core/utf8.h"

namespace herald::channel::hub {
namespace {

constexpr std::size_t kMaxPeerGroups = 1u << 20;  // subscriptions one peer may hold

void set_nodelay(int fd) {
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

std::string peer_name(const Link& link) {
    return link.hello ? "node " + std::to_string(link.node) : std::string("a peer");
}

}  // namespace

std::size_t Hub::unnamed_links() const {
    return static_cast<std::size_t>(
        std::count_if(links_.begin(), links_.end(), [](const auto& l) { return !l->hello; }));
}

void Hub::accept_links() {
    while (true) {
        sockaddr_storage addr{};
        socklen_t len = sizeof addr;
        const int fd = accept4(cluster_listener_.fd, reinterpret_cast<sockaddr*>(&addr), &len,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        if (unnamed_links() >= kMaxUnnamedLinks) {
            close(fd);  // a flood of connections that never say HELLO
            ++rejected_links_;
            continue;
        }
        set_nodelay(fd);
        auto link = std::make_unique<Link>();
        link->fd = fd;
        link->opened = link->last_rx = core::now_ns();
        net::Endpoint from;
        std::memcpy(&from.addr, &addr, sizeof addr);
        from.addr_len = len;
        link->remote = from.to_string();
        watch(*link, EPOLLIN, EPOLL_CTL_ADD);
        links_.push_back(std::move(link));
    }
}

void Hub::dial(Dial& d, core::Nanos now) {
    ++d.attempts;
    const int fd = socket(d.endpoint.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        d.next_at = now + d.backoff;
        return;
    }
    set_nodelay(fd);
    // Dial from the address peers know this hub by (unless it listens on every address).
    if (options_.cluster_enabled &&
        options_.cluster_listen.addr.ss_family == d.endpoint.addr.ss_family) {
        net::Endpoint source = options_.cluster_listen;
        bool any = false;
        if (source.addr.ss_family == AF_INET) {
            auto* a = reinterpret_cast<sockaddr_in*>(&source.addr);
            any = a->sin_addr.s_addr == htonl(INADDR_ANY);
            a->sin_port = 0;
        } else {
            auto* a = reinterpret_cast<sockaddr_in6*>(&source.addr);
            any = IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr);
            a->sin6_port = 0;
        }
        if (!any) bind(fd, reinterpret_cast<const sockaddr*>(&source.addr), source.addr_len);
    }
    auto link = std::make_unique<Link>();
    link->fd = fd;
    link->dialer = true;
    link->connecting = true;
    link->dial = static_cast<int>(&d - dials_.data());
    link->opened = link->last_rx = now;
    d.link = link.get();
    Link& l = *link;
    links_.push_back(std::move(link));
    watch(l, EPOLLOUT, EPOLL_CTL_ADD);
    l.want_write = true;
    if (connect(fd, reinterpret_cast<const sockaddr*>(&d.endpoint.addr), d.endpoint.addr_len) !=
            0 &&
        errno != EINPROGRESS) {
        close_link(l, std::string("connect: ") + std::strerror(errno));
    }
}

void Hub::read_link(Link& link) {
    const std::size_t max_body = kPublishFixed + options_.max_group_id + options_.max_message;
    char buf[65536];
    while (true) {
        const ssize_t n = recv(link.fd, buf, sizeof buf, 0);
        if (n == 0) return close_link(link, "closed by the peer");
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            return close_link(link, std::string("recv: ") + std::strerror(errno));
        }
        link.last_rx = core::now_ns();
        if (link.hello) peers_[link.node].bytes_in += static_cast<std::uint64_t>(n);
        link.in.append(buf, static_cast<std::size_t>(n));
        // Cut out every whole frame; a bad one closes the link.
        while (!link.dead) {
            Frame frame;
            std::size_t used = 0;
            const auto* data = reinterpret_cast<const std::uint8_t*>(link.in.data());
            const FrameStatus st = parse_frame(
                std::span(data + link.in_off, link.in.size() - link.in_off), max_body, frame, used);
            if (st == FrameStatus::kNeedMore) break;
            if (st != FrameStatus::kFrame) {
                ++bad_frames_;
                return close_link(link, std::string("bad frame: ") + frame_status_name(st));
            }
            if (!handle_frame(link, frame)) return;
            link.in_off += used;
        }
        if (link.in_off == link.in.size()) {
            link.in.clear();
            link.in_off = 0;
        } else if (link.in_off > 65536) {
            link.in.erase(0, link.in_off);
            link.in_off = 0;
        }
    }
}

// Acts on one frame; false when it closed the link.
bool Hub::handle_frame(Link& link, const Frame& frame) {
    if (!link.hello) {
        if (frame.type != FrameType::kHello) {
            ++bad_frames_;
            close_link(link, "a frame before HELLO");
            return false;
        }
        on_hello(link, read_hello(frame));
        return !link.dead;
    }
    Peer& peer = peers_[link.node];
    ++peer.frames_in;
    switch (frame.type) {
        case FrameType::kHello:
            ++bad_frames_;
            close_link(link, "a second HELLO");
            return false;
        case FrameType::kSubscribe:
            if (peer.interest.size() >= kMaxPeerGroups) {
                ++bad_frames_;
                close_link(link, "over " + std::to_string(kMaxPeerGroups) + " subscriptions");
                return false;
            }
            peer.interest.emplace(read_group(frame));
            return true;
        case FrameType::kUnsubscribe:
            if (auto it = peer.interest.find(read_group(frame)); it != peer.interest.end()) {
                peer.interest.erase(it);
            }
            return true;
        case FrameType::kPublish: {
            const PublishBody p = read_publish(frame);
            const char* bad = nullptr;
            if (p.origin != link.node) bad = "a PUBLISH whose origin is not the link's node";
            if (p.group.size() > options_.max_group_id) bad = "a group id over --max-group-id";
            if (p.message.size() > options_.max_message) bad = "a message over --max-message";
            if (!core::is_valid_utf8(p.message.data(), p.message.size())) {
                bad = "a message that is not UTF-8";
            }
            if (bad != nullptr) {
                ++bad_frames_;
                close_link(link, bad);
                return false;
            }
            // Seqs run from 1 per (sender incarnation, receiver incarnation); a skipped one was
            // lost on the way (dropped by the sender, or in a link's kernel buffers).
            const std::uint64_t expect = peer.expect_seq == 0 ? 1 : peer.expect_seq;
            if (p.seq < expect) {
                ++peer.stale;  // already delivered: never twice
                return true;
            }
            peer.gaps += p.seq - expect;
            peer.expect_seq = p.seq + 1;
            ++peer.publishes_in;
            ++remote_publishes_;
            relay_.publish(p.group, p.message);
            return true;
        }
        case FrameType::kPing:
            append_ping(link.out, FrameType::kPong, read_ping(frame));
            mark_dirty(link);
            return true;
        case FrameType::kPong:
            return true;
    }
    return true;
}

void Hub::on_hello(Link& link, const HelloBody& hello) {
    Dial* d = link.dial >= 0 ? &dials_[static_cast<std::size_t>(link.dial)] : nullptr;
    if (hello.protocol != kClusterProtocolVersion || hello.cluster != options_.cluster ||
        hello.node == 0) {
        ++rejected_links_;
        return close_link(link, "HELLO from node " + std::to_string(hello.node) + " of cluster '" +
                                    std::string(hello.cluster) + "' protocol " +
                                    std::to_string(hello.protocol) + ": not ours");
    }
    if (hello.node == options_.node_id) {
        if (d != nullptr) d->passive = "this hub";
        return close_link(link, "this is our own address");
    }
    if (d != nullptr) d->node = hello.node;
    if (link.dialer && hello.node < options_.node_id) {
        d->passive = "the lower node id dials";
        return close_link(link,
                          "node " + std::to_string(hello.node) + " has the lower id: it dials");
    }
    if (!link.dialer) {
        append_hello(link.out, options_.node_id, options_.cluster, hello_flags(hello.node));
    }
    if (!link.dialer && hello.node > options_.node_id) {
        // Tell it who we are, then close: we dial it.
        link.closing = true;
        mark_dirty(link);
        return;
    }
    Peer& peer = peers_[hello.node];
    if (peer.link != nullptr && peer.link != &link) {
        // What the old link still holds comes first (it carries the lower seqs).
        Link& old = *peer.link;
        read_link(old);
        if (!old.dead) close_link(old, "replaced by a new link");
    }
    if ((hello.flags & kHelloFresh) != 0) {
        // A new incarnation: it numbers from 1, and so do we, the backlog included.
        peer.expect_seq = 0;
        peer.next_seq = renumber_publishes(peer.backlog, 1);
    }
    peer.met = true;
    peer.node = hello.node;
    peer.link = &link;
    peer.interest.clear();  // it sends its whole set now
    ++peer.connects;
    if (d != nullptr) d->backoff = options_.redial_min;
    peer.address = d != nullptr ? d->text : "from " + link.remote;
    link.hello = true;
    link.node = hello.node;
    for (const auto& [group, count] : interest_) {
        append_group_frame(link.out, FrameType::kSubscribe, group);
    }
    link.out.append(peer.backlog);
    peer.backlog.clear();
    peer.backlog.shrink_to_fit();
    std::fprintf(stderr, "herald: hub: link to node %u up (%s)\n", hello.node,
                 link.dialer ? "dialled" : "accepted");
    mark_dirty(link);
}

void Hub::forward(std::string_view group, std::span<const std::uint8_t> message) {
    bool any = false;
    for (auto& [node, peer] : peers_) {
        if (!peer.interest.contains(group)) continue;
        enqueue_publish(peer, group, message);
        any = true;
    }
    if (!any) ++unrouted_;
}

// Queues one PUBLISH for `peer`: on its link, or in its backlog while it is down; within
// --peer-buffer either way, else dropped and counted (its seq is spent, so the peer counts the
// gap too).
void Hub::enqueue_publish(Peer& peer, std::string_view group,
                          std::span<const std::uint8_t> message) {
    const std::size_t need = publish_frame_size(group.size(), message.size());
    const std::uint64_t seq = peer.next_seq++;
    Link* link = peer.link;
    std::string& out = link != nullptr ? link->out : peer.backlog;
    const std::size_t queued = link != nullptr ? out.size() - link->out_off : out.size();
    if (queued + need > options_.peer_buffer) {
        ++peer.drops;
        return;
    }
    append_publish(out, options_.node_id, seq, group, message);
    ++peer.publishes_out;
    if (link != nullptr) mark_dirty(*link);
}

void Hub::send_to_linked(FrameType type, std::string_view group) {
    for (auto& [node, peer] : peers_) {
        if (peer.link == nullptr) continue;  // it gets the whole set when it links
        append_group_frame(peer.link->out, type, group);
        mark_dirty(*peer.link);
    }
}

// Closes a link. PUBLISH frames it had not wholly written go back to the peer's backlog, to
// be sent on the next link; a dialled address is redialled after a backoff with jitter.
void Hub::close_link(Link& link, const std::string& why) {
    if (link.dead) return;
    if (link.hello) {
        Peer& peer = peers_[link.node];
        if (peer.link == &link) peer.link = nullptr;
        std::size_t at = link.out_frame;
        std::uint32_t len = 0;
        while (at + kFrameHeaderSize <= link.out.size()) {
            std::memcpy(&len, link.out.data() + at, sizeof len);
            const std::size_t size = kFrameHeaderSize + len;
            if (static_cast<FrameType>(link.out[at + 4]) == FrameType::kPublish) {
                if (peer.backlog.size() + size <= options_.peer_buffer) {
                    peer.backlog.append(link.out, at, size);
                } else {
                    ++peer.drops;
                }
            }
            at += size;
        }
        std::fprintf(stderr, "herald: hub: link to node %u down: %s\n", link.node, why.c_str());
    } else if (link.dial >= 0) {
        const Dial& d = dials_[static_cast<std::size_t>(link.dial)];
        if (d.attempts <= 1 || d.passive != nullptr) {
            std::fprintf(stderr, "herald: hub: %s: %s\n", d.text.c_str(), why.c_str());
        }
    } else if (!link.closing) {
        std::fprintf(stderr, "herald: hub: refused %s: %s\n", peer_name(link).c_str(), why.c_str());
    }
    if (link.dial >= 0) {
        Dial& d = dials_[static_cast<std::size_t>(link.dial)];
        if (d.link == &link) d.link = nullptr;
        const core::Nanos jitter =
            static_cast<core::Nanos>(jitter_() % static_cast<std::uint64_t>(d.backoff / 2 + 1));
        d.next_at = core::now_ns() + d.backoff / 2 + jitter;
        d.backoff = std::min(d.backoff * 2, options_.redial_max);
    }
    close_handle(link);
}

std::uint16_t Hub::hello_flags(std::uint32_t node) {
    auto it = node == 0 ? peers_.end() : peers_.find(node);
    return it != peers_.end() && it->second.met ? 0 : kHelloFresh;
}

void Hub::tick_links(core::Nanos now) {
    // After a long pause of this process (SIGSTOP, a stalled host), read what the peers sent
    // meanwhile before judging them silent.
    if (now - last_tick_ > options_.peer_timeout / 2) {
        for (auto& l : links_) l->last_rx = std::max(l->last_rx, now - options_.peer_timeout / 2);
    }
    last_tick_ = now;
    for (Dial& d : dials_) {
        if (d.passive == nullptr && d.link == nullptr && now >= d.next_at) dial(d, now);
    }
    for (std::size_t i = 0; i < links_.size(); ++i) {
        Link& link = *links_[i];
        if (link.dead) continue;
        if (now - link.last_rx > options_.peer_timeout) {
            close_link(link, link.hello
                                 ? "silent for " + std::to_string(options_.peer_timeout / 1000000) +
                                       " ms (dead peer)"
                                 : "no HELLO in time");
            --i;  // close_link moved the last link here
            continue;
        }
        if (link.hello && now - link.last_ping >= options_.peer_timeout / 3) {
            link.last_ping = now;
            append_ping(link.out, FrameType::kPing, static_cast<std::uint64_t>(now));
            mark_dirty(link);
        }
    }
}

std::string Hub::render_stats() const {
    auto field = [](std::string& out, const char* name, std::uint64_t v) {
        out.append(",\"").append(name).append("\":").append(std::to_string(v));
    };
    std::string out = "{\"node_id\":" + std::to_string(options_.node_id);
    out.append(",\"cluster\":\"").append(options_.cluster).append("\"");
    field(out, "interest", interest_.size());
    field(out, "local_publishes", local_publishes_);
    field(out, "remote_publishes", remote_publishes_);
    field(out, "api_publishes", api_publishes_);
    field(out, "api_rejected", api_rejected_);
    field(out, "unrouted", unrouted_);
    field(out, "bad_frames", bad_frames_);
    field(out, "rejected_links", rejected_links_);
    field(out, "unnamed_links", unnamed_links());
    out.append(",\"peers\":[");
    bool first = true;
    for (const auto& [node, p] : peers_) {
        out.append(first ? "{" : ",{");
        first = false;
        out.append("\"node\":").append(std::to_string(node));
        out.append(",\"address\":\"").append(p.address).append("\"");
        out.append(",\"state\":\"").append(p.link != nullptr ? "up" : "down").append("\"");
        field(out, "subscriptions", p.interest.size());
        field(out, "bytes_in", p.bytes_in);
        field(out, "bytes_out", p.bytes_out);
        field(out, "frames_in", p.frames_in);
        field(out, "frames_out", p.frames_out);
        field(out, "publishes_in", p.publishes_in);
        field(out, "publishes_out", p.publishes_out);
        field(out, "drops", p.drops);
        field(out, "gaps", p.gaps);
        field(out, "stale", p.stale);
        field(out, "buffered",
              p.link != nullptr ? p.link->out.size() - p.link->out_off : p.backlog.size());
        field(out, "connects", p.connects);
        out.append("}");
    }
    out.append("],\"dials\":[");
    first = true;
    for (const Dial& d : dials_) {
        out.append(first ? "{" : ",{");
        first = false;
        out.append("\"address\":\"").append(d.text).append("\"");
        out.append(",\"state\":\"")
            .append(d.passive != nullptr ? d.passive
                    : d.link == nullptr  ? "waiting to redial"
                    : d.link->hello      ? "up"
                                         : "connecting")
            .append("\"");
        field(out, "node", d.node);
        field(out, "attempts", d.attempts);
        out.append("}");
    }
    out.append("]}");
    return out;
}

}  // namespace herald::channel::hub
