<?php
/*DESCRIPTION
vulnerability_management.package_detection.enabled=0: no package is
reported (Composer is still detected).
*/

/*INI
newrelic.vulnerability_management.package_detection.enabled = 0
*/

/*EXPECT
loaded
*/

/*EXPECT_METRICS_EXIST
Supportability/library/Composer/detected, 1
*/

/*EXPECT_PHP_PACKAGES null*/

require __DIR__ . '/vendor/autoload.php';
echo "loaded\n";
