<?php
/*DESCRIPTION
newrelic_custom_metric() values are milliseconds and are sent in seconds;
the metric is unscoped and aggregates count, total, min, max and sum of
squares: 1000, 4000 and 2000 ms give [3, 7, 7, 1, 4, 21].
*/

/*EXPECT
ok - min added successfully
ok - max added successfully
ok - median added successfully
*/

/*EXPECT_METRICS
[
  "?? agent run id",
  "?? timeframe start",
  "?? timeframe stop",
  [
    [{"name":"Custom/Application/Metric"},                                 [3, 7.0, 7.0, 1.0, 4.0, 21.0]],
    [{"name":"DurationByCaller/Unknown/Unknown/Unknown/Unknown/all"},      [1, "??", "??", "??", "??", "??"]],
    [{"name":"DurationByCaller/Unknown/Unknown/Unknown/Unknown/allOther"}, [1, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransaction/all"},                                      [1, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransaction/php__FILE__"},                              [1, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransactionTotalTime"},                                 [1, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransactionTotalTime/php__FILE__"},                     [1, "??", "??", "??", "??", "??"]],
    [{"name":"Supportability/api/custom_metric"},                          [3, 0, 0, 0, 0, 0]],
    [{"name":"Supportability/Logging/Forwarding/PHP/enabled"},             [1, 0, 0, 0, 0, 0]],
    [{"name":"Supportability/Logging/Metrics/PHP/enabled"},                [1, 0, 0, 0, 0, 0]],
    [{"name":"Supportability/Logging/LocalDecorating/PHP/disabled"},       [1, 0, 0, 0, 0, 0]],
    [{"name":"Supportability/Logging/Labels/PHP/disabled"},                [1, 0, 0, 0, 0, 0]]
  ]
]
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

tap_assert(newrelic_custom_metric('Custom/Application/Metric', 1e+3), 'min added successfully');
tap_assert(newrelic_custom_metric('Custom/Application/Metric', 4e+3), 'max added successfully');
tap_assert(newrelic_custom_metric('Custom/Application/Metric', 2e+3), 'median added successfully');
