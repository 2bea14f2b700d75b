// embedded_broker_tool: runs the embedded (mock) Kafka cluster in a process of its own, so that a
// test can kill -9 and restart `ivfstream serve` while the topics (the source of truth) survive.
//
//   embedded_broker_tool [--config FILE] [--set key=value ...] [--bootstrap-file PATH]
//
// Creates the service topics of the configuration (kafka.topics.*, kafka.topic_partitions each),
// prints the bootstrap address on stdout (one line) and writes it to --bootstrap-file if given
// (written to PATH.tmp and renamed, so a reader never sees a partial line), then runs until SIGINT
// or SIGTERM. Exit status 1 if the configuration or the broker fails.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <unistd.h>

#include "config/config_loader.hpp"
#include "connectors/embedded_broker.hpp"

namespace {
volatile std::sig_atomic_t g_stop = 0;  // written only by the signal handler
extern "C" void on_signal(int) { g_stop = 1; }
}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Runs the embedded Kafka broker (librdkafka mock cluster) until SIGINT/SIGTERM");
  ivfstream::config_cli_options options;
  ivfstream::add_config_options(app, options);
  std::string bootstrap_file;
  app.add_option("--bootstrap-file", bootstrap_file, "write the bootstrap address here");
  CLI11_PARSE(app, argc, argv);

  options.embedded_broker = !options.brokers.has_value();
  auto config = ivfstream::load_service_config(options);
  if (!config) {
    std::cerr << "embedded_broker_tool: " << config.error().to_string() << "\n";
    return 1;
  }
  auto broker = ivfstream::connectors::embedded_broker::start(*config);
  if (!broker) {
    std::cerr << "embedded_broker_tool: " << broker.error().to_string() << "\n";
    return 1;
  }
  const std::string& bootstrap = (*broker)->bootstrap_servers();
  if (!bootstrap_file.empty()) {
    const std::string tmp = bootstrap_file + ".tmp";
    {
      std::ofstream out(tmp);
      out << bootstrap << "\n";
      if (!out) {
        std::cerr << "embedded_broker_tool: cannot write " << tmp << "\n";
        return 1;
      }
    }
    if (std::rename(tmp.c_str(), bootstrap_file.c_str()) != 0) {
      std::cerr << "embedded_broker_tool: cannot rename " << tmp << " to " << bootstrap_file << "\n";
      return 1;
    }
  }
  std::cout << bootstrap << std::endl;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  while (g_stop == 0) ::usleep(50 * 1000);
  return 0;
}
