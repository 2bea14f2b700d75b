// record_file_tool: writes and reads single ivfstream Kafka records as files, for driving the service
// with an independent client such as kcat (`kcat -P -b BOOTSTRAP -t TOPIC FILE` sends a file as one
// record; `kcat -C ... -f '%s'` writes a record value back out).
//
//   record_file_tool upserts  OUT FIRST_ID COUNT DIM [SEED]   vectors i: x[j] = sin(SEED + id·DIM + j)
//   record_file_tool deletes  OUT FIRST_ID COUNT
//   record_file_tool query    OUT CORRELATION_ID REPLY_TOPIC DIM K NPROBES [FIRST_ID [SEED]]
//                             (one query equal to the upsert vector of FIRST_ID, default 0)
//   record_file_tool response IN                              prints a QueryResponse as text
//   record_file_tool dead     IN                              prints a DeadLetter as text
// Exit status 0 on success, 1 on a decode error (message on stderr), 2 on bad usage.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "connectors/record_codec.hpp"

using namespace ivfstream::connectors;

namespace {

std::vector<float> synthetic(std::uint64_t first_id, std::size_t count, std::size_t dim, double seed) {
  std::vector<float> v(count * dim);
  for (std::size_t i = 0; i < count; ++i) {
    for (std::size_t j = 0; j < dim; ++j) {
      v[i * dim + j] = static_cast<float>(std::sin(seed + static_cast<double>((first_id + i) * dim + j)));
    }
  }
  return v;
}

int write_file(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::cerr << "record_file_tool: cannot write " << path << "\n";
    return 1;
  }
  return 0;
}

std::vector<std::uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int usage() {
  std::cerr << "usage: record_file_tool upserts OUT FIRST_ID COUNT DIM [SEED]\n"
               "       record_file_tool deletes OUT FIRST_ID COUNT\n"
               "       record_file_tool query OUT CORRELATION_ID REPLY_TOPIC DIM K NPROBES [FIRST_ID [SEED]]\n"
               "       record_file_tool response IN | dead IN\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const std::string cmd = argv[1];
  const std::string path = argv[2];
  auto u64 = [&](int i) { return static_cast<std::uint64_t>(std::strtoull(argv[i], nullptr, 10)); };
  if (cmd == "upserts" && (argc == 6 || argc == 7)) {
    const std::uint64_t first = u64(3), count = u64(4), dim = u64(5);
    const double seed = argc == 7 ? std::strtod(argv[6], nullptr) : 0.0;
    std::vector<std::uint64_t> ids(count);
    for (std::uint64_t i = 0; i < count; ++i) ids[i] = first + i;
    const auto v = synthetic(first, count, dim, seed);
    return write_file(path, encode_upserts(ids.data(), v.data(), count, dim));
  }
  if (cmd == "deletes" && argc == 5) {
    const std::uint64_t first = u64(3), count = u64(4);
    std::vector<std::uint64_t> ids(count);
    for (std::uint64_t i = 0; i < count; ++i) ids[i] = first + i;
    return write_file(path, encode_deletes(ids.data(), count));
  }
  if (cmd == "query" && argc >= 8 && argc <= 10) {
    const std::uint64_t dim = u64(5);
    const std::uint64_t first = argc >= 9 ? u64(8) : 0;
    const double seed = argc == 10 ? std::strtod(argv[9], nullptr) : 0.0;
    const auto v = synthetic(first, 1, dim, seed);
    query_request_fields f;
    f.correlation_id = argv[3];
    f.reply_topic = argv[4];
    f.dimension = static_cast<std::uint32_t>(dim);
    f.vectors = v.data();
    f.num_queries = 1;
    f.k = static_cast<std::uint32_t>(u64(6));
    f.nprobes = static_cast<std::uint32_t>(u64(7));
    return write_file(path, encode_query_request(f));
  }
  if (cmd == "response" && argc == 3) {
    const auto bytes = read_file(path);
    auto r = decode_query_response(bytes.data(), bytes.size());
    if (!r) {
      std::cerr << r.error().to_string() << "\n";
      return 1;
    }
    std::cout << "correlation_id " << r->correlation_id << "\npartial " << (r->partial ? "true" : "false")
              << "\nerror_code " << static_cast<int>(r->error_code) << "\nerror_message " << r->error_message << "\n";
    for (std::size_t q = 0; q < r->results.size(); ++q) {
      std::cout << "query " << q << ":";
      for (std::size_t i = 0; i < r->results[q].ids.size(); ++i) {
        std::cout << " " << r->results[q].ids[i] << ":" << r->results[q].distances[i];
      }
      std::cout << "\n";
    }
    return 0;
  }
  if (cmd == "dead" && argc == 3) {
    const auto bytes = read_file(path);
    auto d = decode_dead_letter(bytes.data(), bytes.size());
    if (!d) {
      std::cerr << d.error().to_string() << "\n";
      return 1;
    }
    std::cout << "source " << d->source_topic << "[" << d->source_partition << "]@" << d->source_offset
              << "\nerror_code " << static_cast<int>(d->error_code) << "\nreason " << d->reason
              << "\npayload_bytes " << d->payload.size() << "\n";
    return 0;
  }
  return usage();
}
