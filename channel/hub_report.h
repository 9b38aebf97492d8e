// What the admin listener reports about a host's processes: GET /stats (JSON), GET /metrics
// (Prometheus text) and GET /readyz, read from the shared region (every process's counters and
// ready flags) and the hub's peer mesh.
#pragma once

#include <cstdint>
#include <string>

#include "channel/peer_mesh.h"
#include "channel/shm_region.h"
#include "net/metrics_text.h"

namespace herald::channel {

// The multi-process /stats: every process's counters from `region`, with its ring lag and ring
// drops as a reader of the others' rings; process `hub` has the role "hub" (none when `hub` is
// not a process index). net::render_stats_json's shape, ending in a newline.
std::string render_region_stats(const ShmRegion& region, std::uint32_t hub);

// Every worker's counters (label worker="N"; process `hub` left out) as net::render_metrics_text
// families, their handshake histograms, and per worker herald_worker_ready (gauge),
// herald_worker_restarts_total and herald_ring_drops_total.
std::string render_region_metrics(const ShmRegion& region, std::uint32_t hub);

// Every peer's counters (label peer="NODE"): herald_peer_up (gauge), herald_peer_backlog_bytes
// (gauge), herald_peer_<counter>_total and herald_peer_bytes_{in,out}_total. Appended to `m`.
void append_peer_metrics(net::MetricsText& m, const hub::Mesh& mesh);

// Every process but `hub` has set its ready flag (ProcessSlot::ready).
bool workers_ready(const ShmRegion& region, std::uint32_t hub);

// GET /readyz's body: {"ready":B,"workers":{"ready":R,"total":T}} plus, with a cluster,
// ,"peers":[{"node":N,"address":"...","state":"up"|"down"},...] before the closing brace.
std::string render_ready_json(const ShmRegion& region, std::uint32_t hub, const hub::Mesh* mesh);

}  // namespace herald::channel
