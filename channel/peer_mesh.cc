#include "channel/peer_mesh.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/utf8.h"
#include "net/log.h"

namespace herald::channel::hub {
namespace {

void set_nodelay(int fd) {
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

std::string peer_name(const PeerLink& link) {
    if (link.hello) return "node " + std::to_string(link.node);
    return link.remote.empty() ? std::string("a peer") : link.remote;
}

}  // namespace

Mesh::Mesh(const HubOptions& options, Poller& poller, InterestTable& interest, OnPublish on_publish)
    : options_(options),
      poller_(poller),
      interest_(interest),
      on_publish_(std::move(on_publish)),
      incarnation_(static_cast<std::uint64_t>(core::wall_ns())) {
    for (const net::Endpoint& e : options_.peers) {
        Dial d;
        d.endpoint = e;
        d.text = e.to_string();
        d.backoff = options_.redial_min;
        if (options_.cluster_enabled && d.text == options_.cluster_listen.to_string()) {
            d.passive = "this hub";
        }
        dials_.push_back(std::move(d));
    }
}

Mesh::~Mesh() {
    for (auto& l : links_) {
        if (l->fd >= 0) close(l->fd);
    }
    if (listener_.fd >= 0) close(listener_.fd);
}

core::Status Mesh::listen() {
    if (!options_.cluster_enabled) return {};
    return poller_.listen(listener_, options_.cluster_listen, "--cluster-listen");
}

std::size_t Mesh::unnamed_links() const {
    return static_cast<std::size_t>(
        std::count_if(links_.begin(), links_.end(), [](const auto& l) { return !l->hello; }));
}

Dial* Mesh::dial_of(const PeerLink& link) {
    return link.dial >= 0 ? &dials_[static_cast<std::size_t>(link.dial)] : nullptr;
}

void Mesh::on_ready(Handle& h, std::uint32_t events) {
    if (&h == &listener_) return accept_links();
    auto& link = static_cast<PeerLink&>(h);
    if (link.connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(link.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) return close_link(link, std::string("connect: ") + std::strerror(err));
        return connected(link);
    }
    if ((events & EPOLLOUT) != 0) write_link(link);
    if (!link.dead && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) read_link(link);
}

void Mesh::on_flush(Handle& h) { write_link(static_cast<PeerLink&>(h)); }

void Mesh::flush_all() {
    for (auto& l : links_) {
        if (!l->dead && l->out_off < l->out.size()) write_link(*l);
    }
}

void Mesh::accept_links() {
    while (true) {
        sockaddr_storage addr{};
        socklen_t len = sizeof addr;
        const int fd = accept4(listener_.fd, reinterpret_cast<sockaddr*>(&addr), &len,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return pause_accepts(errno);
        // A flood of connections that never finish their HELLO: the oldest waiting one goes
        // (each waits at most --peer-timeout anyway), so a real peer still gets in.
        if (unnamed_links() >= kMaxUnnamedLinks) evict_oldest_unnamed();
        set_nodelay(fd);
        auto link = std::make_unique<PeerLink>(this);
        link->fd = fd;
        link->opened = link->last_rx = core::now_ns();
        net::Endpoint from;
        std::memcpy(&from.addr, &addr, sizeof addr);
        from.addr_len = len;
        link->remote = from.to_string();
        poller_.add(*link, EPOLLIN);
        links_.push_back(std::move(link));
    }
}

// Dials from the address peers know this hub by (unless it listens on every address).
void Mesh::bind_source(int fd, const net::Endpoint& to) const {
    if (!options_.cluster_enabled || options_.cluster_listen.addr.ss_family != to.addr.ss_family) {
        return;
    }
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

void Mesh::dial(Dial& d, core::Nanos now) {
    ++d.attempts;
    const int fd = socket(d.endpoint.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        d.next_at = now + d.backoff;
        return;
    }
    set_nodelay(fd);
    bind_source(fd, d.endpoint);
    auto link = std::make_unique<PeerLink>(this);
    link->fd = fd;
    link->dialer = true;
    link->connecting = true;
    link->dial = static_cast<int>(&d - dials_.data());
    link->opened = link->last_rx = now;
    d.link = link.get();
    PeerLink& l = *link;
    links_.push_back(std::move(link));
    poller_.add(l, EPOLLOUT);
    l.want_write = true;
    if (connect(fd, reinterpret_cast<const sockaddr*>(&d.endpoint.addr), d.endpoint.addr_len) !=
            0 &&
        errno != EINPROGRESS) {
        close_link(l, std::string("connect: ") + std::strerror(errno));
    }
}

// A dialled link's connect completed: say HELLO.
void Mesh::connected(PeerLink& link) {
    link.connecting = false;
    poller_.modify(link, EPOLLIN);
    link.want_write = false;
    const Dial* d = dial_of(link);
    link.ours =
        HelloFacts{options_.node_id, incarnation_, hello_flags(d ? d->node : 0), make_nonce()};
    append_hello(link.out, options_.node_id, options_.cluster, link.ours.flags, incarnation_,
                 link.ours.nonce);
    write_link(link);
}

void Mesh::read_link(PeerLink& link) {
    const std::size_t max_body = kPublishFixed + options_.max_group_id + options_.max_message;
    char buf[65536];
    while (true) {
        const ReadResult r = recv_some(link.fd, buf, sizeof buf);
        if (r.status == ReadStatus::kClosed) return close_link(link, "closed by the peer");
        if (r.status == ReadStatus::kFailed) {
            return close_link(link, std::string("recv: ") + std::strerror(r.error));
        }
        if (r.status == ReadStatus::kAgain) break;
        link.last_rx = core::now_ns();
        if (link.hello) peers_[link.node].bytes_in += r.bytes;
        link.in.append(buf, r.bytes);
        // Cut out every whole frame; a bad one closes the link. Before the handshake is done
        // nothing longer than a HELLO is accepted (refused from its header).
        while (!link.dead) {
            FrameWalker walker(std::string_view(link.in).substr(link.in_off),
                               link.hello ? max_body : kMaxHandshakeBody);
            const FrameCut cut = walker.next();
            if (cut.status == FrameStatus::kNeedMore) break;
            if (cut.status != FrameStatus::kFrame) {
                return bad_frame(link, std::string("bad frame: ") + frame_status_name(cut.status));
            }
            if (!handle_frame(link, cut.frame)) return;
            link.in_off += cut.size;
        }
        if (over_cap(link)) return;  // it sends (PING, SUBSCRIBE...) but does not read
        if (link.in_off == link.in.size()) {
            link.in.clear();
            link.in_off = 0;
        } else if (link.in_off > 65536) {
            link.in.erase(0, link.in_off);
            link.in_off = 0;
        }
    }
    if (!link.hello) return;
    // One cumulative ACK per read: the last seq delivered (or dropped as a duplicate).
    Peer& peer = peers_[link.node];
    if (peer.link == &link) send_ack(peer);
}

// An ACK of the peer's last seq the ring holds, when one is due.
void Mesh::send_ack(Peer& peer) {
    if (!peer.ack_due || peer.link == nullptr || !peer.link->hello) return;
    peer.ack_due = false;
    append_ack(peer.link->out, peer.received->last_seq.load(std::memory_order_relaxed));
    poller_.mark_dirty(*peer.link);
}

void Mesh::bad_frame(PeerLink& link, const std::string& why) {
    ++counters_.bad_frames;
    close_link(link, why);
}

// Acts on one frame; false when it closed the link.
bool Mesh::handle_frame(PeerLink& link, const Frame& frame) {
    if (!link.hello) return handshake_frame(link, frame);
    Peer& peer = peers_[link.node];
    ++peer.frames_in;
    if (link.resyncing && frame.type != FrameType::kSubscribe &&
        frame.type != FrameType::kUnsubscribe) {
        // The first other frame ends its SUBSCRIBE set: groups it no longer named are dropped.
        link.resyncing = false;
        interest_.peer_end_resync(link.node);
        interest_known(peer);
    }
    switch (frame.type) {
        case FrameType::kHello:
        case FrameType::kAuth:
            bad_frame(link, "a second HELLO or AUTH");
            return false;
        case FrameType::kSubscribe:
            on_subscribe(link, read_group(frame));
            return true;
        case FrameType::kUnsubscribe:
            interest_.peer_unsubscribe(link.node, read_group(frame));
            return true;
        case FrameType::kPublish:
            return on_publish(link, peer, frame);
        case FrameType::kPing:
            // A new state of ours (this host's region is new) starts at the sender's base.
            if ((frame.flags & kPingBase) != 0 && peer.delivered == 0) {
                peer.delivered = read_ping(frame);
                peer.received->last_seq.store(peer.delivered, std::memory_order_release);
            }
            append_ping(link.out, FrameType::kPong, read_ping(frame));
            poller_.mark_dirty(link);
            return true;
        case FrameType::kPong:
            return true;
        case FrameType::kAck:
            peer.window.ack(read_ack(frame));
            if (peer.link == &link &&
                (peer.window.lost_all() || !peer.window.lost_groups().empty())) {
                peer.lost_sent += peer.window.push_lost(&link.out);
                poller_.mark_dirty(link);
            }
            persist_send(peer);
            return true;
        case FrameType::kLost:
            on_lost(peer, frame);
            return true;
    }
    return true;
}

// A PUBLISH from an up link: checked, then delivered unless its seq was seen; false when it
// closed the link.
bool Mesh::on_publish(PeerLink& link, Peer& peer, const Frame& frame) {
    const PublishBody p = read_publish(frame);
    const char* bad = nullptr;
    if (p.origin != link.node) bad = "a PUBLISH whose origin is not the link's node";
    if (p.group.size() > options_.max_group_id) bad = "a group id over --max-group-id";
    if (p.message.size() > options_.max_message) bad = "a message over --max-message";
    if (!core::is_valid_utf8(p.message.data(), p.message.size())) {
        bad = "a message that is not UTF-8";
    }
    if (bad != nullptr) {
        bad_frame(link, bad);
        return false;
    }
    if (!fresh_seq(peer, p.seq)) return true;
    ++peer.publishes_in;
    on_publish_(p.group, p.message);
    delivered(peer, p.seq);
    return true;
}

// Whether a PUBLISH/LOST seq from `peer` is new (deliver it; a skipped seq is counted as a gap)
// or a duplicate (counted, dropped). Either way an ACK is due.
bool Mesh::fresh_seq(Peer& peer, std::uint64_t seq) {
    peer.ack_due = true;
    const std::uint64_t last = peer.delivered;
    const SeqVerdict v = classify_seq(last, seq);
    if (v == SeqVerdict::kDuplicate) {
        ++peer.stale;  // already delivered: never twice
        return false;
    }
    if (v == SeqVerdict::kGap) {
        // Frames that never came and never will (their sender's hub died with them): whose
        // groups they were for is unknown, so every group member here is closed (1013).
        peer.gaps += seq - last - 1;
        ++peer.gap_closes;
        net::log_event(net::LogLevel::kWarn, "peer_seq_gap",
                       "node=%u missing=%llu note=\"frames from node %u never arrived; every "
                       "group's members are closed with 1013\"",
                       peer.node, static_cast<unsigned long long>(seq - last - 1), peer.node);
        if (on_lost_) on_lost_({});
    }
    return true;
}

void Mesh::on_lost(Peer& peer, const Frame& frame) {
    const LostBody lost = read_lost(frame);
    if (!fresh_seq(peer, lost.seq)) return;
    if (lost.check) {  // a seq mark: fresh_seq() acted on any gap before it
        delivered(peer, lost.seq);
        return;
    }
    ++peer.lost_received;
    std::fprintf(stderr, "herald: hub: node %u dropped %llu messages for %s%.*s%s\n", peer.node,
                 static_cast<unsigned long long>(lost.count), lost.all ? "every group" : "group '",
                 static_cast<int>(lost.group.size()), lost.group.data(), lost.all ? "" : "'");
    if (on_lost_) on_lost_(lost.all ? std::string_view() : lost.group);
    delivered(peer, lost.seq);
}

bool Mesh::forward(std::string_view group, std::span<const std::uint8_t> message, RecordId from) {
    bool any = false;
    for (auto& [node, peer] : peers_) {
        if (!peer.interest_unknown && !interest_.peer_wants(node, group)) continue;
        enqueue_publish(peer, group, message, from);
        any = true;
    }
    return any;
}

// Queues one PUBLISH for `peer` in its window (and on its link while up) until it is
// acknowledged; within --peer-buffer, else dropped, counted and its group remembered for a LOST.
void Mesh::enqueue_publish(Peer& peer, std::string_view group,
                           std::span<const std::uint8_t> message, RecordId from) {
    if (from.ring != 0 && from == peer.skip) return;  // queued by the process before us
    PeerLink* link = peer.link;
    if (peer.window.limit() == 0) peer.window.set_limit(options_.peer_buffer);
    if (!peer.window.push_publish(options_.node_id, group, message,
                                  link != nullptr ? &link->out : nullptr)) {
        ++peer.drops;
        persist_send(peer);  // its copy says groups were lost (a successor reports them)
        return;
    }
    persist_send(peer, &from);  // before the frame can reach the socket (a flush comes later)
    ++peer.publishes_out;
    if (link != nullptr) poller_.mark_dirty(*link);
}

void Mesh::send_to_linked(FrameType type, std::string_view group) {
    for (auto& [node, peer] : peers_) {
        if (peer.link == nullptr) continue;  // it gets the whole set when it links
        append_group_frame(peer.link->out, type, group);
        poller_.mark_dirty(*peer.link);
    }
}

void Mesh::write_link(PeerLink& link) {
    const WriteResult r = poller_.send_out(link);
    if (r.status == WriteStatus::kFailed) {
        return close_link(link, std::string("send: ") + std::strerror(r.error));
    }
    // Count the frames now wholly in the kernel's hands.
    FrameWalker walker(
        std::string_view(link.out).substr(link.out_frame, link.out_off - link.out_frame));
    std::uint64_t frames = 0;
    while (walker.next().status == FrameStatus::kFrame) ++frames;
    link.out_frame += walker.consumed();
    if (link.hello) {
        Peer& peer = peers_[link.node];
        peer.frames_out += frames;
        peer.bytes_out += r.written;
    }
    if (r.status == WriteStatus::kDone) {
        link.out_frame = 0;
    } else if (over_cap(link)) {
        return;
    } else if (link.out_off > (1u << 20) && link.out_off * 2 > link.out.size()) {
        // Keep `out` from growing: drop what was written (up to a frame boundary).
        link.out.erase(0, link.out_frame);
        link.out_off -= link.out_frame;
        link.out_frame = 0;
    }
    poller_.settle(link);
}

// Closes a link. Frames the peer has not acknowledged stay in its window and are replayed on
// the next link; a dialled address is redialled after a backoff with jitter.
void Mesh::close_link(PeerLink& link, const std::string& why) {
    if (link.dead) return;
    if (link.hello) {
        Peer& peer = peers_[link.node];
        if (peer.link == &link) {
            peer.link = nullptr;  // its window is replayed on the next link
            peer.down_since = core::now_ns();
        }
        net::log_event(net::LogLevel::kWarn, "peer_link_down", "node=%u reason=\"%s\"", link.node,
                       why.c_str());
    } else if (const Dial* d = dial_of(link)) {
        if (d->attempts <= 1 || d->passive != nullptr) {
            net::log_event(net::LogLevel::kWarn, "peer_dial_failed", "peer=\"%s\" reason=\"%s\"",
                           d->text.c_str(), why.c_str());
        }
    } else {
        if (refused_log_.allow(core::now_ns())) {
            net::log_event(net::LogLevel::kWarn, "peer_refused",
                           "peer=\"%s\" reason=\"%s\" suppressed=%llu", peer_name(link).c_str(),
                           why.c_str(), static_cast<unsigned long long>(refused_log_.suppressed()));
        }
    }
    redial_later(link);
    poller_.close(link);
    poller_.retire(links_, link);
}

void Mesh::redial_later(PeerLink& link) {
    Dial* d = dial_of(link);
    if (d == nullptr) return;
    if (d->link == &link) d->link = nullptr;
    // A link that stayed up a while earns a quick redial; one refused or closed soon after it
    // came up (a duplicate, a lost race) backs off further.
    if (link.hello && core::now_ns() - link.up_at >= options_.peer_timeout) {
        d->backoff = options_.redial_min;
    }
    const core::Nanos jitter =
        static_cast<core::Nanos>(jitter_() % static_cast<std::uint64_t>(d->backoff / 2 + 1));
    d->next_at = core::now_ns() + d->backoff / 2 + jitter;
    d->backoff = std::min(d->backoff * 2, options_.redial_max);
}

void Mesh::tick(core::Nanos now) {
    // After a long pause of this process (SIGSTOP, a stalled host), read what the peers sent
    // meanwhile before judging them silent.
    if (now - last_tick_ > options_.peer_timeout / 2) {
        for (auto& l : links_) l->last_rx = std::max(l->last_rx, now - options_.peer_timeout / 2);
    }
    last_tick_ = now;
    if (accept_paused_until_ != 0 && now >= accept_paused_until_) {
        accept_paused_until_ = 0;
        poller_.modify(listener_, EPOLLIN);  // a descriptor may be free again
    }
    for (Dial& d : dials_) {
        if (d.passive != nullptr || d.link != nullptr || now < d.next_at) continue;
        auto linked = d.node == 0 ? peers_.end() : peers_.find(d.node);
        if (linked != peers_.end() && linked->second.link != nullptr) continue;  // up already
        dial(d, now);
    }
    for (std::size_t i = 0; i < links_.size(); ++i) {
        PeerLink& link = *links_[i];
        if (link.dead) continue;
        // Before it is up, the deadline counts from its accept (or dial): trickled bytes do
        // not extend it.
        const bool late = link.hello ? now - link.last_rx > options_.peer_timeout
                                     : now - link.opened > options_.peer_timeout;
        if (late) {
            if (!link.hello) ++counters_.hello_timeouts;
            close_link(link, link.hello
                                 ? "silent for " + std::to_string(options_.peer_timeout / 1000000) +
                                       " ms (dead peer)"
                                 : "no authenticated HELLO within --peer-timeout");
            --i;  // close_link moved the last link here
            continue;
        }
        if (link.hello && now - link.last_ping >= options_.peer_timeout / 3) {
            link.last_ping = now;
            append_ping(link.out, FrameType::kPing, static_cast<std::uint64_t>(now));
            poller_.mark_dirty(link);
        }
    }
    forget_idle_peers(now);
}

namespace {

void field(std::string& out, const char* name, std::uint64_t v) {
    out.append(",\"").append(name).append("\":").append(std::to_string(v));
}

const char* dial_state(const Dial& d, const std::map<std::uint32_t, Peer>& peers) {
    if (d.passive != nullptr) return d.passive;
    if (d.link != nullptr) return d.link->hello ? "up" : "connecting";
    auto p = d.node == 0 ? peers.end() : peers.find(d.node);
    return p != peers.end() && p->second.link != nullptr ? "up (its dial)" : "waiting to redial";
}

}  // namespace

void Mesh::append_stats(std::string& out) const {
    const MeshCounters& c = counters_;
    field(out, "hello_auth_failed", c.auth_failed);
    field(out, "hello_refused_duplicate", c.refused_duplicate);
    field(out, "hello_refused_own_id", c.refused_own_id);
    field(out, "hello_timeouts", c.hello_timeouts);
    field(out, "slow_consumer_closes", c.slow_closes);
    field(out, "subscribe_refused", c.subscribe_refused);
    field(out, "interest_overflows", c.interest_overflows);
    field(out, "forgotten_peers", c.forgotten_peers);
    field(out, "accept_pauses", c.accept_pauses);
    field(out, "peer_interest_entries", interest_.peer_entries());
    out.append(",\"peers\":[");
    bool first = true;
    for (const auto& [node, p] : peers_) {
        out.append(first ? "{" : ",{");
        first = false;
        out.append("\"node\":").append(std::to_string(node));
        out.append(",\"address\":\"").append(p.address).append("\"");
        out.append(",\"state\":\"").append(p.link != nullptr ? "up" : "down").append("\"");
        field(out, "subscriptions", interest_.peer_groups(node));
        field(out, "bytes_in", p.bytes_in);
        field(out, "bytes_out", p.bytes_out);
        field(out, "frames_in", p.frames_in);
        field(out, "frames_out", p.frames_out);
        field(out, "publishes_in", p.publishes_in);
        field(out, "publishes_out", p.publishes_out);
        field(out, "drops", p.drops);
        field(out, "gaps", p.gaps);
        field(out, "gap_closes", p.gap_closes);
        field(out, "stale", p.stale);
        field(out, "buffered", p.window.bytes());
        field(out, "unacked_frames", p.window.held());
        field(out, "unacked_bytes", p.window.bytes());
        field(out, "replayed", p.replayed);
        field(out, "lost_sent", p.lost_sent);
        field(out, "lost_received", p.lost_received);
        field(out, "connects", p.connects);
        out.append(",\"listed\":").append(listed(node) ? "true" : "false");
        out.append(",\"wants_all\":").append(interest_.peer_wants_all(node) ? "true" : "false");
        out.append("}");
    }
    out.append("],\"dials\":[");
    first = true;
    for (const Dial& d : dials_) {
        out.append(first ? "{" : ",{");
        first = false;
        out.append("\"address\":\"").append(d.text).append("\"");
        out.append(",\"state\":\"").append(dial_state(d, peers_)).append("\"");
        field(out, "node", d.node);
        field(out, "attempts", d.attempts);
        out.append("}");
    }
    out.append("]");
}

}  // namespace herald::channel::hub
