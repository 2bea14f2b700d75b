#pragma once
// Shared by the client commands (load, query, inspect): where the brokers are.
#include <fstream>
#include <string>

#include "config/config_loader.hpp"
#include "index/error.hpp"

namespace ivfstream::apps {

/// Bootstrap servers for a client command: the content of `bootstrap_file` (written by
/// `ivfstream serve --bootstrap-file`) when given, else kafka.brokers. A client never starts its own
/// embedded broker (it would be empty). Errors name the missing option.
inline result<std::string> client_bootstrap(const service_config& cfg, const std::string& bootstrap_file) {
  if (!bootstrap_file.empty()) {
    std::ifstream in(bootstrap_file);
    std::string line;
    if (!in || !std::getline(in, line) || line.empty())
      return fail(errc::not_found, "--bootstrap-file '" + bootstrap_file + "': cannot read a bootstrap address");
    return line;
  }
  if (!cfg.kafka.brokers.empty()) return cfg.kafka.brokers;
  return fail(errc::invalid_argument,
              "no brokers: pass --brokers host:port or --bootstrap-file FILE (written by ivfstream serve)");
}

}  // namespace ivfstream::apps
