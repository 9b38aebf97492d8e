// Which groups this host's workers and each peer hub want: the hub's routing table. Workers
// report their first and last member of a group (interest records) and, when the hub asks
// (it missed records), their whole set between a begin and an end record; peers send SUBSCRIBE
// and UNSUBSCRIBE frames. Pure bookkeeping: the hub tells peers what changed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/interest_hash.h"
#include "core/string_set.h"

namespace herald::channel::hub {

class InterestTable {
  public:
    // Workers are numbered 0 .. processes - 1 (process ids of the shared-memory region).
    explicit InterestTable(std::size_t processes) : workers_(processes) {}

    // ---- this host: the workers ----
    // Worker `from` gained its first member of `group` (or, inside a full set, holds it); true
    // when it is the host's first worker to want it (peers must hear SUBSCRIBE).
    bool join(std::uint32_t from, std::string_view group);
    // Worker `from` lost its last member of `group`; true when no worker wants it any more
    // (peers must hear UNSUBSCRIBE).
    bool leave(std::uint32_t from, std::string_view group);
    // Worker `from` restarted with no members: forgets its groups; returns those that no
    // worker wants any more.
    std::vector<std::string> reset(std::uint32_t from);
    // Worker `from` begins its whole set: every group it holds comes as a join() before
    // end_set(); joins and leaves in between apply as they come (they are in ring order).
    void begin_set(std::uint32_t from);
    // The set begun by begin_set() is complete: forgets the groups of `from` that no join()
    // confirmed since; returns those that no worker wants any more (peers must hear
    // UNSUBSCRIBE). Without a begin_set() since the last end_set(), forgets nothing.
    std::vector<std::string> end_set(std::uint32_t from);
    // What the table believes worker `from` holds: how many groups, and their
    // core::InterestDigest (the worker's /stats interest_hash when both agree).
    std::size_t worker_groups(std::uint32_t from) const { return workers_[from].groups.size(); }
    std::uint64_t worker_digest(std::uint32_t from) const { return workers_[from].digest.value(); }
    // Groups some worker wants, and how many workers want each.
    const core::StringMap<std::uint32_t>& local() const noexcept { return local_; }

    // ---- the peers, by node id ----
    // Peer `node` subscribed to `group`. At `limit` groups it is served as wanting every group
    // from then on (its entries freed): returns false for that subscription only (the caller
    // logs and counts it), true otherwise.
    bool peer_subscribe(std::uint32_t node, std::string_view group, std::size_t limit);
    void peer_unsubscribe(std::uint32_t node, std::string_view group);
    // Forgets what `node` subscribed to.
    void peer_clear(std::uint32_t node);
    // A new link from `node`: it sends its whole set again. Until peer_end_resync() the groups
    // it held stay wanted as well (no publish is dropped while the set crosses); from then on,
    // only the groups it subscribed to since the begin.
    void peer_begin_resync(std::uint32_t node);
    void peer_end_resync(std::uint32_t node);
    // Forgets `node` altogether (a peer the mesh no longer remembers).
    void peer_forget(std::uint32_t node);
    bool peer_wants(std::uint32_t node, std::string_view group) const;
    bool any_peer_wants(std::string_view group) const;
    std::size_t peer_groups(std::uint32_t node) const;
    // Whether `node` went over the limit and is served every group.
    bool peer_wants_all(std::uint32_t node) const;
    // Group entries held for all peers together (what their subscriptions cost in memory).
    std::size_t peer_entries() const noexcept { return peer_entries_; }

  private:
    struct PeerInterest {
        core::StringSet groups;  // groups it subscribed to (during a resync: old and new)
        bool all = false;        // over the limit: every group
        bool resyncing = false;  // between peer_begin_resync() and peer_end_resync()
        core::StringSet fresh;   // during a resync: the groups subscribed since its begin
        bool fresh_all = false;  // during a resync: the new set went over the limit
    };
    static void free_set(core::StringSet& set, std::size_t& entries);
    struct Worker {
        core::StringMap<std::uint32_t> groups;  // group -> the set generation that last saw it
        std::uint32_t generation = 0;           // bumped by begin_set()
        bool open = false;                      // begin_set() without end_set() yet
        core::InterestDigest digest;            // of `groups`' keys
    };
    // Takes `group` (at `it`) out of worker `from`; true when no worker wants it any more.
    bool forget(Worker& w, core::StringMap<std::uint32_t>::iterator it);

    std::vector<Worker> workers_;                  // groups each worker has members in
    core::StringMap<std::uint32_t> local_;         // group -> workers with members
    std::map<std::uint32_t, PeerInterest> peers_;  // by node id
    std::size_t peer_entries_ = 0;                 // sum of peers_[*].groups.size()
};

}  // namespace herald::channel::hub
