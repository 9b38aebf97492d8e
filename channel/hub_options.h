// What a hub is told at start (herald's cluster and API flags). Declared apart from hub.h so
// the hub's parts (peer mesh, publish API) can take it without including the hub.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.h"
#include "net/endpoint.h"

namespace herald::channel {

// What carries publishes between hosts (--engine).
enum class Engine : std::uint8_t {
    kMesh,  // herald's own TCP mesh (channel/peer_mesh.h)
    kNats,  // a NATS cluster (channel/nats_engine.h)
};

struct HubOptions {
    std::uint32_t node_id = 1;             // --node-id: unique in the cluster
    std::string cluster = "herald";        // --cluster-name: both ends of a link must agree
    bool cluster_enabled = false;          // --cluster-listen given
    net::Endpoint cluster_listen;          // where peer hubs connect
    std::vector<net::Endpoint> peers;      // --peers (this hub's own address is skipped)
    std::string cluster_secret_file;       // --cluster-secret FILE (as given)
    std::string cluster_secret;            // its bytes, read once at start ("" without it)
    bool cluster_insecure = false;         // --cluster-insecure: no secret on a public address
    bool api_enabled = false;              // --admin-listen (alias --api-listen) given
    net::Endpoint api_listen;              // the admin listener (channel/admin_server.h)
    std::string api_token;                 // --api-token: required as a bearer token when set
    unsigned admin_max_conns = 64;         // --admin-max-conns: open admin connections
    unsigned admin_max_conns_per_ip = 16;  // --admin-max-conns-per-ip
    core::Nanos admin_request_timeout = 30 * core::kSecond;  // --admin-request-timeout
    std::size_t peer_buffer = 8u << 20;                      // --peer-buffer: bytes queued per peer
    core::Nanos peer_timeout = 3 * core::kSecond;            // --peer-timeout: silence = dead peer
    core::Nanos redial_min = 100 * core::kMillisecond;       // first redial delay (then doubles)
    core::Nanos redial_max = 5 * core::kSecond;              // longest redial delay
    std::size_t max_message = 1u << 20;                      // as the workers' --max-message
    std::size_t max_group_id = 128;                          // as the workers' --max-group-id
    std::size_t max_peer_groups = 1u << 20;  // SUBSCRIBEs one peer may hold; beyond: wants all
    Engine engine = Engine::kMesh;           // --engine mesh|nats
    std::vector<std::string> nats_urls;      // --nats-url: nats:// or tls://, user:pass@ or token@
    std::string nats_creds;                  // --nats-creds FILE: a NATS user credentials file
    std::string nats_ca;                     // --nats-ca FILE: CAs for tls:// ("": the system's)
    std::string nats_prefix;                 // --nats-prefix ("": herald.<cluster>.g.)
    std::size_t nats_buffer = 8u << 20;      // --nats-buffer: reconnect buffer and inbound queue
};

}  // namespace herald::channel
