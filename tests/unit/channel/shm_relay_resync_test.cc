// The relay's side of interest resync: a RESYNC record for one worker reaches that worker only,
// a whole set arrives framed (begin, joins, end), and a hub reader lapped by a worker's ring
// says so once (ShmRelay::take_missed).
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "channel/shm_relay.h"

namespace herald::channel {
namespace {

// Records the control records a process reads, as text.
struct Controls final : RecordSink {
    core::BlockPool blocks;
    std::vector<std::string> got;
    bool wants(std::string_view) override { return false; }
    core::BlockPool& pool() override { return blocks; }
    void deliver(std::uint32_t, std::string_view, core::Block*) override {}
    void interest(std::uint32_t from, std::string_view group, bool joined) override {
        got.push_back(std::to_string(from) + (joined ? "+" : "-") + std::string(group));
    }
    void reset(std::uint32_t from) override { got.push_back(std::to_string(from) + " reset"); }
    void resync(std::uint32_t from) override { got.push_back(std::to_string(from) + " resync"); }
    void interest_set(std::uint32_t from, bool begin) override {
        got.push_back(std::to_string(from) + (begin ? " begin" : " end"));
    }
};

// Workers 0 and 1 and the hub (process 2) of one region, in this process.
struct Host {
    core::Result<ShmRegion> region;
    std::vector<int> wake{eventfd(0, EFD_NONBLOCK), eventfd(0, EFD_NONBLOCK),
                          eventfd(0, EFD_NONBLOCK)};
    std::vector<std::unique_ptr<ShmRelay>> relays;
    Controls sinks[3];

    explicit Host(std::uint64_t capacity, std::size_t overflow_limit = 4u << 20)
        : region(ShmRegion::create(3, capacity)) {
        EXPECT_TRUE(region);
        RelayOptions options;
        options.interest = true;
        options.overflow_limit = overflow_limit;
        for (std::uint32_t p = 0; p < 3; ++p) {
            relays.push_back(std::make_unique<ShmRelay>(*region, p, wake, options));
        }
        for (auto& r : relays) r->attach();
    }
    ~Host() {
        relays.clear();
        for (int fd : wake) close(fd);
    }
    void poll(std::uint32_t p) {
        for (int i = 0; i < 64; ++i) (void)relays[p]->poll_into(sinks[p]);
    }
};

TEST(ShmRelayResync, ARequestNamingOneWorkerReachesThatWorkerOnly) {
    Host h(4096);
    h.relays[2]->announce_resync(1);
    h.poll(0);
    h.poll(1);
    EXPECT_TRUE(h.sinks[0].got.empty());
    EXPECT_EQ(h.sinks[1].got, std::vector<std::string>{"2 resync"});
    h.relays[2]->announce_resync();  // every worker
    h.poll(0);
    h.poll(1);
    EXPECT_EQ(h.sinks[0].got, std::vector<std::string>{"2 resync"});
    EXPECT_EQ(h.sinks[1].got.size(), 2u);
}

TEST(ShmRelayResync, AWholeSetArrivesFramedAndARestartIsAPlainReset) {
    Host h(4096);
    h.relays[0]->announce_reset();
    h.relays[0]->interest_set(true);
    h.relays[0]->interest("a", true);
    h.relays[0]->interest("b", false);  // a live leave inside the set
    h.relays[0]->interest_set(false);
    h.poll(2);
    EXPECT_EQ(h.sinks[2].got,
              (std::vector<std::string>{"0 reset", "0 begin", "0+a", "0-b", "0 end"}));
}

TEST(ShmRelayResync, AHubReaderLappedByAWorkersRingSaysSoOnce) {
    Host h(4096, 0);  // no overflow queue: a full ring laps its slowest reader at once
    EXPECT_FALSE(h.relays[2]->take_missed(0));
    for (int i = 0; i < 2000; ++i) h.relays[0]->interest("group-" + std::to_string(i), true);
    EXPECT_TRUE(h.relays[0]->can_write());
    h.poll(2);
    EXPECT_TRUE(h.relays[2]->take_missed(0));
    EXPECT_FALSE(h.relays[2]->take_missed(0));
    EXPECT_FALSE(h.relays[2]->take_missed(1));  // worker 1 wrote nothing
    EXPECT_LT(h.sinks[2].got.size(), 2000u);
}

}  // namespace
}  // namespace herald::channel
