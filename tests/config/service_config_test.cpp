#define BOOST_TEST_MODULE service_config
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "config/config_loader.hpp"
#include "config/service_config.hpp"

using namespace ivfstream;

namespace {

// A TOML file in the temp dir, removed at scope exit.
struct temp_toml {
  std::string path;
  explicit temp_toml(const std::string& text) {
    path = "/tmp/ivfstream_config_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++) + ".toml";
    std::ofstream(path) << text;
  }
  ~temp_toml() { std::remove(path.c_str()); }
  static int& counter() {
    static int c = 0;
    return c;
  }
};

std::string error_of(const status& s) { return s ? std::string("<ok>") : s.error().message(); }

template <class T>
std::string error_of(const result<T>& r) {
  return r ? std::string("<ok>") : r.error().message();
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_CASE(defaults_are_valid_for_the_embedded_demo) {
  service_config c;
  BOOST_TEST(error_of(c.validate()) == "<ok>");
  BOOST_TEST(c.kafka.embedded_broker);
  BOOST_TEST(c.kafka.brokers.empty());
  BOOST_TEST(c.index.dimension == 128u);
}

BOOST_AUTO_TEST_CASE(file_values_are_applied_and_typed) {
  temp_toml file(R"(
[kafka]
embedded_broker = false
brokers = "kafka-1:9092,kafka-2:9092"
group_id = "g1"
[kafka.topics]
vectors = "v"
[kafka.properties]
"security.protocol" = "SASL_SSL"
sasl.mechanism = "PLAIN"
"queue.buffering.max.ms" = 5
[index]
metric = "cosine"
dimension = 64
num_sub_vectors = 8
num_bits = 4
[search]
nprobes = 7
[caps]
max_k = 50
[engine]
data_dir = "/var/lib/ivf"
)");
  config_cli_options opts;
  opts.config_file = file.path;
  auto c = load_service_config(opts);
  BOOST_REQUIRE_MESSAGE(c.has_value(), error_of(c));
  BOOST_TEST(c->kafka.brokers == "kafka-1:9092,kafka-2:9092");
  BOOST_TEST(!c->kafka.embedded_broker);
  BOOST_TEST(c->kafka.group_id == "g1");
  BOOST_TEST(c->kafka.topics.vectors == "v");
  BOOST_TEST(c->kafka.topics.queries == "ivfstream.queries");  // untouched default
  BOOST_TEST(c->kafka.properties.at("security.protocol") == "SASL_SSL");
  BOOST_TEST(c->kafka.properties.at("sasl.mechanism") == "PLAIN");  // nested TOML table flattened
  BOOST_TEST(c->kafka.properties.at("queue.buffering.max.ms") == "5");
  BOOST_TEST(std::string(to_string(c->index.metric)) == "cosine");
  BOOST_TEST(c->index.dimension == 64u);
  BOOST_TEST(c->index.num_sub_vectors == 8u);
  BOOST_TEST(c->index.num_bits == 4u);
  BOOST_TEST(c->search.nprobes == 7u);
  BOOST_TEST(c->caps.max_k == 50u);
  BOOST_TEST(c->engine.data_dir == "/var/lib/ivf");
}

BOOST_AUTO_TEST_CASE(command_line_overrides_the_file_in_order) {
  temp_toml file("[index]\nnum_bits = 4\nnprobes_typo_is_not_here = 1\n");
  temp_toml good("[index]\nnum_bits = 4\n[search]\nnprobes = 3\n[engine]\ndata_dir = \"from-file\"\n");
  CLI::App app("test");
  config_cli_options opts;
  add_config_options(app, opts);
  const char* argv[] = {"test", "--config", good.path.c_str(), "--set", "index.num_bits=6",
                        "--set", "search.nprobes = 9", "--set", "search.nprobes=11",
                        "--data-dir", "from-flag", "--brokers", "b:1"};
  BOOST_REQUIRE_NO_THROW(app.parse(static_cast<int>(std::size(argv)), argv));
  BOOST_TEST(opts.overrides.size() == 3u);
  auto c = load_service_config(opts);
  BOOST_REQUIRE_MESSAGE(c.has_value(), error_of(c));
  BOOST_TEST(c->index.num_bits == 6u);    // --set beats the file
  BOOST_TEST(c->search.nprobes == 11u);   // the last --set wins
  BOOST_TEST(c->engine.data_dir == "from-flag");  // flag beats the file
  BOOST_TEST(c->kafka.brokers == "b:1");
  BOOST_TEST(!c->kafka.embedded_broker);  // --brokers turns the embedded broker off

  // A --set after the flag beats the flag.
  config_cli_options o2 = opts;
  o2.overrides.push_back("engine.data_dir=from-set");
  auto c2 = load_service_config(o2);
  BOOST_REQUIRE_MESSAGE(c2.has_value(), error_of(c2));
  BOOST_TEST(c2->engine.data_dir == "from-set");
}

BOOST_AUTO_TEST_CASE(unknown_keys_are_errors_naming_the_key) {
  temp_toml file("[index]\nnum_bits = 8\nnum_partitons = 10\n");
  config_cli_options opts;
  opts.config_file = file.path;
  auto c = load_service_config(opts);
  BOOST_REQUIRE(!c.has_value());
  const std::string msg = error_of(c);
  BOOST_TEST(contains(msg, "unknown configuration key 'index.num_partitons'"), msg);
  BOOST_TEST(contains(msg, file.path + ":3"), msg);
  BOOST_TEST(contains(msg, "did you mean 'index.num_partitions'?"), msg);

  temp_toml section("[indx]\ndimension = 8\n");
  opts.config_file = section.path;
  BOOST_TEST(contains(error_of(load_service_config(opts)), "unknown configuration key 'indx'"));

  service_config s;
  BOOST_TEST(contains(error_of(apply_config_override(s, "engine.nope=1")),
                      "unknown configuration key 'engine.nope'"));
  BOOST_TEST(contains(error_of(apply_config_override(s, "novalue")), "must have the form key=value"));
}

BOOST_AUTO_TEST_CASE(bad_values_name_the_key_value_and_allowed_set) {
  service_config c;
  BOOST_TEST(error_of(apply_config_override(c, "index.num_bits=abc")) ==
             "index.num_bits='abc': must be an unsigned integer");
  BOOST_TEST(error_of(apply_config_override(c, "index.num_bits=-3")) ==
             "index.num_bits='-3': must be an unsigned integer");
  BOOST_TEST(error_of(apply_config_override(c, "kafka.embedded_broker=maybe")) ==
             "kafka.embedded_broker='maybe': must be one of true, false, 1, 0, yes, no, on, off");
  BOOST_TEST(contains(error_of(apply_config_override(c, "index.metric=hamming")), "index.metric: "));
  BOOST_TEST(contains(error_of(apply_config_override(c, "caps.max_k=99999999999")),
                      "caps.max_k=99999999999: must be <= 4294967295"));

  // Semantic validation after loading.
  config_cli_options opts;
  opts.overrides = {"index.num_bits=7"};
  BOOST_TEST(error_of(load_service_config(opts)) == "index.num_bits=7: must be one of 4, 6, 8, 10, 12");
  opts.overrides = {"index.num_sub_vectors=5"};
  BOOST_TEST(error_of(load_service_config(opts)) == "index.num_sub_vectors=5: must divide dimension=128");
  opts.overrides = {"search.nprobes=50", "caps.max_nprobes=40"};
  BOOST_TEST(error_of(load_service_config(opts)) == "search.nprobes=50: must be <= caps.max_nprobes=40");
  opts.overrides = {"kafka.topics.vectors=bad topic"};
  BOOST_TEST(contains(error_of(load_service_config(opts)), "kafka.topics.vectors='bad topic': must be a Kafka topic name"));
  opts.overrides = {"kafka.topics.queries=ivfstream.vectors"};
  BOOST_TEST(error_of(load_service_config(opts)) ==
             "kafka.topics.queries='ivfstream.vectors': must differ from kafka.topics.vectors");
  opts.overrides = {"kafka.embedded_broker=false"};
  BOOST_TEST(contains(error_of(load_service_config(opts)), "kafka.brokers is empty"));
  opts.overrides = {"kafka.brokers=x:1"};
  BOOST_TEST(contains(error_of(load_service_config(opts)), "must be empty when kafka.embedded_broker=true"));
  opts.overrides = {"index.accelerator=gpu"};
  BOOST_TEST(error_of(load_service_config(opts)) ==
             "index.accelerator: accelerator=gpu: must be one of cpu, cuda, auto");
  opts.overrides = {"index.accelerator=auto"};
  auto with_auto = load_service_config(opts);
  BOOST_REQUIRE_MESSAGE(with_auto.has_value(), error_of(with_auto));
  BOOST_TEST(with_auto->index.accelerator == kernels::accelerator::automatic);
  opts.overrides = {"kafka.session_timeout_ms=10"};
  BOOST_TEST(error_of(load_service_config(opts)) == "kafka.session_timeout_ms=10: must be in 1000..3600000");

  // Type errors in a file carry the location.
  temp_toml file("[index]\ndimension = \"big\"\n");
  opts = {};
  opts.config_file = file.path;
  BOOST_TEST(error_of(load_service_config(opts)) ==
             "index.dimension: expected an unsigned integer, got a string (" + file.path + ":2)");
  temp_toml broken("[index\n");
  opts.config_file = broken.path;
  BOOST_TEST(contains(error_of(load_service_config(opts)), "not valid TOML"));
}

BOOST_AUTO_TEST_CASE(secrets_are_masked_in_dumps) {
  service_config c;
  BOOST_REQUIRE(apply_config_override(c, "kafka.properties.sasl.password=hunter2"));
  BOOST_REQUIRE(apply_config_override(c, "kafka.properties.ssl.key.password=s3cr3t"));
  BOOST_REQUIRE(apply_config_override(c, "kafka.properties.sasl.oauthbearer.client.secret=abc123xyz"));
  BOOST_REQUIRE(apply_config_override(c, "kafka.properties.sasl.username=alice"));
  const std::string dump = dump_config(c);
  BOOST_TEST(!contains(dump, "hunter2"), dump);
  BOOST_TEST(!contains(dump, "s3cr3t"), dump);
  BOOST_TEST(!contains(dump, "abc123xyz"), dump);
  BOOST_TEST(contains(dump, "\"sasl.password\" = \"********\""), dump);
  BOOST_TEST(contains(dump, "\"sasl.username\" = \"alice\""), dump);
  BOOST_TEST(c.kafka.properties.at("sasl.password") == "hunter2");  // the value itself is kept
  BOOST_TEST(is_secret_property("ssl.keystore.password"));
  BOOST_TEST(is_secret_property("ssl.key.pem"));
  BOOST_TEST(!is_secret_property("security.protocol"));
}

BOOST_AUTO_TEST_CASE(dump_round_trips_through_the_loader) {
  service_config c;
  BOOST_REQUIRE(apply_config_override(c, "index.metric=dot"));
  BOOST_REQUIRE(apply_config_override(c, "engine.data_dir=a \"quoted\" dir"));
  BOOST_REQUIRE(apply_config_override(c, "kafka.properties.linger.ms=2"));
  service_config back;
  BOOST_REQUIRE_MESSAGE(apply_toml_text(back, dump_config(c), "dump"), error_of(apply_toml_text(back, dump_config(c), "dump")));
  BOOST_TEST(dump_config(back) == dump_config(c));
  BOOST_TEST(back.engine.data_dir == "a \"quoted\" dir");
  BOOST_TEST(std::string(to_string(back.index.metric)) == "dot");
  BOOST_TEST(back.kafka.properties.at("linger.ms") == "2");
  BOOST_TEST(config_keys().size() > 30u);
}

BOOST_AUTO_TEST_CASE(example_files_load_and_validate) {
  for (const char* name : {"embedded_demo.toml", "sasl_ssl.toml", "retrain.toml", "cluster_tls.toml"}) {
    config_cli_options opts;
    opts.config_file = std::string(IVFSTREAM_SOURCE_DIR) + "/config/examples/" + name;
    auto c = load_service_config(opts);
    BOOST_TEST(c.has_value(), name << ": " << error_of(c));
  }
  config_cli_options opts;
  opts.config_file = std::string(IVFSTREAM_SOURCE_DIR) + "/config/examples/sasl_ssl.toml";
  auto c = load_service_config(opts);
  BOOST_REQUIRE(c.has_value());
  BOOST_TEST(c->kafka.properties.at("security.protocol") == "SASL_SSL");
  BOOST_TEST(!contains(dump_config(*c), "change-me"));
  opts.config_file = std::string(IVFSTREAM_SOURCE_DIR) + "/config/examples/cluster_tls.toml";
  auto tls = load_service_config(opts);
  BOOST_REQUIRE_MESSAGE(tls.has_value(), error_of(tls));
  BOOST_TEST(tls->peers.tls);
  BOOST_TEST(tls->peers.tls_cafile == "/etc/ivfstream/tls/cluster-ca.pem");
  BOOST_TEST(tls->peers.nodes.size() == 3u);
}

BOOST_AUTO_TEST_CASE(retrain_keys_are_applied_and_validated) {
  config_cli_options opts;
  opts.config_file = std::string(IVFSTREAM_SOURCE_DIR) + "/config/examples/retrain.toml";
  opts.overrides = {"retrain.refresh_centroids=false", "retrain.background_nice=0"};
  auto c = load_service_config(opts);
  BOOST_REQUIRE_MESSAGE(c.has_value(), error_of(c));
  BOOST_TEST(c->retrain.enabled);
  BOOST_TEST(!c->retrain.refresh_centroids);
  BOOST_TEST(c->retrain.background_nice == 0u);
  service_config defaults;
  BOOST_TEST(defaults.retrain.refresh_centroids);
  BOOST_TEST(defaults.retrain.background_nice == 19u);
  BOOST_TEST(c->retrain.rebalance);
  BOOST_TEST(!defaults.retrain.rebalance);
  BOOST_TEST(c->retrain.rebalance_split == 4.0);
  BOOST_TEST(c->retrain.rebalance_check_ms == 1000u);
  // List rebalancing: its bounds, its check period, and that it plans on the retrain reservoir.
  opts.overrides = {"retrain.rebalance_split=1"};
  BOOST_TEST(error_of(load_service_config(opts)) == "retrain.rebalance_split=1: must be > 1 (and at most 1000000)");
  opts.overrides = {"retrain.rebalance_merge=1.5"};
  BOOST_TEST(contains(error_of(load_service_config(opts)), "retrain.rebalance_merge=1.5: must be in [0, rebalance_split / 4)"));
  opts.overrides = {"retrain.rebalance_check_ms=0"};
  BOOST_TEST(error_of(load_service_config(opts)) == "retrain.rebalance_check_ms=0: must be in 10..3600000");
  opts.overrides = {"retrain.enabled=false"};
  BOOST_TEST(contains(error_of(load_service_config(opts)), "retrain.rebalance=true needs retrain.enabled=true"));

  opts.overrides = {"retrain.background_nice=20"};
  BOOST_TEST(error_of(load_service_config(opts)) == "retrain.background_nice=20: must be in 0..19");
  opts.overrides = {"retrain.refresh_centroids=sometimes"};
  BOOST_TEST(error_of(load_service_config(opts)) ==
             "retrain.refresh_centroids='sometimes': must be one of true, false, 1, 0, yes, no, on, off");
  temp_toml typo("[retrain]\nbackground_nic = 5\n");
  opts = {};
  opts.config_file = typo.path;
  BOOST_TEST(contains(error_of(load_service_config(opts)), "unknown configuration key 'retrain.background_nic'"));
  BOOST_TEST(contains(error_of(load_service_config(opts)), "did you mean 'retrain.background_nice'"));
  temp_toml negative("[retrain]\nbackground_nice = -1\n");
  opts.config_file = negative.path;
  BOOST_TEST(contains(error_of(load_service_config(opts)), "retrain.background_nice=-1: must be in 0.."));
}

BOOST_AUTO_TEST_CASE(every_key_is_documented_in_the_readme) {
  std::ifstream in(std::string(IVFSTREAM_SOURCE_DIR) + "/config/README.md");
  const std::string readme((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  BOOST_REQUIRE(!readme.empty());
  for (const config_key_info& k : config_keys()) {
    BOOST_TEST(contains(readme, "`" + k.key + "`"), k.key << " is missing from config/README.md");
  }
}

BOOST_AUTO_TEST_CASE(each_set_takes_exactly_one_assignment) {
  CLI::App app("test");
  config_cli_options opts;
  add_config_options(app, opts);
  std::vector<std::string> files;
  app.add_option("files", files);
  const char* argv[] = {"test", "--set", "index.num_bits=4", "input.fvecs", "--set", "search.limit=5"};
  BOOST_REQUIRE_NO_THROW(app.parse(static_cast<int>(std::size(argv)), argv));
  BOOST_TEST(opts.overrides == (std::vector<std::string>{"index.num_bits=4", "search.limit=5"}),
             boost::test_tools::per_element());
  BOOST_TEST(files == std::vector<std::string>{"input.fvecs"}, boost::test_tools::per_element());
}

// Found by tests/fuzz (config): dump_config wrote control characters raw inside TOML strings, which
// TOML forbids, so the dump of a valid config did not read back.
BOOST_AUTO_TEST_CASE(dump_escapes_control_characters_and_reads_back) {
  service_config c;
  c.kafka.group_id = std::string("g\n1\t\x01\x7f\"\\", 8);
  c.kafka.client_id = std::string("a\0b", 3);
  c.kafka.properties["x\ny"] = "v";
  BOOST_REQUIRE(error_of(c.validate()) == "<ok>");
  const std::string dumped = dump_config(c);
  BOOST_TEST(dumped.find("group_id = \"g\\u000A1\\u0009\\u0001\\u007F\\\"\\\\\"") != std::string::npos, dumped);
  service_config back;
  BOOST_REQUIRE_MESSAGE(error_of(apply_toml_text(back, dumped, "dump.toml")) == "<ok>", dumped);
  BOOST_TEST(back.kafka.group_id == c.kafka.group_id);
  BOOST_TEST(back.kafka.client_id == c.kafka.client_id);
  BOOST_TEST(back.kafka.properties.at("x\ny") == "v");
}
