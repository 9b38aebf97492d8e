// Multi-process stress of the shared-memory ring: producers and readers in separate processes
// over a MAP_SHARED mapping, every record checked for loss, order and tearing; and a wake-up
// stress that alternates bursts with idle gaps so a lost wake-up would show as a stall.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <vector>

#include "channel/shm_ring.h"

namespace herald::channel {
namespace {

#ifdef HERALD_SANITIZED
constexpr std::uint64_t kRecordsPerProducer = 250'000;  // ASan+UBSan: same paths, fewer records
#else
constexpr std::uint64_t kRecordsPerProducer = 2'500'000;  // 2 producers: 5 M records
#endif

// Record payload: [u32 producer][u32 length][u64 seq][filler...][u64 checksum]
struct Head {
    std::uint32_t producer;
    std::uint32_t length;  // whole payload
    std::uint64_t seq;
};

std::uint64_t checksum(const std::uint8_t* p, std::size_t n) {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

struct Shared {
    std::uint8_t* base = nullptr;
    std::size_t stride = 0;
    std::size_t size = 0;
    Shared(std::uint32_t rings, std::uint64_t capacity, std::uint32_t readers) {
        stride = (ShmRing::footprint(capacity, readers) + 4095) / 4096 * 4096;
        size = stride * rings;
        base = static_cast<std::uint8_t*>(
            mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
        for (std::uint32_t r = 0; r < rings; ++r)
            ShmRing::create(base + r * stride, capacity, readers);
    }
    ~Shared() { munmap(base, size); }
    ShmRing ring(std::uint32_t r) const { return ShmRing(base + r * stride); }
};

// Exit codes of a child: 0 ok, 10+ failure kinds.
enum Failure { kLoss = 10, kReorder = 11, kTorn = 12, kForeign = 13, kStall = 14 };

[[noreturn]] void produce(ShmRing ring, std::uint32_t id, std::uint64_t count) {
    RingWriter writer(ring, 64u << 20, 3600 * core::kSecond);  // never lap: test no loss
    std::mt19937_64 rng(id * 7919 + 1);
    std::vector<std::uint8_t> buf(1024);
    for (std::uint64_t seq = 0; seq < count; ++seq) {
        // Mostly small records, sometimes up to ~1000 bytes: wraps at every offset.
        const std::size_t length =
            sizeof(Head) + 8 + ((rng() & 15) == 0 ? rng() % 1000 : rng() % 48);
        Head h{id, static_cast<std::uint32_t>(length), seq};
        std::memcpy(buf.data(), &h, sizeof h);
        for (std::size_t i = sizeof h; i < length - 8; ++i)
            buf[i] = static_cast<std::uint8_t>(rng());
        const std::uint64_t sum = checksum(buf.data(), length - 8);
        std::memcpy(buf.data() + length - 8, &sum, 8);
        while (!writer.idle()) {
            if (!writer.flush()) sched_yield();
        }
        writer.write(1, 0, {buf.data(), length});
    }
    while (!writer.flush()) sched_yield();
    _exit(0);
}

struct Checker {
    std::uint64_t next[2] = {0, 0};
    int failure = 0;
    std::vector<std::uint8_t> copy_buf = std::vector<std::uint8_t>(2048);
    std::size_t copied = 0;
    bool copy(const RecordHeader&, std::span<const std::uint8_t> payload) {
        if (payload.size() > copy_buf.size()) return false;
        std::memcpy(copy_buf.data(), payload.data(), payload.size());
        copied = payload.size();
        return true;
    }
    void commit() {
        Head h;
        if (copied < sizeof h + 8) return void(failure = kTorn);
        std::memcpy(&h, copy_buf.data(), sizeof h);
        std::uint64_t sum;
        std::memcpy(&sum, copy_buf.data() + copied - 8, 8);
        if (h.length != copied || sum != checksum(copy_buf.data(), copied - 8)) {
            return void(failure = kTorn);
        }
        if (h.producer > 1) return void(failure = kForeign);
        if (h.seq != next[h.producer])
            return void(failure = h.seq > next[h.producer] ? kLoss : kReorder);
        ++next[h.producer];
    }
    void discard() {}
};

[[noreturn]] void consume(ShmRing r0, ShmRing r1, std::uint32_t slot, std::uint64_t count) {
    RingReader readers[2] = {RingReader(r0, slot), RingReader(r1, slot)};
    Checker checker;
    const core::Nanos deadline = core::now_ns() + 120 * core::kSecond;
    while (checker.next[0] < count || checker.next[1] < count) {
        std::size_t n = readers[0].poll(checker, 4096) + readers[1].poll(checker, 4096);
        if (checker.failure != 0) _exit(checker.failure);
        if (n == 0) {
            if (core::now_ns() > deadline) _exit(kStall);
            sched_yield();
        }
    }
    _exit(0);
}

TEST(ShmRingStress, TwoProducersThreeReaderProcessesLoseNothingReorderNothingTearNothing) {
    Shared shared(2, 1u << 20, 4);
    // Readers attach before any producer starts, so they see every record.
    for (std::uint32_t r = 0; r < 2; ++r) {
        for (std::uint32_t slot = 1; slot <= 3; ++slot) shared.ring(r).attach(slot);
    }
    std::vector<pid_t> children;
    for (std::uint32_t slot = 1; slot <= 3; ++slot) {
        const pid_t pid = fork();
        if (pid == 0) consume(shared.ring(0), shared.ring(1), slot, kRecordsPerProducer);
        children.push_back(pid);
    }
    for (std::uint32_t id = 0; id < 2; ++id) {
        const pid_t pid = fork();
        if (pid == 0) produce(shared.ring(id), id, kRecordsPerProducer);
        children.push_back(pid);
    }
    for (const pid_t pid : children) {
        int status = 0;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status)) << "child " << pid << " died: " << status;
        EXPECT_EQ(WEXITSTATUS(status), 0) << "10 loss, 11 reorder, 12 torn, 13 foreign, 14 stall";
    }
    for (std::uint32_t slot = 1; slot <= 3; ++slot) {
        EXPECT_EQ(shared.ring(0).reader(slot).drops.load(), 0u);
        EXPECT_EQ(shared.ring(1).reader(slot).drops.load(), 0u);
    }
}

// A reader that sleeps on an eventfd whenever the ring is empty (flag, re-check, block), and a
// producer that writes bursts separated by idle gaps and wakes sleepers the way herald does.
// A lost wake-up leaves the reader blocked with records pending: it would stall for 2 s.
TEST(ShmRingStress, SleepingReadersAreNeverLeftAsleepWithRecordsPending) {
#ifdef HERALD_SANITIZED
    constexpr int kBursts = 300;
#else
    constexpr int kBursts = 2000;
#endif
    Shared shared(1, 1u << 16, 3);
    ShmRing ring = shared.ring(0);
    ring.attach(1);
    ring.attach(2);
    const int efd[3] = {-1, eventfd(0, 0), eventfd(0, 0)};
    std::uint64_t total = 0;
    std::mt19937 plan(99);
    std::vector<int> burst_sizes;
    for (int b = 0; b < kBursts; ++b) {
        burst_sizes.push_back(1 + static_cast<int>(plan() % 50));
        total += static_cast<std::uint64_t>(burst_sizes.back());
    }
    std::vector<pid_t> children;
    for (std::uint32_t slot = 1; slot <= 2; ++slot) {
        const pid_t pid = fork();
        if (pid == 0) {
            RingReader reader(ring, slot);
            struct Count {
                std::uint64_t n = 0;
                bool copy(const RecordHeader&, std::span<const std::uint8_t>) { return true; }
                void commit() { ++n; }
                void discard() {}
            } count;
            while (count.n < total) {
                if (reader.poll(count) > 0) continue;
                reader.slot().sleeping.store(1, std::memory_order_seq_cst);
                if (reader.pending()) {
                    reader.slot().sleeping.store(0, std::memory_order_relaxed);
                    continue;
                }
                pollfd p{efd[slot], POLLIN, 0};
                if (poll(&p, 1, 2000) == 0) _exit(kStall);  // asleep with nothing coming: lost
                std::uint64_t v;
                if (read(efd[slot], &v, sizeof v) != sizeof v) _exit(kStall);
                reader.slot().sleeping.store(0, std::memory_order_relaxed);
            }
            _exit(0);
        }
        children.push_back(pid);
    }
    RingWriter writer(ring, 1u << 20, 3600 * core::kSecond);
    std::mt19937 gaps(5);
    const std::uint8_t payload[16] = {};
    for (int b = 0; b < kBursts; ++b) {
        for (int i = 0; i < burst_sizes[static_cast<std::size_t>(b)]; ++i) {
            writer.write(1, 0, payload);
        }
        while (!writer.flush()) sched_yield();
        writer.wake_sleepers([&](std::uint32_t slot) { eventfd_write(efd[slot], 1); });
        const unsigned gap = gaps() % 4;  // 0: back to back; else 50..150 us idle
        if (gap != 0) usleep(50 * gap);
    }
    for (const pid_t pid : children) {
        int status = 0;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status));
        EXPECT_EQ(WEXITSTATUS(status), 0) << "14: a reader slept through pending records";
    }
    close(efd[1]);
    close(efd[2]);
}

}  // namespace
}  // namespace herald::channel
