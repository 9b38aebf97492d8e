// The hub's side of the cluster: a full mesh of TCP links to the other hosts' hubs, carrying
// cluster frames (channel/cluster_frame.h).
//
// Who dials: every hub dials the addresses in --peers (its own skipped) until the HELLOs show
// the ids; a link survives only when the lower node id dialled it, so after simultaneous dials
// both ends keep the same one. A hub that learns a peer has the lower id stops dialling it and
// waits for its dial. A link is up once both HELLOs crossed; then each side sends its whole
// interest set, and PUBLISH frames that waited meanwhile.
//
// Delivery: PUBLISH (and LOST) frames to a peer carry seqs from 1 per sender incarnation and
// stay in the peer's AckWindow (bounded by --peer-buffer) until it ACKs them; after a relink the
// window is replayed whole. The receiver delivers each seq once (duplicates are dropped and
// counted) and keeps its last seq per origin in the host's shared memory (OriginSeq), so a
// restarted hub still knows it. A PUBLISH that does not fit the window is dropped, its group
// remembered and reported to the peer in a LOST frame, whose receiver closes the group's
// members (OnLost).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "channel/ack_window.h"
#include "channel/cluster_frame.h"
#include "channel/hub_options.h"
#include "channel/interest_table.h"
#include "channel/poller.h"
#include "channel/shm_region.h"
#include "core/clock.h"
#include "core/log_limiter.h"

namespace herald::channel::hub {

constexpr std::size_t kMaxUnnamedLinks = 64;      // links before HELLO at once; more are refused
constexpr std::size_t kMaxPeerGroups = 1u << 20;  // subscriptions one peer may hold

// One TCP connection to a peer hub.
struct PeerLink : Handle {
    explicit PeerLink(HandleOwner* o) : Handle(o) {}
    bool dialer = false;        // we dialled it
    bool connecting = false;    // its non-blocking connect has not completed
    bool hello = false;         // its HELLO arrived: the link is up
    bool closing = false;       // close once `out` is written (a link the id rule rejects)
    std::uint32_t node = 0;     // its node id, once its HELLO arrived
    int dial = -1;              // index in the mesh's dials when we dialled it
    std::string remote;         // the peer's address, for an accepted link
    std::string in;             // received bytes not yet parsed, from in_off
    std::size_t in_off = 0;     // bytes of `in` already parsed
    std::size_t out_frame = 0;  // start of the first frame in `out` not wholly written
    core::Nanos opened = 0;     // when it was made
    core::Nanos last_rx = 0;    // when bytes last arrived
    core::Nanos last_ping = 0;  // when we last sent PING
};

// A peer host, known by node id once a HELLO named it (its interest is in the InterestTable).
struct Peer {
    std::uint32_t node = 0;
    std::string address;              // the address its link came from or went to
    PeerLink* link = nullptr;         // its link while up
    AckWindow window;                 // PUBLISH/LOST frames it has not acknowledged
    OriginSeq* received = nullptr;    // the last seq delivered from it (shared memory)
    bool ack_due = false;             // frames arrived since our last ACK to it
    std::uint64_t bytes_in = 0;       // bytes received on its links
    std::uint64_t bytes_out = 0;      // bytes the kernel took for its links
    std::uint64_t frames_in = 0;      // frames received after its HELLO
    std::uint64_t frames_out = 0;     // frames wholly written to its links
    std::uint64_t publishes_in = 0;   // PUBLISH frames from it delivered to this host
    std::uint64_t publishes_out = 0;  // PUBLISH frames queued for it
    std::uint64_t drops = 0;          // PUBLISH frames for it that did not fit (buffer full)
    std::uint64_t gaps = 0;           // PUBLISH frames from it that never arrived (seq gaps)
    std::uint64_t connects = 0;       // links that completed HELLO
    std::uint64_t stale = 0;          // PUBLISH/LOST frames with a seq already seen (dropped)
    std::uint64_t replayed = 0;       // frames sent again after a relink
    std::uint64_t lost_sent = 0;      // LOST frames queued for it (a group each, or all)
    std::uint64_t lost_received = 0;  // LOST frames from it acted on
    bool met = false;                 // linked since this hub started (our HELLO is not fresh)
};

// An address from --peers this hub dials.
struct Dial {
    net::Endpoint endpoint;         // where to connect
    std::string text;               // endpoint, as logs and /stats show it
    const char* passive = nullptr;  // non-null: not dialled, and why ("this hub", ...)
    std::uint32_t node = 0;         // learned from its HELLO
    PeerLink* link = nullptr;       // the current attempt or link
    core::Nanos next_at = 0;        // when to dial next
    core::Nanos backoff = 0;        // the delay after the next failure
    std::uint64_t attempts = 0;     // dials made
};

class Mesh final : public HandleOwner {
  public:
    // A PUBLISH from a peer, checked and in order: (group id, message bytes).
    using OnPublish = std::function<void(std::string_view, std::span<const std::uint8_t>)>;
    // A LOST from a peer, once: (group id, or empty for every group).
    using OnLost = std::function<void(std::string_view)>;

