#include "tests/actors/serve_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

extern char** environ;

namespace ivfstream::test {

namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

serve_process::serve_process(std::string binary, std::vector<std::string> args, std::string stats_path,
                             std::string log_path)
    : binary_(std::move(binary)), args_(std::move(args)), stats_(std::move(stats_path)), log_(std::move(log_path)) {}

serve_process::~serve_process() {
  if (pid_ > 0) kill9();
  std::error_code ec;
  fs::remove(stats_, ec);
}

bool serve_process::start() {
  std::error_code ec;
  fs::remove(stats_, ec);
  std::vector<std::string> args = {binary_, "serve"};
  args.insert(args.end(), args_.begin(), args_.end());
  if (std::find(args_.begin(), args_.end(), "--stats-interval") == args_.end())
    for (const char* a : {"--stats-interval", "0"}) args.emplace_back(a);
  args.emplace_back("--stats-file");
  args.push_back(stats_);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!log_.empty()) {
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  }
  const int rc = posix_spawn(&pid_, binary_.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) pid_ = -1;
  return rc == 0;
}

std::map<std::string, std::string> serve_process::read_stats() const {
  std::map<std::string, std::string> kv;
  std::ifstream in(stats_);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return kv;
}

std::uint64_t serve_process::counter(const std::string& key) const {
  auto kv = read_stats();
  const auto it = kv.find(key);
  return it == kv.end() || it->second.empty() ? 0 : std::stoull(it->second);
}

staged_offsets serve_process::offsets() const {
  staged_offsets out;
  std::ifstream in(stats_);
  std::string line;
  const std::string prefix = "offset=";
  while (std::getline(in, line)) {
    if (line.compare(0, prefix.size(), prefix) != 0) continue;
    // offset=<topic>:<partition>:<next>; the topic may not contain ':' (Kafka topic names cannot).
    const auto last = line.rfind(':');
    const auto mid = last == std::string::npos || last == 0 ? std::string::npos : line.rfind(':', last - 1);
    if (mid == std::string::npos || mid < prefix.size()) continue;
    const std::string topic = line.substr(prefix.size(), mid - prefix.size());
    out[{topic, std::stoi(line.substr(mid + 1, last - mid - 1))}] = std::stoll(line.substr(last + 1));
  }
  return out;
}

std::vector<std::int32_t> serve_process::query_partitions() const {
  std::vector<std::int32_t> out;
  std::ifstream in(stats_);
  std::string line;
  const std::string prefix = "query_partition=";
  while (std::getline(in, line))
    if (line.compare(0, prefix.size(), prefix) == 0 && line.size() > prefix.size())
      out.push_back(std::stoi(line.substr(prefix.size())));
  return out;
}

std::string serve_process::wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                                      const std::string& what) {
  const auto until = steady::now() + timeout;
  while (steady::now() < until) {
    if (done()) return "";
    if (!running()) return "ivfstream serve exited while waiting for " + what;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (done()) return "";
  return "no " + what + " within " + std::to_string(timeout.count()) + " ms";
}

std::string serve_process::wait_consumed(std::size_t records, std::chrono::milliseconds timeout) {
  auto why = wait_until([&] { return consumed() >= records; }, timeout, std::to_string(records) + " records consumed");
  if (!why.empty()) why += " (consumed " + std::to_string(consumed()) + ")";
  return why;
}

bool serve_process::running() {
  int status = 0;
  if (pid_ <= 0) return false;
  if (waitpid(pid_, &status, WNOHANG) == 0) return true;
  pid_ = -1;
  return false;
}

void serve_process::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

int serve_process::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace ivfstream::test
