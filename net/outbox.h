// The worker's send path: frames queued to connections during a loop pass leave in one send per
// connection when the pass flushes, at most one send in flight per connection.
//
//  enqueue/push ──▶ connection's SendQueue ──mark dirty──▶ flush(): per dirty connection
//     describe() its frames as the bytes to write ──▶ one send (1 frame) / sendmsg (iovecs)
//     with MSG_WAITALL ──▶ on_sent(): written() releases the frames the kernel took
//
// A frame of at least the zero-copy threshold at the head of a ws:// connection's queue leaves
// alone with IORING_OP_SEND_ZC instead (net/outbox_zc.cc): from the block's registered fixed
// buffer where it has one (net/fixed_buffers.h), its block held until the notification CQE.
//
// describe()/written() are the one seam between queued frames and the bytes on the wire (TLS
// record encryption belongs there).
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "core/block.h"
#include "core/slab.h"
#include "net/conn_ops.h"
#include "net/connection.h"
#include "net/send_queue.h"
#include "net/worker_stats.h"

namespace herald::net {

class FixedBuffers;

// What enqueue() did with a frame (in the spirit of uWebSockets' SendStatus).
enum class SendStatus : std::uint8_t {
    kQueued,        // queued: it leaves with the connection's next send
    kBackpressure,  // refused: the connection already owes more than the byte bound
    kClosing,       // refused: the connection is no longer open (its close frame is queued)
};

// What a send completion left a connection with.
enum class SendDone : std::uint8_t {
    kFailed,   // the send failed (EPIPE, ECONNRESET, ECANCELED): the peer is gone
    kPending,  // frames are still queued: they leave in the next flush (unless aborting)
    kDrained,  // everything queued has been written
};

// The msghdrs and iovecs of one loop pass's multi-frame sends. The kernel copies them when the
// sends are submitted (IORING_FEAT_SUBMIT_STABLE), so the arena is emptied every pass and its
// memory follows the busiest pass, not the number of connections.
class SendArena {
  public:
    static constexpr std::size_t kMaxFrames = 64;  // frames one sendmsg carries at most

    // A zeroed msghdr whose msg_iov has room for `frames` (<= kMaxFrames) iovecs; valid until
    // reset().
    msghdr* take(std::size_t frames);
    // Returns the last take()'s unused iovecs: it used only `used` of them.
    void shrink_last(msghdr* m, std::size_t used) noexcept;
    void reset() noexcept;
    // Empties the arena and frees its chunks (~92 KiB each, 512 msghdrs) beyond the first
    // `keep`: the busiest pass's memory is not kept for ever. Only where reset() may be called
    // (the kernel has copied every msghdr taken).
    void release(std::size_t keep) noexcept;
    // The most chunks one pass used since the last take_peak().
    std::size_t take_peak() noexcept { return std::exchange(peak_, 0); }
    std::size_t peak() const noexcept { return peak_; }
    std::size_t bytes() const noexcept { return chunks_.size() * sizeof(Chunk); }

  private:
    struct Chunk {
        static constexpr std::size_t kIovecs = 4096;
        static constexpr std::size_t kHeaders = 512;
        iovec iov[kIovecs];
        msghdr headers[kHeaders];
        std::size_t iov_used = 0;
        std::size_t headers_used = 0;
    };
    std::vector<std::unique_ptr<Chunk>> chunks_;
    std::size_t current_ = 0;
    std::size_t peak_ = 0;  // most chunks one pass used since take_peak()
};

class Outbox {
  public:
    // ops issues the sends; conns holds the connections (the flush list names them by slot and
    // generation); max_backpressure (--max-backpressure, bytes) bounds what enqueue() accepts.
    Outbox(ConnOps& ops, core::Slab<Connection>& conns, std::uint64_t max_backpressure)
        : ops_(ops), conns_(conns), max_backpressure_(max_backpressure) {}
    Outbox(const Outbox&) = delete;
    Outbox& operator=(const Outbox&) = delete;
    // Drops the blocks zero-copy sends still hold (the loop is gone: no notification will come).
    ~Outbox();

    // Zero-copy sends: frames of at least `threshold` bytes (0: none) go out with SEND_ZC, from
    // `fixed`'s registered buffers where a block has one (null: plain SEND_ZC); zerocopy_*
    // counters go to `stats`. keep_copying: never stop on a connection whose sends the kernel
    // copies (the benchmarks' HERALD_ZEROCOPY_KEEP=1, to measure the cost of a copying path).
    void set_zero_copy(std::uint32_t threshold, const FixedBuffers* fixed, WorkerStats* stats,
                       bool keep_copying) noexcept;
    // Copied notifications in a row after which a connection stops using zero-copy.
    static constexpr std::uint8_t kZcCopiedLimit = 4;
    // Zero-copy sends one connection may have waiting for their notification (it bounds the
    // blocks pinned and c.conn.ops); beyond, its frames go out with plain sends.
    static constexpr std::uint8_t kZcMaxPending = 8;
    // Keeps c off zero-copy (its path always copies: loopback, veth).
    static void disable_zero_copy(Connection& c) noexcept { c.zc_copied = kZcCopiedLimit; }

