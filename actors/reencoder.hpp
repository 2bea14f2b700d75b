#pragma once
// The re-encoder of a hot swap: a detached actor (its own thread, at background CPU priority,
// actors/thread_priority.hpp) that encodes the blocks of one partition's shadow rebuild under the
// next codebook version. The partition actor only copies rows out and places the codes back, so the
// scheduler's workers stay free for scans while the swap's heavy work (coarse assignment + PQ
// encoding, single-threaded) runs on the CPU that queries leave idle.
#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/swap_messages.hpp"

namespace ivfstream::actors {

/// Behaviour of a re-encoder (spawn with caf::detached): (encode_atom, reencode_block) → the block
/// with lists and codes filled; (shadow_atom, n) → an empty id_map with room for n ids (the shadow's,
/// allocated and first touched here: fresh memory costs ~4 ms of page faults per MB on the test box,
/// which the partition actor would spend with scans queued behind it). On its first message it
/// lowers its thread's priority to `nice` (≤ 0: unchanged). Quits on an exit message from its partition.
caf::behavior reencoder(caf::event_based_actor* self, int nice);

}  // namespace ivfstream::actors
