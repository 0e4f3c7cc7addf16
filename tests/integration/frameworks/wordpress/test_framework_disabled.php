<?php
/*DESCRIPTION
newrelic.framework=no_framework (`none` means the same, but PHP's INI
parser reads a bare `none` as an empty value): WordPress is not detected (its files are ignored),
the transaction keeps its script name and reports the framework as
forced to none.
*/

/*INI
newrelic.framework = no_framework
*/

/*EXPECT
[Hello]
BODY!
single.php
*/

/*EXPECT_METRICS_EXIST
Supportability/framework/None/forced, 1
OtherTransaction/php__FILE__, 1
*/

/*EXPECT_METRICS_DONT_EXIST
Supportability/framework/WordPress/detected
Framework/WordPress/Hook/init
OtherTransaction/Action/single
*/

require_once __DIR__ . '/mock-wordpress-app.php';
