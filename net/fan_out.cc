#include "net/fan_out.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "net/ws_frame.h"

namespace herald::net {

bool GroupFanOut::join(std::uint32_t slot, std::string_view group) {
    const auto joined = table_.join(slot, group, max_groups_);
    if (joined == core::GroupTable::JoinResult::kTooManyGroups) return false;
    if (joined == core::GroupTable::JoinResult::kJoinedNewGroup) changed(group, true);
    update_gauges();
    return true;
}

void GroupFanOut::leave(std::uint32_t slot, std::string_view group) {
    const auto left = table_.leave(slot, group);
    if (left == core::GroupTable::LeaveResult::kLeftGroupRemoved) changed(group, false);
    update_gauges();
}

void GroupFanOut::leave_all(std::uint32_t slot) {
    table_.leave_all(slot, [this](std::string_view group) { changed(group, false); });
    update_gauges();
}

void GroupFanOut::changed(std::string_view group, bool joined) {
    digest_.toggle(group);
    if (relay_ != nullptr) relay_->interest(group, joined);
}

void GroupFanOut::collect_members(std::string_view group, std::vector<std::uint32_t>& out) const {
    const std::size_t from = out.size();
    if (!group.empty()) {
        for (const std::uint32_t m : table_.members(group)) out.push_back(m);
        return;
    }
    table_.for_each_group([&](std::string_view g, std::size_t) {
        for (const std::uint32_t m : table_.members(g)) out.push_back(m);
    });
    std::sort(out.begin() + static_cast<std::ptrdiff_t>(from), out.end());
    out.erase(std::unique(out.begin() + static_cast<std::ptrdiff_t>(from), out.end()), out.end());
}

// The snapshot costs 2 bytes plus the id per group, until the answer ends. Each id is written
// only if its group still has a member when its turn comes, so the records stay in the order
// of what happened: a group left before its turn was announced left (live), one created after
// the snapshot was announced joined (live), after the begin record either way.
void GroupFanOut::announce_all() {
    if (relay_ == nullptr) return;
    resync_ids_.clear();
    resync_at_ = 0;
    table_.for_each_group([this](std::string_view group, std::size_t) {
        const auto n = static_cast<std::uint16_t>(group.size());
        resync_ids_.append(reinterpret_cast<const char*>(&n), sizeof n).append(group);
    });
    resync_open_ = true;
    relay_->interest_set(true);
}

bool GroupFanOut::resync_step(std::size_t budget) {
    if (!resync_open_ || relay_ == nullptr) return false;
    for (; resync_at_ < resync_ids_.size() && budget > 0 && relay_->can_write(); --budget) {
        std::uint16_t n = 0;
        std::memcpy(&n, resync_ids_.data() + resync_at_, sizeof n);
        const std::string_view id(resync_ids_.data() + resync_at_ + sizeof n, n);
        resync_at_ += sizeof n + n;
        if (has_members(id)) relay_->interest(id, true);
    }
    if (resync_at_ < resync_ids_.size()) return true;
    relay_->interest_set(false);
    resync_open_ = false;
    std::string().swap(resync_ids_);  // give the snapshot's memory back
    return false;
}

std::span<const std::uint32_t> GroupFanOut::send(std::string_view group, core::Block* frame,
                                                 Outbox& outbox, core::Slab<Connection>& conns) {
    victims_.clear();
    std::uint64_t delivered = 0;
    for (const std::uint32_t m : table_.members(group)) {
        const SendStatus status = outbox.enqueue({conns[m], m}, frame);
        if (status == SendStatus::kQueued) {
            ++delivered;
        } else if (status == SendStatus::kBackpressure) {
            victims_.push_back(m);
        }
    }
    stats_.deliveries.add(delivered);
    return victims_;
}

std::span<const std::uint32_t> GroupFanOut::send(std::string_view group,
                                                 std::span<const std::uint8_t> message,
                                                 core::BlockPool& pool, Outbox& outbox,
                                                 core::Slab<Connection>& conns) {
    victims_.clear();
    if (!has_members(group)) return victims_;
    core::Block* frame = make_frame(pool, Opcode::kText, message);
    const std::span<const std::uint32_t> refused = send(group, frame, outbox, conns);
    frame->unref();
    return refused;
}

void GroupFanOut::update_gauges() noexcept {
    stats_.groups.set(table_.group_count());
    stats_.memberships.set(table_.membership_count());
    stats_.interest_hash.set(digest_.value());
}

}  // namespace herald::net
