<?php
/*DESCRIPTION
With context_data enabled, scalar context values under string keys become
context.<key> attributes, filtered by the include and exclude lists;
arrays, objects and integer keys are left out.
*/

/*SKIPIF
<?php require('skipif.inc');
*/

/*INI
newrelic.application_logging.forwarding.log_level = DEBUG
newrelic.application_logging.forwarding.context_data.enabled = 1
newrelic.application_logging.forwarding.context_data.exclude = secret
*/

/*EXPECT
app.INFO: order placed 
*/

/*EXPECT_LOG_EVENTS
[
  {
    "common": {"attributes": {}},
    "logs": [
      {
        "message": "order placed",
        "level": "INFO",
        "trace.id": "??",
        "span.id": "??",
        "entity.guid": "??",
        "entity.name": "??",
        "hostname": "__HOST__",
        "timestamp": "??",
        "attributes": {
          "context.paid": true,
          "context.total": 12.5,
          "context.order": 42,
          "context.customer": "ada"
        }
      }
    ]
  }
]
*/

require_once __DIR__ . '/monolog.inc';

stdout_logger()->info('order placed', [
    'customer' => 'ada',
    'order' => 42,
    'total' => 12.5,
    'paid' => true,
    'secret' => 'hunter2',
    'items' => [1, 2],
    7 => 'integer key',
]);
