// herald's TOML config file (--config FILE, toml++ 3.3 from Debian's libtomlplusplus-dev):
// turned into the equivalent command-line flags, so the flag parser (tools/cli.h) stays the one
// place that validates values, and rendered back for --print-config.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace herald::tools {

// What a key's TOML value must be, and how it becomes flag text:
//   kString    TOML string                   --flag=<text>
//   kInteger   TOML integer                  --flag=<decimal>
//   kBoolean   TOML boolean                  --flag when true; nothing when false
//   kDuration  TOML string ("30s", "500ms") or integer (the flag's default unit)
//   kSize      TOML string ("64KiB", "1M") or integer (bytes)
//   kList      TOML array of strings, or one string    --flag=<a>,<b>,...
enum class ConfigType : std::uint8_t { kString, kInteger, kBoolean, kDuration, kSize, kList };

// One key of the schema: `key` in `[table]` ("" for a top-level key) is the flag `flag`
// (written without the leading "--").
struct ConfigKey {
    std::string_view table;
    std::string_view key;
    std::string_view flag;
    ConfigType type;
};

// Reads the TOML file at `path` and returns its keys as flags ("--flag=value"), ordered by
// table and key (each key is a different flag, so order does not matter). Put them before the
// command-line flags so that those override. Errors are one line, "FILE:LINE: ..." naming the key:
// TOML syntax errors and a key given twice (both from toml++), an unknown table, an unknown key, a
// value of the wrong type; or "FILE: cannot read: <why>".
core::Result<std::vector<std::string>> config_file_flags(const std::string& path,
                                                         std::span<const ConfigKey> schema);

// The same for TOML `text`; `name` stands for the file in error messages.
core::Result<std::vector<std::string>> config_text_flags(std::string_view text,
                                                         std::string_view name,
                                                         std::span<const ConfigKey> schema);

// One flag from the file and where it came from, so that the flag parser's verdict on its value
// can name the file, line and key.
struct ConfigSetting {
    std::string flag;    // "--flag=value" (or "--flag" for a true boolean)
    std::string origin;  // "FILE:LINE: [table].key"
};

// As config_file_flags / config_text_flags, with each flag's origin.
core::Result<std::vector<ConfigSetting>> config_file_settings(const std::string& path,
                                                              std::span<const ConfigKey> schema);
core::Result<std::vector<ConfigSetting>> config_text_settings(std::string_view text,
                                                              std::string_view name,
                                                              std::span<const ConfigKey> schema);

// One flag's effective value as flag text ("true"/"false" for a boolean; "a,b" for a list).
struct FlagValue {
    std::string_view flag;  // without "--"
    std::string value;
};

// The TOML text of an effective configuration for `herald --print-config`: one [table] per
// schema table, in schema order, each key with its value from `values` (keys with no value are
// left out). config_text_flags() of the result gives the same flags back.
std::string render_config(std::span<const ConfigKey> schema, std::span<const FlagValue> values);

}  // namespace herald::tools
