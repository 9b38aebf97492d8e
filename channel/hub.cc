// The hub process's loop: epoll over a handful of peer links and the admin listener's epoll
// descriptor (where io_uring's batching buys nothing), and the workers' rings read like a worker
// reads them.
//
// Techniques: bytes for a socket are appended to its `out` and written once per loop pass
// (Poller::flush_dirty); a closed handle is freed only after the batch of events that may still
// name it; the loop spins on the rings briefly before it sleeps in epoll_wait.
#include "channel/hub.h"

#include <malloc.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>

#include "channel/hub_report.h"
#include "net/log.h"
#include "net/ws_frame.h"

namespace herald::channel {

constexpr core::Nanos kTick = 50 * core::kMillisecond;
// A worker asked for its whole interest set that has not begun answering (it missed the
// request, or was stopped) is asked again after this long.
constexpr core::Nanos kResyncRetry = core::kSecond;

// The hub as the sink of the workers' rings.
class Hub::RingSink final : public RecordSink {
  public:
    explicit RingSink(Hub& hub) : hub_(hub) {}
    bool wants(std::string_view group) override { return hub_.ring_wants(group); }
    core::BlockPool& pool() override { return hub_.pool_; }
    void deliver(std::uint32_t from, std::string_view group, core::Block* frame) override {
        hub_.ring_deliver(from, group, net::frame_payload(frame));
    }
    void interest(std::uint32_t from, std::string_view group, bool joined) override {
        hub_.ring_interest(from, group, joined);
    }
    void reset(std::uint32_t from) override { hub_.ring_reset(from); }
    void interest_set(std::uint32_t from, bool begin) override {
        hub_.ring_interest_set(from, begin);
    }

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
      region_(region),
      self_(self),
      sync_(region.processes()) {
    // A restarted hub keeps its incarnation and numbers on, and takes its windows back
    // (docs/CLUSTER.md "Hub restarts").
    std::vector<WindowMirror> mirrors;
    for (std::uint32_t i = 0; i < region.window_slots(); ++i) mirrors.push_back(region.window(i));
    mesh_.set_mirrors(std::move(mirrors));
    mesh_.set_origin_table(region.origins(), &region.hub_incarnation());
    // A peer's frame counts as delivered (stored, ACKed) once our ring holds it.
    mesh_.set_ring_progress(
        {[this] { return relay_.records_issued(); }, [this] { return relay_.records_placed(); }});
    // A peer dropped messages for a group: this host's workers close its members (1013).
    mesh_.set_on_lost([this](std::string_view group) {
        ++lost_groups_;
        relay_.write_control(kLostRecord, 0, group);
    });
    if (options_.engine == Engine::kNats) {
        nats_ = std::make_unique<hub::NatsEngine>(
            options_,
            [this](std::string_view group, std::span<const std::uint8_t> message) {
                ++remote_publishes_;
                relay_.publish(group, message);
            },
            [this](std::string_view group) {
                ++lost_groups_;
                relay_.write_control(kLostRecord, 0, group);
            });
    }
    if (options_.api_enabled) {
        AdminOptions admin;
        admin.listen = options_.api_listen.to_string();
        admin.token = options_.api_token;
        admin.body.max_message = options_.max_message;
        admin.body.max_group_id = options_.max_group_id;
        admin.max_conns = options_.admin_max_conns;
        admin.max_conns_per_ip = options_.admin_max_conns_per_ip;
        admin.request_deadline = options_.admin_request_timeout;
        AdminHandler& handler = *this;
        admin_ = std::make_unique<AdminServer>(admin, handler);
    }
}

Hub::~Hub() {
    if (signal_.fd >= 0) close(signal_.fd);
}

core::Status Hub::start() {
    if (core::Status s = poller_.open(); !s) return s;
    if (core::Status s = mesh_.listen(); !s) return s;
    if (nats_) {
        if (core::Status s = nats_->start(poller_); !s) return core::Error{"hub: " + s.error()};
    }
    if (admin_) {
        if (core::Status s = admin_->start(); !s) return core::Error{"hub: " + s.error()};
        admin_fd_.fd = admin_->epoll_fd();
        poller_.add(admin_fd_, EPOLLIN);
    }
    wake_.fd = relay_.wake_fd();
    poller_.add(wake_, EPOLLIN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    signal_.fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    poller_.add(signal_, EPOLLIN);
    // Resumed where a previous hub process stopped reading (the master kept its reader slots
    // holding the writers back): what the workers wrote meanwhile is forwarded too.
    relay_.attach(true);
    return {};
}

int Hub::run(std::atomic<std::uint32_t>& ready) {
    ready.store(1, std::memory_order_release);
    // Whatever the workers joined before this hub (re)started: they announce it again (each
    // asked once more after kResyncRetry if its answer has not begun by then).
    relay_.announce_resync();
    relay_.flush();
    for (std::uint32_t p = 0; p < sync_.size(); ++p) {
        if (p == self_) continue;
        sync_[p].want = true;
        sync_[p].asked_at = core::now_ns();
        ++sync_[p].asked;
    }
    core::Nanos next_tick = 0;
    while (!stopping_) {
        RingSink sink(*this);
        const bool busy = relay_.poll_into(sink);
        for (std::uint32_t p = 0; p < sync_.size(); ++p) {
            if (p != self_ && relay_.take_missed(p)) note_missed(p);
        }
        const core::Nanos now = core::now_ns();
        if (now >= next_tick) {
            on_tick(now);
            next_tick = now + kTick;
        }
        relay_.flush();
        mesh_.settle();  // ACKs for frames whose records left the overflow queue
        poller_.flush_dirty();
        const Sleep sleep = prepare_wait(busy, now, next_tick);
        poller_.wait(sleep.timeout_ms);
        if (sleep.slept) relay_.woke();
        run_admin(core::now_ns());
        poller_.end_batch();
    }
    // Stopping: what is queued for peers goes out if the socket takes it now.
    mesh_.flush_all();
    return 0;
}

// How long the next epoll_wait may block: 0 while the rings are busy or a spin finds records;
// until the next tick (or the admin listener's next timeout) once every ring's reader is marked
// asleep.
Hub::Sleep Hub::prepare_wait(bool busy, core::Nanos now, core::Nanos next_tick) {
    if (busy) return {};
    const core::Nanos spin_until = now + relay_.spin_ns();
    while (!relay_.pending() && core::now_ns() < spin_until) {
    }
    if (relay_.pending() || !relay_.prepare_to_sleep()) return {};
    int timeout = static_cast<int>((next_tick - now) / core::kMillisecond) + 1;
    const int admin = admin_ ? admin_->timeout_ms() : -1;  // MHD's timeouts and the deadlines
    if (admin >= 0) timeout = std::min(timeout, admin);
    return {timeout, true};
}

// The admin listener's work, when MHD's epoll descriptor was readable or its timeout is due.
void Hub::run_admin(core::Nanos now) {
    if (!admin_ || (!admin_due_ && now < admin_at_)) return;
    admin_due_ = false;
    admin_->run();
    const int ms = admin_->timeout_ms();
    admin_at_ = ms < 0 ? now + kTick : now + ms * core::kMillisecond;
}

void Hub::on_ready(hub::Handle& h, std::uint32_t) {
    if (&h == &admin_fd_) {
        admin_due_ = true;
        return;
    }
    if (&h == &wake_) {
        // One read takes the whole count (the eventfd is shared and blocking: read once, only
        // when epoll says it is readable).
        std::uint64_t v;
        (void)!read(h.fd, &v, sizeof v);
        return;
    }
    signalfd_siginfo info;
    while (read(h.fd, &info, sizeof info) == sizeof info) {
        if (info.ssi_signo != SIGHUP) {
            stopping_ = true;
        } else if (reload_) {
            reload_();
        }
    }
}

void Hub::apply_limits(const HubOptions& limits) {
    options_.api_token = limits.api_token;
    options_.max_message = limits.max_message;
    // The admin listener's publish bodies keep the --max-message it started with (its judge
    // is built once); the token applies to the next request.
    if (admin_) admin_->set_token(limits.api_token);
}

void Hub::on_tick(core::Nanos now) {
    if (nats_) {
        nats_->tick(now);
    } else {
        mesh_.tick(now);
    }
    ask_resyncs(now);
    // Once the host's interest has shrunk to under half its peak (a burst of members left),
    // the memory its tables used goes back to the system.
    const std::size_t interest = interest_.local().size();
    interest_peak_ = std::max(interest_peak_, interest);
    if (interest < interest_peak_ / 2) {
        malloc_trim(0);
        interest_peak_ = interest;
    }
}

// ---- the workers' rings -------------------------------------------------------------------

bool Hub::ring_wants(std::string_view group) {
    // NATS carries interest between its servers: every publish goes to it.
    if (nats_ || interest_.any_peer_wants(group) || mesh_.any_interest_unknown()) return true;
    ++local_publishes_;
    ++unrouted_;
    return false;
}

void Hub::ring_deliver(std::uint32_t from, std::string_view group,
                       std::span<const std::uint8_t> message) {
    ++local_publishes_;
    forward(group, message, hub::RecordId{from + 1u, relay_.reading_at(from)});
}

// A group's first and last worker with members: peers hear of it.
void Hub::ring_interest(std::uint32_t from, std::string_view group, bool joined) {
    if (joined) {
        if (interest_.join(from, group)) announce(group, true);
    } else if (interest_.leave(from, group)) {
        announce(group, false);
    }
}

void Hub::ring_reset(std::uint32_t from) {
    sync_[from].in_set = false;
    for (const std::string& g : interest_.reset(from)) announce(g, false);
}

// A worker's whole set, begun or complete. It replaces what the table believed only when no
// record of that ring was missed between its begin and its end (else it is asked again).
void Hub::ring_interest_set(std::uint32_t from, bool begin) {
    if (relay_.take_missed(from)) note_missed(from);  // a lap inside this poll, before this record
    WorkerSync& s = sync_[from];
    if (begin) {
        interest_.begin_set(from);
        s.in_set = true;
        s.set_misses = s.misses;
        return;
    }
    if (!s.in_set) return;  // its begin was lapped: the next answer replaces
    s.in_set = false;
    if (s.set_misses != s.misses) return;
    for (const std::string& g : interest_.end_set(from)) announce(g, false);
    s.want = false;
    ++s.synced;
}

void Hub::note_missed(std::uint32_t from) {
    WorkerSync& s = sync_[from];
    if (s.misses == s.asked_misses && !s.want) {
        net::log_event(net::LogLevel::kWarn, "hub_ring_missed",
                       "worker=%u what=interest_records_may_be_lost action=resync", from);
    }
    ++s.misses;
    s.want = true;
    // Publish records may have been among those lost: every peer hears that every group lost
    // frames, so their members are closed rather than left with a gap (NATS: not yet).
    if (!nats_) mesh_.lose_everything();
}

// Asks each worker whose set may be wrong for its whole set: at once after a new miss, again
// after kResyncRetry while no clean answer is under way. On the tick, so at most 20 a second.
void Hub::ask_resyncs(core::Nanos now) {
    for (std::uint32_t p = 0; p < sync_.size(); ++p) {
        WorkerSync& s = sync_[p];
        if (p == self_ || !s.want) continue;
        const bool clean_answer = s.in_set && s.set_misses == s.misses;
        const bool new_miss = s.asked_misses != s.misses;
        if (!new_miss && (clean_answer || now - s.asked_at < kResyncRetry)) continue;
        relay_.announce_resync(p);
        s.asked_at = now;
        s.asked_misses = s.misses;
        ++s.asked;
    }
}

// To the other hosts: NATS (always published: only subscribed hosts get it), or the mesh
// peers that want it (counted unrouted when none does).
void Hub::forward(std::string_view group, std::span<const std::uint8_t> message,
                  hub::RecordId from) {
    if (nats_) {
        nats_->publish(group, message);
    } else if (!mesh_.forward(group, message, from)) {
        ++unrouted_;
    }
}

// The host gained its first member of `group` (joined) or lost its last.
void Hub::announce(std::string_view group, bool joined) {
    if (nats_) {
        if (joined) {
            nats_->subscribe(group);
        } else {
            nats_->unsubscribe(group);
        }
        return;
    }
    mesh_.send_to_linked(joined ? FrameType::kSubscribe : FrameType::kUnsubscribe, group);
}

// ---- the admin listener's requests -------------------------------------------------------

PublishOutcome Hub::publish(std::string_view group, std::string_view message) {
    if (stopping_) return PublishOutcome::kUnavailable;
    if (message.size() > options_.max_message) return PublishOutcome::kTooBig;
    const std::span bytes(reinterpret_cast<const std::uint8_t*>(message.data()), message.size());
    relay_.publish(group, bytes);  // this host's workers
    forward(group, bytes);         // the other hosts that have members
    ++api_publishes_;
    return PublishOutcome::kAccepted;
}

BatchOutcome Hub::publish_batch(std::span<const PublishItem> items) {
    BatchOutcome out;
    for (const PublishItem& item : items) {
        out.outcome = publish(item.group_id, item.message);
        if (out.outcome != PublishOutcome::kAccepted) break;
        ++out.accepted;
    }
    return out;
}

std::string Hub::hub_stats() const {
    auto field = [](std::string& out, const char* name, std::uint64_t v) {
        out.append(",\"").append(name).append("\":").append(std::to_string(v));
    };
    std::string out = "{\"node_id\":" + std::to_string(options_.node_id);
    out.append(",\"cluster\":\"").append(options_.cluster).append("\"");
    out.append(",\"engine\":\"").append(nats_ ? "nats" : "mesh").append("\"");
    field(out, "interest", interest_.local().size());
    out.append(interest_stats());
    field(out, "local_publishes", local_publishes_);
    field(out, "remote_publishes", remote_publishes_);
    field(out, "api_publishes", api_publishes_);
    field(out, "api_rejected", admin_ ? admin_->counters().rejected : 0);
    field(out, "unrouted", unrouted_);
    field(out, "lost_groups", lost_groups_);
    field(out, "bad_frames", mesh_.bad_frames());
    field(out, "rejected_links", mesh_.rejected_links());
    field(out, "unnamed_links", mesh_.unnamed_links());
    mesh_.append_stats(out);
    if (nats_) nats_->append_stats(out);
    return out;
}

// ,"records_lapped":N,"resyncs":N,"interest_workers":[{"worker":W,"groups":N,
// "interest_hash":H,"misses":N,"resyncs":N,"synced":N,"in_sync":B},...]: what the hub believes
// each worker holds (compare with the worker's groups and interest_hash in "processes").
std::string Hub::interest_stats() const {
    std::string workers;
    for (std::uint32_t p = 0; p < sync_.size(); ++p) {
        if (p == self_) continue;
        const WorkerSync& s = sync_[p];
        workers += std::string(workers.empty() ? "" : ",") + "{\"worker\":" + std::to_string(p) +
                   ",\"groups\":" + std::to_string(interest_.worker_groups(p)) +
                   ",\"interest_hash\":" + std::to_string(interest_.worker_digest(p)) +
                   ",\"misses\":" + std::to_string(s.misses) +
                   ",\"resyncs\":" + std::to_string(s.asked) +
                   ",\"synced\":" + std::to_string(s.synced) +
                   ",\"in_sync\":" + (s.want ? "false" : "true") + "}";
    }
    return ",\"records_lapped\":" + std::to_string(records_lapped()) +
           ",\"resyncs\":" + std::to_string(resyncs_asked()) + ",\"interest_workers\":[" + workers +
           "]";
}

std::uint64_t Hub::records_lapped() const {
    std::uint64_t lapped = 0;
    for (std::uint32_t p = 0; p < sync_.size(); ++p) {
        // relaxed: a monitoring snapshot of what the writers counted.
        if (p == self_) continue;
        lapped += region_.ring(p).reader(self_).drops.load(std::memory_order_relaxed);
    }
    return lapped;
}

std::uint64_t Hub::resyncs_asked() const {
    std::uint64_t asked = 0;
    for (const WorkerSync& s : sync_) asked += s.asked;
    return asked;
}

// The hub's fields (as before), then "processes": every process's counters (the WebSocket
// port's /stats JSON).
std::string Hub::stats_json() {
    std::string out = hub_stats();
    std::string processes = render_region_stats(region_, self_);
    while (!processes.empty() && processes.back() == '\n') processes.pop_back();
    out.append(",\"processes\":").append(processes).append("}\n");
    return out;
}

ReadyState Hub::ready() {
    ReadyState state{
        workers_ready(region_, self_),
        render_ready_json(region_, self_, options_.cluster_enabled ? &mesh_ : nullptr)};
    if (nats_) {
        // Not ready while the NATS connection is down: this host would miss other hosts'
        // publishes.
        const bool up = nats_->connected();
        state.ready = state.ready && up;
        state.json.pop_back();
        if (const std::size_t at = state.json.find("\"ready\":true"); !up && at == 1)
            state.json.replace(at, 13, "\"ready\":false");
        state.json.append(",\"nats\":{\"connected\":").append(up ? "true" : "false");
        state.json.append(",\"server\":\"").append(nats_->connected_url()).append("\"}}");
    }
    return state;
}

}  // namespace herald::channel
