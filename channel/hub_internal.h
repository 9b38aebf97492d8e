// The hub's parts, shared by hub.cc (loop, rings, publish API) and hub_links.cc (the TCP mesh
// of peer hubs). Not part of the channel library's interface.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "channel/cluster_frame.h"
#include "channel/hub.h"
#include "channel/publish_api.h"
#include "core/block.h"
#include "core/string_set.h"
#include "net/command.h"

namespace herald::channel::hub {

constexpr std::size_t kMaxUnnamedLinks = 64;  // links before HELLO at once; more are refused

// What an epoll event points at.
enum class Kind : std::uint8_t { kClusterListener, kApiListener, kLink, kApi, kWake, kSignal };

struct Handle {
    explicit Handle(Kind k) : kind(k) {}
    virtual ~Handle() = default;
    Kind kind;
    int fd = -1;
    bool dead = false;        // closed: freed after the current batch of events
    bool want_write = false;  // EPOLLOUT armed
    bool dirty = false;       // listed in Hub::dirty_
    std::string out;          // bytes to write, from out_off
    std::size_t out_off = 0;
};

// One TCP connection to a peer hub.
struct Link : Handle {
    Link() : Handle{Kind::kLink} {}
    bool dialer = false;      // we dialled it
    bool connecting = false;  // its non-blocking connect has not completed
    bool hello = false;       // its HELLO arrived: the link is up
    bool closing = false;     // close once `out` is written (a link the id rule rejects)
    std::uint32_t node = 0;   // its node id, once its HELLO arrived
    int dial = -1;            // index in Hub::dials_ when we dialled it
    std::string remote;       // the peer's address, for an accepted link
    std::string in;           // received bytes not yet parsed, from in_off
    std::size_t in_off = 0;
    std::size_t out_frame = 0;  // start of the first frame in `out` not wholly written
    core::Nanos opened = 0;     // when it was made
    core::Nanos last_rx = 0;    // when bytes last arrived
    core::Nanos last_ping = 0;  // when we last sent PING
};

// A connection to the publish API.
struct ApiConn : Handle {
    ApiConn() : Handle{Kind::kApi} {}
    std::string in;               // the request being received
    bool close_after = false;     // close once `out` is written
    core::Nanos last_active = 0;  // when bytes last arrived (idle ones are closed)
};

// A peer host, known by node id once a HELLO named it.
struct Peer {
    std::uint32_t node = 0;
    std::string address;           // the address its link came from or went to
    Link* link = nullptr;          // its link while up
    core::StringSet interest;      // groups it subscribed to
    std::string backlog;           // PUBLISH frames waiting for its link (bounded)
    std::uint64_t next_seq = 1;    // the seq of our next PUBLISH to it
    std::uint64_t expect_seq = 0;  // the seq we expect from it next (0: none seen)
    std::uint64_t bytes_in = 0, bytes_out = 0, frames_in = 0, frames_out = 0;
    std::uint64_t publishes_in = 0, publishes_out = 0;
    std::uint64_t drops = 0;     // PUBLISH frames for it that did not fit (buffer full)
    std::uint64_t gaps = 0;      // PUBLISH frames from it that never arrived (seq gaps)
    std::uint64_t connects = 0;  // links that completed HELLO
    std::uint64_t stale = 0;     // PUBLISH frames with a seq already seen (not delivered)
    bool met = false;            // linked since this hub started (our HELLO is not fresh)
};

// An address from --peers this hub dials.
struct Dial {
    net::Endpoint endpoint;
    std::string text;
    const char* passive = nullptr;  // non-null: not dialled, and why ("this hub", ...)
    std::uint32_t node = 0;         // learned from its HELLO
    Link* link = nullptr;           // the current attempt or link
    core::Nanos next_at = 0;        // when to dial next
    core::Nanos backoff = 0;        // the delay after the next failure
    std::uint64_t attempts = 0;
};

class Hub final : public RecordSink {
  public:
    Hub(const HubOptions& options, const ShmRegion& region, std::uint32_t self,
        std::vector<int> wake_fds, const RelayOptions& relay);
    ~Hub() override;
    Hub(const Hub&) = delete;
    Hub& operator=(const Hub&) = delete;