    // Takes the cluster fields of `options`; `poller` and `interest` outlive the mesh.
    Mesh(const HubOptions& options, Poller& poller, InterestTable& interest, OnPublish on_publish);
    ~Mesh();  // closes every link and the listener
    Mesh(const Mesh&) = delete;
    Mesh& operator=(const Mesh&) = delete;

    // Where the last seq per origin is kept (kMaxOrigins entries, e.g. ShmRegion::origins(),
    // outliving this process); without it, a table of the mesh's own.
    void set_origin_table(OriginSeq* table) noexcept { origins_ = table; }
    void set_on_lost(OnLost on_lost) { on_lost_ = std::move(on_lost); }
    // Listens on --cluster-listen (when the cluster is enabled); an error is one line.
    core::Status listen();
    // Queues one PUBLISH for every peer that wants `group`; false when none does.
    bool forward(std::string_view group, std::span<const std::uint8_t> message);
    // Sends SUBSCRIBE or UNSUBSCRIBE of `group` on every link that is up (a peer whose link is
    // down hears the whole set when it links).
    void send_to_linked(FrameType type, std::string_view group);
    // Dials what is due, pings, and closes silent links; call every few tens of ms.
    void tick(core::Nanos now);
    // Writes what is queued on every link, once, as far as the sockets take it (at exit).
    void flush_all();

    // ,"peers":[...],"dials":[...] of /stats (appended to `out`).
    void append_stats(std::string& out) const;
    std::size_t unnamed_links() const;  // links still waiting for their HELLO
    std::uint64_t bad_frames() const noexcept { return bad_frames_; }
    std::uint64_t rejected_links() const noexcept { return rejected_links_; }
    const std::map<std::uint32_t, Peer>& peers() const noexcept { return peers_; }
    const std::vector<Dial>& dials() const noexcept { return dials_; }
    // Where it listens (the port the kernel picked, after listen()).
    const net::Endpoint& endpoint() const noexcept { return options_.cluster_listen; }

    // HandleOwner: the listener and the links.
    void on_ready(Handle& h, std::uint32_t events) override;
    void on_flush(Handle& h) override;

  private:
    void accept_links();
    void dial(Dial& d, core::Nanos now);
    void bind_source(int fd, const net::Endpoint& to) const;
    void connected(PeerLink& link);
    void read_link(PeerLink& link);
    bool handle_frame(PeerLink& link, const Frame& frame);
    bool on_publish(PeerLink& link, Peer& peer, const Frame& frame);
    bool fresh_seq(Peer& peer, std::uint64_t seq);
    void on_lost(Peer& peer, const Frame& frame);
    OriginSeq* origin_entry(std::uint32_t node, std::uint64_t incarnation);
    void on_hello(PeerLink& link, const HelloBody& hello);
    void link_up(PeerLink& link, Peer& peer, Dial* d);
    void enqueue_publish(Peer& peer, std::string_view group, std::span<const std::uint8_t> message);
    void write_link(PeerLink& link);
    void close_link(PeerLink& link, const std::string& why);
    void redial_later(PeerLink& link);
    void bad_frame(PeerLink& link, const std::string& why);
    std::uint16_t hello_flags(std::uint32_t node) const;
    Dial* dial_of(const PeerLink& link);

    HubOptions options_;
    core::LogLimiter refused_log_{core::kSecond};  // "peer_refused": one line a second
    Poller& poller_;
    InterestTable& interest_;
    OnPublish on_publish_;
    OnLost on_lost_;
    std::unique_ptr<OriginSeq[]> own_origins_{new OriginSeq[kMaxOrigins]{}};
    OriginSeq* origins_ = own_origins_.get();
    std::uint64_t incarnation_;  // sent in HELLO: differs on every start
    Handle listener_{this};
    std::vector<Dial> dials_;
    std::map<std::uint32_t, Peer> peers_;           // by node id
    std::vector<std::unique_ptr<PeerLink>> links_;  // every open link
    std::minstd_rand jitter_{std::random_device{}()};
    core::Nanos last_tick_ = 0;         // a hub that was itself frozen does not blame its peers
    std::uint64_t bad_frames_ = 0;      // links closed for a hostile or broken frame
    std::uint64_t rejected_links_ = 0;  // links refused (cluster name, version, node id)
};

}  // namespace herald::channel::hub
