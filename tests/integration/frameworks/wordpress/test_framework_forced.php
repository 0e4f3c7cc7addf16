<?php
/*DESCRIPTION
newrelic.framework=wordpress forces the framework from the first file,
before wp-config.php runs: reported as forced.
*/

/*INI
newrelic.framework = wordpress
*/

/*EXPECT
[Hello]
BODY!
single.php
*/

/*EXPECT_METRICS_EXIST
Supportability/framework/WordPress/forced, 1
OtherTransaction/Action/single, 1
Supportability/PHP/package/wordpress/6/forced, 1
*/

/*EXPECT_METRICS_DONT_EXIST
Supportability/framework/WordPress/detected
*/

require_once __DIR__ . '/mock-wordpress-app.php';
