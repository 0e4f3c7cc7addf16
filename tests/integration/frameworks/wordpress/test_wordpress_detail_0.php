<?php
/*DESCRIPTION
transaction_tracer.detail=0: framework naming and hook timing do not
depend on user functions being traced.
*/

/*INI
newrelic.transaction_tracer.detail = 0
*/

/*EXPECT
[Hello]
BODY!
single.php
*/

/*EXPECT_METRICS_EXIST
Supportability/framework/WordPress/detected, 1
OtherTransaction/Action/single, 1
Framework/WordPress/Hook/init, 1
Framework/WordPress/Plugin/mock-plugin, 3
*/

require_once __DIR__ . '/mock-wordpress-app.php';
