// The hub's side of the cluster: a full mesh of TCP links to the other hosts' hubs, carrying
// cluster frames (channel/cluster_frame.h).
//
// Who dials: every hub dials the addresses in --peers (its own skipped), whatever the ids, and
// accepts any peer that proves the cluster secret, listed or not (remembered while it lives,
// forgotten kForgetAfterTimeouts x --peer-timeout after its link went down). A link is up once
// the HELLOs and AUTHs crossed (channel/peer_auth.h); then each side sends its whole interest
// set, and PUBLISH frames that waited meanwhile. One link per node: a second one is refused while
// the first is healthy (hello_refused_duplicate), except in a simultaneous-dial race, settled
// the same way on both ends: the link the lower node id dialled is kept. An address whose node
// is linked is not dialled.
//
// Delivery: PUBLISH (and LOST) frames to a peer carry seqs from 1 per sender incarnation and
// stay in the peer's AckWindow (bounded by --peer-buffer) until it ACKs them; after a relink the
// window is replayed whole. The receiver delivers each seq once (duplicates are dropped and
// counted) and keeps its last seq per origin in the host's shared memory (OriginSeq), so a
// restarted hub still knows it. A PUBLISH that does not fit the window is dropped, its group
// remembered and reported to the peer in a LOST frame, whose receiver closes the group's
// members (OnLost).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
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
#include "channel/peer_auth.h"
#include "channel/poller.h"
#include "channel/shm_region.h"
#include "core/clock.h"
#include "core/log_limiter.h"

namespace herald::channel::hub {

constexpr std::size_t kMaxUnnamedLinks = 64;  // links before AUTH at once; more evict the oldest
constexpr std::size_t kMaxPeers = 256;        // peer nodes remembered at once (as kMaxOrigins)
constexpr int kForgetAfterTimeouts = 10;      // an unlisted peer down this many --peer-timeouts
                                              // is forgotten with its backlog
constexpr std::size_t kMaxHandshakeBody = kHelloFixed + kMaxClusterName;  // before AUTH
constexpr std::size_t kControlSlack = 1u << 20;  // unsent control bytes beyond the bound below
constexpr core::Nanos kAcceptPause = 100 * core::kMillisecond;  // at the descriptor limit
// Peers (the first of the origin table) whose windows a restarted hub takes back whole.
constexpr std::uint32_t kWindowSlots = 32;
// A window slot's bytes: --peer-buffer, plus LOST frames for every group remembered and a check
// mark, plus slack; at most 1 GiB (a bigger window is kept only while it fits).
constexpr std::size_t window_capacity(const HubOptions& o) noexcept {
    const std::size_t lost =
        (kMaxLostGroups + 2) * (kFrameHeaderSize + kLostFixed + o.max_group_id);
    const std::size_t want = o.peer_buffer + lost + (64u << 10);
    return want < (std::size_t{1} << 30) ? want : std::size_t{1} << 30;
}

// A record of a worker's ring that a PUBLISH was made from: (worker + 1, its position in the
// ring); ring 0: none (an admin API publish).
struct RecordId {
    std::uint64_t ring = 0;
    std::uint64_t pos = 0;
    bool operator==(const RecordId&) const = default;
};

// One TCP connection to a peer hub.
struct PeerLink : Handle {
    explicit PeerLink(HandleOwner* o) : Handle(o) {}
    bool dialer = false;        // we dialled it
    bool connecting = false;    // its non-blocking connect has not completed
    bool got_hello = false;     // its HELLO arrived (its AUTH is due)
    bool hello = false;         // HELLOs and AUTHs crossed: the link is up
    bool resyncing = false;     // up, and its SUBSCRIBE set has not ended yet
    std::uint32_t node = 0;     // its node id, once the link is up
    HelloFacts ours;            // what our HELLO on this link said
    HelloFacts theirs;          // what its HELLO said
    int dial = -1;              // index in the mesh's dials when we dialled it
    std::string remote;         // the peer's address, for an accepted link
    std::string in;             // received bytes not yet parsed, from in_off
    std::size_t in_off = 0;     // bytes of `in` already parsed
    std::size_t out_frame = 0;  // start of the first frame in `out` not wholly written
    core::Nanos opened = 0;     // when it was made (accepted or dialled)
    core::Nanos up_at = 0;      // when it came up
    core::Nanos last_rx = 0;    // when bytes last arrived
    core::Nanos last_ping = 0;  // when we last sent PING
};

// A peer host, known by node id once a HELLO named it (its interest is in the InterestTable).
struct Peer {
    std::uint32_t node = 0;
    std::string address;              // the address its link came from or went to
    PeerLink* link = nullptr;         // its link while up
    AckWindow window;                 // PUBLISH/LOST frames it has not acknowledged
    OriginSeq* received = nullptr;    // the last seq delivered from it into the host's ring
                                      // (shared memory: what a restarted hub knows)
    std::uint64_t delivered = 0;      // the last seq handed to this host (may still wait in
                                      // the ring's overflow queue; duplicates are judged by it)
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
    bool numbered = false;            // its window numbers on from its OriginSeq's send_next
    WindowMirror mirror;              // the window's copy in shared memory, if it has a slot
    WindowMark mirror_mark;           // what was last committed there
    RecordId skip;                    // the record a killed process last forwarded to it (its
                                      // successor reads it again: not twice)
    bool interest_unknown = false;    // restored after a restart: sent every group until its
                                      // SUBSCRIBE set ends
    std::uint64_t gap_closes = 0;     // seq gaps from it acted on as every group lost
    core::Nanos down_since = 0;       // when its link went down (0 while up)
};

// The mesh's own counters (hub /stats and /metrics; docs/CLUSTER.md).
struct MeshCounters {
    std::uint64_t bad_frames = 0;          // links closed for a hostile or broken frame
    std::uint64_t rejected_links = 0;      // refused: cluster name, version, node 0, caps
    std::uint64_t auth_failed = 0;         // AUTH that did not prove the secret
    std::uint64_t refused_duplicate = 0;   // authenticated HELLO for a node linked and healthy
    std::uint64_t refused_own_id = 0;      // authenticated HELLO of another hub with our id
    std::uint64_t hello_timeouts = 0;      // no authenticated HELLO within --peer-timeout
    std::uint64_t slow_closes = 0;         // links closed with more unsent bytes than the bound
    std::uint64_t subscribe_refused = 0;   // SUBSCRIBE with a group id over --max-group-id
    std::uint64_t interest_overflows = 0;  // peers served every group (over the cap)
    std::uint64_t forgotten_peers = 0;     // unlisted peers forgotten while down
    std::uint64_t accept_pauses = 0;       // accepts paused at the descriptor limit
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
    // How far the host's ring has taken what OnPublish/OnLost wrote into it: `issued` counts the
    // records written so far, `placed` those the ring holds (the rest wait in its overflow queue
    // and die with this process; ShmRelay::records_issued()/records_placed()).
    struct RingProgress {
        std::function<std::uint64_t()> issued;
        std::function<std::uint64_t()> placed;
    };

