#!/usr/bin/env bash
# Sorts the ThreadSanitizer reports of a `scripts/sanitize.sh thread` run (files written through
# TSAN_OPTIONS=log_path=DIR/tsan) into findings and library-internal pairs; exit 1 if any finding.
#
#   scripts/sanitizers/tsan_triage.sh DIR
#
# A data-race report is library-internal when one of its two accesses is made by librdkafka or oneDNN
# itself: the first frame of that access's stack below the sanitizer's interceptor (and below
# tests/support/tsan_c11_threads.cpp, which only forwards librdkafka's C11 calls) is in librdkafka.so
# or libdnnl.so. Neither is instrumented: TSan sees their libc calls (free, memcpy, memcmp,
# posix_memalign, pthread_*) but not their atomics (reference counts, state flags, oneDNN's primitive
# cache), so such a pair lacks the happens-before that orders it in fact (e.g. a fetch buffer freed by
# a broker thread after the last message referring to it was destroyed on ours; a primitive-cache
# entry created on one training thread and compared on another). Counted and listed, not failed.
# Everything else is a finding: a race whose two accesses are both made by instrumented code
# (ours, on any thread, librdkafka's threads included: our delivery, log and rebalance callbacks),
# and every report that is not a data race (lock-order inversion, thread leak, signal-unsafe call...).
# Blind spot: our code freeing memory librdkafka still reads; the ASan stage checks that
# (heap-use-after-free), it runs the same suites.
set -euo pipefail
dir="${1:?usage: tsan_triage.sh DIR}"
shopt -s nullglob
files=("$dir"/tsan*)
if [ ${#files[@]} -eq 0 ]; then
  echo "tsan_triage: no ThreadSanitizer reports in $dir"
  exit 0
fi
awk '
  function flush() {
    if (!in_report) return
    if (kind != "data race" || !(internal_access)) {
      findings++
      print "FINDING (" FILENAME "): " summary
    } else {
      internal++
      seen[summary]++
    }
    in_report = 0
  }
  /^WARNING: ThreadSanitizer: / {
    flush()
    in_report = 1; internal_access = 0; in_access = 0; summary = ""
    kind = $0; sub(/^WARNING: ThreadSanitizer: /, "", kind); sub(/ \(pid=.*$/, "", kind)
    next
  }
  !in_report { next }
  # The stack of one of the two accesses ("Write of size 8 at ... by thread T3:", "Previous read ...",
  # "Atomic read ...", "Previous atomic write ...").
  /^  (Previous )?([Aa]tomic )?([Rr]ead|[Ww]rite) of size / { in_access = 1; first = 1; next }
  /^$/ { in_access = 0; next }
  in_access && /^    #[0-9]+ / {
    if (!first) next
    if ($0 ~ /\(libtsan\.so|\(libclang_rt\.tsan|tsan_c11_threads\.cpp/) next  # interceptor, shim
    first = 0
    if ($0 ~ /\((librdkafka|libdnnl)\.so/) internal_access = 1
    next
  }
  /^SUMMARY: ThreadSanitizer: / { summary = $0; sub(/^SUMMARY: ThreadSanitizer: /, "", summary); flush(); next }
  END {
    flush()
    for (s in seen) printf "library-internal (%d): %s\n", seen[s], s
    printf "tsan_triage: %d finding(s), %d library-internal report(s)\n", findings, internal
    exit (findings > 0)
  }
' "${files[@]}"
