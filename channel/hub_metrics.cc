// GET /metrics of the hub (Hub::metrics_text): the workers' counters and histograms from the
// shared region, the hub's own counters, every peer's, and the admin listener's.
#include "channel/hub.h"
#include "channel/hub_report.h"
#include "net/metrics_text.h"

namespace herald::channel {
namespace {

void one(net::MetricsText& m, const char* name, const char* help, net::MetricType type,
         std::uint64_t value) {
    m.begin(name, help, type);
    m.sample(name, {}, value);
}

}  // namespace

std::string Hub::metrics_text() {
    using T = net::MetricType;
    std::string out = render_region_metrics(region_, self_);
    net::MetricsText m;
    one(m, "herald_hub_interest_groups", "groups this host's workers have members in", T::kGauge,
        interest_.local().size());
    one(m, "herald_hub_records_lapped_total",
        "records of the workers' rings the hub lost by falling behind (each resynced)", T::kCounter,
        records_lapped());
    one(m, "herald_hub_resyncs_total", "whole interest sets the hub asked of workers", T::kCounter,
        resyncs_asked());
    one(m, "herald_hub_local_publishes_total", "send_to_group events from this host's workers",
        T::kCounter, local_publishes_);
    one(m, "herald_hub_remote_publishes_total", "PUBLISH frames from peers put on the rings",
        T::kCounter, remote_publishes_);
    one(m, "herald_hub_api_publishes_total", "messages published through the admin listener",
        T::kCounter, api_publishes_);
    one(m, "herald_hub_unrouted_total", "publishes no peer wanted (not sent)", T::kCounter,
        unrouted_);
    one(m, "herald_hub_bad_frames_total", "peer links closed for a hostile or broken frame",
        T::kCounter, mesh_.bad_frames());
    one(m, "herald_hub_rejected_links_total", "peer links refused (cluster name, version, id)",
        T::kCounter, mesh_.rejected_links());
    one(m, "herald_hub_unnamed_links", "peer links still waiting for their HELLO", T::kGauge,
        mesh_.unnamed_links());
    append_peer_metrics(m, mesh_);
    if (nats_) nats_->append_metrics(m);
    if (admin_) {
        const AdminCounters& c = admin_->counters();
        one(m, "herald_admin_requests_total", "answers the admin listener queued", T::kCounter,
            c.requests);
        one(m, "herald_admin_rejected_total", "admin answers of status 400 and above", T::kCounter,
            c.rejected);
        one(m, "herald_admin_published_total", "messages the admin listener published", T::kCounter,
            c.published);
        one(m, "herald_admin_deadline_closes_total",
            "admin connections shut down at --admin-request-timeout", T::kCounter,
            c.deadline_closes);
        one(m, "herald_admin_open_connections", "admin connections open now", T::kGauge,
            c.open_connections);
    }
    return out + m.take();
}

}  // namespace herald::channel
