#pragma once
// Loads a service_config from a TOML file (toml++) plus command-line overrides (CLI11).
//
// Precedence, lowest first: built-in defaults < the TOML file (--config) < dedicated flags
// (--brokers, --embedded-broker, --data-dir) < `--set key=value` entries, in the order given.
// Keys are dotted paths of the TOML layout, e.g. `index.num_bits`, `kafka.topics.vectors`,
// `kafka.properties.sasl.mechanism`. Unknown keys are errors that name the key (and the nearest
// known one); every value is type-checked and the whole config validated (service_config::validate).
// Functions are pure and thread-safe (they touch only their arguments).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/service_config.hpp"
#include "index/error.hpp"

namespace CLI {
class App;
}

namespace ivfstream {

/// One configuration key, for --help texts and documentation.
struct config_key_info {
  std::string key;            ///< dotted path, e.g. "index.num_bits"
  std::string type;           ///< "string", "bool", "unsigned", "metric"
  std::string default_value;  ///< as it would be written after `--set key=`
  std::string doc;            ///< one line
};

/// Every key a config file or `--set` may name (kafka.properties.* take any librdkafka property).
std::vector<config_key_info> config_keys();

/// Sets one key from its text form (`--set` value): bools accept true/false/1/0/yes/no/on/off,
/// unsigned integers decimal digits only, metric l2/cosine/dot. Does not run validate().
status set_config_value(service_config& config, std::string_view key, std::string_view value);
/// Applies "key=value" (the argument of --set).
status apply_config_override(service_config& config, std::string_view assignment);

/// Applies the keys of a TOML document on top of `config` (source names the file in messages).
/// Does not run validate().
status apply_toml_text(service_config& config, std::string_view toml_text, std::string_view source);
/// Reads a TOML file and applies it on top of `config`. Does not run validate().
status apply_toml_file(service_config& config, const std::string& path);

/// The effective configuration as TOML text, with secret properties masked ("********").
/// Safe to log.
std::string dump_config(const service_config& config);

/// What the command line said; filled by add_config_options, read by load_service_config.
struct config_cli_options {
  std::string config_file;               ///< --config FILE (TOML); empty = none
  std::vector<std::string> overrides;    ///< --set key=value, repeatable, applied in order
  std::optional<std::string> brokers;    ///< --brokers host:port,... (also turns embedded_broker off)
  bool embedded_broker = false;          ///< --embedded-broker
  std::optional<std::string> data_dir;   ///< --data-dir DIR
};

/// Registers --config, --set, --brokers, --embedded-broker and --data-dir on `app` (or a
/// subcommand), storing into `out`, which must outlive parsing. Call load_service_config after parse.
void add_config_options(CLI::App& app, config_cli_options& out);

/// defaults < file < dedicated flags < --set, then validate(). The error names the key and value.
result<service_config> load_service_config(const config_cli_options& options);

}  // namespace ivfstream
