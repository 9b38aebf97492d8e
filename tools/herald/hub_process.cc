#include "tools/herald/hub_process.h"

#include <unistd.h>

#include <cstdio>

#include "channel/hub.h"
#include "tools/herald/reload.h"

namespace herald::tools {

int run_hub_process(const HeraldOptions& options, const channel::ShmRegion& region,
                    std::uint32_t self, const std::vector<int>& wake_fds) {
    channel::ProcessSlot& slot = region.process(self);
    slot.stats.pid.set(static_cast<std::uint64_t>(getpid()));
    channel::HubOptions hub = options.hub_options;
    hub.max_message = options.server.max_message;
    hub.max_group_id = options.server.max_group_id;
    channel::Hub process(hub, region, self, wake_fds, options.relay);
    Reloader reloader(options);
    process.set_reload([&process, &reloader] {
        if (const HeraldOptions* fresh = reloader.reload(ReloadLog::kQuiet)) {
            channel::HubOptions limits = fresh->hub_options;
            limits.max_message = fresh->server.max_message;
            process.apply_limits(limits);
        }
    });
    if (core::Status started = process.start(); !started) {
        std::fprintf(stderr, "herald: %s\n", started.error().c_str());
        return 1;
    }
    return process.run(slot.ready);
}

}  // namespace herald::tools
