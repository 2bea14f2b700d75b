// When the lists of a running engine need rebalancing (retrain.rebalance, issue 6): the ingest actor
// asks every partition actor for its list sizes now and then, adds them up per list and, when a list is
// outside [rebalance_merge, rebalance_split] × the mean, starts a rebalance swap (swap_protocol.cpp:
// the trainer actor plans splits and merges with index/centroid_rebalance.hpp, the hot swap moves the
// entries). The sizes are read while inserts go on; they only decide whether and where to split, the
// swap itself moves every entry to its nearest new centroid (re-encoding only those whose list's
// centroid changed or that a new centroid took; the others keep their codes, index/code_carry.hpp).
#include <memory>
#include <vector>

#include "actors/internal/retrain_hooks.hpp"
#include "index/centroid_rebalance.hpp"

namespace ivfstream::actors::internal {
namespace {

using steady = std::chrono::steady_clock;

// A partition answers stats from its mailbox; one stuck behind a long apply is asked again next time.
constexpr std::chrono::seconds k_sizes_timeout{10};
// Each rebalance swap walks every entry. Lists that a few plans in a row cannot bring within the
// bounds (estimates off, a list that splits lopsided) wait for new inserts instead of swapping forever.
constexpr std::size_t k_max_rebalances_in_a_row = 4;

/// The answers gathered so far for one look at the list sizes.
struct size_poll {
  std::uint64_t version = 0;           // codebook version the sizes must belong to
  std::vector<std::uint64_t> sizes;    // entries per list of that version
  std::size_t outstanding = 0;         // partitions that have not answered
  bool usable = true;                  // false once an answer failed or named another version
  bool forced = false;                 // engine::rebalance() waits: plan whatever the bounds say
};

rebalance_options bounds_of(const retrain_policy& p) {
  rebalance_options opt;
  opt.split_factor = p.rebalance_split;
  opt.merge_factor = p.rebalance_merge;
  return opt;
}

void fail_forced(ingest_pointer self, std::string why) {
  auto& dr = *self->state.retrain;
  dr.forced_rebalance = false;
  ack_reply r;
  r.failure = fail(errc::unavailable, "rebalance: " + why);
  deliver_to_waiters(self, r);
}

void poll_answered(ingest_pointer self, const std::shared_ptr<size_poll>& poll) {
  if (--poll->outstanding != 0) return;
  auto& dr = *self->state.retrain;
  dr.sizes_pending = false;
  const auto& live = self->state.setup.state->codebooks();
  const bool forced = poll->forced || dr.forced_rebalance;  // engine::rebalance() may have come meanwhile
  if (!poll->usable || !live || live->version() != poll->version) {
    if (forced) fail_forced(self, "the list sizes could not be read for one codebook version; retry");
    return;
  }
  if (!forced && !lists_out_of_bounds(poll->sizes, bounds_of(dr.policy))) return;
  if (!start_rebalance(self, std::move(poll->sizes)) && forced)
    fail_forced(self, "another swap started meanwhile; retry");
}

/// Asks every partition for its list sizes (one poll at a time).
void poll_sizes(ingest_pointer self, bool forced) {
  auto& dr = *self->state.retrain;
  const auto& live = self->state.setup.state->codebooks();
  dr.sizes_checked = steady::now();
  dr.sizes_pending = true;
  auto poll = std::make_shared<size_poll>();
  poll->version = live->version();
  poll->sizes.assign(live->num_partitions(), 0);
  poll->outstanding = self->state.setup.partitions.size();
  poll->forced = forced;
  for (const auto& p : self->state.setup.partitions)
    self->request(p, k_sizes_timeout, stats_atom::value)
        .then(
            [self, poll](partition_stats& s) {
              if (s.codebook_version != poll->version) poll->usable = false;
              for (const auto& [list, live_vectors] : s.list_sizes)
                if (list < poll->sizes.size()) poll->sizes[list] += live_vectors;
                else poll->usable = false;
              poll_answered(self, poll);
            },
            [self, poll](caf::error&) {
              poll->usable = false;
              poll_answered(self, poll);
            });
}

}  // namespace

void rebalance_check(ingest_pointer self) {
  auto& dr = *self->state.retrain;
  const auto& live = self->state.setup.state->codebooks();
  const auto now = steady::now();
  if (!dr.policy.rebalance || dr.sizes_pending || !live || !dr.trainer) return;
  if (dr.sizes_checked == steady::time_point{}) dr.sizes_checked = now;  // the first look one period after the start
  if (now - dr.sizes_checked < std::chrono::milliseconds(dr.policy.rebalance_check_ms)) return;
  if (dr.trainer->seen() < dr.quiet_until_seen) return;  // the last plan changed nothing; wait for the stream
  if (dr.rebalances_without_inserts >= k_max_rebalances_in_a_row) return;
  if (auto st = check_rebalance_settings(live->params(), bounds_of(dr.policy)); !st) {  // imi, lopq: fixed lists
    dr.status.last_rebalance = "off: " + st.error().message();
    return;
  }
  // The planner needs rows of a list to split it; a reservoir that small would only plan merges.
  if (dr.trainer->sample_size() < 2 * live->num_partitions()) return;
  poll_sizes(self, false);
}

void rebalance_now(ingest_pointer self, std::function<void(ack_reply)> done) {
  auto& dr = *self->state.retrain;
  const auto& live = self->state.setup.state->codebooks();
  ack_reply r;
  if (!dr.policy.enabled)
    r.failure = fail(errc::invalid_argument, "rebalance: retrain.enabled=false (no reservoir is kept to plan on)");
  else if (!live || !dr.trainer)
    r.failure = fail(errc::not_trained, "rebalance: the index is not trained or nothing was inserted since");
  else if (auto st = check_rebalance_settings(live->params(), bounds_of(dr.policy)); !st)
    r.failure = std::move(st).error();
  if (r.failure) return done(std::move(r));
  dr.waiters.push_back(std::move(done));
  if (dr.now != retrain_driver::phase::idle || dr.forced_rebalance) return;  // joins the swap or plan running
  dr.forced_rebalance = true;
  if (dr.sizes_pending) return;  // the poll running starts it: forced_rebalance is read when it answers
  poll_sizes(self, true);
}

}  // namespace ivfstream::actors::internal
