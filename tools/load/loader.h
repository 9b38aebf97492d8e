// One herald-load process: its slice of the connections, an epoll loop that batches reads, and
// the scenario's sending and checking.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/histogram.h"
#include "tools/load/load_options.h"
#include "tools/load/shared_state.h"

namespace herald::load {

class Loader {
  public:
    // Process `proc` owns connections [first, first + count).
    Loader(const LoadOptions& options, SharedView shared, std::uint32_t proc, std::uint32_t first,
           std::uint32_t count);
    ~Loader();
    Loader(const Loader&) = delete;
    Loader& operator=(const Loader&) = delete;

    // Runs every phase the coordinator announces; returns the process exit code.
    int run();

  private:
    // Per (receiver, publisher): the next sequence expected and the ones skipped so far.
    struct Tracker {
        std::uint32_t next = 0;
        std::vector<std::uint32_t> missing;
    };
    enum class ConnState : std::uint8_t { kIdle, kConnecting, kHandshake, kOpen, kDead };
    struct Conn {
        int fd = -1;
        SSL* ssl = nullptr;       // wss:// only; the TLS handshake is done once tls_ready
        bool tls_ready = false;   // (then the HTTP upgrade goes out)
        std::uint32_t index = 0;  // global connection index (or churn cycle number)
        std::uint32_t group = 0;
        ConnState state = ConnState::kIdle;
        bool confirmed = false;
        bool pending = false;  // counted in the group's shared unconfirmed count (count_member)
        bool churn = false;
        std::uint8_t mask[4] = {0, 0, 0, 0};
        std::string in;                 // handshake bytes, or an incomplete frame
        std::string out;                // bytes the socket did not take yet
        std::vector<Tracker> trackers;  // publishers of `group`: p = group + k * groups
        // Publisher role (latency / throughput): publisher id or -1.
        std::int64_t publisher = -1;
        std::uint32_t seq = 0;
        core::Nanos next_send = 0;
        std::uint32_t in_flight = 0;
        core::Nanos started = 0;  // churn: when the cycle began
        // Group leader in the confirm phase: its last probe, and whether that is still out.
        std::uint32_t probe_seq = 0;
        bool probe_out = false;
        core::Nanos probe_at = 0;
    };

    void start_connect(Conn& c);
    void on_event(Conn& c, std::uint32_t events);
    void on_connected(Conn& c);
    void send_upgrade(Conn& c);
    void drive_tls(Conn& c);     // wss://: the TLS handshake, then send_upgrade
    void fail_connect(Conn& c);  // counts a connection that never opened and drops it
    void on_readable(Conn& c);
    void handle_input(Conn& c, std::uint8_t* data, std::size_t n);
    void handle_frames(Conn& c, std::uint8_t* data, std::size_t n, std::size_t& used);
    void on_text(Conn& c, std::string_view text);
    void on_measure(Conn& c, std::string_view text);
    void send_frame(Conn& c, std::uint8_t opcode, std::string_view payload);
    void send_command(Conn& c, std::string_view group, std::string_view message);
    void flush_out(Conn& c);
    void kill(Conn& c, bool by_server);

    // The confirm phase (loader_confirm.cc). count_member: c starts connecting, so it is a
    // member to confirm (counted in its group's shared count and in pending_). settle: c got a
    // probe or died, so it is no longer waited for (idempotent). on_probe: a "p:" text reached c.
    // tick_confirm: the leaders' probes that are due.
    void count_member(Conn& c);
    void settle(Conn& c);
    void on_probe(Conn& c, std::string_view text);
    void tick_confirm(core::Nanos now);
    void tick_run(core::Nanos now);
    void tick_churn(core::Nanos now);
    void publish(Conn& c, core::Nanos intended, core::Nanos now);
    core::Nanos next_wakeup(core::Nanos now) const;
    void on_phase(std::uint32_t phase, core::Nanos now);
    void tick(core::Nanos now);
    void set_status(std::uint32_t status);
    void update_status();
    void write_report();
    std::string group_name(std::uint32_t g) const;

    const LoadOptions& o_;
    SharedView shared_;
    ProcessSlot& slot_;
    std::uint32_t proc_;
    std::uint32_t first_;
    int epoll_fd_ = -1;
    SSL_CTX* tls_ctx_ = nullptr;                // wss:// (--url or --publish-url)
    std::vector<std::unique_ptr<Conn>> conns_;  // this process's slice
    std::vector<Conn*> publishers_;             // the slice's publishing connections
    // Publishers go to --publish-url when one is given (cluster runs).
    bool to_publish_url(const Conn& c) const noexcept {
        return o_.pub_port != 0 && c.index < o_.publishers;
    }
    std::vector<Conn*> leaders_;                // the slice's group leaders (index < groups)
    std::vector<std::unique_ptr<Conn>> churn_;  // churn cycles in progress
    std::uint32_t next_to_connect_ = 0;
    std::uint32_t connecting_ = 0;
    std::uint32_t open_ = 0;
    std::uint32_t confirmed_ = 0;
    std::uint32_t pending_ = 0;  // members of this slice counted and not settled yet
    std::uint32_t phase_ = kConnect;
    std::uint32_t status_ = kStarting;  // what this process last told the coordinator
    core::Nanos t0_ = 0;
    core::Nanos measure_start_ = 0;
    core::Nanos measure_end_ = 0;
    core::Nanos last_delivery_ = 0;
    core::Nanos received_at_ = 0;  // when the data being handled was read
    core::Nanos drain_until_ = 0;
    core::Nanos cpu_at_start_ = -1;
    std::uint64_t churn_started_ = 0;
    std::string scratch_;                   // command text being built
    std::string frame_;                     // frame being built
    std::unique_ptr<std::uint8_t[]> rbuf_;  // receive buffer, with padding
    std::string padding_;                   // message filler
    core::Histogram latency_;
    core::Histogram lateness_;
    std::uint64_t measured_deliveries_ = 0;
    std::uint64_t measured_sent_ = 0;
    std::uint64_t duplicates_ = 0;
    std::uint64_t reorders_ = 0;
    std::uint64_t error_frames_ = 0;
    std::uint64_t failed_ = 0;
    std::uint64_t closed_ = 0;
    std::uint64_t cycles_ = 0;
    std::uint64_t sent_ = 0;
    std::uint64_t probes_sent_ = 0;
    std::uint64_t delivered_ = 0;
};

}  // namespace herald::load