    // Takes the cluster fields of `options`; `poller` and `interest` outlive the mesh.
    Mesh(const HubOptions& options, Poller& poller, InterestTable& interest, OnPublish on_publish);
    ~Mesh();  // closes every link and the listener
    Mesh(const Mesh&) = delete;
    Mesh& operator=(const Mesh&) = delete;

    // Where the seqs per peer node are kept (kMaxOrigins entries, e.g. ShmRegion::origins(),
    // outliving this process); without it, a table of the mesh's own. With `incarnation` (e.g.
    // ShmRegion::hub_incarnation()), this hub's identity outlives the process too: the first
    // process stores its incarnation there; a restarted one (after kill -9) takes it back, with
    // every peer of the table, numbering its frames to each on from where the previous process
    // stopped (a LOST kLostCheck first where frames were unacknowledged), and sends each peer
    // every group until the peer's SUBSCRIBE set has arrived. Call before anything else.
    void set_origin_table(OriginSeq* table, std::atomic<std::uint64_t>* incarnation = nullptr);
    // The copies of the windows (channel/window_mirror.h) for the first mirrors.size() entries
    // of the origin table (ShmRegion::window()); call before set_origin_table().
    void set_mirrors(std::vector<WindowMirror> mirrors) { mirrors_ = std::move(mirrors); }
    // This hub could not read some of its workers' records (its ring reader was lapped): every
    // peer is told that every group lost frames (LOST kLostAll).
    void lose_everything();
    // Whether some peer's groups are not known yet (it is sent every group meanwhile).
    bool any_interest_unknown() const noexcept { return unknown_interest_ != 0; }
    std::uint64_t incarnation() const noexcept { return incarnation_; }
    void set_on_lost(OnLost on_lost) { on_lost_ = std::move(on_lost); }
    // Without it, whatever OnPublish/OnLost wrote counts as in the ring at once. With it, a
    // frame's seq becomes the peer's stored last seq (and is ACKed) only once the ring holds its
    // records, so a frame lost with this process's overflow queue is replayed to the next one.
    void set_ring_progress(RingProgress progress) { progress_ = std::move(progress); }
    // Stores (and ACKs) the seqs of frames whose records the ring now holds; call after each
    // flush of the ring. Cheap when nothing waits.
    void settle();
    std::size_t unsettled() const noexcept { return pending_.size(); }
    // Listens on --cluster-listen (when the cluster is enabled); an error is one line.
    core::Status listen();
    // Queues one PUBLISH for every peer that wants `group`; false when none does. `from`: the
    // ring record it came from (a restarted hub reading that record again skips the peers its
    // previous process already queued it for).
    bool forward(std::string_view group, std::span<const std::uint8_t> message, RecordId from = {});
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
    std::uint64_t bad_frames() const noexcept { return counters_.bad_frames; }
    std::uint64_t rejected_links() const noexcept { return counters_.rejected_links; }
    const MeshCounters& counters() const noexcept { return counters_; }
    const InterestTable& interest() const noexcept { return interest_; }
    // Whether an address of --peers led to `node` (such a peer is never forgotten).
    bool listed(std::uint32_t node) const noexcept;
    // Unsent bytes one link may hold: --peer-buffer + the whole SUBSCRIBE set + kControlSlack;
    // beyond, it is closed as a slow consumer.
    std::size_t out_cap() const noexcept;
    const std::map<std::uint32_t, Peer>& peers() const noexcept { return peers_; }
    const std::vector<Dial>& dials() const noexcept { return dials_; }
    // Where it listens (the port the kernel picked, after listen()).
    const net::Endpoint& endpoint() const noexcept { return options_.cluster_listen; }

