<?php
/*DESCRIPTION
newrelic.framework.wordpress.hooks=0: no hook or plugin metric, but the
template still names the transaction.
*/

/*INI
newrelic.framework.wordpress.hooks = 0
*/

/*EXPECT
[Hello]
BODY!
single.php
*/

/*EXPECT_METRICS_EXIST
OtherTransaction/Action/single, 1
Supportability/framework/WordPress/detected, 1
*/

/*EXPECT_METRICS_DONT_EXIST
Framework/WordPress/Hook/init
Framework/WordPress/Plugin/mock-plugin
*/

require_once __DIR__ . '/mock-wordpress-app.php';
