#include "core/timer_list.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace herald::core {
namespace {

struct Item {
    TimerLink timer;
};

struct ItemLinks {
    std::array<Item, 8>* items;
    TimerLink& operator()(std::uint32_t slot) const { return (*items)[slot].timer; }
};

enum : std::uint8_t { kShort = 1, kLong = 2, kLists = 3 };

class TimerListsTest : public ::testing::Test {
  protected:
    std::vector<std::uint32_t> expire(Nanos now) {
        std::vector<std::uint32_t> fired;
        lists.expire(now, [&](std::uint32_t slot) { fired.push_back(slot); });
        return fired;
    }

    std::array<Item, 8> items{};
    TimerLists<ItemLinks, kLists> lists{ItemLinks{&items}};
};

TEST_F(TimerListsTest, ExpiresOnlyWhatIsDueInDeadlineOrder) {
    lists.set(3, kShort, 10);
    lists.set(1, kShort, 20);
    lists.set(5, kShort, 30);
    EXPECT_EQ(expire(20), (std::vector<std::uint32_t>{3, 1}));
    EXPECT_EQ(lists.list_of(3), 0);
    EXPECT_EQ(lists.list_of(5), kShort);
    EXPECT_EQ(expire(29), std::vector<std::uint32_t>{});
    EXPECT_EQ(expire(30), std::vector<std::uint32_t>{5});
    EXPECT_EQ(lists.head(kShort), (TimerLists<ItemLinks, kLists>::kNoSlot));
}

TEST_F(TimerListsTest, ClearUnlinksHeadMiddleAndTail) {
    for (std::uint32_t s = 0; s < 5; ++s) lists.set(s, kShort, 10 + s);
    lists.clear(0);  // head
    lists.clear(2);  // middle
    lists.clear(4);  // tail
    lists.clear(4);  // already out: nothing
    EXPECT_EQ(expire(100), (std::vector<std::uint32_t>{1, 3}));
}

TEST_F(TimerListsTest, SetMovesASlotToTheTailOfItsNewList) {
    lists.set(1, kShort, 10);
    lists.set(2, kShort, 11);
    lists.set(1, kLong, 50);  // leaves kShort
    EXPECT_EQ(lists.head(kShort), 2u);
    EXPECT_EQ(lists.head(kLong), 1u);
    EXPECT_EQ(expire(20), std::vector<std::uint32_t>{2});
    EXPECT_EQ(expire(50), std::vector<std::uint32_t>{1});
}

TEST_F(TimerListsTest, ListsExpireIndependently) {
    lists.set(1, kLong, 5);
    lists.set(2, kShort, 7);
    lists.set(3, kLong, 100);
    EXPECT_EQ(expire(10), (std::vector<std::uint32_t>{2, 1}));  // list by list
    EXPECT_EQ(lists.head(kLong), 3u);
}

// A link stores no list number: a slot at an end is found among the lists' ends. Unlinking the
// only slot of one list, and the ends of another, leaves every other list whole.
TEST_F(TimerListsTest, UnlinkingEndsFindsTheRightList) {
    lists.set(1, kShort, 10);
    lists.set(2, kShort, 11);
    lists.set(3, kShort, 12);
    lists.set(6, kLong, 10);  // alone: head and tail of kLong
    EXPECT_EQ(lists.list_of(2), kShort);
    EXPECT_EQ(lists.list_of(6), kLong);
    lists.clear(6);
    EXPECT_EQ(lists.head(kLong), (TimerLists<ItemLinks, kLists>::kNoSlot));
    EXPECT_EQ(lists.head(kShort), 1u);
    lists.clear(3);  // kShort's tail
    lists.set(6, kLong, 20);
    lists.clear(1);  // kShort's head
    EXPECT_EQ(lists.list_of(1), 0);
    EXPECT_EQ(lists.head(kShort), 2u);
    EXPECT_EQ(expire(100), (std::vector<std::uint32_t>{2, 6}));
    EXPECT_FALSE(items[2].timer.linked());
}

TEST_F(TimerListsTest, AnExpiredSlotMayBeSetAgainFromTheCallback) {
    lists.set(4, kShort, 10);
    std::vector<std::uint32_t> fired;
    lists.expire(10, [&](std::uint32_t slot) {
        fired.push_back(slot);
        lists.set(slot, kShort, 20);
    });
    EXPECT_EQ(fired, std::vector<std::uint32_t>{4});
    EXPECT_EQ(lists.list_of(4), kShort);
    EXPECT_EQ(items[4].timer.deadline, 20);
    EXPECT_EQ(expire(20), std::vector<std::uint32_t>{4});
}

}  // namespace
}  // namespace herald::core
