// libFuzzer target: config files (apply_toml_text, toml++) and `--set key=value` overrides
// (apply_config_override), then service_config::validate and dump_config.
// Input: TOML text; each of its lines is also tried as a --set assignment on a fresh config.
// Property: never crashes, hangs or over-allocates; a config that validates dumps to TOML that
// reads back (apply_toml_text) and validates again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/config_loader.hpp"

using namespace ivfstream;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  service_config config;
  if (apply_toml_text(config, text, "fuzz.toml") && config.validate()) {
    const std::string dumped = dump_config(config);
    service_config again;
    // Secrets are masked in the dump, so only the masked form must read back.
    if (!apply_toml_text(again, dumped, "dumped.toml")) std::abort();
    if (!again.validate()) std::abort();
  }
  service_config overridden;
  for (std::size_t start = 0; start <= text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    (void)apply_config_override(overridden, text.substr(start, end - start));
    start = end + 1;
  }
  (void)overridden.validate();
  (void)dump_config(overridden);
  return 0;
}
