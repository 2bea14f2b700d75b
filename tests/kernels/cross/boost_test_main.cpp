// Boost.Test's implementation and main() for the cross-built kernel suites (header-only variant,
// compiled once). Each suite's own source defines BOOST_TEST_MODULE and so its init function; the
// suites are linked without BOOST_TEST_DYN_LINK, as with the static library.
#include <boost/test/included/unit_test.hpp>
