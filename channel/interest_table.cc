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

bool InterestTable::peer_subscribe(std::uint32_t node, std::string_view group, std::size_t limit) {
    core::StringSet& set = peers_[node];
    if (set.size() >= limit) return false;
    set.emplace(group);
    return true;
}

void InterestTable::peer_unsubscribe(std::uint32_t node, std::string_view group) {
    auto p = peers_.find(node);
    if (p == peers_.end()) return;
    if (auto it = p->second.find(group); it != p->second.end()) p->second.erase(it);
}

void InterestTable::peer_clear(std::uint32_t node) { peers_[node].clear(); }

bool InterestTable::peer_wants(std::uint32_t node, std::string_view group) const {
    auto p = peers_.find(node);
    return p != peers_.end() && p->second.contains(group);
}

bool InterestTable::any_peer_wants(std::string_view group) const {
    for (const auto& [node, set] : peers_) {
        if (set.contains(group)) return true;
    }
    return false;
}

std::size_t InterestTable::peer_groups(std::uint32_t node) const {
    auto p = peers_.find(node);
    return p == peers_.end() ? 0 : p->second.size();
}

}  // namespace herald::channel::hub
