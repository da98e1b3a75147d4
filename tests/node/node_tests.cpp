#define BOOST_TEST_MODULE node_tests
#include <boost/test/unit_test.hpp>

#include "node/node.h"

using namespace verity::node;

// The validator set of the next block holds until the next epoch boundary
// (the end of a block whose height is a multiple of epoch_blocks); the
// engine must not be told a set for heights beyond it.
BOOST_AUTO_TEST_CASE(the_next_set_holds_until_the_next_epoch_boundary) {
  BOOST_CHECK_EQUAL(last_height_of_next_set(0, 100), 100u);    // genesis: blocks 1..100
  BOOST_CHECK_EQUAL(last_height_of_next_set(99, 100), 100u);
  BOOST_CHECK_EQUAL(last_height_of_next_set(100, 100), 200u);  // after the boundary block: 101..200
  BOOST_CHECK_EQUAL(last_height_of_next_set(101, 100), 200u);
  BOOST_CHECK_EQUAL(last_height_of_next_set(7, 1), 8u);        // every block is a boundary
  BOOST_CHECK_EQUAL(last_height_of_next_set(8, 3), 9u);
  BOOST_CHECK_EQUAL(last_height_of_next_set(9, 3), 12u);
}
