<?php
/*DESCRIPTION
After newrelic_disable_autorum() (which returns true) an HTML page is
sent exactly as written.
*/

/*ENVIRONMENT
REQUEST_METHOD=GET
*/

/*EXPECT
<html><head><title>t</title></head><body>ok</body></html>
*/

/*EXPECT_METRICS_EXIST
Supportability/api/disable_autorum, 1
*/

newrelic_disable_autorum();
echo "<html><head><title>t</title></head><body>ok</body></html>\n";
