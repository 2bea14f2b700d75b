#define BOOST_TEST_MODULE kcat_interop
// An independent client (kcat, librdkafka's CLI from Debian) talks to the embedded broker:
// record files made by record_file_tool go in with `kcat -P`, replies come out with `kcat -C`.
// Skipped (with a message) when kcat is not installed.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <thread>
#include <unistd.h>

#include "connectors/record_codec.hpp"
#include "kafka_test_support.hpp"

using namespace ivfstream;
using namespace ivfstream::connectors;
using namespace ivfstream::connectors::test;

namespace {

bool have_kcat() { return std::system("command -v kcat > /dev/null 2>&1") == 0; }

std::string temp_path(const std::string& name) {
  return "/tmp/ivfstream_kcat_" + std::to_string(::getpid()) + "_" + name;
}

int run(const std::string& cmd) {
  BOOST_TEST_MESSAGE("$ " << cmd);
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::vector<std::uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

BOOST_AUTO_TEST_CASE(kcat_produces_record_files_and_reads_replies) {
  if (!have_kcat()) {
    BOOST_TEST_MESSAGE("kcat not installed: skipped");
    return;
  }
  auto broker = start_broker({{"vectors", 1}, {"queries", 1}, {"replies", 1}});
  const std::string b = broker->bootstrap_servers();
  const std::string tool = RECORD_FILE_TOOL;
  const std::string ups = temp_path("upserts.bin"), del = temp_path("deletes.bin"), qry = temp_path("query.bin");
  BOOST_REQUIRE(run(tool + " upserts " + ups + " 100 5 8 0.5") == 0);
  BOOST_REQUIRE(run(tool + " deletes " + del + " 101 2") == 0);
  BOOST_REQUIRE(run(tool + " query " + qry + " corr-9 replies 8 3 4 102 0.5") == 0);

  // kcat -P sends each file argument as one record; -k sets the key.
  BOOST_REQUIRE(run("timeout 120 kcat -P -b " + b + " -t vectors -p 0 -k first-id " + ups + " " + del) == 0);
  BOOST_REQUIRE(run("timeout 120 kcat -P -b " + b + " -t queries -p 0 -k corr-9 " + qry) == 0);

  auto consumer = make_consumer(b);
  BOOST_REQUIRE(consumer->assign({{"vectors", 0, k_offset_beginning}, {"queries", 0, k_offset_beginning}}));
  const auto got = consume_n(*consumer, 3);
  BOOST_REQUIRE(got.size() == 3u);
  record_limits lim;
  lim.dimension = 8;
  std::size_t upserts = 0, deletes = 0, queries = 0;
  for (const auto& r : got) {
    if (r.topic == "vectors") {
      BOOST_TEST(std::string(r.key.begin(), r.key.end()) == "first-id");
      auto d = decode_vector_record(r.payload.data(), r.payload.size(), lim);
      BOOST_REQUIRE_MESSAGE(d.has_value(), (d ? std::string() : d.error().to_string()));
      if (d->kind == vector_record_kind::upsert) {
        ++upserts;
        BOOST_TEST(d->ids == (std::vector<std::uint64_t>{100, 101, 102, 103, 104}), boost::test_tools::per_element());
        BOOST_TEST(d->vectors.size() == 40u);
        BOOST_TEST(d->vectors[0] == static_cast<float>(std::sin(0.5 + 800.0)));
      } else {
        ++deletes;
        BOOST_TEST(d->ids == (std::vector<std::uint64_t>{101, 102}), boost::test_tools::per_element());
      }
    } else {
      auto q = decode_query_request(r.payload.data(), r.payload.size(), lim, query_defaults{});
      BOOST_REQUIRE_MESSAGE(q.has_value(), (q ? std::string() : q.error().to_string()));
      ++queries;
      BOOST_TEST(q->correlation_id == "corr-9");
      BOOST_TEST(q->reply_topic == "replies");
      BOOST_TEST(q->params.limit == 3u);
      BOOST_TEST(q->params.nprobes == 4u);
      BOOST_TEST(q->vectors[0] == static_cast<float>(std::sin(0.5 + 102.0 * 8)));
    }
  }
  BOOST_TEST(upserts == 1u);
  BOOST_TEST(deletes == 1u);
  BOOST_TEST(queries == 1u);

  // A reply produced by us, read back with kcat (-f '%s': the value bytes only), decoded by the tool.
  query_response resp;
  resp.correlation_id = "corr-9";
  resp.results = {{{102, 100, 104}, {0.0f, 2.5f, 3.25f}}};
  const auto bytes = encode_query_response(resp);
  auto producer = make_producer(b);
  BOOST_REQUIRE(producer->produce("replies", "corr-9", 6, bytes.data(), bytes.size(), 0));
  BOOST_REQUIRE(producer->flush(10s));
  const std::string out = temp_path("reply.bin"), text = temp_path("reply.txt");
  BOOST_REQUIRE(run("timeout 120 kcat -C -b " + b + " -t replies -p 0 -o beginning -c 1 -e -f '%s' > " + out) == 0);
  const auto back = read_file(out);
  BOOST_TEST(back == bytes, boost::test_tools::per_element());
  BOOST_REQUIRE(run(tool + " response " + out + " > " + text) == 0);
  const auto printed = read_file(text);
  const std::string s(printed.begin(), printed.end());
  BOOST_TEST(s.find("correlation_id corr-9") != std::string::npos, s);
  BOOST_TEST(s.find("query 0: 102:0 100:2.5 104:3.25") != std::string::npos, s);

  for (const auto& p : {ups, del, qry, out, text}) std::remove(p.c_str());
}

BOOST_AUTO_TEST_CASE(a_broker_in_its_own_process_outlives_its_clients) {
  if (!have_kcat()) {
    BOOST_TEST_MESSAGE("kcat not installed: skipped");
    return;
  }
  const std::string bs_file = temp_path("bootstrap"), pid_file = temp_path("broker.pid");
  const std::string tool = EMBEDDED_BROKER_TOOL;
  BOOST_REQUIRE(run(tool + " --set kafka.topic_partitions=2 --set kafka.topics.vectors=vv --bootstrap-file " +
                    bs_file + " > /dev/null & echo $! > " + pid_file) == 0);
  std::string bootstrap;
  const auto deadline = std::chrono::steady_clock::now() + 150s;  // generous: ASan, a loaded machine
  while (bootstrap.empty() && std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(bs_file);
    std::getline(in, bootstrap);
    if (bootstrap.empty()) std::this_thread::sleep_for(50ms);
  }
  std::string pid;
  std::getline(std::ifstream(pid_file), pid);
  BOOST_REQUIRE_MESSAGE(!bootstrap.empty(), "embedded_broker_tool wrote no bootstrap address");
  // A client process comes and goes; the records stay.
  const std::string rec = temp_path("rec.bin");
  BOOST_REQUIRE(run(std::string(RECORD_FILE_TOOL) + " deletes " + rec + " 1 3") == 0);
  BOOST_REQUIRE(run("timeout 120 kcat -P -b " + bootstrap + " -t vv -p 1 " + rec) == 0);
  BOOST_REQUIRE(run("timeout 120 kcat -P -b " + bootstrap + " -t vv -p 1 " + rec) == 0);
  auto consumer = make_consumer(bootstrap);
  BOOST_REQUIRE(consumer->assign({{"vv", 1, k_offset_beginning}}));
  BOOST_TEST(consume_n(*consumer, 2).size() == 2u);
  auto wm = consumer->watermarks("vv", 1, 5s);
  BOOST_REQUIRE(wm.has_value());
  BOOST_TEST(wm->second == 2);
  consumer.reset();
  BOOST_TEST(run("kill -TERM " + pid) == 0);
  for (const auto& p : {bs_file, pid_file, rec}) std::remove(p.c_str());
}
