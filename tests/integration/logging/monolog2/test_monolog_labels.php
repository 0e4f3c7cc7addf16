<?php
/*DESCRIPTION
forwarding.labels.enabled: the newrelic.labels go with the log events as
tags.<type> common attributes, less the types forwarding.labels.exclude
names (whole names, any case).
*/

/*SKIPIF
<?php require('skipif.inc');
*/

/*INI
newrelic.labels = "env:test;team:php;secret:x"
newrelic.application_logging.forwarding.labels.enabled = 1
newrelic.application_logging.forwarding.labels.exclude = "SECRET"
*/

/*EXPECT
app.ERROR: labelled 
*/

/*EXPECT_METRICS_EXIST
Supportability/Logging/Labels/PHP/enabled, 1
*/

/*EXPECT_LOG_EVENTS
[
  {
    "common": {"attributes": {"tags.env": "test", "tags.team": "php"}},
    "logs": [
      {
        "message": "labelled",
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

stdout_logger()->error('labelled');
