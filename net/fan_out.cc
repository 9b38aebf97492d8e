#include "net/fan_out.h"

#include <algorithm>

#include "net/ws_frame.h"

namespace herald::net {

bool GroupFanOut::join(std::uint32_t slot, std::string_view group) {
    const auto joined = table_.join(slot, group, max_groups_);
    if (joined == core::GroupTable::JoinResult::kTooManyGroups) return false;
    if (joined == core::GroupTable::JoinResult::kJoinedNewGroup && relay_ != nullptr) {
        relay_->interest(group, true);
    }
    update_gauges();
    return true;
}

void GroupFanOut::leave(std::uint32_t slot, std::string_view group) {
    const auto left = table_.leave(slot, group);
    if (left == core::GroupTable::LeaveResult::kLeftGroupRemoved && relay_ != nullptr) {
        relay_->interest(group, false);
    }
    update_gauges();
}

void GroupFanOut::leave_all(std::uint32_t slot) {
    if (relay_ != nullptr) {
        table_.leave_all(slot, [this](std::string_view group) { relay_->interest(group, false); });
    } else {
        table_.leave_all(slot);
    }
    update_gauges();
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

void GroupFanOut::announce_all() {
    if (relay_ == nullptr) return;
    table_.for_each_group(
        [this](std::string_view group, std::size_t) { relay_->interest(group, true); });
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
}

}  // namespace herald::net
