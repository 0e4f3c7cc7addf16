<?php
/*DESCRIPTION
newrelic_set_appname(name, '', true) ends the current transaction, sends
it (xmit), and starts a new one for the named application (here the same
one, whose App query the extension makes again). The first transaction
counts set_appname/before, the second set_appname/after.
*/

/*EXPECT
ok - switched
*/

/*EXPECT_METRICS_EXIST
OtherTransaction/all, 2
Supportability/api/set_appname/before, 1
Supportability/api/set_appname/after, 1
*/

/*EXPECT_METRICS_DONT_EXIST
Supportability/api/set_appname/with_license
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

tap_identical(true, newrelic_set_appname(ini_get('newrelic.appname'), '', true), 'switched');
