<?php
/*DESCRIPTION
With distributed tracing off nothing is sampled: newrelic_is_sampled()
returns false.
*/

/*INI
newrelic.distributed_tracing_enabled = 0
*/

/*EXPECT
ok - not sampled
*/

/*EXPECT_METRICS_EXIST
Supportability/api/is_sampled, 1
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

tap_identical(false, newrelic_is_sampled(), 'not sampled');
