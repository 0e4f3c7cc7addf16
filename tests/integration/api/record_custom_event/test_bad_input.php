<?php
/*DESCRIPTION
newrelic_record_custom_event() with bad arguments: an empty event type
raises New Relic's warning, integer keys are skipped with a warning, a
non-array second argument is a TypeError, and no event is recorded for
any of them; the valid attributes of an event with one bad key are kept.
*/

/*EXPECT_REGEX
^\s*Warning: newrelic_record_custom_event\(\): improper parameter to newrelic_record_custom_event: event_type must be a nonempty string in .* on line \d+
ok - empty type
ok - string attributes is a TypeError
\s*Warning: newrelic_record_custom_event\(\): newrelic_record_custom_event: ignoring non-string array key in .* on line \d+
ok - integer key skipped\s*$
*/

/*EXPECT_METRICS_EXIST
Supportability/api/record_custom_event, 3
*/

/*EXPECT_CUSTOM_EVENTS
[
  "?? agent run id",
  "?? sampling information",
  [
    [
      {"type": "Mixed", "timestamp": "??"},
      {"kept": 1},
      {}
    ]
  ]
]
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

newrelic_record_custom_event('', array('a' => 1));
tap_ok('empty type');
try {
    newrelic_record_custom_event('Bad', 'not an array');
    tap_not_ok('string attributes is a TypeError');
} catch (TypeError $e) {
    tap_ok('string attributes is a TypeError');
}
newrelic_record_custom_event('Mixed', array('kept' => 1, 7 => 'dropped'));
tap_ok('integer key skipped');
