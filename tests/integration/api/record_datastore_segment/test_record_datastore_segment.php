<?php
/*DESCRIPTION
newrelic_record_datastore_segment() runs the callback, returns its value
and records a datastore segment with the given parameters: metrics for
the product, operation, collection and instance, and a datastore span
with the query (obfuscated).
*/

/*INI
newrelic.transaction_tracer.threshold = 0
*/

/*EXPECT
int(42)
*/

/*EXPECT_METRICS_EXIST
Supportability/api/record_datastore_segment, 1
Datastore/all, 1
Datastore/allOther, 1
Datastore/Custom/all, 1
Datastore/operation/Custom/fetch, 1
Datastore/statement/Custom/things/fetch, 1
Datastore/instance/Custom/db.example/5432, 1
*/

/*EXPECT_SPAN_EVENTS_LIKE
[
  [
    {
      "category": "datastore",
      "type": "Span",
      "guid": "??",
      "traceId": "??",
      "transactionId": "??",
      "name": "Datastore/statement/Custom/things/fetch",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??",
      "span.kind": "client",
      "component": "Custom"
    },
    {},
    {
      "peer.hostname": "db.example",
      "server.address": "db.example",
      "peer.address": "db.example:5432",
      "db.instance": "shop",
      "db.statement": "SELECT * FROM things WHERE id = ?"
    }
  ]
]
*/

var_dump(newrelic_record_datastore_segment(function () {
    usleep(1000);
    return 42;
}, array(
    'product' => 'Custom',
    'collection' => 'things',
    'operation' => 'fetch',
    'host' => 'db.example',
    'portPathOrId' => 5432,
    'databaseName' => 'shop',
    'query' => 'SELECT * FROM things WHERE id = 7',
)));
