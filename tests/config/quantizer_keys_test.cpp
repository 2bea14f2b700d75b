#define BOOST_TEST_MODULE quantizer_keys
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "config/config_loader.hpp"
#include "config/service_config.hpp"

// The issue-5 index options as service configuration keys ([index] quantizer, coarse_quantizer, opq,
// lopq, polysemous and their knobs): applied from a TOML file and from --set, bad values and unknown keys
// refused with the value and the allowed set named, unsupported combinations refused when the config is
// loaded, and the example files load.
using namespace ivfstream;

namespace {

std::string error_of(const status& s) { return s ? std::string("<ok>") : s.error().message(); }

template <class T>
std::string error_of(const result<T>& r) {
  return r ? std::string("<ok>") : r.error().message();
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

/// defaults + the overrides, validated (what `ivfstream serve --set ...` loads).
result<service_config> load_with(const std::vector<std::string>& overrides) {
  config_cli_options opts;
  opts.overrides = overrides;
  return load_service_config(opts);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(quantizer_keys)

BOOST_AUTO_TEST_CASE(every_quantizer_key_is_applied_from_a_file) {
  service_config c;
  BOOST_REQUIRE_EQUAL(error_of(apply_toml_text(c, R"(
[index]
quantizer = "lsq"
rq_beam_size = 6
lsq_iterations = 3
lsq_icm_iterations = 1
coarse_quantizer = "imi"
imi_bits = 4
opq = true
opq_iterations = 5
lopq = true
lopq_groups = 8
lopq_iterations = 2
lopq_min_points = 4
polysemous = true
polysemous_iterations = 1234
)",
                                                       "test.toml")),
                    "<ok>");
  BOOST_TEST((c.index.quantizer == quantizer_kind::lsq));
  BOOST_TEST(c.index.rq_beam_size == 6u);
  BOOST_TEST(c.index.lsq_iterations == 3u);
  BOOST_TEST(c.index.lsq_icm_iterations == 1u);
  BOOST_TEST(c.index.imi());
  BOOST_TEST(c.index.imi_bits == 4u);
  BOOST_TEST(c.index.opq);
  BOOST_TEST(c.index.opq_iterations == 5u);
  BOOST_TEST(c.index.lopq);
  BOOST_TEST(c.index.lopq_groups == 8u);
  BOOST_TEST(c.index.lopq_iterations == 2u);
  BOOST_TEST(c.index.lopq_min_points == 4u);
  BOOST_TEST(c.index.polysemous);
  BOOST_TEST(c.index.polysemous_iterations == 1234u);
  // and they are printed back (dump_config reads back to the same values)
  const std::string dumped = dump_config(c);
  BOOST_TEST(contains(dumped, "quantizer = \"lsq\""), dumped);
  BOOST_TEST(contains(dumped, "coarse_quantizer = \"imi\""), dumped);
  service_config again;
  BOOST_REQUIRE_EQUAL(error_of(apply_toml_text(again, dumped, "dump")), "<ok>");
  BOOST_TEST((again.index.quantizer == quantizer_kind::lsq));
  BOOST_TEST(again.index.imi_bits == 4u);
  BOOST_TEST(again.index.lopq_min_points == 4u);
}

BOOST_AUTO_TEST_CASE(supported_combinations_load_through_set) {
  // RQ, IMI + OPQ, LOPQ: each a valid service configuration.
  auto rq = load_with({"index.quantizer=rq", "index.rq_beam_size=8"});
  BOOST_REQUIRE_EQUAL(error_of(rq), "<ok>");
  BOOST_TEST((rq->index.quantizer == quantizer_kind::rq));
  BOOST_TEST(rq->index.rq_beam_size == 8u);
  auto imi = load_with({"index.coarse_quantizer=imi", "index.imi_bits=4", "index.num_partitions=256", "index.opq=true"});
  BOOST_REQUIRE_EQUAL(error_of(imi), "<ok>");
  BOOST_TEST(imi->index.imi());
  BOOST_TEST(imi->index.opq);
  auto lopq = load_with({"index.lopq=yes", "index.lopq_groups=16"});
  BOOST_REQUIRE_EQUAL(error_of(lopq), "<ok>");
  BOOST_TEST(lopq->index.lopq);
}

BOOST_AUTO_TEST_CASE(bad_values_name_the_value_and_what_is_allowed) {
  service_config c;
  BOOST_TEST(error_of(set_config_value(c, "index.quantizer", "opq")) ==
             "index.quantizer='opq': must be one of pq, rq, lsq");
  BOOST_TEST(error_of(set_config_value(c, "index.coarse_quantizer", "hnsw")) ==
             "index.coarse_quantizer='hnsw': must be one of flat, imi");
  BOOST_TEST(contains(error_of(set_config_value(c, "index.opq", "maybe")), "index.opq='maybe': must be one of true"));
  BOOST_TEST(contains(error_of(set_config_value(c, "index.imi_bits", "-1")), "index.imi_bits='-1'"));
  // TOML types: a name must be a string
  const std::string typed = error_of(apply_toml_text(c, "[index]\nquantizer = 2\n", "t.toml"));
  BOOST_TEST(contains(typed, "index.quantizer: expected a string (pq, rq, lsq), got a integer"), typed);
  BOOST_TEST(contains(typed, "t.toml:2"), typed);
  // ranges are checked when the config is validated, with the value named
  BOOST_TEST(contains(error_of(load_with({"index.quantizer=rq", "index.rq_beam_size=0"})),
                      "index.rq_beam_size=0 with quantizer=rq: must be in [1, 64]"));
  BOOST_TEST(contains(error_of(load_with({"index.coarse_quantizer=imi", "index.imi_bits=11"})),
                      "index.imi_bits=11 with coarse_quantizer=imi: must be in [1, 10]"));
  BOOST_TEST(contains(error_of(load_with({"index.coarse_quantizer=imi", "index.imi_bits=3"})),
                      "index.num_partitions=256 with coarse_quantizer=imi imi_bits=3: must be 2^(2*imi_bits)=64"));
  BOOST_TEST(contains(error_of(load_with({"index.lopq=true", "index.lopq_groups=0"})),
                      "index.lopq_groups=0 with lopq=true: must be in [1, num_partitions=256]"));
}

BOOST_AUTO_TEST_CASE(unknown_index_keys_are_refused_with_a_suggestion) {
  service_config c;
  const std::string set = error_of(set_config_value(c, "index.quantiser", "rq"));
  BOOST_TEST(contains(set, "unknown configuration key 'index.quantiser'"), set);
  BOOST_TEST(contains(set, "did you mean 'index.quantizer'?"), set);
  const std::string file = error_of(apply_toml_text(c, "[index]\nlopq_group = 4\n", "f.toml"));
  BOOST_TEST(contains(file, "unknown configuration key 'index.lopq_group' in f.toml:2"), file);
  BOOST_TEST(contains(file, "did you mean 'index.lopq_groups'?"), file);
}

BOOST_AUTO_TEST_CASE(unsupported_combinations_are_refused_when_the_config_loads) {
  const std::string rq_imi = error_of(
      load_with({"index.quantizer=rq", "index.coarse_quantizer=imi", "index.imi_bits=4"}));
  BOOST_TEST(contains(rq_imi, "index.coarse_quantizer=imi with quantizer=rq: not supported, must be flat"), rq_imi);
  const std::string lopq_lsq = error_of(load_with({"index.quantizer=lsq", "index.lopq=true"}));
  BOOST_TEST(contains(lopq_lsq, "lopq=true with quantizer=lsq"), lopq_lsq);
  const std::string rq_bits = error_of(load_with({"index.quantizer=rq", "index.num_bits=4"}));
  BOOST_TEST(contains(rq_bits, "index.num_bits=4 with quantizer=rq: must be 8"), rq_bits);
  // polysemous codes are an index option the service cannot use (its scans have no Hamming filter)
  const std::string poly = error_of(load_with({"index.polysemous=true"}));
  BOOST_TEST(contains(poly, "index.polysemous=true: not supported by the service"), poly);
}

BOOST_AUTO_TEST_CASE(quantizer_examples_load_and_validate) {
  for (const char* name : {"rq.toml", "imi_opq.toml", "lopq.toml"}) {
    config_cli_options opts;
    opts.config_file = std::string(IVFSTREAM_SOURCE_DIR) + "/config/examples/" + name;
    auto c = load_service_config(opts);
    BOOST_TEST(error_of(c) == "<ok>", name);
  }
  config_cli_options opts;
  opts.config_file = std::string(IVFSTREAM_SOURCE_DIR) + "/config/examples/imi_opq.toml";
  auto c = load_service_config(opts);
  BOOST_REQUIRE(c);
  BOOST_TEST(c->index.imi());
  BOOST_TEST(c->index.opq);
}

BOOST_AUTO_TEST_SUITE_END()
