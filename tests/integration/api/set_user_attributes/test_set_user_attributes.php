<?php
/*DESCRIPTION
newrelic_set_user_attributes(user, account, product) adds the three as
user attributes (empty strings are skipped, not failures). It needs
exactly three string arguments: fewer return false, an array is a
TypeError.
*/

/*EXPECT
ok - three strings
ok - empty product skipped
ok - two args refused
ok - array is a TypeError
*/

/*EXPECT_METRICS_EXIST
Supportability/api/set_user_attributes, 4
*/

/*EXPECT_ANALYTICS_EVENTS
[
  "?? agent run id",
  "?? sampling information",
  [
    [
      {
        "type": "Transaction",
        "name": "OtherTransaction/php__FILE__",
        "timestamp": "??",
        "duration": "??",
        "totalTime": "??",
        "guid": "??",
        "sampled": true,
        "priority": "??",
        "traceId": "??",
        "error": false
      },
      {
        "account": "acme",
        "user": "bob",
        "product": "gold"
      },
      {}
    ]
  ]
]
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

tap_assert(newrelic_set_user_attributes('alice', 'acme', 'gold'), 'three strings');
tap_assert(newrelic_set_user_attributes('bob', 'acme', ''), 'empty product skipped');
tap_identical(false, @newrelic_set_user_attributes('x', 'y'), 'two args refused');
try {
    newrelic_set_user_attributes(array(), 'y', 'z');
    tap_not_ok('array is a TypeError');
} catch (TypeError $e) {
    tap_ok('array is a TypeError');
}
