// Which groups this host's workers and each peer hub want: the hub's routing table. Workers
// report their first and last member of a group (interest records); peers send SUBSCRIBE and
// UNSUBSCRIBE frames. Pure bookkeeping: the hub tells peers what changed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/string_set.h"

namespace herald::channel::hub {

class InterestTable {
  public:
    // Workers are numbered 0 .. processes - 1 (process ids of the shared-memory region).
    explicit InterestTable(std::size_t processes) : workers_(processes) {}

    // ---- this host: the workers ----
    // Worker `from` gained its first member of `group`; true when it is the host's first
    // worker to want it (peers must hear SUBSCRIBE).
    bool join(std::uint32_t from, std::string_view group);
    // Worker `from` lost its last member of `group`; true when no worker wants it any more
    // (peers must hear UNSUBSCRIBE).
    bool leave(std::uint32_t from, std::string_view group);
    // Worker `from` restarted with no members: forgets its groups; returns those that no
    // worker wants any more.
    std::vector<std::string> reset(std::uint32_t from);
    // Groups some worker wants, and how many workers want each.
    const core::StringMap<std::uint32_t>& local() const noexcept { return local_; }

    // ---- the peers, by node id ----
    // Peer `node` subscribed to `group`; false (and nothing recorded) when it already holds
    // `limit` groups.
    bool peer_subscribe(std::uint32_t node, std::string_view group, std::size_t limit);
    void peer_unsubscribe(std::uint32_t node, std::string_view group);
    // Forgets what `node` subscribed to (a new link: it sends its whole set again).
    void peer_clear(std::uint32_t node);
    bool peer_wants(std::uint32_t node, std::string_view group) const;
    bool any_peer_wants(std::string_view group) const;
    std::size_t peer_groups(std::uint32_t node) const;

  private:
    std::vector<core::StringSet> workers_;            // groups each worker has members in
    core::StringMap<std::uint32_t> local_;            // group -> workers with members
    std::map<std::uint32_t, core::StringSet> peers_;  // node -> groups it subscribed to
};

}  // namespace herald::channel::hub
