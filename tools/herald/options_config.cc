// herald's options as a config file: --print-config, and what a SIGHUP reload compares and
// applies. The keys themselves are declared next to their flags, in options.cc.
#include <string>
#include <vector>

#include "tools/herald/options.h"

namespace herald::tools {

std::string print_config_text(const HeraldOptions& options) {
    std::vector<ConfigKey> schema;
    std::vector<std::string> texts;
    for (const OptionKey& k : option_keys()) {
        schema.push_back(k.key);
        texts.push_back(k.value(options));
    }
    std::vector<FlagValue> values;
    for (std::size_t i = 0; i < schema.size(); ++i) {
        const bool text =
            schema[i].type == ConfigType::kString || schema[i].type == ConfigType::kList;
        // An empty number stands for "the default herald works out" (--max-conns): left out.
        if (texts[i].empty() && !text) continue;
        values.push_back({schema[i].flag, texts[i]});
    }
    return "# herald " HERALD_VERSION " effective configuration (herald --print-config)\n" +
           render_config(schema, values);
}

OptionChanges compare_options(const HeraldOptions& running, const HeraldOptions& fresh) {
    OptionChanges changes;
    for (const OptionKey& k : option_keys()) {
        const std::string now = k.value(fresh);
        if (now == k.value(running)) continue;
        std::string& list = k.reload == Reload::kLive ? changes.live : changes.restart;
        if (!list.empty()) list += ' ';
        list += std::string(k.key.flag) + "=" +
                (k.key.flag == "api-token" ? std::string("(changed)") : now);
    }
    return changes;
}

void apply_live_options(HeraldOptions& running, const HeraldOptions& fresh) {
    net::ServerOptions& s = running.server;
    s.max_message = fresh.server.max_message;
    s.max_backpressure = fresh.server.max_backpressure;
    s.max_groups_per_conn = fresh.server.max_groups_per_conn;
    s.max_errors = fresh.server.max_errors;
    s.handshake_timeout = fresh.server.handshake_timeout;
    s.close_timeout = fresh.server.close_timeout;
    running.hub_options.api_token = fresh.hub_options.api_token;
    running.log_level = fresh.log_level;
}

core::Result<HeraldOptions> reread_options(const HeraldOptions& running) {
    std::vector<std::string> args = running.args;
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    return parse_options(static_cast<int>(argv.size()), argv.data(), running.cpus);
}

}  // namespace herald::tools
