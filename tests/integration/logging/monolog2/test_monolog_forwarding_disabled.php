<?php
/*DESCRIPTION
forwarding.enabled=0: no log event is sent; the line metrics remain.
*/

/*SKIPIF
<?php require('skipif.inc');
*/

/*INI
newrelic.application_logging.forwarding.enabled = 0
*/

/*EXPECT
app.ERROR: not forwarded 
*/

/*EXPECT_METRICS_EXIST
Logging/lines, 1
Logging/lines/ERROR, 1
Supportability/Logging/Forwarding/PHP/disabled, 1
*/

/*EXPECT_METRICS_DONT_EXIST
Logging/Forwarding/Dropped
*/

/*EXPECT_LOG_EVENTS null*/

require_once __DIR__ . '/monolog.inc';

stdout_logger()->error('not forwarded');
