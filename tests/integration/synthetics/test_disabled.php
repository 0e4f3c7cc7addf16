<?php
/*DESCRIPTION
With newrelic.synthetics.enabled = 0 even a valid header from a trusted
account is ignored.
*/

/*INI
newrelic.transaction_tracer.threshold = 1h
newrelic.synthetics.enabled = 0
*/

/*HEADERS
X-NewRelic-Synthetics=ENV[SYNTHETICS_HEADER_supportability]
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
