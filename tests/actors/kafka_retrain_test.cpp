// Continuous retraining driven through Kafka (issue 4): a drifting stream produced to the vectors topic
// of the embedded broker is ingested, the engine trains on the first records, the trainer notices the
// drift and retrains, the hot swap installs the new version, and recall@10 of queries answered through
// the query topic returns to within 0.02 of an index built from scratch on the same data. The same
// stream without retraining (the codebooks trained on the first records only) is measurably worse.
#define BOOST_TEST_MODULE kafka_retrain
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <thread>

#include "actors/engine.hpp"
#include "actors/kafka_service.hpp"
#include "actors/query_client.hpp"
#include "config/service_config.hpp"
#include "connectors/embedded_broker.hpp"
#include "connectors/kafka_client_config.hpp"
#include "connectors/kafka_producer.hpp"
#include "connectors/record_codec.hpp"
#include "index/ivfpq_index.hpp"
#include "tests/actors/actor_test_support.hpp"
#include "tests/actors/drift_data.hpp"

using namespace ivfstream;
using namespace std::chrono_literals;

namespace {

// The stream: 24k × 32, 16 clusters in the first half, 16 new shifted ones in the second (the data
// of hot_swap_test's drift case, there fed through the embedded API). IVF16, PQ 16 × 8 bits: on this
// data recall@10 of one build moves 0.765-0.803 with the k-means seed (IVF32 PQ8: 0.59-0.66), and
// codebooks trained on the first 3000 vectors only give 0.49-0.53.
constexpr std::size_t d = 32, n = 24000, batch = 500, nq = 100, k = 10, nprobes = 4;
constexpr std::size_t train_after = 3000;

index_params stream_params() {
  index_params p;
  p.dimension = d;
  p.num_partitions = 16;
  p.num_sub_vectors = 16;
  p.num_bits = 8;
  p.max_iterations = 10;
  return p;
}

// One topic-partition, so the engine consumes the stream in the order it drifted.
service_config make_config() {
  service_config c;
  c.kafka.topic_partitions = 1;
  c.index = stream_params();
  c.engine.partition_actors = 3;
  c.engine.train_after = train_after;
  c.engine.data_dir = "";
  c.engine.checkpoint_interval_ms = 0;
  c.engine.checkpoint_interval_records = 0;
  c.retrain.enabled = true;
  c.retrain.reservoir_size = n;  // the last retrain samples the whole stream, as the fresh build does
  c.retrain.every_inserts = 4000;  // and on drift, and every 500 ms when anything was inserted since
  c.retrain.every_ms = 500;        // the last training began (so the last one sees the whole stream)
  c.retrain.drift_threshold = 1.5;
  c.retrain.error_window = 500;
  c.retrain.error_sample_every = 2;
  c.search.nprobes = nprobes;
  c.search.limit = k;
  return c;
}

double recall_of(const std::vector<std::uint64_t>& found, const float* q, const std::vector<float>& x) {
  return test::recall(found, test::brute_force(metric::l2, q, x.data(), x.size() / d, d, k));
}

// Mean recall@10 of an in-process index over the queries.
double index_recall(const ivfpq_index& index, const std::vector<float>& q, const std::vector<float>& x) {
  double sum = 0;
  for (std::size_t i = 0; i < nq; ++i) {
    auto r = index.search(q.data() + i * d, search_params{k, nprobes, 0});
    BOOST_REQUIRE(r);
    std::vector<std::uint64_t> found;
    for (const auto& h : *r) found.push_back(h.id);
    sum += recall_of(found, q.data() + i * d, x);
  }
  return sum / double(nq);
}

}  // namespace

