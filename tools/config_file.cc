#include "tools/config_file.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

namespace herald::tools {
namespace {

const char* type_name(ConfigType type) {
    switch (type) {
        case ConfigType::kString:
            return "a string";
        case ConfigType::kInteger:
            return "an integer";
        case ConfigType::kBoolean:
            return "a boolean";
        case ConfigType::kDuration:
            return "a duration (\"30s\", \"500ms\") or an integer";
        case ConfigType::kSize:
            return "a size (\"64KiB\", \"1M\") or an integer";
        case ConfigType::kList:
            return "an array of strings";
    }
    return "?";
}

std::string where(std::string_view name, const toml::node& node) {
    return std::string(name) + ":" + std::to_string(node.source().begin.line) + ": ";
}

std::string dotted(std::string_view table, std::string_view key) {
    return table.empty() ? std::string(key) : "[" + std::string(table) + "]." + std::string(key);
}

// The flag text of `node` for `type`, or nullopt when the TOML type does not fit.
std::optional<std::string> value_text(const toml::node& node, ConfigType type) {
    const auto* s = node.as_string();
    const auto* i = node.as_integer();
    switch (type) {
        case ConfigType::kString:
            if (s != nullptr) return s->get();
            break;
        case ConfigType::kInteger:
            if (i != nullptr) return std::to_string(i->get());
            break;
        case ConfigType::kBoolean:
            if (const auto* b = node.as_boolean()) return b->get() ? "true" : "false";
            break;
        case ConfigType::kDuration:
        case ConfigType::kSize:
            if (s != nullptr) return s->get();
            if (i != nullptr) return std::to_string(i->get());
            break;
        case ConfigType::kList: {
            if (s != nullptr) return s->get();
            const auto* a = node.as_array();
            if (a == nullptr) break;
            std::string joined;
            for (const toml::node& e : *a) {
                if (!e.is_string()) return std::nullopt;
                if (!joined.empty()) joined += ',';
                joined += e.as_string()->get();
            }
            return joined;
        }
    }
    return std::nullopt;
}

const ConfigKey* find_key(std::span<const ConfigKey> schema, std::string_view table,
                          std::string_view key) {
    for (const ConfigKey& k : schema) {
        if (k.table == table && k.key == key) return &k;
    }
    return nullptr;
}

bool known_table(std::span<const ConfigKey> schema, std::string_view table) {
    for (const ConfigKey& k : schema) {
        if (k.table == table) return true;
    }
    return false;
}

// One key=value of `table`: appends its flag, or returns the error.
core::Status add_flag(std::string_view name, std::string_view table, std::string_view key,
                      const toml::node& node, std::span<const ConfigKey> schema,
                      std::vector<ConfigSetting>& flags) {
    const ConfigKey* k = find_key(schema, table, key);
    if (k == nullptr) {
        return core::Error{where(name, node) + "unknown key " + dotted(table, key)};
    }
    const std::optional<std::string> text = value_text(node, k->type);
    if (!text) {
        return core::Error{where(name, node) + dotted(table, key) + " must be " +
                           type_name(k->type)};
    }
    std::string origin = where(name, node) + dotted(table, key);
    if (k->type == ConfigType::kBoolean) {
        if (*text == "true") flags.push_back({"--" + std::string(k->flag), std::move(origin)});
        return {};
    }
    flags.push_back({"--" + std::string(k->flag) + "=" + *text, std::move(origin)});
    return {};
}

core::Status add_table(std::string_view name, std::string_view table_name, const toml::table& table,
                       std::span<const ConfigKey> schema, std::vector<ConfigSetting>& flags) {
    for (const auto& [key, node] : table) {
        if (node.is_table() && table_name.empty() && known_table(schema, key.str())) {
            if (auto st = add_table(name, key.str(), *node.as_table(), schema, flags); !st) {
                return st;
            }
            continue;
        }
        if (node.is_table() && !find_key(schema, table_name, key.str())) {
            return core::Error{
                where(name, node) + "unknown table [" +
                (table_name.empty() ? std::string() : std::string(table_name) + ".") +
                std::string(key.str()) + "]"};
        }
        if (auto st = add_flag(name, table_name, key.str(), node, schema, flags); !st) return st;
    }
    return {};
}

}  // namespace

core::Result<std::vector<ConfigSetting>> config_text_settings(std::string_view text,
                                                              std::string_view name,
                                                              std::span<const ConfigKey> schema) {
    toml::table root;
    try {
        root = toml::parse(text, name);
    } catch (const toml::parse_error& e) {
        return core::Error{std::string(name) + ":" + std::to_string(e.source().begin.line) + ": " +
                           std::string(e.description())};
    }
    std::vector<ConfigSetting> flags;
    if (auto st = add_table(name, "", root, schema, flags); !st) return core::Error{st.error()};
    return flags;
}

core::Result<std::vector<ConfigSetting>> config_file_settings(const std::string& path,
                                                              std::span<const ConfigKey> schema) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return core::Error{path + ": cannot read: " + std::strerror(errno)};
    std::ostringstream text;
    text << in.rdbuf();
    return config_text_settings(text.str(), path, schema);
}

