#pragma once
// IVF_ASSERT: programmer errors (broken invariants) abort with the location and the condition.
// User input never reaches one: index/ validates and returns an error first.
#include <cstdio>
#include <cstdlib>

#define IVF_ASSERT(cond)                                                                      \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      std::fprintf(stderr, "ivfstream: assertion failed: %s at %s:%d\n", #cond, __FILE__,     \
                   __LINE__);                                                                 \
      std::abort();                                                                           \
    }                                                                                         \
  } while (false)
