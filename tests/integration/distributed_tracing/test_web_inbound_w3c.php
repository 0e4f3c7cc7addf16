<?php
/*DESCRIPTION
A web request carrying W3C trace context from a trusted New Relic account
joins that trace without any API call: the inbound trace id, parent span
and priority are used, the caller metrics name the parent's account and
application over HTTP, and the event carries the parent attributes.
*/

/*ENVIRONMENT
REQUEST_METHOD=GET
*/

/*HEADERS
traceparent=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
tracestate=ENV[ACCOUNT_supportability_trusted]@nr=0-0-ENV[ACCOUNT_supportability]-ENV[APP_supportability]-b7ad6b7169203331-e8b91a159289ff74-1-1.23456-1518469636035
*/

/*EXPECT
joined
*/

/*EXPECT_METRICS_EXIST
Supportability/TraceContext/Accept/Success, 1
DurationByCaller/App/ENV[ACCOUNT_supportability]/ENV[APP_supportability]/HTTP/all, 1
DurationByCaller/App/ENV[ACCOUNT_supportability]/ENV[APP_supportability]/HTTP/allWeb, 1
TransportDuration/App/ENV[ACCOUNT_supportability]/ENV[APP_supportability]/HTTP/all, 1
TransportDuration/App/ENV[ACCOUNT_supportability]/ENV[APP_supportability]/HTTP/allWeb, 1
*/

/*EXPECT_ANALYTICS_EVENTS
[
  "?? agent run id",
  {"reservoir_size": 50, "events_seen": 1},
  [
    [
      {
        "type": "Transaction",
        "name": "WebTransaction/Uri__FILE__",
        "timestamp": "??",
        "duration": "??",
        "totalTime": "??",
        "nr.apdexPerfZone": "??",
        "guid": "??",
        "sampled": true,
        "priority": 1.23456,
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "parent.type": "App",
        "parent.app": "ENV[APP_supportability]",
        "parent.account": "ENV[ACCOUNT_supportability]",
        "parent.transportType": "HTTP",
        "parent.transportDuration": "??",
        "parentSpanId": "b7ad6b7169203331",
        "parentId": "e8b91a159289ff74",
        "error": false
      },
      {},
      "??"
    ]
  ]
]
*/

echo "joined\n";
