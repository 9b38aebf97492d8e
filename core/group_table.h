// Group membership: group id -> member array, and member -> its groups, both updated in O(1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace herald::core {

// Maps group ids (byte strings) to the members (dense 32-bit ids, e.g. connection slots) that
// joined them, and each member to its groups.
//
// A group's members sit in one contiguous array of ids, so a fan-out streams through it. Every
// membership is stored twice (in the group's array and the member's list), each side holding
// its index in the other, so leaving swaps the last element into the hole on both sides: joins
// and leaves are O(1) (plus the hash lookup), whatever the group sizes.
//
// Memory per member that joined one group: 16 bytes for its list (grown 256 members at a time,
// never doubled) and 8 in the group's arrays (4 + 4, doubled as the group grows).
//
// Member arrays must not be changed while a caller iterates members(): defer leaves until the
// iteration is over.
class GroupTable {
  public:
    using MemberId = std::uint32_t;

    enum class JoinResult : std::uint8_t {
        kJoined,          // now a member of an existing group
        kJoinedNewGroup,  // now a member, and the group was created for it
        kAlreadyMember,   // nothing changed
        kTooManyGroups,   // the member is at max_groups; nothing changed
    };
    enum class LeaveResult : std::uint8_t {
        kNotMember,        // nothing changed
        kLeft,             // left; the group still has members
        kLeftGroupRemoved  // left as the last member; the group is gone
    };

    GroupTable() = default;
    GroupTable(const GroupTable&) = delete;
    GroupTable& operator=(const GroupTable&) = delete;

    JoinResult join(MemberId member, std::string_view group, std::size_t max_groups);
    LeaveResult leave(MemberId member, std::string_view group);

    // Removes `member` from every group it joined; calls on_removed(group id) for each group
    // that lost its last member (before the group is destroyed).
    void leave_all(MemberId member, const std::function<void(std::string_view)>& on_removed = {});

    // The members of `group` (empty when it has none). Valid until the next join/leave.
    std::span<const MemberId> members(std::string_view group) const;

    std::size_t group_count() const noexcept { return index_.size(); }
    std::size_t membership_count() const noexcept { return memberships_; }
    std::size_t groups_of(MemberId member) const noexcept {
        return member < member_capacity() ? list_of(member).size() : 0;
    }

    // Calls fn(group id, member count) for every group.
    template <class Fn>
    void for_each_group(Fn&& fn) const {
        for (const auto& [name, index] : index_) {
            fn(std::string_view(name), groups_[index].members.size());
        }
    }

  private:
    using GroupIndex = std::uint32_t;  // a group's place in groups_
    struct Membership {
        GroupIndex group;
        std::uint32_t index_in_group;  // where this member sits in the group's members
    };
    struct Group {
        std::vector<MemberId> members;             // contiguous: what a fan-out reads
        std::vector<std::uint32_t> index_in_list;  // parallel: position in list_of(m)
        const std::string* name = nullptr;         // the map key; null: the index is free
    };
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };

    // A member's memberships: the first one inline (most connections join one group), more
    // on the heap. As small as a std::vector, without its allocation for one element.
    class MembershipList {
      public:
        MembershipList() noexcept {}
        MembershipList(MembershipList&& o) noexcept : size_(o.size_), capacity_(o.capacity_) {
            if (o.capacity_ == 1) {
                one_ = o.one_;
            } else {
                many_ = o.many_;
            }
            o.size_ = 0;
            o.capacity_ = 1;
        }
        MembershipList(const MembershipList&) = delete;
        MembershipList& operator=(const MembershipList&) = delete;
        MembershipList& operator=(MembershipList&&) = delete;
        ~MembershipList() { release(); }

        std::uint32_t size() const noexcept { return size_; }
        bool empty() const noexcept { return size_ == 0; }
        Membership* data() noexcept { return capacity_ == 1 ? &one_ : many_; }
        const Membership* data() const noexcept { return capacity_ == 1 ? &one_ : many_; }
        Membership& operator[](std::uint32_t i) noexcept { return data()[i]; }
        const Membership& operator[](std::uint32_t i) const noexcept { return data()[i]; }
        Membership& back() noexcept { return data()[size_ - 1]; }
        void push_back(const Membership& m);
        void pop_back() noexcept { --size_; }
        // Empties the list and frees its heap storage.
        void release() noexcept;

      private:
        std::uint32_t size_ = 0;
        std::uint32_t capacity_ = 1;  // 1: the inline slot
        union {
            Membership one_;
            Membership* many_;
        };
    };

    static constexpr std::uint32_t kListsPerChunk = 256;  // member lists grow by this many
    using ListChunk = std::unique_ptr<MembershipList[]>;

    std::size_t member_capacity() const noexcept { return lists_.size() * kListsPerChunk; }
    MembershipList& list_of(MemberId m) noexcept {
        return lists_[m / kListsPerChunk][m % kListsPerChunk];
    }
    const MembershipList& list_of(MemberId m) const noexcept {
        return lists_[m / kListsPerChunk][m % kListsPerChunk];
    }
    GroupIndex add_group(std::string_view name);
    void remove_group(GroupIndex g);
    void remove_at(MemberId member, std::uint32_t list_index);

    std::unordered_map<std::string, GroupIndex, Hash, std::equal_to<>> index_;
    std::vector<Group> groups_;            // by GroupIndex; freed ones are reused
    std::vector<GroupIndex> free_groups_;  // indexes in groups_ no group uses
    std::vector<ListChunk> lists_;         // member m's list: lists_[m / 256][m % 256]
    std::size_t memberships_ = 0;
};

}  // namespace herald::core