    // Opens the listeners, the epoll set and the signalfd; "" or why not.
    std::string start();
    int run(std::atomic<std::uint32_t>& ready);

    // RecordSink: what the workers' rings carry.
    bool wants(std::string_view group) override;
    core::BlockPool& pool() override { return pool_; }
    void deliver(std::uint32_t from, std::string_view group, core::Block* frame) override;
    void interest(std::uint32_t from, std::string_view group, bool joined) override;
    void reset(std::uint32_t from) override;

  private:
    // hub.cc: the loop, the publish API and stats.
    void handle_event(Handle* h, std::uint32_t events);
    void on_tick(core::Nanos now);
    void accept_api();
    void read_api(ApiConn& c);
    bool serve_api(ApiConn& c);
    std::string handle_publish(const ApiRequest& request, std::string_view body, int& status);
    std::string render_stats() const;
    void local_interest(std::string_view group, int delta);

    // hub_links.cc: the mesh of peer hubs.
    void accept_links();
    void dial(Dial& d, core::Nanos now);
    void read_link(Link& link);
    bool handle_frame(Link& link, const Frame& frame);
    void on_hello(Link& link, const HelloBody& hello);
    void forward(std::string_view group, std::span<const std::uint8_t> message);
    void enqueue_publish(Peer& peer, std::string_view group, std::span<const std::uint8_t> message);
    void send_to_linked(FrameType type, std::string_view group);
    void close_link(Link& link, const std::string& why);
    void tick_links(core::Nanos now);
    std::uint16_t hello_flags(std::uint32_t node);

    // Both: writing and closing.
    void write_out(Handle& h);
    void mark_dirty(Handle& h);
    void flush_dirty();
    void close_handle(Handle& h);
    void watch(Handle& h, std::uint32_t events, int op);
    std::string listen(Handle& listener, net::Endpoint& at, const char* flag);
    std::size_t unnamed_links() const;  // links still waiting for their HELLO

    HubOptions options_;
    std::uint32_t self_;
    ShmRelay relay_;
    net::CommandParser parser_;  // POST /publish bodies
    core::BlockPool pool_;
    int epoll_fd_ = -1;
    Handle cluster_listener_{Kind::kClusterListener};
    Handle api_listener_{Kind::kApiListener};
    Handle wake_{Kind::kWake};
    Handle signal_{Kind::kSignal};
    bool stopping_ = false;

    std::vector<Dial> dials_;
    std::map<std::uint32_t, Peer> peers_;             // by node id
    std::vector<std::unique_ptr<Link>> links_;        // every open link
    std::vector<std::unique_ptr<ApiConn>> api_;       // every open API connection
    std::vector<Handle*> dirty_;                      // handles with bytes to write
    std::vector<std::unique_ptr<Handle>> graveyard_;  // closed, freed after the event batch

    std::vector<core::StringSet> worker_interest_;  // groups each worker has members in
    core::StringMap<std::uint32_t> interest_;       // group -> workers with members
    std::string padded_;                            // API body + simdjson padding
    std::minstd_rand jitter_{std::random_device{}()};
    core::Nanos last_tick_ = 0;  // a hub that was itself frozen does not blame its peers

    // Counters for /stats.
    std::uint64_t local_publishes_ = 0;   // from this host's workers
    std::uint64_t remote_publishes_ = 0;  // from peers, into the ring
    std::uint64_t api_publishes_ = 0;     // accepted by POST /publish
    std::uint64_t api_rejected_ = 0;      // API requests answered 4xx/5xx
    std::uint64_t bad_frames_ = 0;        // links closed for a hostile or broken frame
    std::uint64_t rejected_links_ = 0;    // links refused (cluster name, version, node id)
    std::uint64_t unrouted_ = 0;          // PUBLISH frames no peer wanted (never sent)
};

}  // namespace herald::channel::hub
