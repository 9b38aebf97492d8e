// The Mesh's handshake and the identity rules (channel/peer_mesh.h, channel/peer_auth.h): HELLO
// and AUTH, who is admitted, one link per node, and the peers it forgets. Kept apart from the
// link I/O in peer_mesh.cc.
#include <sys/epoll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "channel/peer_mesh.h"
#include "net/log.h"

namespace herald::channel::hub {

// A frame on a link that is not up yet: HELLO first, then AUTH; anything else closes it.
bool Mesh::handshake_frame(PeerLink& link, const Frame& frame) {
    if (!link.got_hello && frame.type == FrameType::kHello) {
        on_hello(link, read_hello(frame));
    } else if (link.got_hello && frame.type == FrameType::kAuth) {
        on_auth(link, read_auth(frame));
    } else {
        bad_frame(link, link.got_hello ? "a frame before AUTH" : "a frame before HELLO");
    }
    return !link.dead;
}

// Its HELLO: checked for cluster, protocol and id; an accepted link answers with our HELLO and
// our AUTH. Nothing about the peer is believed until its AUTH proves the secret.
void Mesh::on_hello(PeerLink& link, const HelloBody& hello) {
    if (hello.protocol != kClusterProtocolVersion || hello.cluster != options_.cluster ||
        hello.node == 0) {
        ++counters_.rejected_links;
        return close_link(link, "HELLO from node " + std::to_string(hello.node) + " of cluster '" +
                                    std::string(hello.cluster) + "' protocol " +
                                    std::to_string(hello.protocol) + ": not ours");
    }
    link.theirs = HelloFacts{hello.node, hello.incarnation, hello.flags, hello.nonce};
    link.got_hello = true;
    if (link.dialer) return;  // its AUTH follows
    link.ours = HelloFacts{options_.node_id, incarnation_, hello_flags(hello.node), make_nonce()};
    append_hello(link.out, options_.node_id, options_.cluster, link.ours.flags, incarnation_,
                 link.ours.nonce);
    append_auth(link.out, hello_mac(options_.cluster_secret, AuthRole::kAcceptor, link.theirs,
                                    link.ours, options_.cluster));
    poller_.mark_dirty(link);
}

// Its AUTH: the MAC of its role over both HELLOs, or the link is closed and counted.
void Mesh::on_auth(PeerLink& link, const AuthMac& mac) {
    const HelloFacts& dialer = link.dialer ? link.ours : link.theirs;
    const HelloFacts& acceptor = link.dialer ? link.theirs : link.ours;
    const AuthRole role = link.dialer ? AuthRole::kAcceptor : AuthRole::kDialer;
    if (!mac_equal(mac,
                   hello_mac(options_.cluster_secret, role, dialer, acceptor, options_.cluster))) {
        ++counters_.auth_failed;
        if (auth_log_.allow(core::now_ns())) {
            net::log_event(net::LogLevel::kWarn, "peer_auth_failed",
                           "peer=\"%s\" claimed_node=%u suppressed=%llu note=\"its AUTH does not "
                           "prove our --cluster-secret (an impostor, or another secret)\"",
                           link.remote.empty() ? "dialled" : link.remote.c_str(), link.theirs.node,
                           static_cast<unsigned long long>(auth_log_.suppressed()));
        }
        return close_link(link, "AUTH failed");
    }
    admit(link);
}

// A HELLO with our own node id: our own listener (our incarnation: the dial is passive from now
// on), or another hub started with our id (an error, logged and counted). True when it closed.
bool Mesh::same_node_id(PeerLink& link, Dial* d) {
    if (link.theirs.node != options_.node_id) return false;
    if (link.theirs.incarnation == incarnation_) {
        if (d != nullptr) d->passive = "this hub";
        close_link(link, "this is our own address");
        return true;
    }
    ++counters_.refused_own_id;
    if (auth_log_.allow(core::now_ns())) {
        net::log_event(net::LogLevel::kError, "node_id_conflict",
                       "node=%u peer=\"%s\" note=\"another hub runs with our --node-id %u: every "
                       "host needs its own\"",
                       options_.node_id, address_of(link).c_str(), options_.node_id);
    }
    close_link(link, "another hub with our node id");
    return true;
}

// Whether the authenticated `link` must yield to `old`, the node's link that is up: true (and
// `link` closed) while `old` is healthy (bytes within half of --peer-timeout), except in a
// simultaneous-dial race (`old` up less than --peer-timeout), where both ends keep the link the
// lower node id dialled.
bool Mesh::refuse_second_link(PeerLink& link, PeerLink& old) {
    const core::Nanos now = core::now_ns();
    if (now - old.last_rx > options_.peer_timeout / 2) return false;  // old looks dead: replace
    const bool we_are_lower = options_.node_id < link.theirs.node;
    const bool link_kept = link.dialer == we_are_lower;
    const bool old_kept = old.dialer == we_are_lower;
    // A race is two links of one hub process (one incarnation) dialled from both ends.
    const bool race = now - old.up_at < options_.peer_timeout && link.dialer != old.dialer &&
                      link.theirs.incarnation == old.theirs.incarnation;
    if (race && link_kept && !old_kept) return false;
    if (race) {
        close_link(link, "simultaneous dials: the lower node id's dial is kept");
        return true;
    }
    if (link.theirs.incarnation == old.theirs.incarnation) {
        // A second link of the same hub process (a dial that lost the race late): no identity
        // problem, not counted.
        close_link(link, "already linked with this hub");
        return true;
    }
    ++counters_.refused_duplicate;
    if (duplicate_log_.allow(now)) {
        net::log_event(
            net::LogLevel::kWarn, "hello_refused_duplicate",
            "node=%u new=\"%s\" live=\"%s\" suppressed=%llu note=\"node %u is linked and "
            "healthy; the new link is refused (a duplicate --node-id or an impostor)\"",
            link.theirs.node, address_of(link).c_str(), address_of(old).c_str(),
            static_cast<unsigned long long>(duplicate_log_.suppressed()), link.theirs.node);
    }
    close_link(link, "node already linked");
    return true;
}

// Where a link goes to (a dial) or comes from (an accept), for log lines.
std::string Mesh::address_of(const PeerLink& link) {
    const Dial* d = dial_of(link);
    return d != nullptr ? d->text : link.remote;
}

// Both HELLOs and the peer's AUTH checked: the identity rules, then the link is up.
void Mesh::admit(PeerLink& link) {
    Dial* d = dial_of(link);
    const std::uint32_t node = link.theirs.node;
    if (same_node_id(link, d)) return;
    if (d != nullptr) d->node = node;
    auto it = peers_.find(node);
    if (it == peers_.end() && peers_.size() >= kMaxPeers) {
        ++counters_.rejected_links;
        return close_link(link, "over " + std::to_string(kMaxPeers) + " peers");
    }
    if (it != peers_.end() && it->second.link != nullptr && it->second.link != &link) {
        // What the old link still holds comes first (it carries the lower seqs); reading it
        // may also find it closed.
        read_link(*it->second.link);
        PeerLink* old = it->second.link;
        if (old != nullptr && refuse_second_link(link, *old)) return;
        if (old != nullptr && !old->dead) close_link(*old, "replaced by a new link");
    }
    if (link.dialer) {
        append_auth(link.out, hello_mac(options_.cluster_secret, AuthRole::kDialer, link.ours,
                                        link.theirs, options_.cluster));
    }
    Peer& peer = peers_[node];
    // Its seqs continue while it is the same incarnation (ours continue in the window); a new
    // incarnation, now proven, numbers from 1 again.
    peer.received = origin_entry(node, link.theirs.incarnation);
    peer.delivered = last_delivered(peer.received);
    number_window(peer);
    peer.window.set_limit(options_.peer_buffer);
    peer.node = node;
    link.node = node;
    link_up(link, peer, d);
}

void Mesh::link_up(PeerLink& link, Peer& peer, Dial* d) {
    peer.met = true;
    peer.link = &link;
    interest_.peer_begin_resync(peer.node);  // it sends its whole set now
    link.resyncing = true;
    ++peer.connects;
    peer.address = d != nullptr ? d->text : "from " + link.remote;
    link.hello = true;
    link.up_at = core::now_ns();
    peer.down_since = 0;
    for (const auto& [group, count] : interest_.local()) {
        append_group_frame(link.out, FrameType::kSubscribe, group);
    }
    // The end of the set (see handle_frame), with where our seqs to it go on (kPingBase).
    append_ping(link.out, FrameType::kPing, peer.window.acked(), kPingBase);
    // Replay: every frame it has not acknowledged (it drops those it already has), then what
    // it must hear was dropped meanwhile.
    link.out.append(peer.window.frames());
    peer.replayed += peer.window.held();
    peer.lost_sent += peer.window.push_lost(&link.out);
    persist_send(peer);
    net::log_event(net::LogLevel::kInfo, "peer_link_up", "node=%u how=%s", peer.node,
                   link.dialer ? "dialled" : "accepted");
    poller_.mark_dirty(link);
}

OriginSeq* Mesh::origin_entry(std::uint32_t node, std::uint64_t incarnation) {
    OriginSeq* free_entry = nullptr;
    OriginSeq* e = nullptr;
    for (std::uint32_t i = 0; i < kMaxOrigins && e == nullptr; ++i) {
        const std::uint32_t n = origins_[i].node.load(std::memory_order_acquire);
        if (n == node) e = &origins_[i];
        if (n == 0 && free_entry == nullptr) free_entry = &origins_[i];
    }
    if (e == nullptr) {
        if (free_entry == nullptr) free_entry = &own_origins_[0];
        e = free_entry;
        e->incarnation.store(incarnation, std::memory_order_relaxed);
        e->last_seq.store(0, std::memory_order_relaxed);
        e->send_next.store(0, std::memory_order_relaxed);
        e->send_acked.store(0, std::memory_order_relaxed);
        e->node.store(node, std::memory_order_release);
    }
    if (e->incarnation.load(std::memory_order_relaxed) != incarnation) {
        // Seqs of the old incarnation still waiting to settle mean nothing now.
        std::erase_if(pending_, [e](const PendingSeq& p) { return p.entry == e; });
        e->last_seq.store(0, std::memory_order_relaxed);
        e->incarnation.store(incarnation, std::memory_order_relaxed);
    }
    return e;
}

bool Mesh::listed(std::uint32_t node) const noexcept {
    return std::any_of(dials_.begin(), dials_.end(),
                       [node](const Dial& d) { return d.node == node; });
}

std::uint16_t Mesh::hello_flags(std::uint32_t node) const {
    auto it = node == 0 ? peers_.end() : peers_.find(node);
    return it != peers_.end() && it->second.met ? 0 : kHelloFresh;
}

// Peers reached by no address of --peers whose link has been down kForgetAfterTimeouts x
// --peer-timeout: forgotten with their window and their subscriptions.
void Mesh::forget_idle_peers(core::Nanos now) {
    const core::Nanos bound = kForgetAfterTimeouts * options_.peer_timeout;
    for (auto it = peers_.begin(); it != peers_.end();) {
        const Peer& p = it->second;
        if (listed(p.node) || p.link != nullptr || p.down_since == 0 ||
            now - p.down_since < bound) {
            ++it;
            continue;
        }
        net::log_event(net::LogLevel::kInfo, "peer_forgotten",
                       "node=%u address=\"%s\" unacked_frames=%llu note=\"not in --peers and "
                       "down too long\"",
                       p.node, p.address.c_str(), static_cast<unsigned long long>(p.window.held()));
        interest_.peer_forget(p.node);
        if (p.interest_unknown) --unknown_interest_;
        ++counters_.forgotten_peers;
        it = peers_.erase(it);
    }
}

// ---- limits -----------------------------------------------------------------------------

std::size_t Mesh::out_cap() const noexcept {
    const std::size_t subscribe_set =
        interest_.local().size() * (kFrameHeaderSize + kGroupFixed + options_.max_group_id);
    return options_.peer_buffer + subscribe_set + kControlSlack;
}

// Closes `link` as a slow consumer when it holds more unsent bytes than out_cap(); true then.
bool Mesh::over_cap(PeerLink& link) {
    if (link.dead || link.unwritten() <= out_cap()) return false;
    ++counters_.slow_closes;
    close_link(link, "slow consumer: " + std::to_string(link.unwritten()) +
                         " unsent bytes, over the bound of " + std::to_string(out_cap()));
    return true;
}

// A SUBSCRIBE: a group id over --max-group-id is refused (no group that long exists here) and
// counted; past the per-peer cap the peer is served every group (never cut off).
void Mesh::on_subscribe(PeerLink& link, std::string_view group) {
    if (group.size() > options_.max_group_id) {
        ++counters_.subscribe_refused;
        if (limit_log_.allow(core::now_ns())) {
            net::log_event(net::LogLevel::kWarn, "peer_subscribe_refused",
                           "node=%u bytes=%zu note=\"group id over --max-group-id\"", link.node,
                           group.size());
        }
        return;
    }
    if (interest_.peer_subscribe(link.node, group, options_.max_peer_groups)) return;
    ++counters_.interest_overflows;
    net::log_event(net::LogLevel::kWarn, "peer_interest_all",
                   "node=%u limit=%zu note=\"over the subscription cap: it gets every group\"",
                   link.node, options_.max_peer_groups);
}

// ---- the listener -------------------------------------------------------------------------

// accept4 failed: at the descriptor (or memory) limit, stop watching the listener for
// kAcceptPause (epoll would report it ready at once, forever) and say so once a second.
void Mesh::pause_accepts(int error) {
    if (error != EMFILE && error != ENFILE && error != ENOBUFS && error != ENOMEM) return;
    const core::Nanos now = core::now_ns();
    ++counters_.accept_pauses;
    accept_paused_until_ = now + kAcceptPause;
    poller_.modify(listener_, 0);
    if (pause_log_.allow(now)) {
        net::log_event(net::LogLevel::kWarn, "cluster_accept_paused",
                       "reason=\"%s\" suppressed=%llu note=\"pausing peer accepts for 100 ms; "
                       "raise `ulimit -n`\"",
                       std::strerror(error),
                       static_cast<unsigned long long>(pause_log_.suppressed()));
    }
}

void Mesh::evict_oldest_unnamed() {
    PeerLink* oldest = nullptr;
    for (auto& l : links_) {
        if (l->hello || l->dialer || l->dead) continue;
        if (oldest == nullptr || l->opened < oldest->opened) oldest = l.get();
    }
    if (oldest == nullptr) return;
    ++counters_.rejected_links;
    close_link(*oldest, "evicted: too many links waiting for their HELLO");
}

}  // namespace herald::channel::hub