    // What a CQE of a zero-copy send (user_data index `flight`) meant.
    struct ZcCompletion {
        Connection* conn;    // the connection it belongs to (null: an unknown flight)
        std::uint32_t slot;  // its slab slot
        bool notification;   // the kernel is done with the block (IORING_CQE_F_NOTIF)
    };
    // The first CQE (bytes or -errno) goes on to on_sent() as any send's; with
    // IORING_CQE_F_MORE its notification is still due and stays counted in c.conn.ops. The
    // notification releases the block, counts zerocopy_copied when the kernel reports a copy
    // (IORING_NOTIF_USAGE_ZC_COPIED) and leaves c.conn.ops one lower.
    ZcCompletion on_zc_cqe(std::uint32_t flight, int res, unsigned flags) noexcept;

    // Queues one more reference to `frame` (the caller keeps its own). kBackpressure when the
    // connection already owes more than max_backpressure bytes counting this frame (a frame
    // always fits an empty queue); kClosing when it is not open. No allocation.
    SendStatus enqueue(ConnRef c, core::Block* frame);
    // Queues `frame` whatever the bound, taking over the caller's reference: the loop's own
    // frames (HTTP answers, close frames).
    void push(ConnRef c, core::Block* frame);

    // Drops the frames no send in flight covers (an abort, or a close that gives up on a slow
    // reader).
    void drop_unsent(Connection& c) noexcept;
    // Drops every frame (the slot is being released: nothing is in flight).
    void clear(Connection& c) noexcept { c.out.clear(nodes_); }
    // Nothing queued and nothing in flight (for wss://: no ciphertext waiting either).
    static bool drained(const Connection& c) noexcept {
        return !c.send_busy && c.out.empty() && !tls_pending(c);
    }
    // Marks c for the next flush: its TLS session made output of its own (handshake replies,
    // alerts, close_notify).
    void kick(ConnRef c) { mark_dirty(c); }

    // Starts one send per connection with queued frames (or TLS output) and none in flight (not
    // aborting).
    // Once per loop pass, before the pass submits; empties the pass's send arena first.
    void flush();

    // A send completion for c: res is the bytes written or -errno. Counts the operation out of
    // c.conn.ops; on kPending marks c for the next flush (unless it is aborting).
    SendDone on_sent(ConnRef c, int res) noexcept;

    // Gives back what a burst left behind: the send arena's chunks, the queue-node chunks no
    // queued frame uses and the flush list's capacity, beyond what the current and the previous
    // period (end_period()) needed at their busiest, so a loop under steady traffic allocates
    // nothing again. Between passes (waits until the kernel has consumed the last pass's
    // submissions under SQPOLL); allocates nothing when there is nothing to free.
    void release_memory();
    // Closes a period of the peaks release_memory() keeps (the server's: 5 s).
    void end_period() noexcept;
    // Bytes the arena, the node pool and the flush list hold (what release_memory() frees at
    // most), for tests and figures.
    std::size_t retained_bytes() const noexcept;

  private:
    void mark_dirty(ConnRef c);
    void start_send(ConnRef c);
    bool wants_zero_copy(const Connection& c, std::size_t bytes) const noexcept {
        return bytes >= zc_threshold_ && zc_threshold_ != 0 && c.zc_copied < kZcCopiedLimit &&
               c.zc_pending < kZcMaxPending;
    }
    // Sends `frame` (the head frame, alone) with SEND_ZC.
    void start_zc_send(ConnRef c, const iovec& frame);
    void end_flight(std::uint32_t flight) noexcept;
    // wss://: ciphertext taken from the session or still in it.
    static bool tls_pending(const Connection& c) noexcept {
        return c.tls != nullptr && (c.tls->sending || c.tls->session.output_bytes() > 0);
    }
    // wss://: seals the queued frames into records (as few as the 16 KiB record size allows, at
    // most TlsSession::kOutputSoftLimit bytes per send) and sends the session's output block.
    void start_tls_send(ConnRef c);
    SendDone on_tls_sent(ConnRef c, int res) noexcept;
    // The seam between frames and the wire. Today the bytes written are the frames' own bytes:
    // describe() points up to `max` iovecs at the first queued frames (the head minus what a
    // short send wrote) and returns how many, written() releases what `bytes` covered. Record
    // encryption (TLS) replaces these two: seal frames into records, describe the records,
    // and map written record bytes back to the frames they carry.
    std::size_t describe(const Connection& c, iovec* iov, std::size_t max) noexcept;
    void written(Connection& c, std::size_t bytes) noexcept;

    struct Dirty {
        std::uint32_t slot;
        std::uint32_t generation;
    };

    ConnOps& ops_;
    core::Slab<Connection>& conns_;
    std::uint64_t max_backpressure_;

    // Zero-copy sends in flight (first CQE or notification still due), named by index.
    struct ZcFlight {
        std::uint32_t slot;
        std::uint32_t generation;
        core::Block* block;  // one reference, dropped at the notification (null: free entry)
    };
    std::uint32_t zc_threshold_ = 0;
    bool zc_keep_copying_ = false;
    const FixedBuffers* fixed_ = nullptr;
    WorkerStats* zc_stats_ = nullptr;
    std::vector<ZcFlight> flights_;
    std::vector<std::uint32_t> free_flights_;

  public:
    // A new --max-backpressure (SIGHUP reload): it bounds the next enqueue().
    void set_max_backpressure(std::uint64_t bytes) noexcept { max_backpressure_ = bytes; }
    SendNodePool nodes_;
    SendArena arena_;
    std::vector<Dirty> dirty_;  // connections with frames to send this pass
    // The most each needed at once in the current period (dirty_) and the previous one.
    std::size_t dirty_peak_ = 0;
    std::size_t dirty_peak_prev_ = 0;
    std::size_t arena_peak_prev_ = 0;
    std::size_t nodes_peak_prev_ = 0;
};

}  // namespace herald::net
