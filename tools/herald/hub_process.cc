#include "tools/herald/hub_process.h"

#include <unistd.h>

#include "channel/hub.h"

namespace herald::tools {

int run_hub_process(const HeraldOptions& options, const channel::ShmRegion& region,
                    std::uint32_t self, const std::vector<int>& wake_fds) {
    channel::ProcessSlot& slot = region.process(self);
    slot.stats.pid.set(static_cast<std::uint64_t>(getpid()));
    channel::HubOptions hub = options.hub_options;
    hub.max_message = options.server.max_message;
    hub.max_group_id = options.server.max_group_id;
    // merge: becomes Hub hub(...); start(); run(ready) -- that is
    //   channel::Hub h(hub, region, self, wake_fds, options.relay);
    //   if (core::Status s = h.start(); !s) { print "herald: " + s.error(); return 1; }
    //   return h.run(slot.ready);
    return channel::run_hub(hub, region, self, wake_fds, options.relay, slot.ready);
}

}  // namespace herald::tools
