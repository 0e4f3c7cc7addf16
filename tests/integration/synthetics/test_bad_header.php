<?php
/*DESCRIPTION
A synthetics header that does not decode to New Relic's five-field form is
ignored: no synthetics ids anywhere, and no trace kept below the
threshold.
*/

/*INI
newrelic.transaction_tracer.threshold = 1h
*/

/*HEADERS
X-NewRelic-Synthetics=bm90IGEgc3ludGhldGljcyBoZWFkZXI=
*/

/*EXPECT_ANALYTICS_EVENTS
[
  "?? agent run id",
  {"reservoir_size": "??", "events_seen": 1},
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
        "priority": "??",
        "traceId": "??",
        "error": false
      },
      "?? user attributes",
      "?? agent attributes"
    ]
  ]
]
*/

/*EXPECT_TXN_TRACES
null
*/

function greet()
{
    echo "hello\n";
}

greet();
