<?php
/*DESCRIPTION
A request carrying a valid X-NewRelic-Synthetics header from a trusted
account: the transaction event gets the monitor's resource, job and
monitor ids (and, as no distributed trace payload was created or
accepted, its guid as nr.guid), and a transaction trace is kept whatever its duration, with
the ids among its intrinsics and the resource id as its last field.
*/

/*INI
newrelic.transaction_tracer.threshold = 1h
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
        "nr.guid": "??",
        "nr.apdexPerfZone": "??",
        "nr.syntheticsResourceId": "rrrrrrr-rrrr-1234-rrrr-rrrrrrrrrrrr",
        "nr.syntheticsJobId": "jjjjjjj-jjjj-1234-jjjj-jjjjjjjjjjjj",
        "nr.syntheticsMonitorId": "mmmmmmm-mmmm-1234-mmmm-mmmmmmmmmmmm",
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
[
  "?? agent run id",
  [
    [
      "?? entry",
      "?? duration",
      "WebTransaction/Uri__FILE__",
      "__FILE__",
      [
        [
          0, {}, {},
          "?? trace details",
          {
            "agentAttributes": "??",
            "intrinsics": {
              "totalTime": "??",
              "cpu_time": "??",
              "cpu_user_time": "??",
              "cpu_sys_time": "??",
              "guid": "??",
              "sampled": true,
              "priority": "??",
              "traceId": "??",
              "synthetics_resource_id": "rrrrrrr-rrrr-1234-rrrr-rrrrrrrrrrrr",
              "synthetics_job_id": "jjjjjjj-jjjj-1234-jjjj-jjjjjjjjjjjj",
              "synthetics_monitor_id": "mmmmmmm-mmmm-1234-mmmm-mmmmmmmmmmmm"
            }
          }
        ],
        "?? string table"
      ],
      "?? txn guid",
      "?? reserved",
      "?? force persist",
      "?? x-ray sessions",
      "rrrrrrr-rrrr-1234-rrrr-rrrrrrrrrrrr"
    ]
  ]
]
*/

function greet()
{
    echo "hello\n";
}

greet();