namespace {

std::vector<std::string> just_flags(std::vector<ConfigSetting> settings) {
    std::vector<std::string> flags;
    flags.reserve(settings.size());
    for (ConfigSetting& s : settings) flags.push_back(std::move(s.flag));
    return flags;
}

}  // namespace

core::Result<std::vector<std::string>> config_text_flags(std::string_view text,
                                                         std::string_view name,
                                                         std::span<const ConfigKey> schema) {
    auto settings = config_text_settings(text, name, schema);
    if (!settings) return core::Error{settings.error()};
    return just_flags(std::move(settings.value()));
}

core::Result<std::vector<std::string>> config_file_flags(const std::string& path,
                                                         std::span<const ConfigKey> schema) {
    auto settings = config_file_settings(path, schema);
    if (!settings) return core::Error{settings.error()};
    return just_flags(std::move(settings.value()));
}

namespace {

// A TOML basic string: "..." with \\, \", and control characters escaped.
std::string quoted(std::string_view text) {
    std::string out = "\"";
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (u < 0x20 || u == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", u);
            out += buf;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string toml_value(ConfigType type, std::string_view value) {
    switch (type) {
        case ConfigType::kInteger:
        case ConfigType::kBoolean:
            return std::string(value);
        case ConfigType::kList: {
            std::string out = "[";
            for (std::size_t at = 0; !value.empty() && at != std::string_view::npos;) {
                const std::size_t comma = value.find(',', at);
                if (out.size() > 1) out += ", ";
                out +=
                    quoted(value.substr(at, comma == std::string_view::npos ? comma : comma - at));
                at = comma == std::string_view::npos ? comma : comma + 1;
            }
            return out + "]";
        }
        default:
            return quoted(value);
    }
}

const FlagValue* find_value(std::span<const FlagValue> values, std::string_view flag) {
    for (const FlagValue& v : values) {
        if (v.flag == flag) return &v;
    }
    return nullptr;
}

}  // namespace

std::string render_config(std::span<const ConfigKey> schema, std::span<const FlagValue> values) {
    std::string out;
    std::vector<std::string_view> tables;  // in schema order, each once; "" first
    tables.push_back("");
    for (const ConfigKey& k : schema) {
        if (std::find(tables.begin(), tables.end(), k.table) == tables.end()) {
            tables.push_back(k.table);
        }
    }
    for (const std::string_view table : tables) {
        std::string body;
        for (const ConfigKey& k : schema) {
            const FlagValue* v = k.table == table ? find_value(values, k.flag) : nullptr;
            if (v == nullptr) continue;
            body.append(k.key).append(" = ").append(toml_value(k.type, v->value)).append("\n");
        }
        if (body.empty()) continue;
        if (!table.empty())
            out.append(out.empty() ? "" : "\n").append("[").append(table).append("]\n");
        out += body;
    }
    return out;
}

}  // namespace herald::tools
