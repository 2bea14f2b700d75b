#include "actors/retrain_status_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ivfstream::actors {
namespace {

std::string num(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

std::string get(const std::map<std::string, std::string>& kv, const std::string& k, const std::string& dflt = "") {
  auto it = kv.find(k);
  return it == kv.end() ? dflt : it->second;
}

}  // namespace

std::string format_retrain_status(const retrain_status& s, std::uint64_t live_version, double drift_threshold,
                                  std::int64_t pid, std::int64_t written_unix_ms) {
  std::ostringstream o;
  // Values on one line each: newlines in free text (errors) are replaced.
  auto clean = [](std::string t) {
    for (auto& c : t)
      if (c == '\n' || c == '\r') c = ' ';
    return t;
  };
  o << "pid=" << pid << "\nwritten_unix_ms=" << written_unix_ms << "\nlive_version=" << live_version
    << "\nphase=" << s.phase << "\nbuilding_version=" << s.building_version << "\ndrift=" << num(s.drift)
    << "\ndrift_threshold=" << num(drift_threshold) << "\nrecent_error=" << num(s.recent_error)
    << "\nbaseline_error=" << num(s.baseline_error) << "\nreservoir_vectors=" << s.sample_size
    << "\ninserts_since_training=" << s.inserts_since_training << "\nswaps=" << s.swaps
    << "\nfailed_swaps=" << s.failed_swaps << "\nlast_reason=" << clean(s.last_reason)
    << "\nlast_train_ms=" << num(s.last_train_ms) << "\nlast_swap_ms=" << num(s.last_swap_ms)
    << "\nshadow_bytes=" << s.shadow_bytes << "\npeak_shadow_bytes=" << s.peak_shadow_bytes
    << "\nlast_error=" << clean(s.last_error) << "\nlast_train_device=" << clean(s.last_train_device)
    << "\nswap_carried=" << s.swap_carried << "\nswap_reencoded=" << s.swap_reencoded
    << "\nrebalances=" << s.rebalances << "\nlast_rebalance=" << clean(s.last_rebalance) << "\n";
  return o.str();
}

status write_retrain_status(const std::string& data_dir, const std::string& text) {
  const std::string path = data_dir + "/" + k_retrain_status_file, tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc | std::ios::binary);
    out << text;
    if (!out) return fail(errc::io_error, "write '" + tmp + "': " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return fail(errc::io_error, "rename '" + tmp + "' to '" + path + "': " + std::strerror(errno));
  return {};
}

result<std::map<std::string, std::string>> read_retrain_status(const std::string& data_dir) {
  const std::string path = data_dir + "/" + k_retrain_status_file;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return fail(errc::not_found, "'" + path + "' does not exist");
    return fail(errc::io_error, "read '" + path + "': " + std::strerror(errno));
  }
  std::map<std::string, std::string> kv;
  for (std::string line; std::getline(in, line);) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return kv;
}

std::string describe_retrain_status(const std::map<std::string, std::string>& kv, std::int64_t now_unix_ms) {
  std::ostringstream o;
  const long long written = std::atoll(get(kv, "written_unix_ms", "0").c_str());
  o << "live version      " << get(kv, "live_version", "?") << " (engine pid " << get(kv, "pid", "?")
    << ", status written " << num((now_unix_ms - written) / 1000.0) << " s ago)\n";
  const std::string building = get(kv, "building_version", "0"), phase = get(kv, "phase", "idle");
  if (building == "0" || phase == "idle")
    o << "building          none\n";
  else
    o << "building          version " << building << " (" << phase << ", started by " << get(kv, "last_reason", "?")
      << ", shadow " << get(kv, "shadow_bytes", "0") << " bytes)\n";
  const std::string threshold = get(kv, "drift_threshold", "0");
  o << "drift             " << get(kv, "drift", "0") << " (recent quantisation error " << get(kv, "recent_error", "0")
    << " / error at the last training " << get(kv, "baseline_error", "0") << "; retrains at "
    << (threshold == "0" ? std::string("never (drift_threshold 0)") : threshold) << ")\n";
  o << "swaps             " << get(kv, "swaps", "0") << " done, " << get(kv, "failed_swaps", "0")
    << " abandoned; last training " << get(kv, "last_train_ms", "0") << " ms"
    << (get(kv, "last_train_device").empty() ? std::string() : " on " + get(kv, "last_train_device"))
    << ", last swap " << get(kv, "last_swap_ms", "0") << " ms (" << get(kv, "swap_carried", "0")
    << " codes carried, " << get(kv, "swap_reencoded", "0") << " re-encoded); reservoir " << get(kv, "reservoir_vectors", "0") << " vectors\n";
  const std::string err = get(kv, "last_error");
  if (!err.empty()) o << "last swap error   " << err << "\n";
  const std::string rebalance = get(kv, "last_rebalance");
  if (!rebalance.empty())
    o << "rebalances        " << get(kv, "rebalances", "0") << " swapped; last plan " << rebalance << "\n";
  return o.str();
}

}  // namespace ivfstream::actors
