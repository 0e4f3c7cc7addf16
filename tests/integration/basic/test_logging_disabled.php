<?php
/*DESCRIPTION
With newrelic.application_logging.enabled off, the forwarding and metrics
logging supportability metrics report "disabled".
*/

/*INI
newrelic.application_logging.enabled = false
*/

/*EXPECT
hello
*/

/*EXPECT_METRICS_EXIST
Supportability/Logging/Forwarding/PHP/disabled, 1
Supportability/Logging/Metrics/PHP/disabled, 1
Supportability/Logging/LocalDecorating/PHP/disabled, 1
Supportability/Logging/Labels/PHP/disabled, 1
*/

/*EXPECT_METRICS_DONT_EXIST
Supportability/Logging/Forwarding/PHP/enabled
Supportability/Logging/Metrics/PHP/enabled
*/

echo "hello\n";