    // HandleOwner: the listener and the links.
    void on_ready(Handle& h, std::uint32_t events) override;
    void on_flush(Handle& h) override;

  private:
    void accept_links();
    void pause_accepts(int error);
    void evict_oldest_unnamed();
    void dial(Dial& d, core::Nanos now);
    void bind_source(int fd, const net::Endpoint& to) const;
    void connected(PeerLink& link);
    void read_link(PeerLink& link);
    bool handle_frame(PeerLink& link, const Frame& frame);
    bool on_publish(PeerLink& link, Peer& peer, const Frame& frame);
    bool fresh_seq(Peer& peer, std::uint64_t seq);
    void delivered(Peer& peer, std::uint64_t seq);
    void send_ack(Peer& peer);
    std::uint64_t last_delivered(const OriginSeq* entry) const;
    void on_subscribe(PeerLink& link, std::string_view group);
    void on_lost(Peer& peer, const Frame& frame);
    OriginSeq* origin_entry(std::uint32_t node, std::uint64_t incarnation);
    bool handshake_frame(PeerLink& link, const Frame& frame);
    void on_hello(PeerLink& link, const HelloBody& hello);
    void on_auth(PeerLink& link, const AuthMac& mac);
    void admit(PeerLink& link);
    bool refuse_second_link(PeerLink& link, PeerLink& old);
    bool same_node_id(PeerLink& link, Dial* d);
    std::string address_of(const PeerLink& link);
    void link_up(PeerLink& link, Peer& peer, Dial* d);
    void forget_idle_peers(core::Nanos now);
    bool over_cap(PeerLink& link);
    void enqueue_publish(Peer& peer, std::string_view group, std::span<const std::uint8_t> message,
                         RecordId from);
    void restore_peers(core::Nanos now);
    void number_window(Peer& peer);
    void persist_send(Peer& peer, const RecordId* from = nullptr);
    void mirror_window(Peer& peer, const RecordId* from);
    bool restore_window(Peer& peer, std::uint32_t index);
    void interest_known(Peer& peer);
    void write_link(PeerLink& link);
    void close_link(PeerLink& link, const std::string& why);
    void redial_later(PeerLink& link);
    void bad_frame(PeerLink& link, const std::string& why);
    std::uint16_t hello_flags(std::uint32_t node) const;
    Dial* dial_of(const PeerLink& link);

    HubOptions options_;
    core::LogLimiter refused_log_{core::kSecond};    // "peer_refused": one line a second
    core::LogLimiter auth_log_{core::kSecond};       // "peer_auth_failed", "node_id_conflict"
    core::LogLimiter duplicate_log_{core::kSecond};  // "hello_refused_duplicate"
    core::LogLimiter pause_log_{core::kSecond};      // "cluster_accept_paused"
    core::LogLimiter limit_log_{core::kSecond};  // "peer_subscribe_refused", "peer_interest_all"
    core::Nanos accept_paused_until_ = 0;        // 0: accepting
    Poller& poller_;
    InterestTable& interest_;
    OnPublish on_publish_;
    OnLost on_lost_;
    std::unique_ptr<OriginSeq[]> own_origins_{new OriginSeq[kMaxOrigins]{}};
    OriginSeq* origins_ = own_origins_.get();
    std::uint64_t incarnation_;         // sent in HELLO: differs on every start of the host (a hub
                                        // restart keeps it: set_origin_table())
    std::size_t unknown_interest_ = 0;  // peers with interest_unknown
    // A frame delivered while the ring's overflow queue held records: its seq is stored once the
    // ring has placed record `ticket` (settle()).
    struct PendingSeq {
        std::uint64_t ticket;
        OriginSeq* entry;
        std::uint32_t node;
        std::uint64_t seq;
    };
    RingProgress progress_;
    std::vector<WindowMirror> mirrors_;  // by origin table index
    std::deque<PendingSeq> pending_;
    Handle listener_{this};
    std::vector<Dial> dials_;
    std::map<std::uint32_t, Peer> peers_;           // by node id
    std::vector<std::unique_ptr<PeerLink>> links_;  // every open link
    std::minstd_rand jitter_{std::random_device{}()};
    core::Nanos last_tick_ = 0;  // a hub that was itself frozen does not blame its peers
    MeshCounters counters_;
};

}  // namespace herald::channel::hub
