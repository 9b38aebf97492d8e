#include "tools/herald/reload.h"

#include <unistd.h>

#include "net/log.h"

namespace herald::tools {

const HeraldOptions* Reloader::reload(ReloadLog log) {
    core::Result<HeraldOptions> fresh = reread_options(running_);
    if (!fresh) {
        if (log == ReloadLog::kAnnounce) {
            net::log_event(net::LogLevel::kError, "reload_failed",
                           "reason=\"%s\" note=\"keeping the running configuration\"",
                           fresh.error().c_str());
        }
        return nullptr;
    }
    const OptionChanges changes = compare_options(running_, *fresh);
    apply_live_options(running_, *fresh);
    net::set_log_level(running_.log_level);
    if (log == ReloadLog::kAnnounce) {
        net::log_event(net::LogLevel::kInfo, "reload", "changed=\"%s\"", changes.live.c_str());
        if (!changes.restart.empty()) {
            net::log_event(net::LogLevel::kWarn, "reload_needs_restart",
                           "keys=\"%s\" note=\"these take effect after a restart\"",
                           changes.restart.c_str());
        }
    } else {
        net::log_event(net::LogLevel::kDebug, "reload_applied", "pid=%d",
                       static_cast<int>(getpid()));
    }
    return &running_;
}

}  // namespace herald::tools
