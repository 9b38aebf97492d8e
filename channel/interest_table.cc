#include "channel/interest_table.h"

namespace herald::channel::hub {

bool InterestTable::join(std::uint32_t from, std::string_view group) {
    if (!workers_[from].insert(std::string(group)).second) return false;
    auto it = local_.find(group);
    if (it != local_.end()) {
        ++it->second;
        return false;
    }
    local_.emplace(std::string(group), 1);
    return true;
}

bool InterestTable::leave(std::uint32_t from, std::string_view group) {
    core::StringSet& mine = workers_[from];
    auto at = mine.find(group);
    if (at == mine.end()) return false;
    mine.erase(at);
    auto it = local_.find(group);
    if (it == local_.end() || --it->second != 0) return false;
    local_.erase(it);
    return true;
}

std::vector<std::string> InterestTable::reset(std::uint32_t from) {
    core::StringSet groups = std::move(workers_[from]);
    workers_[from].clear();
    std::vector<std::string> gone;
    for (const std::string& g : groups) {
        auto it = local_.find(g);
        if (it == local_.end() || --it->second != 0) continue;
        local_.erase(it);
        gone.push_back(g);
    }
    return gone;
}

void InterestTable::free_set(core::StringSet& set, std::size_t& entries) {
    entries -= set.size();
    core::StringSet().swap(set);  // the memory goes back, not just the entries
}

bool InterestTable::peer_subscribe(std::uint32_t node, std::string_view group, std::size_t limit) {
    PeerInterest& p = peers_[node];
    bool ok = true;
    if (p.resyncing && !p.fresh_all) {
        if (p.fresh.size() >= limit) {
            free_set(p.fresh, peer_entries_);
            p.fresh_all = true;
            ok = false;
        } else if (p.fresh.emplace(group).second) {
            ++peer_entries_;
        }
    }
    if (p.all) return ok;
    if (p.groups.size() >= limit) {
        free_set(p.groups, peer_entries_);
        p.all = true;
        return p.resyncing ? ok : false;
    }
    if (p.groups.emplace(group).second) ++peer_entries_;
    return ok;
}

void InterestTable::peer_unsubscribe(std::uint32_t node, std::string_view group) {
    auto p = peers_.find(node);
    if (p == peers_.end()) return;
    for (core::StringSet* set : {&p->second.groups, &p->second.fresh}) {
        if (auto it = set->find(group); it != set->end()) {
            set->erase(it);
            --peer_entries_;
        }
    }
}

void InterestTable::peer_clear(std::uint32_t node) {
    PeerInterest& p = peers_[node];
    free_set(p.groups, peer_entries_);
    free_set(p.fresh, peer_entries_);
    p = PeerInterest{};
}

void InterestTable::peer_begin_resync(std::uint32_t node) {
    PeerInterest& p = peers_[node];
    free_set(p.fresh, peer_entries_);
    p.fresh_all = false;
    p.resyncing = true;
}

void InterestTable::peer_end_resync(std::uint32_t node) {
    auto it = peers_.find(node);
    if (it == peers_.end() || !it->second.resyncing) return;
    PeerInterest& p = it->second;
    free_set(p.groups, peer_entries_);
    p.groups.swap(p.fresh);  // `fresh` is empty now; its entries stay counted in `groups`
    p.all = p.fresh_all;
    p.fresh_all = false;
    p.resyncing = false;
}

void InterestTable::peer_forget(std::uint32_t node) {
    auto p = peers_.find(node);
    if (p == peers_.end()) return;
    peer_entries_ -= p->second.groups.size() + p->second.fresh.size();
    peers_.erase(p);
}

bool InterestTable::peer_wants(std::uint32_t node, std::string_view group) const {
    auto p = peers_.find(node);
    return p != peers_.end() && (p->second.all || p->second.groups.contains(group));
}

bool InterestTable::any_peer_wants(std::string_view group) const {
    for (const auto& [node, p] : peers_) {
        if (p.all || p.groups.contains(group)) return true;
    }
    return false;
}

std::size_t InterestTable::peer_groups(std::uint32_t node) const {
    auto p = peers_.find(node);
    return p == peers_.end() ? 0 : p->second.groups.size();
}

bool InterestTable::peer_wants_all(std::uint32_t node) const {
    auto p = peers_.find(node);
    return p != peers_.end() && p->second.all;
}

}  // namespace herald::channel::hub
