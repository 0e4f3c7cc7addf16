<?php
/*DESCRIPTION
hooks.options=threshold: no callback is timed; a dispatch at least as
slow as hooks.threshold is (init sleeps 40 ms, the others are fast; the
margins hold under valgrind and on a loaded machine).
*/

/*INI
newrelic.framework.wordpress.hooks.options = threshold
newrelic.framework.wordpress.hooks.threshold = 30ms
*/

/*EXPECT
[Hello]
BODY!
single.php
*/

/*EXPECT_METRICS_EXIST
Framework/WordPress/Hook/init, 1
OtherTransaction/Action/single, 1
*/

/*EXPECT_METRICS_DONT_EXIST
Framework/WordPress/Plugin/mock-plugin
Framework/WordPress/Hook/the_title
Supportability/InstrumentedFunction/add_filter
*/

require_once __DIR__ . '/mock-wordpress-app.php';
