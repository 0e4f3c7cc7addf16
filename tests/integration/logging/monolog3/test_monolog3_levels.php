<?php
/*DESCRIPTION
Monolog 3 passes levels as Monolog\Level cases: they are named as Monolog
names them (upper case), counted per level and forwarded from WARNING up.
*/

/*EXPECT
app.WARNING: disk nearly full
app.CRITICAL: disk full
app.INFO: cleaned up
*/

/*EXPECT_METRICS_EXIST
Logging/lines, 3
Logging/lines/WARNING, 1
Logging/lines/CRITICAL, 1
Logging/lines/INFO, 1
Supportability/library/Monolog/detected, 1
*/

/*EXPECT_LOG_EVENTS
[
  {
    "common": {"attributes": {}},
    "logs": [
      {
        "message": "disk nearly full",
        "level": "WARNING",
        "trace.id": "??",
        "span.id": "??",
        "entity.guid": "??",
        "entity.name": "??",
        "hostname": "__HOST__",
        "timestamp": "??"
      },
      {
        "message": "disk full",
        "level": "CRITICAL",
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

require_once __DIR__ . '/mock/Monolog/Logger.php';

$log = new Monolog\Logger('app');
$log->pushHandler(function ($line) { echo $line, "\n"; });
$log->warning('disk nearly full');
usleep(2000);
$log->critical('disk full');
$log->info('cleaned up');
