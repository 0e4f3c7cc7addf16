<?php
/*DESCRIPTION
The record_sql policy enabled: SQL is recorded, but never raw: with
record_sql = raw the span and the slow SQL trace carry the obfuscated
query.
*/

/*INI
newrelic.transaction_tracer.record_sql = raw
newrelic.transaction_tracer.explain_threshold = 0
*/

/*EXPECT
int(1)
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
      "db.instance": "unknown",
      "db.statement": "SELECT * FROM users WHERE email = ?"
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
