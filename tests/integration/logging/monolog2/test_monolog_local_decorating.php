<?php
/*DESCRIPTION
local_decorating adds New Relic's linking metadata to each record's extra
data: NR-LINKING|entity guid|host|trace id|span id|application|.
*/

/*SKIPIF
<?php require('skipif.inc');
*/

/*INI
newrelic.application_logging.local_decorating.enabled = 1
newrelic.application_logging.forwarding.enabled = 0
*/

/*EXPECT_REGEX
^app\.WARNING: decorated \{"NR-LINKING":"NR-LINKING\|[^|]*\|[^|]+\|[0-9a-f]+\|[0-9a-f]+\|[^|]*test_monolog_local_decorating\.php\|"\}
*/

/*EXPECT_METRICS_EXIST
Supportability/Logging/LocalDecorating/PHP/enabled, 1
*/

require_once __DIR__ . '/monolog.inc';

stdout_logger()->warning('decorated');
