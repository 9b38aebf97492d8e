#include "channel/interest_table.h"

#include <iterator>

namespace herald::channel::hub {

bool InterestTable::join(std::uint32_t from, std::string_view group) {
    Worker& w = workers_[from];
    if (auto at = w.groups.find(group); at != w.groups.end()) {
        at->second = w.generation;  // confirmed (again)
        return false;
    }
    w.groups.emplace(std::string(group), w.generation);
    w.digest.toggle(group);
    auto it = local_.find(group);
    if (it != local_.end()) {
        ++it->second;
        return false;
    }
    local_.emplace(std::string(group), 1);
    return true;
}

bool InterestTable::forget(Worker& w, core::StringMap<std::uint32_t>::iterator at) {
    w.digest.toggle(at->first);
    auto it = local_.find(at->first);
    w.groups.erase(at);
    if (it == local_.end() || --it->second != 0) return false;
    local_.erase(it);
    return true;
}

bool InterestTable::leave(std::uint32_t from, std::string_view group) {
    Worker& w = workers_[from];
    auto at = w.groups.find(group);
    return at != w.groups.end() && forget(w, at);
}

std::vector<std::string> InterestTable::reset(std::uint32_t from) {
    Worker& w = workers_[from];
    std::vector<std::string> gone;
    for (const auto& [g, generation] : w.groups) {
        auto it = local_.find(g);
        if (it == local_.end() || --it->second != 0) continue;
        local_.erase(it);
        gone.push_back(g);
    }
    w.groups.clear();
    w.digest.clear();
    w.open = false;
    return gone;
}

void InterestTable::begin_set(std::uint32_t from) {
    Worker& w = workers_[from];
    ++w.generation;
    w.open = true;
}

std::vector<std::string> InterestTable::end_set(std::uint32_t from) {
    Worker& w = workers_[from];
    std::vector<std::string> gone;
    if (!w.open) return gone;
    w.open = false;
    for (auto at = w.groups.begin(); at != w.groups.end();) {
        auto next = std::next(at);
        if (at->second != w.generation) {
            std::string g = at->first;
            if (forget(w, at)) gone.push_back(std::move(g));
        }
        at = next;
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
