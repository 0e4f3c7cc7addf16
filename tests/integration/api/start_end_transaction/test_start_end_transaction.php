<?php
/*DESCRIPTION
newrelic_end_transaction() sends the automatic transaction at once and
newrelic_start_transaction() begins another in the same process; the
last one ends with the script. All three land in one harvest.
*/

/*EXPECT
ok - end first
ok - start second
ok - end second
ok - start third
done
*/

/*EXPECT_METRICS
[
  "?? agent run id",
  "?? timeframe start",
  "?? timeframe stop",
  [
    [{"name":"DurationByCaller/Unknown/Unknown/Unknown/Unknown/all"},      [3, "??", "??", "??", "??", "??"]],
    [{"name":"DurationByCaller/Unknown/Unknown/Unknown/Unknown/allOther"}, [3, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransaction/all"},                                      [3, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransaction/Custom/second"},                            [1, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransaction/Custom/third"},                             [1, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransaction/php__FILE__"},                              [1, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransactionTotalTime"},                                 [3, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransactionTotalTime/Custom/second"},                   [1, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransactionTotalTime/Custom/third"},                    [1, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransactionTotalTime/php__FILE__"},                     [1, "??", "??", "??", "??", "??"]],
    [{"name":"Supportability/api/end_transaction"},                        [2, 0, 0, 0, 0, 0]],
    [{"name":"Supportability/api/name_transaction"},                       [2, 0, 0, 0, 0, 0]],
    [{"name":"Supportability/api/start_transaction"},                      [2, 0, 0, 0, 0, 0]],
    [{"name":"Supportability/Logging/Forwarding/PHP/enabled"},             [3, 0, 0, 0, 0, 0]],
    [{"name":"Supportability/Logging/Metrics/PHP/enabled"},                [3, 0, 0, 0, 0, 0]],
    [{"name":"Supportability/Logging/LocalDecorating/PHP/disabled"},       [3, 0, 0, 0, 0, 0]],
    [{"name":"Supportability/Logging/Labels/PHP/disabled"},                [3, 0, 0, 0, 0, 0]]
  ]
]
*/

/*EXPECT_ANALYTICS_EVENTS
[
  "?? agent run id",
  {"reservoir_size": 50, "events_seen": 3},
  [
    [{"type": "Transaction", "name": "OtherTransaction/php__FILE__", "timestamp": "??",
      "duration": "??", "totalTime": "??", "guid": "??", "sampled": true, "priority": "??",
      "traceId": "??", "error": false}, {}, {}],
    [{"type": "Transaction", "name": "OtherTransaction/Custom/second", "timestamp": "??",
      "duration": "??", "totalTime": "??", "guid": "??", "sampled": true, "priority": "??",
      "traceId": "??", "error": false}, {}, {}],
    [{"type": "Transaction", "name": "OtherTransaction/Custom/third", "timestamp": "??",
      "duration": "??", "totalTime": "??", "guid": "??", "sampled": true, "priority": "??",
      "traceId": "??", "error": false}, {}, {}]
  ]
]
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

function work($ms)
{
    usleep($ms * 1000);
}

$appname = ini_get('newrelic.appname');

work(2);
tap_assert(newrelic_end_transaction(), 'end first');

tap_assert(newrelic_start_transaction($appname), 'start second');
newrelic_name_transaction('second');
work(2);
tap_assert(newrelic_end_transaction(), 'end second');

tap_assert(newrelic_start_transaction($appname), 'start third');
newrelic_name_transaction('third');
work(2);
echo "done\n";
