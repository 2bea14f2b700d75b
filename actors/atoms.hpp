#pragma once
// Message tags of the actor layer (CAF 0.17 atoms: at most 10 characters each).
#include <caf/atom.hpp>

namespace ivfstream::actors {

using scan_atom = caf::atom_constant<caf::atom("scan")>;            ///< query → partition
using apply_atom = caf::atom_constant<caf::atom("apply")>;          ///< ingest → partition
using codebooks_atom = caf::atom_constant<caf::atom("codebooks")>;  ///< install trained codebooks
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;    ///< write a partition snapshot
using restore_atom = caf::atom_constant<caf::atom("restore")>;      ///< load a partition snapshot
using stats_atom = caf::atom_constant<caf::atom("stats")>;          ///< counters / sizes
using search_atom = caf::atom_constant<caf::atom("search")>;        ///< client → query actor
using remove_atom = caf::atom_constant<caf::atom("remove")>;        ///< client → ingest
using upsert_atom = caf::atom_constant<caf::atom("upsert")>;        ///< client → ingest
using train_atom = caf::atom_constant<caf::atom("train")>;          ///< client → ingest
using create_atom = caf::atom_constant<caf::atom("create")>;        ///< client → ingest
using poll_atom = caf::atom_constant<caf::atom("poll")>;            ///< self-tick of Kafka consumers
using checkpoint_atom = caf::atom_constant<caf::atom("checkpt")>;   ///< client → ingest
using delay_atom = caf::atom_constant<caf::atom("delay")>;          ///< fault injection on a partition
using attach_atom = caf::atom_constant<caf::atom("attach")>;        ///< hand a Kafka feed to an actor
using stop_atom = caf::atom_constant<caf::atom("stop")>;            ///< orderly shutdown of a loop
// Continuous retraining and hot swap (actors/swap_protocol.hpp).
using retrain_atom = caf::atom_constant<caf::atom("retrain")>;      ///< client → ingest: retrain now
using rebalance_atom = caf::atom_constant<caf::atom("rebalance")>;  ///< client → ingest: rebalance lists now
using rtick_atom = caf::atom_constant<caf::atom("rtick")>;          ///< self-tick of the retrain schedule
using shadow_atom = caf::atom_constant<caf::atom("shadow")>;        ///< ingest → partition: build a shadow
using migrate_atom = caf::atom_constant<caf::atom("migrate")>;      ///< ingest → partition: emigrants
using commit_atom = caf::atom_constant<caf::atom("commit")>;        ///< ingest → partition: flip
using retire_atom = caf::atom_constant<caf::atom("retire")>;        ///< ingest → partition: free the old version
using abort_atom = caf::atom_constant<caf::atom("abortswap")>;      ///< ingest → partition: drop the shadow
using swap_atom = caf::atom_constant<caf::atom("swap")>;            ///< ingest → query: plan with v+1 from now on
using encode_atom = caf::atom_constant<caf::atom("encode")>;        ///< partition → its re-encoder: encode a block
// Scale-out search over peer nodes (actors/peer_service.hpp).
using peer_search_atom = caf::atom_constant<caf::atom("peersearch")>;  ///< node → node: FlatBuffers query batch
using peer_link_atom = caf::atom_constant<caf::atom("peerlink")>;      ///< self-tick: (re)connect a peer
using peer_hello_atom = caf::atom_constant<caf::atom("peerhello")>;    ///< TLS: a dialing node introduces itself
// Distributed training (actors/cluster_trainer.hpp).
using trainer_atom = caf::atom_constant<caf::atom("trainer")>;         ///< engine → ingest: who trains
using sample_atom = caf::atom_constant<caf::atom("sample")>;           ///< shard → ingest: the training sample
using policy_atom = caf::atom_constant<caf::atom("policy")>;           ///< engine → ingest: train or not
using links_atom = caf::atom_constant<caf::atom("links")>;             ///< trainer → coordinator: peers up
using train_stats_atom = caf::atom_constant<caf::atom("trainstats")>;  ///< leader → node: one iteration's stats

}  // namespace ivfstream::actors
