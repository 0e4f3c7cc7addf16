<?php
/*DESCRIPTION
Monolog 2 records become Logging/lines metrics for every level and log
events for those at or above the forwarding level (WARNING by default),
linked to the transaction's trace and span, with the entity's name.
*/

/*SKIPIF
<?php require('skipif.inc');
*/

/*EXPECT
app.DEBUG: debug line 
app.INFO: info line 
app.WARNING: warning line 
app.ERROR: error line 
*/

/*EXPECT_METRICS_EXIST
Logging/lines, 4
Logging/lines/DEBUG, 1
Logging/lines/INFO, 1
Logging/lines/WARNING, 1
Logging/lines/ERROR, 1
Logging/Forwarding/Dropped, 2
Supportability/library/Monolog/detected, 1
Supportability/Logging/PHP/Monolog/enabled, 1
Supportability/Logging/Forwarding/PHP/enabled, 1
*/

/*EXPECT_LOG_EVENTS
[
  {
    "common": {"attributes": {}},
    "logs": [
      {
        "message": "warning line",
        "level": "WARNING",
        "trace.id": "??",
        "span.id": "??",
        "entity.guid": "??",
        "entity.name": "??",
        "hostname": "__HOST__",
        "timestamp": "??"
      },
      {
        "message": "error line",
        "level": "ERROR",
        "trace.id": "??",
        "span.id": "??",
        "entity.guid": "??",
        "entity.name": "??",
        "hostname": "__HOST__",
        "timestamp": "??"
      }
    ]
  }
]
*/

require_once __DIR__ . '/monolog.inc';

$log = stdout_logger();
$log->debug('debug line');
$log->info('info line');
usleep(2000);
$log->warning('warning line');
usleep(2000);
$log->error('error line');
