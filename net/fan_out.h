// The worker's groups: which connections are in which group, the interest the other processes
// are told about (Relay::interest), and the fan-out of one encoded frame to a group's members.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/block.h"
#include "core/group_table.h"
#include "core/interest_hash.h"
#include "core/slab.h"
#include "net/connection.h"
#include "net/outbox.h"
#include "net/relay.h"
#include "net/worker_stats.h"

namespace herald::net {

class GroupFanOut {
  public:
    // stats: its groups/memberships gauges and deliveries are kept here; max_groups_per_conn:
    // --max-groups-per-conn.
    GroupFanOut(WorkerStats& stats, std::size_t max_groups_per_conn)
        : stats_(stats), max_groups_(max_groups_per_conn) {}

    // Where first joins and last leaves are announced; null: a single process.
    void set_relay(Relay* relay) noexcept { relay_ = relay; }

    // Puts connection `slot` in `group`; false (nothing changes) when it is in
    // max_groups_per_conn groups already. Joining twice is no error.
    bool join(std::uint32_t slot, std::string_view group);
    // Takes `slot` out of `group` (nothing when it is not in it).
    void leave(std::uint32_t slot, std::string_view group);
    // Takes `slot` out of every group (it is closing).
    void leave_all(std::uint32_t slot);

    bool has_members(std::string_view group) const { return !table_.members(group).empty(); }
    // Appends the members of `group` (every member of any group when `group` is empty) to
    // `out`, each once.
    void collect_members(std::string_view group, std::vector<std::uint32_t>& out) const;
    // The hub asks for every group with a member (it restarted, or missed records): snapshots
    // the group ids and begins the answer (Relay::interest_set); resync_step() writes the rest.
    // A request while an answer is under way starts it over.
    void announce_all();
    // Writes up to `budget` records of the answer while the relay takes them without queueing
    // (Relay::can_write), each group only if it still has a member now, then ends the set.
    // Returns true while some remain.
    bool resync_step(std::size_t budget);
    bool resyncing() const noexcept { return resync_open_; }

    // Queues `frame` (encoded once, shared by reference) to every member of `group` and counts
    // the deliveries. Returns the members refused for backpressure (SendStatus::kBackpressure),
    // which the caller closes: closing changes the member arrays this walks. The span is valid
    // until the next call. No allocation per message or member.
    std::span<const std::uint32_t> send(std::string_view group, core::Block* frame, Outbox& outbox,
                                        core::Slab<Connection>& conns);
    // The same for a message not yet encoded: it becomes a text frame (net::make_frame) only
    // when the group has a member here.
    std::span<const std::uint32_t> send(std::string_view group,
                                        std::span<const std::uint8_t> message,
                                        core::BlockPool& pool, Outbox& outbox,
                                        core::Slab<Connection>& conns);

  private:
    void update_gauges() noexcept;

    // Toggles `group` in digest_ (it was created or removed) and tells the relay.
    void changed(std::string_view group, bool joined);

    core::GroupTable table_;
    core::InterestDigest digest_;  // of the groups with a member (stats_.interest_hash)
    std::string resync_ids_;       // the answer's snapshot: u16 length, then the id, per group
    std::size_t resync_at_ = 0;    // the next id of resync_ids_ to write
    bool resync_open_ = false;     // an answer is under way
    Relay* relay_ = nullptr;
    WorkerStats& stats_;
    std::size_t max_groups_;

  public:
    // A new --max-groups-per-conn (SIGHUP reload): it bounds the next join.
    void set_max_groups(std::size_t max_groups_per_conn) noexcept {
        max_groups_ = max_groups_per_conn;
    }
    std::vector<std::uint32_t> victims_;  // members refused by the last send()
};

}  // namespace herald::net
