// The hub process's loop: epoll over a handful of peer links and API connections (where
// io_uring's batching buys nothing), and the workers' rings read like a worker reads them.
//
// Techniques: bytes for a socket are appended to its `out` and written once per loop pass
// (Poller::flush_dirty); a closed handle is freed only after the batch of events that may still
// name it; the loop spins on the rings briefly before it sleeps in epoll_wait.
#include "channel/hub.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "net/ws_frame.h"

namespace herald::channel {

constexpr core::Nanos kTick = 50 * core::kMillisecond;

// The hub as the sink of the workers' rings.
class Hub::RingSink final : public RecordSink {
  public:
    explicit RingSink(Hub& hub) : hub_(hub) {}
    bool wants(std::string_view group) override { return hub_.ring_wants(group); }
    core::BlockPool& pool() override { return hub_.pool_; }
    void deliver(std::uint32_t, std::string_view group, core::Block* frame) override {
        hub_.ring_deliver(group, net::frame_payload(frame));
    }
    void interest(std::uint32_t from, std::string_view group, bool joined) override {
        hub_.ring_interest(from, group, joined);
    }
    void reset(std::uint32_t from) override { hub_.ring_reset(from); }

  private:
    Hub& hub_;
};

Hub::Hub(const HubOptions& options, const ShmRegion& region, std::uint32_t self,
         std::vector<int> wake_fds, const RelayOptions& relay)
    : options_(options),
      relay_(region, self, std::move(wake_fds), relay),
      interest_(region.processes()),
      mesh_(options_, poller_, interest_,
            [this](std::string_view group, std::span<const std::uint8_t> message) {
                ++remote_publishes_;
                relay_.publish(group, message);
            }),
      api_(options_, poller_, *this) {
    mesh_.set_origin_table(region.origins());
    // A peer dropped messages for a group: this host's workers close its members (1013).
    mesh_.set_on_lost([this](std::string_view group) {
        ++lost_groups_;
        relay_.write_control(kLostRecord, 0, group);
    });
}

Hub::~Hub() {
    if (signal_.fd >= 0) close(signal_.fd);
}

core::Status Hub::start() {
    if (core::Status s = poller_.open(); !s) return s;
    if (core::Status s = mesh_.listen(); !s) return s;
    if (core::Status s = api_.listen(); !s) return s;
    wake_.fd = relay_.wake_fd();
    poller_.add(wake_, EPOLLIN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    signal_.fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    poller_.add(signal_, EPOLLIN);
    relay_.attach();
    return {};
}

int Hub::run(std::atomic<std::uint32_t>& ready) {
    ready.store(1, std::memory_order_release);
    // Whatever the workers joined before this hub (re)started: they announce it again.
    relay_.announce_resync();
    relay_.flush();
    core::Nanos next_tick = 0;
    while (!stopping_) {
        RingSink sink(*this);
        const bool busy = relay_.poll_into(sink);
        const core::Nanos now = core::now_ns();
        if (now >= next_tick) {
            on_tick(now);
            next_tick = now + kTick;
        }
        poller_.flush_dirty();
        relay_.flush();
        const Sleep sleep = prepare_wait(busy, now, next_tick);
        poller_.wait(sleep.timeout_ms);
        if (sleep.slept) relay_.woke();
        poller_.end_batch();
    }
    // Stopping: what is queued for peers goes out if the socket takes it now.
    mesh_.flush_all();
    return 0;
}

// How long the next epoll_wait may block: 0 while the rings are busy or a spin finds records;
// until the next tick once every ring's reader is marked asleep.
Hub::Sleep Hub::prepare_wait(bool busy, core::Nanos now, core::Nanos next_tick) {
    if (busy) return {};
    const core::Nanos spin_until = now + relay_.spin_ns();
    while (!relay_.pending() && core::now_ns() < spin_until) {
    }
    if (relay_.pending() || !relay_.prepare_to_sleep()) return {};
    return {static_cast<int>((next_tick - now) / core::kMillisecond) + 1, true};
}

void Hub::on_ready(hub::Handle& h, std::uint32_t) {
    if (&h == &wake_) {
        // One read takes the whole count (the eventfd is shared and blocking: read once, only
        // when epoll says it is readable).
        std::uint64_t v;
        (void)!read(h.fd, &v, sizeof v);
        return;
    }
    signalfd_siginfo info;
    while (read(h.fd, &info, sizeof info) == sizeof info) stopping_ = true;
}

void Hub::on_tick(core::Nanos now) {
    mesh_.tick(now);
    api_.close_idle(now);
}

// ---- the workers' rings -------------------------------------------------------------------

bool Hub::ring_wants(std::string_view group) {
    if (interest_.any_peer_wants(group)) return true;
    ++local_publishes_;
    ++unrouted_;
    return false;
}

void Hub::ring_deliver(std::string_view group, std::span<const std::uint8_t> message) {
    ++local_publishes_;
    if (!mesh_.forward(group, message)) ++unrouted_;
}

// A group's first and last worker with members: peers hear of it.
void Hub::ring_interest(std::uint32_t from, std::string_view group, bool joined) {
    if (joined) {
        if (interest_.join(from, group)) mesh_.send_to_linked(FrameType::kSubscribe, group);
    } else if (interest_.leave(from, group)) {
        mesh_.send_to_linked(FrameType::kUnsubscribe, group);
    }
}

void Hub::ring_reset(std::uint32_t from) {
    for (const std::string& g : interest_.reset(from)) {
        mesh_.send_to_linked(FrameType::kUnsubscribe, g);
    }
}

// ---- the publish API's requests -----------------------------------------------------------

void Hub::publish(std::string_view group, std::span<const std::uint8_t> message) {
    relay_.publish(group, message);                   // this host's workers
    if (!mesh_.forward(group, message)) ++unrouted_;  // the other hosts that have members
}

std::string Hub::stats() {
    auto field = [](std::string& out, const char* name, std::uint64_t v) {
        out.append(",\"").append(name).append("\":").append(std::to_string(v));
    };
    std::string out = "{\"node_id\":" + std::to_string(options_.node_id);
    out.append(",\"cluster\":\"").append(options_.cluster).append("\"");
    field(out, "interest", interest_.local().size());
    field(out, "local_publishes", local_publishes_);
    field(out, "remote_publishes", remote_publishes_);
    field(out, "api_publishes", api_.publishes());
    field(out, "api_rejected", api_.rejected());
    field(out, "unrouted", unrouted_);
    field(out, "lost_groups", lost_groups_);
    field(out, "bad_frames", mesh_.bad_frames());
    field(out, "rejected_links", mesh_.rejected_links());
    field(out, "unnamed_links", mesh_.unnamed_links());
    mesh_.append_stats(out);
    out.append("}");
    return out;
}

}  // namespace herald::channel
