#include "channel/shm_ring.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace herald::channel {
namespace {

// A ring in ordinary (64-byte aligned, zeroed) memory: the layout does not care where it lives.
struct TestRing {
    TestRing(std::uint64_t capacity, std::uint32_t readers)
        : bytes(ShmRing::footprint(capacity, readers)),
          memory(static_cast<std::uint8_t*>(std::aligned_alloc(64, bytes))) {
        std::memset(memory.get(), 0, bytes);
        ring = ShmRing::create(memory.get(), capacity, readers);
    }
    struct Free {
        void operator()(std::uint8_t* p) const { std::free(p); }
    };
    std::size_t bytes;
    std::unique_ptr<std::uint8_t, Free> memory;
    ShmRing ring;
};

// Collects payloads (as strings) and the record types/flags seen.
struct Collect {
    std::vector<std::string> got;
    std::vector<std::uint16_t> types;
    std::string pending;
    std::uint16_t pending_type = 0;
    bool copy(const RecordHeader& h, std::span<const std::uint8_t> payload) {
        pending.assign(reinterpret_cast<const char*>(payload.data()), payload.size());
        pending_type = h.type;
        return true;
    }
    void commit() {
        got.push_back(pending);
        types.push_back(pending_type);
    }
    void discard() {}
};

std::span<const std::uint8_t> bytes_of(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

TEST(ShmRing, DeliversRecordsInOrderToEveryReader) {
    TestRing t(4096, 3);
    RingWriter writer(t.ring, 1 << 20);
    RingReader a(t.ring, 1);
    RingReader b(t.ring, 2);
    a.attach();
    b.attach();
    for (int i = 0; i < 10; ++i) writer.write(7, 0, bytes_of("record-" + std::to_string(i)));
    Collect ca;
    Collect cb;
    EXPECT_EQ(a.poll(ca), 10u);
    EXPECT_EQ(b.poll(cb), 10u);
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(ca.got[static_cast<std::size_t>(i)], "record-" + std::to_string(i));
        EXPECT_EQ(cb.got[static_cast<std::size_t>(i)], "record-" + std::to_string(i));
    }
    EXPECT_EQ(ca.types, std::vector<std::uint16_t>(10, 7));
    EXPECT_FALSE(a.pending());
}

TEST(ShmRing, WrapsWithAPaddingRecordThatReadersSkip) {
    TestRing t(4096, 2);
    RingWriter writer(t.ring, 1 << 20);
    RingReader r(t.ring, 1);
    r.attach();
    const std::string payload(1000, 'w');  // 1008 bytes per record: four fit, the fifth wraps
    Collect c;
    for (int round = 0; round < 20; ++round) {
        writer.write(1, 0, bytes_of(payload + std::to_string(round % 10)));
        EXPECT_EQ(r.poll(c), 1u) << round;
    }
    ASSERT_EQ(c.got.size(), 20u);
    EXPECT_EQ(c.got[19], payload + "9");
    EXPECT_GT(t.ring.tail().tail.load(), 4096u * 4);  // wrapped several times
}

TEST(ShmRing, CarriesRecordsOfEverySizeUpToTheMaximum) {
    TestRing t(65536, 2);
    RingWriter writer(t.ring, 1 << 20);
    RingReader r(t.ring, 1);
    r.attach();
    std::mt19937 rng(7);
    for (std::size_t size = 0; size <= writer.max_payload(); size += size < 64 ? 1 : 997) {
        std::string p(size, '\0');
        for (auto& ch : p) ch = static_cast<char>(rng());
        writer.write(3, static_cast<std::uint16_t>(size & 0xFFFF), bytes_of(p));
        Collect c;
        ASSERT_EQ(r.poll(c), 1u) << size;
        ASSERT_EQ(c.got[0], p) << size;
    }
    std::string max(writer.max_payload(), 'm');
    writer.write(3, 0, bytes_of(max));
    Collect c;
    ASSERT_EQ(r.poll(c), 1u);
    EXPECT_EQ(c.got[0].size(), writer.max_payload());
}

TEST(ShmRing, FullRingQueuesRecordsAndDeliversThemLaterInOrder) {
    TestRing t(4096, 2);
    RingWriter writer(t.ring, 1 << 20);
    RingReader r(t.ring, 1);
    r.attach();
    for (int i = 0; i < 40; ++i)
        writer.write(1, 0, bytes_of(std::string(200, 'a') + std::to_string(i)));
    EXPECT_FALSE(writer.idle()) << "40 x 216 bytes cannot fit in 4 KiB";
    EXPECT_EQ(t.ring.waiting().waiting.load(), 1u) << "the producer says it waits for space";
    Collect c;
    while (c.got.size() < 40) {
        const std::size_t before = c.got.size();
        r.poll(c);
        ASSERT_GT(c.got.size(), before) << "no progress";
        writer.flush();
    }
    for (int i = 0; i < 40; ++i) {
        EXPECT_EQ(c.got[static_cast<std::size_t>(i)], std::string(200, 'a') + std::to_string(i));
    }
    EXPECT_TRUE(writer.idle());
    EXPECT_EQ(t.ring.reader(1).drops.load(), 0u);
}

TEST(ShmRing, ReaderThatFreesSpaceForAWaitingProducerIsToldOnce) {
    TestRing t(4096, 2);
    RingWriter writer(t.ring, 1 << 20);
    RingReader r(t.ring, 1);
    r.attach();
    for (int i = 0; i < 30; ++i) writer.write(1, 0, bytes_of(std::string(200, 'x')));
    Collect c;
    r.poll(c);
    EXPECT_TRUE(r.take_waiting());
    EXPECT_FALSE(r.take_waiting());
}

TEST(ShmRing, StuckReaderIsLappedAfterTheStallBoundAndOnlyItCountsDrops) {
    TestRing t(4096, 3);
    RingWriter writer(t.ring, 1 << 20, core::kSecond);
    RingReader fast(t.ring, 1);
    RingReader stuck(t.ring, 2);
    fast.attach();
    stuck.attach();
    Collect cf;
    constexpr int kRecords = 200;
    const core::Nanos t0 = 1'000'000'000;
    for (int i = 0; i < kRecords; ++i) {
        writer.write(1, 0, bytes_of("r" + std::to_string(i) + std::string(100, '.')), {}, t0);
        writer.flush(t0);
        fast.poll(cf);  // keeps up; `stuck` never reads
    }
    EXPECT_FALSE(writer.idle()) << "within the stall bound, records wait for the stuck reader";
    EXPECT_EQ(t.ring.reader(2).drops.load(), 0u);
    // Past the bound the stuck reader no longer holds anything back: the fast one drains it all.
    for (int pass = 0; pass < 1000 && !(writer.idle() && !fast.pending()); ++pass) {
        writer.flush(t0 + core::kSecond);
        fast.poll(cf);
    }
    ASSERT_EQ(cf.got.size(), static_cast<std::size_t>(kRecords)) << "the fast reader lost nothing";
    for (int i = 0; i < kRecords; ++i) {
        EXPECT_TRUE(cf.got[static_cast<std::size_t>(i)].starts_with("r" + std::to_string(i) + "."));
    }
    EXPECT_TRUE(writer.idle());
    Collect cs;
    for (int pass = 0; pass < 10 && stuck.pending(); ++pass) stuck.poll(cs);
    const std::uint64_t drops = t.ring.reader(2).drops.load();
    EXPECT_GT(drops, 0u);
    EXPECT_EQ(writer.stalls(), 1u);
    EXPECT_EQ(cs.got.size() + drops, static_cast<std::size_t>(kRecords))
        << "every record is either delivered or counted as dropped";
    EXPECT_EQ(t.ring.reader(1).drops.load(), 0u);
    // What the stuck reader did get is the newest records, in order.
    for (std::size_t i = 1; i < cs.got.size(); ++i) {
        EXPECT_EQ(std::stoi(cs.got[i].substr(1)), std::stoi(cs.got[i - 1].substr(1)) + 1);
    }
}

TEST(ShmRing, SlowButProgressingReaderIsNeverLapped) {
    TestRing t(4096, 2);
    RingWriter writer(t.ring, 64u << 20, 50 * core::kMillisecond);
    RingReader slow(t.ring, 1);
    slow.attach();
    Collect c;
    constexpr int kRecords = 2000;
    core::Nanos now = 1'000'000'000;
    for (int i = 0; i < kRecords; ++i) {
        writer.write(1, 0, bytes_of("m" + std::to_string(i) + std::string(150, '.')), {}, now);
        // The reader takes one record per 40 ms: far slower than the producer, never still
        // for the 50 ms bound.
        if (i % 10 == 0) {
            now += 40 * core::kMillisecond;
            slow.poll(c, 1);
            writer.flush(now);
        }
    }
    while (!writer.idle() || slow.pending()) {
        now += 40 * core::kMillisecond;
        slow.poll(c, 1);
        writer.flush(now);
    }
    EXPECT_EQ(t.ring.reader(1).drops.load(), 0u);
    EXPECT_EQ(writer.stalls(), 0u);
    ASSERT_EQ(c.got.size(), static_cast<std::size_t>(kRecords));
    for (int i = 0; i < kRecords; ++i) {
        EXPECT_TRUE(c.got[static_cast<std::size_t>(i)].starts_with("m" + std::to_string(i) + "."));
    }
}

TEST(ShmRing, StalledReaderDelaysOthersAtMostTheStallBound) {
    TestRing t(4096, 3);
    RingWriter writer(t.ring, 1 << 20, 50 * core::kMillisecond);
    RingReader fast(t.ring, 1);
    RingReader stalled(t.ring, 2);
    fast.attach();
    stalled.attach();
    const core::Nanos t0 = 1'000'000'000;
    Collect c;
    for (int i = 0; i < 30; ++i) writer.write(1, 0, bytes_of(std::string(200, 's')), {}, t0);
    fast.poll(c);
    writer.flush(t0 + 10 * core::kMillisecond);
    fast.poll(c);
    EXPECT_LT(c.got.size(), 30u) << "within the bound, records wait for the stalled reader";
    writer.flush(t0 + 49 * core::kMillisecond);
    fast.poll(c);
    EXPECT_LT(c.got.size(), 30u);
    for (int pass = 0; pass < 100 && c.got.size() < 30; ++pass) {
        writer.flush(t0 + 50 * core::kMillisecond);
        fast.poll(c);
    }
    EXPECT_EQ(c.got.size(), 30u);
    EXPECT_TRUE(writer.idle());
    EXPECT_GT(t.ring.reader(2).drops.load(), 0u);
    EXPECT_EQ(t.ring.reader(1).drops.load(), 0u);
}

TEST(ShmRing, ReaderThatAttachesButNeverReadsIsLappedAfterTheBound) {
    // A slot marked alive whose process never polls (stuck before its loop) must not hold the
    // producer congested for ever.
    TestRing t(4096, 2);
    RingWriter writer(t.ring, 1 << 20, 100 * core::kMillisecond);
    t.ring.attach(1);
    const core::Nanos t0 = 5'000'000'000;
    for (int i = 0; i < 40; ++i) writer.write(1, 0, bytes_of(std::string(200, 'n')), {}, t0);
    EXPECT_FALSE(writer.idle());
    EXPECT_GT(writer.overflow_bytes(), 0u);
    EXPECT_TRUE(writer.flush(t0 + 100 * core::kMillisecond));
    EXPECT_EQ(writer.overflow_bytes(), 0u);
    EXPECT_GT(t.ring.reader(1).drops.load(), 0u);
}

TEST(ShmRing, OverflowPastItsHardBoundLapsEvenAProgressingReader) {
    TestRing t(4096, 2);
    RingWriter writer(t.ring, 2048, 3600 * core::kSecond);
    RingReader r(t.ring, 1);
    r.attach();
    for (int i = 0; i < 40; ++i) writer.write(1, 0, bytes_of(std::string(200, 'h')));
    EXPECT_LE(writer.overflow_bytes(), 2048u + record_size(200));
    EXPECT_GT(t.ring.reader(1).drops.load(), 0u);
}

TEST(ShmRing, DeadReaderStopsHoldingTheProducerBack) {
    TestRing t(4096, 3);
    RingWriter writer(t.ring, 1 << 20);
    RingReader live(t.ring, 1);
    RingReader dead(t.ring, 2);
    live.attach();
    dead.attach();
    Collect c;
    for (int i = 0; i < 100; ++i) {
        writer.write(1, 0, bytes_of(std::string(300, 'd')));
        if (i == 5) t.ring.detach(2);  // the master saw it die
        writer.flush();
        live.poll(c);
    }
    EXPECT_EQ(c.got.size(), 100u);
    EXPECT_TRUE(writer.idle()) << "nothing waits for the dead reader";
    EXPECT_EQ(t.ring.lag(2), 0u);
}

TEST(ShmRing, ReattachedReaderStartsAtTheCurrentTail) {
    TestRing t(4096, 2);
    RingWriter writer(t.ring, 1 << 20);
    RingReader r(t.ring, 1);
    r.attach();
    writer.write(1, 0, bytes_of("before"));
    t.ring.detach(1);
    writer.write(1, 0, bytes_of("while gone"));
    RingReader again(t.ring, 1);  // the restarted process
    again.attach();
    writer.write(1, 0, bytes_of("after"));
    Collect c;
    EXPECT_EQ(again.poll(c), 1u);
    EXPECT_EQ(c.got, std::vector<std::string>{"after"});
}

TEST(ShmRing, ReadersAtDifferentSpeedsEachGetEverything) {
    TestRing t(8192, 4);
    RingWriter writer(t.ring, 1 << 20);
    std::vector<RingReader> readers;
    for (std::uint32_t i = 1; i <= 3; ++i) {
        readers.emplace_back(t.ring, i);
        readers.back().attach();
    }
    std::vector<Collect> got(3);
    constexpr int kRecords = 2000;
    for (int i = 0; i < kRecords; ++i) {
        writer.write(1, 0, bytes_of(std::to_string(i)));
        writer.flush();
        // Reader k polls every (k+1)-th step, at most k+1 records at a time.
        for (std::size_t k = 0; k < readers.size(); ++k) {
            if (i % static_cast<int>(k + 1) == 0) readers[k].poll(got[k], k + 1);
        }
    }
    for (std::size_t k = 0; k < readers.size(); ++k) {
        while (readers[k].pending() || !writer.idle()) {
            writer.flush();
            readers[k].poll(got[k]);
        }
        ASSERT_EQ(got[k].got.size(), static_cast<std::size_t>(kRecords)) << k;
        for (int i = 0; i < kRecords; ++i) {
            ASSERT_EQ(got[k].got[static_cast<std::size_t>(i)], std::to_string(i));
        }
    }
}

TEST(ShmRing, SleepingReaderIsWokenOnceAndAwakeOnesNever) {
    TestRing t(4096, 3);
    RingWriter writer(t.ring, 1 << 20);
    RingReader a(t.ring, 1);
    RingReader b(t.ring, 2);
    a.attach();
    b.attach();
    a.slot().sleeping.store(1);
    writer.write(1, 0, bytes_of("wake"));
    std::vector<std::uint32_t> woken;
    writer.wake_sleepers([&](std::uint32_t i) { woken.push_back(i); });
    writer.wake_sleepers([&](std::uint32_t i) { woken.push_back(i); });
    EXPECT_EQ(woken, std::vector<std::uint32_t>{1});
}

}  // namespace
}  // namespace herald::channel
