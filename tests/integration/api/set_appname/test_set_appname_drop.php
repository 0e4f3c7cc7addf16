<?php
/*DESCRIPTION
Without xmit, newrelic_set_appname() discards the transaction it ends:
only the new transaction (with the same license, given explicitly) is
sent, counting set_appname/with_license but not switched_license.
*/

/*EXPECT
ok - switched
*/

/*EXPECT_METRICS_EXIST
OtherTransaction/all, 1
Supportability/api/set_appname/after, 1
Supportability/api/set_appname/with_license, 1
*/

/*EXPECT_METRICS_DONT_EXIST
Supportability/api/set_appname/before
Supportability/api/set_appname/switched_license
Custom/dropped
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

newrelic_custom_metric('Custom/dropped', 1);
tap_identical(
    true,
    newrelic_set_appname(ini_get('newrelic.appname'), ini_get('newrelic.license')),
    'switched'
);
