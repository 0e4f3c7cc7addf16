<?php
/*DESCRIPTION
The record_sql policy disabled: a slow query's datastore span has no
db.statement and no slow SQL trace is made, even with record_sql = raw.
*/

/*INI
newrelic.transaction_tracer.record_sql = raw
newrelic.transaction_tracer.explain_threshold = 0
*/

/*EXPECT
int(1)
*/

/*EXPECT_SLOW_SQLS null*/

/*EXPECT_SPAN_EVENTS_LIKE
[
  [
    {
      "category": "datastore",
      "type": "Span",
      "guid": "??",
      "traceId": "??",
      "transactionId": "??",
      "name": "Datastore/statement/MySQL/users/select",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??",
      "span.kind": "client",
      "component": "MySQL"
    },
    {},
    {
      "peer.hostname": "unknown",
      "server.address": "unknown",
      "peer.address": "unknown:unknown",
      "db.instance": "unknown"
    }
  ]
]
*/

var_dump(newrelic_record_datastore_segment(function () {
    usleep(2000);
    return 1;
}, array(
    'product' => 'MySQL',
    'collection' => 'users',
    'operation' => 'select',
    'query' => "SELECT * FROM users WHERE email = 'a@example.com'",
)));
