#include "core/group_table.h"

#include <algorithm>

#include "core/assert.h"

namespace herald::core {

GroupTable::JoinResult GroupTable::join(MemberId member, std::string_view name,
                                        std::size_t max_groups) {
    if (member >= by_member_.size()) by_member_.resize(member + std::size_t{1});
    MembershipList& list = by_member_[member];

    auto it = groups_.find(name);
    if (it != groups_.end()) {
        for (std::uint32_t i = 0; i < list.size(); ++i) {
            if (list[i].group == &it->second) return JoinResult::kAlreadyMember;
        }
    }
    if (list.size() >= max_groups) return JoinResult::kTooManyGroups;

    const bool created = it == groups_.end();
    if (created) {
        it = groups_.try_emplace(std::string(name)).first;
        it->second.name = &it->first;
    }
    Group& group = it->second;
    list.push_back({&group, static_cast<std::uint32_t>(group.members.size())});
    group.members.push_back(member);
    group.index_in_list.push_back(static_cast<std::uint32_t>(list.size() - 1));
    ++memberships_;
    return created ? JoinResult::kJoinedNewGroup : JoinResult::kJoined;
}

GroupTable::LeaveResult GroupTable::leave(MemberId member, std::string_view name) {
    if (member >= by_member_.size()) return LeaveResult::kNotMember;
    auto it = groups_.find(name);
    if (it == groups_.end()) return LeaveResult::kNotMember;
    const MembershipList& list = by_member_[member];
    for (std::uint32_t i = 0; i < list.size(); ++i) {
        if (list[i].group != &it->second) continue;
        remove_at(member, i);
        if (!it->second.members.empty()) return LeaveResult::kLeft;
        groups_.erase(it);
        return LeaveResult::kLeftGroupRemoved;
    }
    return LeaveResult::kNotMember;
}

void GroupTable::leave_all(MemberId member,
                           const std::function<void(std::string_view)>& on_removed) {
    if (member >= by_member_.size()) return;
    MembershipList& list = by_member_[member];
    while (!list.empty()) {
        Group* group = list.back().group;
        remove_at(member, static_cast<std::uint32_t>(list.size() - 1));
        if (!group->members.empty()) continue;
        const std::string name = *group->name;  // copy: erase destroys the key
        if (on_removed) on_removed(name);
        groups_.erase(name);
    }
    list.release();  // an idle member holds no heap memory
}

std::span<const GroupTable::MemberId> GroupTable::members(std::string_view name) const {
    auto it = groups_.find(name);
    if (it == groups_.end()) return {};
    return it->second.members;
}

// Removes membership list_index of `member` from both sides by swapping the last element of
// each array into the hole and fixing the moved element's back-pointer.
void GroupTable::remove_at(MemberId member, std::uint32_t list_index) {
    MembershipList& list = by_member_[member];
    const Membership gone = list[list_index];
    Group& group = *gone.group;

    // Group side.
    const std::uint32_t last_in_group = static_cast<std::uint32_t>(group.members.size() - 1);
    if (gone.index_in_group != last_in_group) {
        const MemberId moved = group.members[last_in_group];
        const std::uint32_t moved_list_index = group.index_in_list[last_in_group];
        group.members[gone.index_in_group] = moved;
        group.index_in_list[gone.index_in_group] = moved_list_index;
        by_member_[moved][moved_list_index].index_in_group = gone.index_in_group;
    }
    group.members.pop_back();
    group.index_in_list.pop_back();

    // Member side.
    const std::uint32_t last_in_list = static_cast<std::uint32_t>(list.size() - 1);
    if (list_index != last_in_list) {
        const Membership moved = list[last_in_list];
        list[list_index] = moved;
        moved.group->index_in_list[moved.index_in_group] = list_index;
    }
    list.pop_back();
    --memberships_;
    HERALD_DCHECK(group.members.size() == group.index_in_list.size());
}

void GroupTable::MembershipList::push_back(const Membership& m) {
    if (size_ == capacity_) {
        const std::uint32_t grown = capacity_ * 2;
        auto* fresh = new Membership[grown];
        std::copy(data(), data() + size_, fresh);
        if (capacity_ > 1) delete[] many_;
        many_ = fresh;
        capacity_ = grown;
    }
    data()[size_++] = m;
}

void GroupTable::MembershipList::release() noexcept {
    if (capacity_ > 1) delete[] many_;
    capacity_ = 1;
    size_ = 0;
}

}  // namespace herald::core
