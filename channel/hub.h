// The hub: one process per host that carries send_to_group events to and from the hubs of
// other hosts (TCP frames, interest routing) and serves the backend publish API.
//
// Its parts (namespace hub): Poller (the epoll set and buffered socket writes), Mesh (the links
// to peer hubs), InterestTable (which groups the workers and each peer want), and AdminServer
// (the admin/API HTTP side on libmicrohttpd, channel/admin_server.h). Hub composes them in one
// loop with the workers' rings: MHD's epoll descriptor sits in the Poller's epoll set, and
// AdminServer::run() is called when it is readable or its timeout_ms() is due, on this thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "channel/admin_server.h"
#include "channel/hub_options.h"
#include "channel/interest_table.h"
#include "channel/nats_engine.h"
#include "channel/peer_mesh.h"
#include "channel/poller.h"
#include "channel/shm_region.h"
#include "channel/shm_relay.h"
#include "core/block.h"
#include "core/result.h"

namespace herald::channel {

class Hub final : private hub::HandleOwner, private AdminHandler {
  public:
    // Hub process `self` of `region`; wake_fds[p] is process p's eventfd (as ShmRelay).
    Hub(const HubOptions& options, const ShmRegion& region, std::uint32_t self,
        std::vector<int> wake_fds, const RelayOptions& relay);
    ~Hub();
    Hub(const Hub&) = delete;
    Hub& operator=(const Hub&) = delete;

    // Opens the listeners (--cluster-listen, --admin-listen), the epoll set and the signalfd
    // (SIGINT and SIGTERM are blocked from now on); an error is one line naming the cause.
    core::Status start();
    // Runs until SIGTERM/SIGINT, after start() succeeded; sets `ready` to 1 once it serves.
    // Returns the exit code (0).
    int run(std::atomic<std::uint32_t>& ready);

    // What SIGHUP does (read from the signalfd in the loop): `hook` runs on the loop thread and
    // may call apply_limits(). None by default: SIGHUP is read and ignored.
    void set_reload(std::function<void()> hook) { reload_ = std::move(hook); }
    // Applies what can change without a restart: api_token and max_message (the publish API's
    // requests read from now on). The other fields are ignored.
    void apply_limits(const HubOptions& limits);

  private:
    class RingSink;

    // What the workers' rings carry (through RingSink).
    bool ring_wants(std::string_view group);
    void ring_deliver(std::uint32_t from, std::string_view group,
                      std::span<const std::uint8_t> message);
    void ring_interest(std::uint32_t from, std::string_view group, bool joined);
    void ring_reset(std::uint32_t from);
    // The seam between the hub and its engine (the mesh, or NATS with --engine nats).
    void forward(std::string_view group, std::span<const std::uint8_t> message,
                 hub::RecordId from = {});
    void announce(std::string_view group, bool joined);
    void ring_interest_set(std::uint32_t from, bool begin);

    // Missed records of a worker's ring (lapped, or unparseable): its interest is resynced.
    // What the hub knows of each worker's answer to a resync request.
    struct WorkerSync {
        bool want = false;               // the table may be wrong for it: ask for its whole set
        bool in_set = false;             // its kResetBegin was read, its kResetEnd not yet
        std::uint64_t misses = 0;        // times records of its ring were missed
        std::uint64_t set_misses = 0;    // `misses` when the set under way began
        std::uint64_t asked_misses = 0;  // `misses` when it was last asked
        core::Nanos asked_at = 0;
        std::uint64_t asked = 0;   // resync requests sent to it
        std::uint64_t synced = 0;  // whole sets taken
    };
    void note_missed(std::uint32_t from);
    void ask_resyncs(core::Nanos now);
    std::string interest_stats() const;
    std::uint64_t records_lapped() const;  // by the hub's readers of every worker's ring
    std::uint64_t resyncs_asked() const;   // whole sets asked of every worker

    // HandleOwner: the wake eventfd and the signalfd.
    void on_ready(hub::Handle& h, std::uint32_t events) override;
    void on_flush(hub::Handle&) override {}
    // AdminHandler: what the admin listener asks (on this thread, inside admin_->run()).
    PublishOutcome publish(std::string_view group, std::string_view message) override;
    BatchOutcome publish_batch(std::span<const PublishItem> items) override;
    std::string stats_json() override;
    std::string metrics_text() override;
    ReadyState ready() override;
    std::string hub_stats() const;
    void run_admin(core::Nanos now);

    void on_tick(core::Nanos now);
    struct Sleep {
        int timeout_ms = 0;  // for epoll_wait
        bool slept = false;  // the rings' readers are marked asleep: call relay_.woke() after
    };
    Sleep prepare_wait(bool busy, core::Nanos now, core::Nanos next_tick);

    HubOptions options_;
    ShmRelay relay_;
    core::BlockPool pool_;
    hub::Poller poller_;
    hub::InterestTable interest_;
    hub::Mesh mesh_;                         // --engine mesh (idle with nats)
    std::unique_ptr<hub::NatsEngine> nats_;  // --engine nats
    const ShmRegion& region_;
    std::uint32_t self_;
    std::unique_ptr<AdminServer> admin_;  // with --admin-listen
    hub::Handle admin_fd_{this};          // MHD's epoll descriptor (not ours to close)
    bool admin_due_ = false;              // admin_fd_ was readable: run the admin server
    core::Nanos admin_at_ = 0;            // run the admin server by then (its timeout_ms())
    hub::Handle wake_{this};
    hub::Handle signal_{this};
    bool stopping_ = false;
    std::function<void()> reload_;  // SIGHUP (set_reload)

    // Counters for /stats.
    std::uint64_t local_publishes_ = 0;   // from this host's workers
    std::uint64_t remote_publishes_ = 0;  // from peers, into the ring
    std::uint64_t unrouted_ = 0;          // PUBLISH frames no peer wanted (never sent)
    std::uint64_t api_publishes_ = 0;     // messages published through the admin listener
    std::uint64_t lost_groups_ = 0;       // LOST records written for the workers
    std::vector<WorkerSync> sync_;        // per process id (the hub's own entry unused)
    std::size_t interest_peak_ = 0;       // most groups since the last malloc_trim
};

}  // namespace herald::channel
