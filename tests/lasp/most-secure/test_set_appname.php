<?php
/*DESCRIPTION
With a security policies token (LASP), switching to another license is
refused with New Relic's warning: the call returns false, the current
transaction ends (sent here, with xmit) counting set_appname/lasp_denied,
and no new transaction starts. Bad arguments return false.
*/

/*EXPECT_REGEX
^\s*Warning: newrelic_set_appname\(\): newrelic_set_appname: when a security_policies_token is present in the newrelic.ini file, it is not permitted to call newrelic_set_appname\(\) with a non-empty license key. LASP does not permit changing accounts during runtime. Consider using "" for the second parameter in .* on line \d+
ok - refused
ok - no transaction afterwards\s*$
*/

/*EXPECT_METRICS_EXIST
OtherTransaction/all, 1
Supportability/api/set_appname/before, 1
Supportability/api/set_appname/lasp_denied, 1
*/

require_once(realpath(dirname(__FILE__)) . '/../../integration/include/tap.php');

$other = str_repeat('a', 40);
tap_identical(false, newrelic_set_appname(ini_get('newrelic.appname'), $other, true), 'refused');
tap_identical(false, newrelic_is_sampled(), 'no transaction afterwards');
