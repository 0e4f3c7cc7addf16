<?php
/*DESCRIPTION
newrelic_record_custom_event() records a custom event of the given type
with its scalar attributes. A nested array is dropped with New Relic's
warning.
*/

/*EXPECT_REGEX
^\s*Warning: newrelic_record_custom_event\(\): newrelic_record_custom_event: expects parameter to be scalar, array given in .* on line \d+\s*done\s*$
*/

/*EXPECT_METRICS_EXIST
Supportability/api/record_custom_event, 2
*/

/*EXPECT_CUSTOM_EVENTS
[
  "?? agent run id",
  {"reservoir_size": 50, "events_seen": 2},
  [
    [
      {"type": "OrderPlaced", "timestamp": "??"},
      {"b": false, "f": 1.5, "n": 7, "k": "v"},
      {}
    ],
    [
      {"type": "Second", "timestamp": "??"},
      {"only": "scalars"},
      {}
    ]
  ]
]
*/

newrelic_record_custom_event('OrderPlaced', ['k' => 'v', 'n' => 7, 'f' => 1.5, 'b' => false]);
newrelic_record_custom_event('Second', ['only' => 'scalars', 'nested' => ['no' => 1]]);
echo "done\n";
