<?php
/*DESCRIPTION
newrelic_record_datastore_segment() with bad arguments: a missing product
raises New Relic's warning, still runs the callback and returns its
value, but records no segment; a callback that cannot be called is a
TypeError and returns false without running anything. The defaults of a
minimal call are "other" for operation and collection and "unknown" for
the instance.
*/

/*EXPECT_REGEX
^\s*Warning: Missing datastore parameter: product in .* on line \d+
ok - callback still runs
ok - not callable
ok - minimal\s*$
*/

/*EXPECT_METRICS_EXIST
Supportability/api/record_datastore_segment, 3
Datastore/all, 1
Datastore/statement/minimal/other/other, 1
Datastore/instance/minimal/unknown/unknown, 1
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

tap_identical('ran', newrelic_record_datastore_segment(function () { return 'ran'; }, array()), 'callback still runs');
try {
    newrelic_record_datastore_segment('no_such_function', array('product' => 'x'));
    tap_not_ok('not callable');
} catch (TypeError $e) {
    tap_ok('not callable');
}
tap_identical(7, newrelic_record_datastore_segment(function () { return 7; }, array('product' => 'minimal')), 'minimal');