BOOST_AUTO_TEST_CASE(drift_in_the_vectors_topic_is_followed_by_a_retrain_and_recall_returns) {
  const auto config = make_config();
  const auto x = test::drifting_stream(n, d, 16, 21);
  const auto ids = test::iota_ids(n);
  const auto q = test::drifting_stream(nq, d, 16, 21);  // queries from both halves

  auto broker = connectors::embedded_broker::start(config);
  BOOST_REQUIRE_MESSAGE(broker, (broker ? "" : broker.error().to_string()));
  auto o = engine_options::from(config);
  o.scheduler_threads = 2;
  auto eng = test::open_engine(o);
  BOOST_REQUIRE(eng->create_index(config.index));  // trained from the stream after train_after vectors
  auto service = kafka_service::start(*eng, config, (*broker)->bootstrap_servers());
  BOOST_REQUIRE_MESSAGE(service, (service ? "" : service.error().to_string()));
  auto producer = connectors::kafka_producer::create(
      connectors::kafka_client_config::from(config, (*broker)->bootstrap_servers()));
  BOOST_REQUIRE(producer);

  for (std::size_t off = 0; off < n; off += batch) {
    const auto bytes = connectors::encode_upserts(ids.data() + off, x.data() + off * d, batch, d);
    const auto key = connectors::vector_record_key(ids[off]);
    BOOST_REQUIRE((*producer)->produce(config.kafka.topics.vectors, key.data(), key.size(), bytes.data(), bytes.size()));
  }
  BOOST_REQUIRE((*producer)->flush(10s));

  // Every record applied, and the last retrain began after the last insert and is over (the time
  // schedule starts one within 500 ms of a swap that missed some inserts). Generous: ASan, load.
  engine_stats s;
  const bool settled = test::wait_for(
      [&] {
        auto st = eng->stats();
        BOOST_REQUIRE(st);
        s = *st;
        return s.vectors == n && s.retrain_phase == "idle" && s.inserts_since_training == 0 && s.swaps >= 1;
      },
      150s);
  BOOST_TEST_MESSAGE("vectors " << s.vectors << " reservoir " << s.reservoir_vectors << " version " << s.codebook_version << " swaps " << s.swaps
                                << " failed " << s.failed_swaps << " drift " << s.drift << " last train "
                                << s.last_train_ms << " ms, swap " << s.last_swap_ms << " ms");
  BOOST_REQUIRE_MESSAGE(settled, "not settled: vectors " << s.vectors << " of " << n << ", phase " << s.retrain_phase
                                                        << ", swaps " << s.swaps << ", last error " << s.last_error);
  BOOST_CHECK_EQUAL(s.failed_swaps, 0u);
  BOOST_CHECK_GE(s.codebook_version, 2u);
  BOOST_CHECK_EQUAL(s.dead_letters, 0u);

  // Recall of the retrained engine, asked through the query topic (one request of nq vectors).
  auto client = query_client::open(config, (*broker)->bootstrap_servers());
  BOOST_REQUIRE_MESSAGE(client, (client ? "" : client.error().to_string()));
  query_options qo;
  qo.k = k;
  qo.nprobes = nprobes;
  qo.refine_factor = 0;
  auto reply = (*client)->query(q.data(), nq, d, qo, 30s);
  BOOST_REQUIRE_MESSAGE(reply, (reply ? "" : reply.error().to_string()));
  BOOST_REQUIRE_EQUAL(reply->error_code, 0);
  BOOST_CHECK(!reply->partial);
  BOOST_REQUIRE_EQUAL(reply->results.size(), nq);
  double live = 0;
  for (std::size_t i = 0; i < nq; ++i) live += recall_of(reply->results[i].ids, q.data() + i * d, x);
  live /= double(nq);

  // References in this process, built from scratch on all the data. The one the bound is about uses
  // the params the engine's last retrain used (seed 42 + codebook version, one training thread): one
  // build's recall moves 0.765-0.803 with the k-means seed alone on this data, as much as the bound,
  // so a reference of another seed would test the seed. The mean of three other seeds is reported.
  // And one trained on the first train_after vectors only (what the engine would serve had it never
  // retrained).
  auto fresh_with_seed = [&](std::uint64_t seed) {
    auto p = stream_params();
    p.seed = seed;
    p.train_threads = 1;
    auto fresh = ivfpq_index::create(p);
    BOOST_REQUIRE(fresh);
    BOOST_REQUIRE(fresh->train(x.data(), n));
    BOOST_REQUIRE(fresh->add(ids.data(), x.data(), n));
    return index_recall(*fresh, q, x);
  };
  const double fresh_recall = fresh_with_seed(stream_params().seed + s.codebook_version);
  double other_seeds = 0;
  for (std::uint64_t seed = 1; seed <= 3; ++seed) other_seeds += fresh_with_seed(seed) / 3;
  auto stale = ivfpq_index::create(stream_params());
  BOOST_REQUIRE(stale);
  BOOST_REQUIRE(stale->train(x.data(), train_after));
  BOOST_REQUIRE(stale->add(ids.data(), x.data(), n));
  const double stale_recall = index_recall(*stale, q, x);
  BOOST_TEST_MESSAGE("recall@10 through the query topic: retrained " << live << ", never retrained " << stale_recall
                                                                     << ", fresh rebuild with the retrain's seed "
                                                                     << fresh_recall << " (mean of seeds 1-3 "
                                                                     << other_seeds << ")");
  BOOST_CHECK_EQUAL(s.reservoir_vectors, n);          // the whole stream, including what came before training
  BOOST_CHECK_LT(stale_recall, other_seeds - 0.05);   // the drift hurts
  BOOST_CHECK_GE(live, fresh_recall - 0.02);          // retraining through the stream recovers it

  client->reset();
  service->reset();
  eng.reset();
  broker->reset();
}
