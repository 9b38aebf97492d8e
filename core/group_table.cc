#include "core/group_table.h"

#include <algorithm>

#include "core/assert.h"

namespace herald::core {

GroupTable::JoinResult GroupTable::join(MemberId member, std::string_view name,
                                        std::size_t max_groups) {
    while (member >= member_capacity()) {
        lists_.push_back(std::make_unique<MembershipList[]>(kListsPerChunk));
    }
    MembershipList& list = list_of(member);

    auto it = index_.find(name);
    if (it != index_.end()) {
        for (std::uint32_t i = 0; i < list.size(); ++i) {
            if (list[i].group == it->second) return JoinResult::kAlreadyMember;
        }
    }
    if (list.size() >= max_groups) return JoinResult::kTooManyGroups;

    const bool created = it == index_.end();
    const GroupIndex g = created ? add_group(name) : it->second;
    Group& group = groups_[g];
    list.push_back({g, static_cast<std::uint32_t>(group.members.size())});
    group.members.push_back(member);
    group.index_in_list.push_back(list.size() - 1);
    ++memberships_;
    return created ? JoinResult::kJoinedNewGroup : JoinResult::kJoined;
}

GroupTable::LeaveResult GroupTable::leave(MemberId member, std::string_view name) {
    if (member >= member_capacity()) return LeaveResult::kNotMember;
    auto it = index_.find(name);
    if (it == index_.end()) return LeaveResult::kNotMember;
    const GroupIndex g = it->second;
    const MembershipList& list = list_of(member);
    for (std::uint32_t i = 0; i < list.size(); ++i) {
        if (list[i].group != g) continue;
        remove_at(member, i);
        if (!groups_[g].members.empty()) return LeaveResult::kLeft;
        remove_group(g);
        return LeaveResult::kLeftGroupRemoved;
    }
    return LeaveResult::kNotMember;
}

void GroupTable::leave_all(MemberId member,
                           const std::function<void(std::string_view)>& on_removed) {
    if (member >= member_capacity()) return;
    MembershipList& list = list_of(member);
    while (!list.empty()) {
        const GroupIndex g = list.back().group;
        remove_at(member, list.size() - 1);
        if (!groups_[g].members.empty()) continue;
        if (on_removed) on_removed(*groups_[g].name);
        remove_group(g);
    }
    list.release();  // an idle member holds no heap memory
}

std::span<const GroupTable::MemberId> GroupTable::members(std::string_view name) const {
    auto it = index_.find(name);
    if (it == index_.end()) return {};
    return groups_[it->second].members;
}

GroupTable::GroupIndex GroupTable::add_group(std::string_view name) {
    GroupIndex g;
    if (!free_groups_.empty()) {
        g = free_groups_.back();
        free_groups_.pop_back();
    } else {
        g = static_cast<GroupIndex>(groups_.size());
        groups_.emplace_back();
    }
    auto [it, inserted] = index_.try_emplace(std::string(name), g);
    HERALD_DCHECK(inserted);
    groups_[g].name = &it->first;
    return g;
}

// Forgets the empty group `g` and frees its arrays (a group that was large keeps nothing).
void GroupTable::remove_group(GroupIndex g) {
    Group& group = groups_[g];
    HERALD_DCHECK(group.members.empty());
    index_.erase(*group.name);  // destroys the key group.name points at
    group = Group{};
    free_groups_.push_back(g);
}

// Removes membership list_index of `member` from both sides by swapping the last element of
// each array into the hole and fixing the moved element's back-pointer.
void GroupTable::remove_at(MemberId member, std::uint32_t list_index) {
    MembershipList& list = list_of(member);
    const Membership gone = list[list_index];
    Group& group = groups_[gone.group];

    // Group side.
    const std::uint32_t last_in_group = static_cast<std::uint32_t>(group.members.size() - 1);
    if (gone.index_in_group != last_in_group) {
        const MemberId moved = group.members[last_in_group];
        const std::uint32_t moved_list_index = group.index_in_list[last_in_group];
        group.members[gone.index_in_group] = moved;
        group.index_in_list[gone.index_in_group] = moved_list_index;
        list_of(moved)[moved_list_index].index_in_group = gone.index_in_group;
    }
    group.members.pop_back();
    group.index_in_list.pop_back();

    // Member side.
    const std::uint32_t last_in_list = list.size() - 1;
    if (list_index != last_in_list) {
        const Membership moved = list[last_in_list];
        list[list_index] = moved;
        groups_[moved.group].index_in_list[moved.index_in_group] = list_index;
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
