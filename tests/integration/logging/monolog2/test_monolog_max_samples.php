<?php
/*DESCRIPTION
forwarding.max_samples_stored bounds the log events of a transaction: the
newest are kept, the others count as dropped.
*/

/*SKIPIF
<?php require('skipif.inc');
*/

/*INI
newrelic.application_logging.forwarding.max_samples_stored = 2
*/

/*EXPECT
done
*/

/*EXPECT_METRICS_EXIST
Logging/lines, 5
Logging/Forwarding/Dropped, 3
*/

/*EXPECT_LOG_EVENTS
[
  {
    "common": {"attributes": {}},
    "logs": [
      {
        "message": "line four",
        "level": "ERROR",
        "trace.id": "??",
        "span.id": "??",
        "entity.guid": "??",
        "entity.name": "??",
        "hostname": "__HOST__",
        "timestamp": "??"
      },
      {
        "message": "line five",
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

$log = new Monolog\Logger('quiet');
$log->pushHandler(new Monolog\Handler\NullHandler());
foreach (['one', 'two', 'three', 'four', 'five'] as $n) {
    $log->error("line $n");
    usleep(2000);
}
echo "done\n";
